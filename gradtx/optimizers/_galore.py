"""GaLore as an optimizer: low-rank projected Adam, decoupled weight decay, learning rate."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import check_schedule_or_nonnegative, reports_as_itself
from gradtx.base import GradientTransformation, GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms import (
    add_decayed_weights,
    scale_by_adam,
    scale_by_galore,
    scale_by_learning_rate,
)

__all__ = ["galore"]


def _galore_build(
    learning_rate,
    scale,
    weight_decay,
    *,
    rank,
    update_proj_gap,
    base_optimizer,
    mask,
    weight_dimension_numbers,
    mu_dtype,
    nu_dtype,
):
    if base_optimizer is None:
        base_optimizer = scale_by_adam(mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    return chain(
        scale_by_galore(rank, update_proj_gap, scale, base_optimizer, weight_dimension_numbers),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def galore(
    learning_rate: ScalarOrSchedule,
    rank: int = 128,
    update_proj_gap: int = 200,
    scale: jax.typing.ArrayLike = 1.0,
    base_optimizer: GradientTransformation | None = None,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any = None,
    weight_dimension_numbers: Any = None,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """GaLore: Adam on low-rank projections of the weight matrices' gradients.

    Update rule, with :math:`\\rho_t` the step of :func:`gradtx.contrib.scale_by_galore`
    (the base optimizer run on :math:`P_t^\\top G_t`, or :math:`G_t P_t` for wide
    matrices, projected back and multiplied by ``scale``):

    .. math::

       \\theta_{t+1} = \\theta_t - \\alpha_t\\big(\\rho_t + \\lambda\\theta_t\\big)

    The projector :math:`P_t` holds the top ``rank`` singular vectors of the gradient,
    recomputed every ``update_proj_gap`` steps, so the base optimizer keeps
    ``rank``-sized moments for each weight matrix. Weight decay is applied in the
    full space, so pass a base optimizer that does not read the params
    (``scale_by_adam``, not ``adamw``).

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      rank: the projection's rank (an integer >= 1, clipped to each matrix's smaller
        side).
      update_proj_gap: the number of steps between SVDs (an integer >= 1).
      scale: the factor on the projected weights' updates.
      base_optimizer: the transformation run in the low-rank space;
        ``gradtx.scale_by_adam()`` when ``None``.
      weight_decay: :math:`\\lambda` >= 0 (or a schedule), decoupled as in AdamW.
      mask: where to decay: a tree of booleans like the params, or a function of the
        params returning one.
      weight_dimension_numbers: which weights are projected and how they form a matrix
        (see :func:`gradtx.contrib.scale_by_galore`); every 2-D weight by default.
      mu_dtype: dtype of the default base optimizer's first moment (keyword-only);
        the parameters' dtype when ``None``.
      nu_dtype: dtype of its second moment (keyword-only). With a ``base_optimizer``
        of your own, give the dtypes to it instead (passing both raises ``ValueError``).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``scale`` and
      ``weight_decay``.

    Reference: Zhao, Zhang, Chen, Wang, Anandkumar & Tian 2024, "GaLore:
    Memory-Efficient LLM Training by Gradient Low-Rank Projection", arXiv 2403.03507.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.galore(0.1, rank=1)
      >>> p = {"w": jnp.zeros((3, 2)), "b": jnp.zeros(2)}
      >>> g = {"w": jnp.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), "b": jnp.ones(2)}
      >>> u, s = tx.update(g, tx.init(p), p)
      >>> u["w"][0, 0].round(3), int(jnp.count_nonzero(u["w"]))  # on the top direction
      (Array(-0.1, dtype=float32), 1)
      >>> s.inner_state[0].projector["w"].shape, s.inner_state[0].base_optimizer_state.mu["w"].shape
      ((3, 1), (1, 2))
    """
    check_schedule_or_nonnegative("galore", "learning_rate", learning_rate)
    check_schedule_or_nonnegative("galore", "weight_decay", weight_decay)
    # rank and update_proj_gap shape the state: checked here, with galore's name.
    _check_galore(rank, update_proj_gap)
    if base_optimizer is not None and (mu_dtype is not None or nu_dtype is not None):
        raise ValueError(
            "`galore(mu_dtype=..., nu_dtype=...)` set the default base optimizer's moments; "
            "with a base_optimizer of your own, give the dtypes to it instead, e.g. "
            "base_optimizer=gradtx.scale_by_adam(mu_dtype=jnp.bfloat16)."
        )
    return build_optimizer(
        "galore",
        _galore_build,
        dict(learning_rate=learning_rate, scale=scale, weight_decay=weight_decay),
        rank=rank,
        update_proj_gap=update_proj_gap,
        base_optimizer=base_optimizer,
        mask=mask,
        weight_dimension_numbers=weight_dimension_numbers,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


def _check_galore(rank: Any, update_proj_gap: Any) -> None:
    for name, value in (("rank", rank), ("update_proj_gap", update_proj_gap)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`galore({name}=...)` must be an integer >= 1; got {name}={value!r}.")

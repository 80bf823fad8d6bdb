"""Adam-mini: AdamW with one second moment per block of parameters."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import (
    check_decay,
    check_nonnegative,
    check_schedule_or_nonnegative,
    reports_as_itself,
)
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms import add_decayed_weights, scale_by_adam_mini, scale_by_learning_rate

__all__ = ["adam_mini"]

Num = jax.typing.ArrayLike


def _adam_mini_build(learning_rate, b1, b2, eps, weight_decay, *, mu_dtype, mask, block_axes):
    return chain(
        scale_by_adam_mini(b1, b2, eps, mu_dtype, block_axes),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def adam_mini(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    mu_dtype: Any = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any = None,
    block_axes: Any = None,
) -> GradientTransformationExtraArgs:
    """Adam-mini: AdamW with one second moment (one learning rate) per block of parameters.

    Update rule, for a parameter :math:`i` in block :math:`b` (see
    :func:`gradtx.scale_by_adam_mini`):

    .. math::

       m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t, \\quad
       v_{b,t} = \\beta_2 v_{b,t-1} + (1-\\beta_2)\\,\\mathrm{mean}_{j\\in b}\\, g_{j,t}^2,

       \\theta_{i,t+1} = \\theta_{i,t} - \\alpha_t\\Big(
          \\frac{m_{i,t}/(1-\\beta_1^t)}{\\sqrt{v_{b,t}/(1-\\beta_2^t)} + \\epsilon}
          + \\lambda\\theta_{i,t}\\Big)

    The state holds one second moment per block instead of per parameter, about half
    of Adam's memory. The default blocks are one per output neuron of each matrix
    (its last axis, flax's ``(inputs, outputs)`` layout) and one per vector or
    scalar; see :func:`gradtx.adam_mini_blocks` for setting the paper's per-token
    (embeddings) and per-head (attention) blocks with ``block_axes``.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1` in [0, 1].
      b2: :math:`\\beta_2` in [0, 1].
      eps: :math:`\\epsilon` >= 0.
      mu_dtype: dtype of the first moment; the parameters' dtype when ``None``.
      weight_decay: :math:`\\lambda` >= 0 (or a schedule), decoupled as in AdamW.
      mask: where to decay: a tree of booleans like the params, or a function of the
        params returning one.
      block_axes: the blocks (see :func:`gradtx.adam_mini_blocks`).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``eps`` and ``weight_decay``.

    Reference: Zhang, Chen, Li, Ding, Chen, Ye, Luo & Sun 2024, "Adam-mini: Use Fewer
    Learning Rates To Gain More", arXiv 2406.16793, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.adam_mini(0.1, weight_decay=0.0)
      >>> p = jnp.zeros(2)  # a vector is one block
      >>> u, s = tx.update(jnp.array([3.0, 4.0]), tx.init(p), p)
      >>> u.round(4)  # -0.1 g / sqrt(mean(g^2))
      Array([-0.0849, -0.1131], dtype=float32)
    """
    fn = "adam_mini"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_decay(fn, "b1", b1)
    check_decay(fn, "b2", b2)
    check_nonnegative(fn, "eps", eps)
    check_schedule_or_nonnegative(fn, "weight_decay", weight_decay)
    return build_optimizer(
        fn,
        _adam_mini_build,
        dict(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay),
        mu_dtype=mu_dtype,
        mask=mask,
        block_axes=block_axes,
    )

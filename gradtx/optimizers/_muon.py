"""Muon: orthogonalized momentum for matrices, AdamW for every other parameter."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from gradtx._checks import (
    check_decay,
    check_nonnegative,
    check_positive,
    check_schedule_or_nonnegative,
    reports_as_itself,
)
from gradtx._treeutil import is_none
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms import (
    add_decayed_weights,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_muon,
)
from gradtx.transforms._muon import (
    MuonDimensionNumbers,
    Orthogonalizer,
    _is_dims,
    check_muon_options,
    fans,
    resolve_dims,
    resolve_ns_coeffs,
)
from gradtx.wrappers import masked

__all__ = ["muon"]

Num = jax.typing.ArrayLike


def _dims_fn(dims: Any) -> Any:
    """``params -> one MuonDimensionNumbers or None per leaf`` (None: AdamW)."""
    return lambda tree: resolve_dims("muon", dims, tree, default_2d=True)


def _muon_mask(dims: Any, want: bool) -> Any:
    def mask(tree: Any) -> Any:
        specs = _dims_fn(dims)(tree)
        return jax.tree.map(lambda d: (d is not None) == want, specs, is_leaf=_is_dims)

    return mask


def _scale_by_shape(consistent_rms: Any, dims: Any) -> GradientTransformationExtraArgs:
    """Multiply each matrix's update by Muon's shape factor (see :func:`muon`)."""

    def init_fn(params: Any) -> tuple[()]:
        del params
        return ()

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        specs = _dims_fn(dims)(updates)
        flat, treedef = jax.tree_util.tree_flatten_with_path(updates, is_leaf=is_none)
        out = []
        for (path, u), d in zip(flat, treedef.flatten_up_to(specs), strict=True):
            if u is None or d is None:
                out.append(u)
                continue
            fan_in, fan_out = fans("muon", jnp.shape(u), d, jax.tree_util.keystr(path))
            if fan_in == 0 or fan_out == 0:
                out.append(u)  # an empty matrix: nothing to scale
                continue
            if consistent_rms is None:
                factor = math.sqrt(max(1.0, fan_out / fan_in))
            else:
                factor = math.sqrt(max(fan_in, fan_out)) * consistent_rms
            out.append((u * factor).astype(u.dtype))
        return treedef.unflatten(out), state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _muon_build(
    learning_rate,
    beta,
    eps,
    weight_decay,
    adam_b1,
    adam_b2,
    adam_eps_root,
    adam_weight_decay,
    adam_learning_rate,
    consistent_rms,
    *,
    ns_coeffs,
    ns_steps,
    weight_decay_mask,
    mu_dtype,
    nesterov,
    adaptive,
    preconditioning,
    muon_weight_dimension_numbers,
    momentum_form,
    orthogonalize_fn,
    nu_dtype=None,
):
    dims = muon_weight_dimension_numbers
    matrices = chain(
        scale_by_muon(
            ns_coeffs,
            ns_steps,
            beta,
            eps,
            mu_dtype,
            nesterov=nesterov,
            adaptive=adaptive,
            preconditioning=preconditioning,
            weight_dimension_numbers=_dims_fn(dims),
            momentum_form=momentum_form,
            orthogonalize_fn=orthogonalize_fn,
        ),
        _scale_by_shape(consistent_rms, dims),
        add_decayed_weights(weight_decay, weight_decay_mask),
        scale_by_learning_rate(learning_rate),
    )
    others = chain(
        scale_by_adam(
            adam_b1, adam_b2, eps, adam_eps_root, mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype
        ),
        add_decayed_weights(adam_weight_decay),
        scale_by_learning_rate(learning_rate if adam_learning_rate is None else adam_learning_rate),
    )
    return chain(masked(matrices, _muon_mask(dims, True)), masked(others, _muon_mask(dims, False)))


@reports_as_itself
def muon(
    learning_rate: ScalarOrSchedule,
    ns_coeffs: Any = (3.4445, -4.775, 2.0315),
    ns_steps: int = 5,
    beta: Num = 0.95,
    eps: Num = 1e-8,
    weight_decay: Num = 0.0,
    weight_decay_mask: Any = None,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    preconditioning: str = "frobenius",
    adam_b1: Num = 0.9,
    adam_b2: Num = 0.999,
    adam_eps_root: Num = 0.0,
    adam_weight_decay: Num = 0.0,
    adam_learning_rate: ScalarOrSchedule | None = None,
    muon_weight_dimension_numbers: Any = None,
    consistent_rms: Num | None = None,
    momentum_form: str = "debiased",
    orthogonalize_fn: Orthogonalizer | None = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Muon: orthogonalized Nesterov momentum for matrices, AdamW for the rest.

    Update rule for a Muon parameter :math:`W` (see :func:`gradtx.scale_by_muon` for
    :math:`\\hat m_t` and the Newton-Schulz map :math:`\\operatorname{NS}`), with
    ``fan_in`` and ``fan_out`` the sizes of the rows and the columns of its matrix:

    .. math::

       W_{t+1} = W_t - \\alpha_t\\big(s\\, \\operatorname{NS}(\\hat m_t) + \\lambda
          W_t\\big), \\quad
       s = \\begin{cases}
          \\sqrt{\\max(1, \\text{fan_out}/\\text{fan_in})} & \\text{consistent_rms is None} \\\\
          \\rho \\sqrt{\\max(\\text{fan_in}, \\text{fan_out})} & \\text{otherwise}
          \\end{cases}

    with :math:`\\rho` = ``consistent_rms`` (0.2 gives updates of about AdamW's RMS,
    Liu et al. 2025) and :math:`\\lambda` = ``weight_decay`` (only where
    ``weight_decay_mask`` holds). Every other parameter gets AdamW (NAdamW when
    ``nesterov``) with ``adam_b1``, ``adam_b2``, ``eps``, ``adam_eps_root``,
    ``adam_weight_decay`` (not masked) and the learning rate ``adam_learning_rate``
    (``learning_rate`` when ``None``).

    Which parameters are Muon's: with ``muon_weight_dimension_numbers=None`` the rank-2
    ones, used as ``(fan_in, fan_out)`` matrices. Otherwise a tree of
    :class:`MuonDimensionNumbers` (or a function of the params returning one); a
    ``None`` leaf means AdamW. A parameter of rank >= 2 is reshaped by its spec:
    reduction axes flattened into the rows, output axes into the columns, the other
    axes batched, each slice orthogonalized on its own.

    ``torch.optim.Muon(lr, weight_decay, momentum, nesterov, ns_coefficients, eps,
    ns_steps, adjust_lr_fn)`` on a torch-layout ``(out, in)`` weight is
    ``muon(lr, ns_coefficients, ns_steps, momentum, 1e-30, weight_decay,
    nesterov=nesterov, momentum_form="sum",
    muon_weight_dimension_numbers=MuonDimensionNumbers(1, 0))``, plus
    ``consistent_rms=0.2`` for ``adjust_lr_fn="match_rms_adamw"`` (torch's defaults
    are ``eps=1e-7`` and ``weight_decay=0.1``). torch divides by
    :math:`\max(\|X\|_F, \epsilon)` rather than :math:`\|X\|_F + \epsilon`, the same
    whenever the norm exceeds its ``eps``, hence the tiny ``eps`` here. torch (2.13) runs
    Newton-Schulz in bfloat16 whatever the parameters' dtype, so the two agree to
    bfloat16 rounding (steps within 3e-2 normwise in float64 tests); with a float64
    Newton-Schulz swapped into torch they agree to 1e-10
    (``tests/parity/test_muon_parity.py``).

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      ns_coeffs: the Newton-Schulz coefficients: a triple, a sequence of triples
        (one per iteration) or a preset, ``"standard"`` or ``"dion"``.
      ns_steps: Newton-Schulz iterations (ignored for a sequence of triples).
      beta: the momentum decay in [0, 1].
      eps: the Frobenius/spectral rescaling's and Adam's :math:`\\epsilon`, >= 0.
      weight_decay: :math:`\\lambda` >= 0 for the Muon parameters.
      weight_decay_mask: where ``weight_decay`` applies (booleans like the params, or
        a function of them).
      mu_dtype: dtype of the momenta (Muon's and Adam's first moment).
      nu_dtype: dtype of Adam's second moment, for the non-Muon parameters
        (keyword-only); the parameters' real dtype when ``None``.
      nesterov: Nesterov momentum, for Muon and Adam.
      adaptive: scale Muon's updates by the dual norm (see
        :func:`gradtx.scale_by_muon`).
      preconditioning: ``"frobenius"``, ``"spectral"``, ``"schatten"`` or ``"aol"``.
      adam_b1: Adam's :math:`\\beta_1` in [0, 1].
      adam_b2: Adam's :math:`\\beta_2` in [0, 1].
      adam_eps_root: Adam's :math:`\\epsilon` inside the root, >= 0.
      adam_weight_decay: AdamW's decoupled weight decay, >= 0.
      adam_learning_rate: Adam's learning rate (a number or a schedule); ``None``
        uses ``learning_rate``.
      muon_weight_dimension_numbers: see above. A single
        :class:`MuonDimensionNumbers` applies to every parameter of rank >= 2 (the
        others go to AdamW).
      consistent_rms: :math:`\\rho` > 0, or ``None`` for the width scaling.
      momentum_form: ``"debiased"`` (optax), ``"ema"`` (Jordan) or ``"sum"``
        (torch); keyword-only, gradtx's addition (see :func:`gradtx.scale_by_muon`).
      orthogonalize_fn: a user function from a ``(fan_in, fan_out)`` matrix to its
        orthogonalized update, replacing the rescaling and Newton-Schulz;
        keyword-only, gradtx's addition.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``beta``,
      ``eps``, ``weight_decay``, the ``adam_*`` numbers and ``consistent_rms`` (when
      given).

    References:
      Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks",
      kellerjordan.github.io/posts/muon; Liu et al. 2025, "Muon is Scalable for LLM
      Training", arXiv 2502.16982.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.muon(0.1)
      >>> params = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
      >>> grads = {"w": jnp.array([[2.0, 0.0], [0.0, 1.0]]), "b": jnp.array([1.0, -1.0])}
      >>> u, state = tx.update(grads, tx.init(params), params)
      >>> u["b"]
      Array([-0.1,  0.1], dtype=float32)
      >>> u["w"].round(2)  # about -0.1 times the polar factor, the identity here
      Array([[-0.07, -0.  ],
             [-0.  , -0.11]], dtype=float32)
    """
    fn = "muon"
    resolve_ns_coeffs(fn, ns_coeffs, ns_steps)
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_decay(fn, "beta", beta)
    check_nonnegative(fn, "eps", eps)
    check_nonnegative(fn, "weight_decay", weight_decay)
    check_decay(fn, "adam_b1", adam_b1)
    check_decay(fn, "adam_b2", adam_b2)
    check_nonnegative(fn, "adam_eps_root", adam_eps_root)
    check_nonnegative(fn, "adam_weight_decay", adam_weight_decay)
    check_schedule_or_nonnegative(fn, "adam_learning_rate", adam_learning_rate)
    if consistent_rms is not None:
        check_positive(fn, "consistent_rms", consistent_rms)
    check_muon_options(fn, preconditioning, momentum_form)
    if orthogonalize_fn is not None and not callable(orthogonalize_fn):
        raise ValueError(f"`{fn}(orthogonalize_fn=...)` must be callable; got {orthogonalize_fn=}.")
    if muon_weight_dimension_numbers is not None and _is_dims(muon_weight_dimension_numbers):
        muon_weight_dimension_numbers = _broadcast_spec(muon_weight_dimension_numbers)
    return build_optimizer(
        fn,
        _muon_build,
        dict(
            learning_rate=learning_rate,
            beta=beta,
            eps=eps,
            weight_decay=weight_decay,
            adam_b1=adam_b1,
            adam_b2=adam_b2,
            adam_eps_root=adam_eps_root,
            adam_weight_decay=adam_weight_decay,
            adam_learning_rate=adam_learning_rate,
            consistent_rms=consistent_rms,
        ),
        ns_coeffs=ns_coeffs,
        ns_steps=ns_steps,
        weight_decay_mask=weight_decay_mask,
        mu_dtype=mu_dtype,
        nesterov=nesterov,
        adaptive=adaptive,
        preconditioning=preconditioning,
        muon_weight_dimension_numbers=muon_weight_dimension_numbers,
        momentum_form=momentum_form,
        orthogonalize_fn=orthogonalize_fn,
        nu_dtype=nu_dtype,
    )


def _broadcast_spec(spec: MuonDimensionNumbers) -> Any:
    """One spec for every parameter of rank >= 2 (the others go to AdamW)."""
    return lambda tree: jax.tree.map(lambda x: spec if jnp.ndim(x) >= 2 else None, tree)

"""Cautious optimizers: keep only the update components that agree with the gradient."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_nonnegative, check_transformation
from gradtx._treeutil import tmap
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)

__all__ = ["CautiousState", "cautious"]


class CautiousState(NamedTuple):
    """State of :func:`cautious`.

    Attributes:
      inner_state: the wrapped transformation's state (its hyperparameters stay
        readable with :func:`gradtx.hyperparams` and settable with
        :func:`gradtx.set_hyperparams`).
    """

    inner_state: Any


def cautious(
    inner: GradientTransformation,
    *,
    normalize: bool = True,
    eps: float = 1e-8,
) -> GradientTransformationExtraArgs:
    """Cautious ``inner``: drop the update components that do not descend along the gradient.

    Update rule, leaf by leaf, with :math:`u_t` the update of ``inner`` (the step
    *added* to the parameters, e.g. :math:`-\\alpha\\, \\hat m_t / (\\sqrt{\\hat v_t} +
    \\epsilon)` for Adam) and :math:`g_t` the incoming gradient:

    .. math::

       \\phi_t = \\mathbb{1}[u_t \\odot g_t < 0], \\qquad
       u_t \\leftarrow \\frac{u_t \\odot \\phi_t}{\\operatorname{mean}(\\phi_t) + \\xi}

    with :math:`\\xi` = ``eps`` and the mean over the leaf's entries (per tensor, as in
    the paper's PyTorch code). A component is kept where the step moves against the
    gradient (the paper writes the step to subtract, :math:`\\mathbb{1}[u \\odot g >
    0]`, which is the same mask); the division keeps the average step size when part
    of the update is masked. ``normalize=False`` leaves out the division (the masked
    update :math:`u_t \\odot \\phi_t`). Complex leaves compare
    :math:`\\operatorname{Re}(u\\, \\bar g)`.

    ``inner`` must return the step to *add* (every optimizer alias does); a primitive
    such as ``scale_by_adam`` returns a direction to subtract and needs its learning
    rate first (``cautious(chain(scale_by_adam(), scale_by_learning_rate(lr)))``).
    The mask sees the whole update, so with ``adamw`` or ``lion`` the decoupled
    weight decay is masked too; the paper's C-AdamW masks Adam's direction only and
    decays every weight. The two agree when ``weight_decay=0`` (``cautious(adam(lr))``
    is C-AdamW without decay).

    Args:
      inner: any gradient transformation (a gradtx or optax one), e.g.
        ``gradtx.adamw(1e-3)`` or ``gradtx.lion(1e-4)``.
      normalize: divide by :math:`\\operatorname{mean}(\\phi_t) + \\xi` (the paper's
        rescaling); ``False`` only masks.
      eps: :math:`\\xi` >= 0, keeps the division finite when every component of a leaf
        is masked.

    Returns:
      A transformation with :class:`CautiousState`; extra arguments go to ``inner``.
      ``None`` leaves pass through.

    Reference: Liang, Chen, Liu & Liu 2024, "Cautious Optimizers: Improving Training
    with One Line of Code", arXiv 2411.16085, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.cautious(gradtx.sgd(0.1, momentum=0.9))
      >>> s = tx.init(jnp.zeros(2))
      >>> u, s = tx.update(jnp.array([1.0, 1.0]), s)
      >>> u, s = tx.update(jnp.array([1.0, -0.5]), s)
      >>> u.round(4)  # the second component would move along +g: dropped
      Array([-0.38,  0.  ], dtype=float32)
      >>> tx = gradtx.cautious(gradtx.adamw(1e-3))
      >>> s = gradtx.set_hyperparams(tx.init(jnp.zeros(2)), learning_rate=0.01)
      >>> float(gradtx.hyperparams(s)["learning_rate"])
      0.009999999776482582
    """
    check_transformation("cautious", "inner", inner)
    if not isinstance(normalize, bool):
        raise TypeError(f"`cautious(normalize=...)` must be a bool; got {normalize=}.")
    check_nonnegative("cautious", "eps", eps)
    inner = with_extra_args_support(inner)

    def init_fn(params: Params) -> CautiousState:
        return CautiousState(inner.init(params))

    def mask(u: jax.Array, g: jax.Array) -> jax.Array:
        agree = jnp.real(u * jnp.conj(g)) if jnp.iscomplexobj(u) else u * g
        keep = agree < 0
        out = jnp.where(keep, u, jnp.zeros_like(u))
        if normalize:
            frac = jnp.mean(keep.astype(jnp.promote_types(jnp.real(u).dtype, jnp.float32)))
            out = out / (frac + eps)
        return out.astype(jnp.result_type(u))

    def update_fn(
        updates: Updates, state: CautiousState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, CautiousState]:
        new, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        out = tmap(mask, new, updates)
        return out, CautiousState(inner_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)

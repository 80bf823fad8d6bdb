"""Norms of the gradients, the updates and the parameters, recorded in the state."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_transformation
from gradtx._treeutil import is_none
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    identity,
    with_extra_args_support,
)

__all__ = ["NormsState", "norms"]


class NormsState(NamedTuple):
    """State of :func:`norms`: what the last update saw, by name.

    Every value is an array (float32; float64 with ``jax_enable_x64``, and int32 for
    the count) computed inside the jitted step, so reading it costs nothing until it is
    fetched. Before any update every value is 0.

    Attributes:
      grad_norm: global L2 norm of the updates entering :func:`norms` (the gradients,
        when it wraps the optimizer or comes first in a chain).
      grad_norm_per_leaf: the L2 norm of each leaf of those updates: a tree with the
        structure of the parameters (``None`` leaves stay ``None``).
      update_norm: global L2 norm of the updates leaving (those of ``inner``; without
        ``inner``, the entering ones again).
      param_norm: global L2 norm of the parameters before the update.
      update_param_ratio: ``update_norm / param_norm`` (``inf`` for a nonzero update
        of all-zero parameters, 0 when both are zero): the relative size of the step.
      nonfinite_count: int32 number of NaN or infinite entries in the entering updates.
      inner_state: the state of ``inner`` (``EmptyState()`` without one).
    """

    grad_norm: jax.Array
    grad_norm_per_leaf: Any
    update_norm: jax.Array
    param_norm: jax.Array
    update_param_ratio: jax.Array
    nonfinite_count: jax.Array
    inner_state: Any


def _dtype() -> Any:
    return jnp.result_type(float)


def _sq_sum(x: jax.Array) -> jax.Array:
    """Sum of squares in at least float32 (bfloat16 gradients lose nothing here)."""
    x = jnp.asarray(x)
    wide = jnp.promote_types(jnp.finfo(x.dtype).dtype if jnp.iscomplexobj(x) else x.dtype, _dtype())
    return jnp.sum(jnp.square(jnp.abs(x).astype(wide))).astype(_dtype())


def _global(tree: Any) -> jax.Array:
    leaves = [x for x in jax.tree.leaves(tree) if x is not None]
    return jnp.sqrt(sum((_sq_sum(x) for x in leaves), jnp.zeros([], _dtype())))


def _nonfinite(tree: Any) -> jax.Array:
    counts = [jnp.sum(~jnp.isfinite(x)).astype(jnp.int32) for x in jax.tree.leaves(tree)]
    return sum(counts, jnp.zeros([], jnp.int32))


def norms(inner: GradientTransformation | None = None) -> GradientTransformationExtraArgs:
    """Record gradient, update and parameter norms in the state; updates are unchanged.

    With :math:`g` the updates entering, :math:`u` those leaving (:math:`u = g` without
    ``inner``, else ``inner``'s output) and :math:`\\theta` the parameters, the state
    (:class:`NormsState`) records

    .. math::

       \\|g\\|_2,\\quad (\\|g_\\ell\\|_2)_\\ell,\\quad \\|u\\|_2,\\quad \\|\\theta\\|_2,
       \\quad \\|u\\|_2 / \\|\\theta\\|_2,\\quad \\#\\{i : g_i \\notin \\mathbb{R}\\}.

    Everything is computed in the step itself: no host callback, nothing leaves the
    device until you read the state (``gradtx.tree.get(state, "grad_norm")``).

    Where to put it:

    - **Around the optimizer** (``norms(gradtx.adamw(1e-3))``): ``grad_norm`` is the
      gradients' norm and ``update_norm`` the norm of the step actually applied, so
      ``update_param_ratio`` is the step's relative size (about 1e-3 is typical).
    - **First in a chain** (``chain(norms(), clip_by_global_norm(1.0), adamw(1e-3))``):
      the gradients' norms, before clipping; ``update_norm`` then equals ``grad_norm``.
    - **Last in a chain**: everything describes the final step (``grad_norm`` too).

    Args:
      inner: an optional transformation to run; its updates are returned.

    Returns:
      A transformation with :class:`NormsState`; ``init`` and ``update`` need the
      params (the per-leaf norms take their structure, the ratio their norm).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.monitoring.norms(gradtx.sgd(0.1))
      >>> params = {"w": jnp.array([3.0, 4.0]), "b": jnp.array([0.0])}
      >>> grads = {"w": jnp.array([0.0, 1.0]), "b": jnp.array([jnp.nan])}
      >>> u, state = tx.update(grads, tx.init(params), params)
      >>> gradtx.tree.get(state, "param_norm"), gradtx.tree.get(state, "nonfinite_count")
      (Array(5., dtype=float32), Array(1, dtype=int32))
      >>> gradtx.tree.get(state, "grad_norm_per_leaf")["w"]
      Array(1., dtype=float32)
    """
    if inner is None:
        inner = identity()
    else:
        check_transformation("gradtx.monitoring.norms", "inner", inner)
    inner = with_extra_args_support(inner)

    def need_params(params: Any, where: str) -> None:
        if params is None:
            raise ValueError(
                f"`gradtx.monitoring.norms` needs the parameters: call {where} (the "
                "per-leaf norms take their structure, update_param_ratio their norm)."
            )

    def per_leaf(tree: Any, fn: Any) -> Any:
        return jax.tree.map(lambda x: None if x is None else fn(x), tree, is_leaf=is_none)

    def init_fn(params: Params) -> NormsState:
        need_params(params, "init(params)")
        zero = jnp.zeros([], _dtype())
        return NormsState(
            grad_norm=zero,
            grad_norm_per_leaf=per_leaf(params, lambda _: zero),
            update_norm=zero,
            param_norm=zero,
            update_param_ratio=zero,
            nonfinite_count=jnp.zeros([], jnp.int32),
            inner_state=inner.init(params),
        )

    def update_fn(
        updates: Updates, state: NormsState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, NormsState]:
        need_params(params, "update(updates, state, params)")
        out, inner_state = inner.update(updates, state.inner_state, params, **extra_args)
        update_norm = _global(out)
        param_norm = _global(params)
        ratio = jnp.where(
            param_norm > 0,
            update_norm / jnp.where(param_norm > 0, param_norm, 1.0),
            jnp.where(update_norm > 0, jnp.inf, 0.0),
        )
        new_state = NormsState(
            grad_norm=_global(updates),
            grad_norm_per_leaf=per_leaf(updates, lambda x: jnp.sqrt(_sq_sum(x))),
            update_norm=update_norm,
            param_norm=param_norm,
            update_param_ratio=ratio.astype(_dtype()),
            nonfinite_count=_nonfinite(updates),
            inner_state=inner_state,
        )
        return out, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)

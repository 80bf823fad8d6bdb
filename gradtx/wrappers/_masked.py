"""Applying a transformation to part of the parameters only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from gradtx._paths import broadcast_prefix
from gradtx._structure import check_updates_match_params
from gradtx._treeutil import is_none as _is_none
from gradtx._treeutil import is_tree_function as _is_tree_function
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)

__all__ = ["MaskedNode", "MaskedState", "masked"]


class MaskedNode(NamedTuple):
    """Stands, in the inner state, for a parameter the mask leaves out (no leaves)."""


class MaskedState(NamedTuple):
    """State of :func:`masked`.

    Attributes:
      inner_state: the inner transformation's state, built only on masked-in leaves.
    """

    inner_state: Any


def _full_mask(mask: Any, tree: Any, fn: str) -> Any:
    """Broadcast a (prefix) boolean mask to the leaves of ``tree``, checking it."""

    def check(path: Any, m: Any) -> bool:
        if isinstance(m, (bool, np.bool_)):
            return bool(m)
        if isinstance(m, (np.ndarray, jax.Array)) and m.shape == () and m.dtype == bool:
            if isinstance(m, jax.core.Tracer):
                raise TypeError(
                    f"`{fn}`: the mask at {jax.tree_util.keystr(path)} is traced; "
                    "masks must be concrete booleans."
                )
            return bool(m)
        raise TypeError(
            f"`{fn}`: mask leaves must be booleans; at {jax.tree_util.keystr(path)} got "
            f"{type(m).__name__} {m!r}."
        )

    checked = jax.tree_util.tree_map_with_path(check, mask)
    return broadcast_prefix(checked, tree, fn=fn, what="the mask")


def masked(
    inner: GradientTransformation,
    mask: Any | Callable[[Params], Any],
    *,
    mask_compatible_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Apply ``inner`` only where ``mask`` is ``True``; elsewhere updates pass unchanged.

    Update rule: :math:`u_i \\leftarrow T(u)_i` where :math:`m_i` holds, else
    :math:`u_i \\leftarrow u_i`, with :math:`T` = ``inner`` run on the masked-in leaves.

    The inner state is built only on the masked-in leaves (masked-out ones are
    :class:`MaskedNode` and cost no memory).

    Args:
      inner: the transformation to apply.
      mask: a tree of booleans with the structure of the parameters (or a prefix of
        it), or a function ``params -> mask`` such as :func:`gradtx.masks.by_path`. A
        callable pytree (an Equinox module) counts as a tree, not as a function.
      mask_compatible_extra_args: also mask every extra keyword argument that is a tree
        with the structure of the updates (per-parameter data handed to ``inner``).

    Returns:
      A transformation with :class:`MaskedState`.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.masked(gradtx.scale(0.0), {"w": True, "b": False})
      >>> g = {"w": jnp.ones(1), "b": jnp.ones(1)}
      >>> tx.update(g, tx.init(g))[0]
      {'b': Array([1.], dtype=float32), 'w': Array([0.], dtype=float32)}
    """
    inner = with_extra_args_support(inner)

    def resolve(tree: Any) -> Any:
        m = mask(tree) if _is_tree_function(mask) else mask
        return _full_mask(m, tree, "masked")

    def select(tree: Any, m: Any) -> Any:
        return jax.tree.map(lambda x, keep: x if keep else MaskedNode(), tree, m, is_leaf=_is_none)

    def init_fn(params: Params) -> MaskedState:
        m = resolve(params)
        return MaskedState(inner.init(select(params, m)))

    def update_fn(
        updates: Updates, state: MaskedState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, MaskedState]:
        check_updates_match_params("masked.update", updates, params)
        m = resolve(params if params is not None and _is_tree_function(mask) else updates)
        sub_params = None if params is None else select(params, m)
        if mask_compatible_extra_args:
            shape = jax.tree.structure(updates, is_leaf=_is_none)
            extra_args = {
                k: select(v, m) if jax.tree.structure(v, is_leaf=_is_none) == shape else v
                for k, v in extra_args.items()
            }
        new, inner_state = inner.update(
            select(updates, m), state.inner_state, sub_params, **extra_args
        )
        out = jax.tree.map(
            lambda u, n, keep: n if keep else u,
            updates,
            new,
            m,
            is_leaf=lambda x: x is None or isinstance(x, MaskedNode),
        )
        return out, MaskedState(inner_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)

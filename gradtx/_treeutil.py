"""Tiny pytree helpers shared inside the package (private)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax


def is_none(x: Any) -> bool:
    """``None`` as a leaf (for ``is_leaf=``)."""
    return x is None


def tmap(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``jax.tree.map`` over ``tree``'s leaves, keeping its ``None`` leaves as ``None``."""
    return jax.tree.map(lambda x, *r: None if x is None else f(x, *r), tree, *rest, is_leaf=is_none)


def is_tree_function(x: Any) -> bool:
    """Whether a mask or labels argument is a function of the parameters (to be called).

    A callable counts as a function only when JAX flattens it as a single leaf: a plain
    function, a lambda, a ``functools.partial``, an object with ``__call__`` that is not a
    registered pytree, or a ``jax.tree_util.Partial``. A callable *pytree* (an Equinox
    module, a Flax ``nnx.Module``) is read as a tree of masks or labels, never called.
    """
    if isinstance(x, jax.tree_util.Partial):
        return True
    return callable(x) and jax.tree_util.treedef_is_leaf(jax.tree.structure(x))

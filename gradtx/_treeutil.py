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

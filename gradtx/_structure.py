"""Structure checks with messages that name the differing paths."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._treeutil import is_none as _is_none


def _paths(tree: Any) -> dict[str, Any]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_none)
    return {jax.tree_util.keystr(path): leaf for path, leaf in leaves}


def describe_difference(a: Any, b: Any, name_a: str, name_b: str) -> str:
    """A short text naming the paths present in one tree and not the other."""
    pa, pb = _paths(a), _paths(b)
    only_a = [k for k in pa if k not in pb]
    only_b = [k for k in pb if k not in pa]
    parts = []
    if only_a:
        parts.append(f"only in {name_a}: {only_a[:8]}{' ...' if len(only_a) > 8 else ''}")
    if only_b:
        parts.append(f"only in {name_b}: {only_b[:8]}{' ...' if len(only_b) > 8 else ''}")
    if not parts:
        parts.append(
            f"same paths but different node types: {name_a} is "
            f"{jax.tree.structure(a, is_leaf=_is_none)}, {name_b} is "
            f"{jax.tree.structure(b, is_leaf=_is_none)}"
        )
    return "; ".join(parts)


def assert_same_structure(a: Any, b: Any, name_a: str, name_b: str, fn: str) -> None:
    """Raise ``ValueError`` naming the differing paths when ``a`` and ``b`` differ.

    ``None`` in either tree counts as a leaf, so a ``None`` update for a parameter is
    accepted, and so is a ``None`` parameter.
    """
    sa = jax.tree.structure(a, is_leaf=_is_none)
    sb = jax.tree.structure(b, is_leaf=_is_none)
    if sa == sb:
        return
    raise ValueError(
        f"`{fn}`: {name_a} and {name_b} must have the same tree structure; "
        + describe_difference(a, b, name_a, name_b)
        + "."
    )

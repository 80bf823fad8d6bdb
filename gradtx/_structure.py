"""Structure checks with messages that name the differing paths on both sides.

A tree mismatch (updates against params, or against the state ``init`` built) is
reported by the first node where the two trees part, in ``jax.tree_util.keystr`` form
(``"['b']['x']"``), with what each side has there, and by the leaf paths present in
one tree and not the other, never by a dump of two tree definitions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from gradtx._treeutil import is_none as _is_none

_MAX_LISTED = 8


class TreeMismatchError(ValueError):
    """Trees that must match do not; the message names the differing paths."""


def _paths(tree: Any) -> dict[str, Any]:
    leaves, _ = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_none)
    return {jax.tree_util.keystr(path): leaf for path, leaf in leaves}


def _children(node: Any) -> list[tuple[Any, Any]] | None:
    """The direct children of ``node`` with their keys; ``None`` for a leaf (or None)."""
    if node is None:
        return None
    pairs, _ = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)
    if len(pairs) == 1 and pairs[0][0] == ():
        return None
    return [(path[0], child) for path, child in pairs]


def _listed(items: list[str]) -> str:
    more = ", ..." if len(items) > _MAX_LISTED else ""
    return ", ".join(items[:_MAX_LISTED]) + more


def _describe_node(node: Any, children: list[tuple[Any, Any]] | None) -> str:
    if node is None:
        return "None"
    if children is None:
        if hasattr(node, "shape") and hasattr(node, "dtype"):
            shape = ",".join(str(d) for d in node.shape)
            return f"a leaf {np.dtype(node.dtype).name}[{shape}]"
        return f"a leaf of type {type(node).__name__}"
    kind = type(node).__name__
    if not children:
        return f"an empty {kind}"
    keys = [k for k, _ in children]
    if all(isinstance(k, jax.tree_util.SequenceKey) for k in keys):
        return f"a {kind} of length {len(keys)}"
    if all(isinstance(k, jax.tree_util.DictKey) for k in keys):
        return f"a {kind} with keys [{_listed([repr(k.key) for k in keys])}]"
    if all(isinstance(k, jax.tree_util.GetAttrKey) for k in keys):
        return f"a {kind} with fields [{_listed([k.name for k in keys])}]"
    return f"a {kind} with children [{_listed([jax.tree_util.keystr((k,)) for k in keys])}]"


def _same_node_data(x: Any, y: Any) -> bool:
    """Whether two nodes of one type carry the same metadata (dict keys, static fields)."""
    dx = jax.tree.structure(x, is_leaf=lambda n: n is not x).node_data()
    dy = jax.tree.structure(y, is_leaf=lambda n: n is not y).node_data()
    try:
        return bool(dx == dy)
    except Exception:  # noqa: BLE001 - metadata that cannot be compared counts as equal
        return True


def first_difference(a: Any, b: Any) -> tuple[str, str, str] | None:
    """The first node where ``a`` and ``b`` differ: ``(path, what a has, what b has)``.

    Nodes are compared by type and keys, depth first in flattening order; ``None``
    counts as a leaf, and two leaves never differ here (see :func:`first_shape_difference`).
    Returns ``None`` when the structures are equal.
    """

    def walk(x: Any, y: Any, path: tuple[Any, ...]) -> tuple[str, str, str] | None:
        cx, cy = _children(x), _children(y)
        if cx is None and cy is None:
            return None
        keys_x = None if cx is None else [k for k, _ in cx]
        keys_y = None if cy is None else [k for k, _ in cy]
        same_kind = type(x) is type(y) and keys_x == keys_y and _same_node_data(x, y)
        if not same_kind:
            where = jax.tree_util.keystr(path) or "the root"
            return where, _describe_node(x, cx), _describe_node(y, cy)
        for (k, cx_), (_, cy_) in zip(cx, cy, strict=True):  # type: ignore[arg-type]
            found = walk(cx_, cy_, (*path, k))
            if found is not None:
                return found
        return None

    return walk(a, b, ())


def first_shape_difference(a: Any, b: Any) -> tuple[str, str, str] | None:
    """For trees of equal structure, the first leaf path whose shapes differ."""
    for (path, x), y in zip(
        jax.tree_util.tree_flatten_with_path(a, is_leaf=_is_none)[0],
        jax.tree.leaves(b, is_leaf=_is_none),
        strict=True,
    ):
        if x is None or y is None or not hasattr(x, "shape") or not hasattr(y, "shape"):
            continue
        if tuple(x.shape) != tuple(y.shape):
            return (
                jax.tree_util.keystr(path) or "the root",
                _describe_node(x, None),
                _describe_node(y, None),
            )
    return None


def describe_difference(a: Any, b: Any, name_a: str, name_b: str) -> str:
    """A short text naming where ``a`` and ``b`` first differ, and the unmatched leaves."""
    parts = []
    first = first_difference(a, b)
    if first is not None:
        where, what_a, what_b = first
        parts.append(f"first difference at {where}: {name_a} has {what_a}, {name_b} has {what_b}")
    pa, pb = _paths(a), _paths(b)
    for name, mine, other in ((name_a, pa, pb), (name_b, pb, pa)):
        only = [k for k in mine if k not in other]
        if only:
            parts.append(f"only in {name}: {_listed(only)}")
    return "; ".join(parts) or "the trees have the same structure"


def assert_same_structure(a: Any, b: Any, name_a: str, name_b: str, fn: str) -> None:
    """Raise :class:`TreeMismatchError` naming the differing paths when ``a``, ``b`` differ.

    ``None`` in either tree counts as a leaf, so a ``None`` update for a parameter is
    accepted, and so is a ``None`` parameter.
    """
    sa = jax.tree.structure(a, is_leaf=_is_none)
    sb = jax.tree.structure(b, is_leaf=_is_none)
    if sa == sb:
        return
    raise TreeMismatchError(
        f"`{fn}`: {name_a} and {name_b} must have the same tree structure; "
        + describe_difference(a, b, name_a, name_b)
        + "."
    )


def diagnose_update(
    fn: str, init: Callable[[Any], Any], updates: Any, state: Any, params: Any
) -> str | None:
    """Explain why ``update(updates, state, params)`` failed, if the trees disagree.

    Checks, in order: the tree of ``state`` against the state ``init`` would build for
    ``updates`` (abstractly, no arrays made); ``updates`` against ``params``; then the
    leaf shapes of the two states. Returns the message, or ``None`` when all of them
    agree (the failure was something else).
    """
    try:
        expected = jax.eval_shape(init, updates)
    except Exception:  # noqa: BLE001 - init cannot take these updates: skip that check
        expected = None
    seam = (
        "the state does not fit these updates (was it built by init with other "
        "parameters, or are the updates from another model?); "
    )

    def structure(tree: Any) -> Any:
        return jax.tree.structure(tree, is_leaf=_is_none)

    if expected is not None and structure(state) != structure(expected):
        return (
            f"`{fn}`: {seam}"
            + describe_difference(state, expected, "the state", "a state for these updates")
            + "."
        )
    if params is not None and structure(params) != structure(updates):
        return (
            f"`{fn}`: updates and params must have the same tree structure; "
            + describe_difference(updates, params, "updates", "params")
            + "."
        )
    shapes = None if expected is None else first_shape_difference(state, expected)
    if shapes is not None:
        where, have, want = shapes
        return (
            f"`{fn}`: {seam}at state path {where} the state has {have}, these updates need {want}."
        )
    return None


def check_updates_match_params(fn: str, updates: Any, params: Any) -> None:
    """For a wrapper's ``update``: raise naming the paths when ``params`` (if given) and
    ``updates`` differ in structure, before anything maps over both."""
    if params is not None:
        assert_same_structure(updates, params, "updates", "params", fn)

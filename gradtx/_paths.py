"""Pytree paths as text, and aligning a prefix tree (a mask, labels) with a tree by path.

A path is written the way ``jax.tree_util.keystr`` writes it: ``"['layer']['kernel']"``
for nested dicts, ``".layers[0].weight"`` for an Equinox module, ``"['kernel'].value"``
for a leaf of a Flax ``nnx.State`` that still holds its ``nnx.Variable`` wrappers (the
state given to ``init`` by ``nnx.Optimizer``), and ``"['kernel']"`` for the same leaf in
the plain state of arrays that ``nnx.Optimizer`` gives to ``update``. The trailing
``.value`` is therefore not part of a parameter's identity here: two paths that differ
only by it name the same parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax

from gradtx._treeutil import is_none

_VALUE = ".value"
_MAX_LISTED = 8


def key_texts(path: Sequence[Any]) -> tuple[str, ...]:
    """The keys of ``path`` as text (``"['a']"``, ``"[0]"``, ``".w"``), the ``.value`` dropped.

    ``DictKey(0)`` and ``SequenceKey(0)`` both read ``"[0]"``, so a list in one tree and
    an int-keyed dict in the other (``nnx.List`` in a module and in its state) match.
    """
    keys = tuple(jax.tree_util.keystr((k,)) for k in path)
    return keys[:-1] if keys and keys[-1] == _VALUE else keys


def path_forms(path: Sequence[Any]) -> tuple[str, ...]:
    """``keystr(path)``, and the same text without a trailing ``.value`` when it has one."""
    text = jax.tree_util.keystr(tuple(path))
    if text.endswith(_VALUE) and len(text) > len(_VALUE):
        return (text, text[: -len(_VALUE)])
    return (text,)


def _listed(items: list[str]) -> str:
    more = f", ... ({len(items)} in all)" if len(items) > _MAX_LISTED else ""
    return ", ".join(items[:_MAX_LISTED]) + more


def broadcast_prefix(prefix: Any, tree: Any, *, fn: str, what: str) -> Any:
    """Spread each leaf of ``prefix`` over the subtree of ``tree`` below it.

    Returns a tree with ``tree``'s structure (``None`` leaves included) whose leaves are
    the values of ``prefix`` at or above them. ``prefix`` must have ``tree``'s structure
    or a prefix of it; when the node types differ but the paths agree (an ``nnx.State``
    of ``nnx.Variable``s against the same state of plain arrays, a dict against an
    ``nnx.State``), the two are matched by path (:func:`key_texts`).

    Raises:
      ValueError: naming the paths of ``prefix`` that match no leaf of ``tree`` and the
        leaves of ``tree`` that no path of ``prefix`` covers.
    """
    try:
        return jax.tree.map(
            lambda p, sub: jax.tree.map(lambda _: p, sub, is_leaf=is_none),
            prefix,
            tree,
            is_leaf=is_none,
        )
    except ValueError:
        pass
    table: dict[tuple[str, ...], tuple[str, Any]] = {}
    for path, value in jax.tree_util.tree_flatten_with_path(prefix, is_leaf=is_none)[0]:
        table[key_texts(path)] = (jax.tree_util.keystr(path), value)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_none)
    used: set[tuple[str, ...]] = set()
    out, uncovered = [], []
    for path, _ in leaves:
        keys = key_texts(path)
        for n in range(len(keys), -1, -1):
            if keys[:n] in table:
                used.add(keys[:n])
                out.append(table[keys[:n]][1])
                break
        else:
            uncovered.append(jax.tree_util.keystr(path))
    unmatched = [text for keys, (text, _) in table.items() if keys not in used]
    if uncovered or unmatched:
        parts = []
        if unmatched:
            parts.append(f"only in {what}: {_listed(unmatched)}")
        if uncovered:
            parts.append(f"not covered by {what}: {_listed(uncovered)}")
        raise ValueError(
            f"`{fn}`: {what} must have the structure of the parameters (or a prefix of it); "
            + "; ".join(parts)
            + "."
        )
    return jax.tree.unflatten(treedef, out)

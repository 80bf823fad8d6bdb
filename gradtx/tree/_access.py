"""Reading and writing parts of a state by name (``"mu"``, ``"count"``, ``"learning_rate"``).

Names are NamedTuple field names and dict keys anywhere in the tree, so the same call
works however deeply a chain nests its states. Where a name is ambiguous, :func:`get`
also takes a ``/``-separated path (``"0/count"``), and its error lists the candidates in
that form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import jax
from jax.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey

KeyPath = tuple[Any, ...]
Filtering = Callable[[KeyPath, Any], bool]


class NamedTupleKey(NamedTuple):
    """A path entry for a NamedTuple field: the tuple's class name and the field name.

    Paths handed to ``filtering`` functions use it, so a filter can pick a state by its
    class (``path[-1].tuple_name == "ScaleByAdamState"``), as with optax.
    """

    tuple_name: str
    name: str

    def __str__(self) -> str:
        return f".{self.name}"


def _key_name(entry: Any) -> Any:
    if isinstance(entry, DictKey):
        return entry.key
    if isinstance(entry, GetAttrKey):
        return entry.name
    if isinstance(entry, SequenceKey):
        return entry.idx
    if isinstance(entry, FlattenedIndexKey):
        return entry.key
    return getattr(entry, "name", entry)


def _children(node: Any) -> list[tuple[KeyPath, Any]] | None:
    """The direct children of ``node`` with their one-entry key paths; None for a leaf."""
    if node is None:
        return None
    pairs, _ = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)
    if len(pairs) == 1 and pairs[0][0] == ():
        return None
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        name = type(node).__name__
        pairs = [((NamedTupleKey(name, k[0].name),), c) for k, c in pairs]
    return pairs


def _walk(node: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """Each node's children first, then each child's subtree (outermost matches first)."""
    children = _children(node) or []
    for sub, child in children:
        yield path + sub, child
    for sub, child in children:
        yield from _walk(child, path + sub)


def _keystr(path: KeyPath) -> str:
    return "".join(str(k) for k in path)


def get_all_with_path(
    tree: Any, key: Any, filtering: Filtering | None = None
) -> list[tuple[KeyPath, Any]]:
    """Return every ``(path, value)`` in ``tree`` whose last path entry is named ``key``.

    Args:
      tree: a pytree, typically an optimizer state.
      key: a NamedTuple field name or dict key, e.g. ``"mu"`` or ``"learning_rate"``.
      filtering: optional ``filtering(path, value) -> bool`` to keep only some matches.

    Returns:
      A list of ``(key_path, value)`` pairs, outermost first.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> state = gradtx.adam(1e-3).init({"w": jnp.zeros(2)})
      >>> [str(p[-1]) for p, _ in gradtx.tree.get_all_with_path(state, "mu")]
      ['.mu']
    """
    found = []
    for path, value in _walk(tree):
        if _key_name(path[-1]) == key:
            if filtering is None or filtering(path, value):
                found.append((path, value))
    return found


class _AmbiguousNameError(KeyError, ValueError):
    """Several values match a name: a ValueError, and a KeyError as optax raises."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


def _slash_path(path: KeyPath) -> str:
    return "/".join(str(_key_name(k)) for k in path)


def _get_by_path(tree: Any, key: str, filtering: Filtering | None) -> list[tuple[KeyPath, Any]]:
    """Matches of a ``"a/b/c"`` path: the last entries of a path (all of it after a "/")."""
    parts = key.strip("/").split("/")
    found = []
    for path, value in _walk(tree):
        names = [str(_key_name(k)) for k in path]
        if len(names) < len(parts) or names[len(names) - len(parts) :] != parts:
            continue
        if key.startswith("/") and len(names) != len(parts):
            continue
        if filtering is None or filtering(path, value):
            found.append((path, value))
    return found


def get(tree: Any, key: Any, default: Any = None, filtering: Filtering | None = None) -> Any:
    """Return the single value named ``key`` in ``tree`` (``default`` if there is none).

    ``key`` is a name (a NamedTuple field or dict key, ``"count"``) matched anywhere in
    the tree, as optax's ``tree.get`` does. When no entry has that exact name and ``key``
    is a string with a ``/``, it is read as a path: its parts (``"0/count"``, tuple
    indices as numbers) must equal the last entries of a value's path, or all of them
    when it starts with ``/`` (``"/0/count"``). Ambiguity is never resolved silently:
    the error lists the candidates in this form, ready to pass back. (A dict key that
    itself contains ``/`` is found by its exact name first.)

    Args:
      tree: a pytree, typically an optimizer state.
      key: a name, or a ``/``-separated path.
      default: returned when nothing matches.
      filtering: optional ``filtering(path, value) -> bool`` to keep only some matches.

    Returns:
      The matching value.

    Raises:
      ValueError: when several values match; the message lists their paths. It is also
        a ``KeyError``, the error optax raises there.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.scale_by_adam(), gradtx.scale_by_schedule(lambda c: 1.0))
      >>> state = tx.init({"w": jnp.zeros(2)})
      >>> try:
      ...     gradtx.tree.get(state, "count")
      ... except ValueError as err:
      ...     print(err)
      gradtx.tree.get: 2 values are named 'count': '0/count', '1/count'; pass one of these paths to pick one (or filtering=lambda path, value: ...).
      >>> gradtx.tree.get(state, "1/count")
      Array(0, dtype=int32)
    """  # noqa: E501 - a doctest's output line
    found = get_all_with_path(tree, key, filtering)
    if not found and isinstance(key, str) and "/" in key:
        found = _get_by_path(tree, key, filtering)
    if not found:
        return default
    if len(found) > 1:
        paths = ", ".join(repr(_slash_path(p)) for p, _ in found)
        what = "match the path" if all(_key_name(p[-1]) != key for p, _ in found) else "are named"
        raise _AmbiguousNameError(
            f"gradtx.tree.get: {len(found)} values {what} {key!r}: {paths}; pass one of "
            "these paths to pick one (or filtering=lambda path, value: ...)."
        )
    return found[0][1]


def set(tree: Any, filtering: Filtering | None = None, /, **kwargs: Any) -> Any:  # noqa: A001
    """Return a copy of ``tree`` with every value named by a keyword replaced.

    Args:
      tree: a pytree, typically an optimizer state.
      filtering: optional ``filtering(path, value) -> bool``; only matches for which it
        holds are replaced.
      **kwargs: ``name=new_value`` pairs.

    Raises:
      KeyError: when a name matches nothing in the tree.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> state = gradtx.adam(1e-3).init({"w": jnp.zeros(2)})
      >>> state = gradtx.tree.set(state, count=jnp.asarray(10, jnp.int32))
      >>> int(gradtx.tree.get(state, "count"))
      10
    """
    for key in kwargs:
        if not get_all_with_path(tree, key, filtering):
            raise KeyError(f"gradtx.tree.set: nothing in the tree is named {key!r}.")

    def rebuild(node: Any, path: KeyPath) -> Any:
        if path and _key_name(path[-1]) in kwargs:
            if filtering is None or filtering(path, node):
                return kwargs[_key_name(path[-1])]
        children = _children(node)
        if not children:
            return node
        treedef = jax.tree.structure(node, is_leaf=lambda x: x is not node)
        return jax.tree.unflatten(treedef, [rebuild(c, path + sub) for sub, c in children])

    return rebuild(tree, ())


# An unlikely shape that marks the parameters when ``init`` is traced abstractly.
_MARK_SHAPE = (3, 1, 4, 1, 5, 9, 2)


def map_params(
    initable: Any,
    f: Callable[..., Any],
    state: Any,
    /,
    *rest: Any,
    transform_non_params: Callable[..., Any] | None = None,
    is_leaf: Callable[[Any], bool] | None = None,
) -> Any:
    """Apply ``f`` to the parts of an optimizer state shaped like the parameters.

    The parameter-shaped parts (``mu``, ``nu``, momentum traces, ...) are found by
    abstractly running ``initable.init`` (no arrays are built); ``f`` is mapped over
    their leaves (with the matching leaves of ``rest``), and ``transform_non_params``,
    if given, over every other leaf (counts, hyperparameters). Useful to shard, cast or
    offload the moments.

    Args:
      initable: a transformation (anything with ``.init``) or an ``init`` function.
      f: applied to each parameter-shaped leaf.
      state: the state ``initable.init`` produced.
      *rest: trees with the structure of ``state``, passed to ``f`` leaf by leaf.
      transform_non_params: applied to every other leaf; unchanged when ``None``.
      is_leaf: passed to the inner ``jax.tree.map``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_adam()
      >>> state = tx.init({"w": jnp.zeros(2)})
      >>> state = gradtx.tree.map_params(tx, lambda x: x + 1, state)
      >>> state.mu["w"], state.count
      (Array([1., 1.], dtype=float32), Array(0, dtype=int32))
    """
    init = initable.init if hasattr(initable, "init") else initable
    marker = jax.ShapeDtypeStruct(_MARK_SHAPE, jax.numpy.float32)
    template = jax.eval_shape(init, marker)

    def apply(t: Any, s: Any, *r: Any) -> Any:
        if isinstance(t, jax.ShapeDtypeStruct) and t.shape == _MARK_SHAPE:
            return jax.tree.map(f, s, *r, is_leaf=is_leaf)
        if transform_non_params is None:
            return s
        return jax.tree.map(transform_non_params, s, is_leaf=is_leaf)

    return jax.tree.map(apply, template, state, *rest)

"""Masks and labels chosen by parameter path, with glob patterns."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import jax

from gradtx._paths import path_forms

__all__ = ["by_path", "labels_by_path", "paths"]


def _check_pattern(fn: str, pattern: Any) -> None:
    if not isinstance(pattern, str):
        raise TypeError(
            f"`{fn}`: patterns must be strings such as '*kernel'; got "
            f"{type(pattern).__name__} {pattern!r}."
        )
    if not pattern:
        raise ValueError(f"`{fn}`: a pattern must not be empty; use '*' to match every path.")


def _compile(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """A glob over a ``keystr`` path: ``*`` any text, ``?`` one character, the rest literal.

    The pattern may leave out the opening of the first key (``['``, ``[`` or ``.``) and
    the closing of the last one (``']`` or ``]``), so ``"*kernel"`` matches
    ``"['layer']['kernel']"`` and ``"layer*"`` matches ``"['layer']['bias']"``.
    """
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (0 if case_sensitive else re.IGNORECASE)
    return re.compile(r"(?:\['|\[|\.)?" + body + r"(?:'\]|\])?", flags)


def _matcher(
    fn: str, patterns: tuple[str, ...], case_sensitive: bool
) -> Callable[[Any], int | None]:
    for pattern in patterns:
        _check_pattern(fn, pattern)
    compiled = [_compile(p, case_sensitive) for p in patterns]

    def first_match(path: Any) -> int | None:
        forms = path_forms(path)
        for i, regex in enumerate(compiled):
            if any(regex.fullmatch(text) for text in forms):
                return i
        return None

    return first_match


def paths(tree: Any) -> list[str]:
    """The path of every leaf of ``tree``, as the patterns of :func:`by_path` see it.

    A path is ``jax.tree_util.keystr`` of the leaf's key path: ``"['layer']['kernel']"``
    in nested dicts (Flax linen params, ``nnx.State``), ``".layers[0].weight"`` in an
    Equinox module, ``"['kernel'].value"`` in an ``nnx.State`` that holds its
    ``nnx.Variable`` wrappers. ``None`` leaves are left out.

    Args:
      tree: a pytree of parameters.

    Returns:
      The paths, in the order of ``jax.tree.leaves(tree)``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.masks.paths({"layer": {"kernel": jnp.ones(2), "bias": jnp.ones(1)}})
      ["['layer']['bias']", "['layer']['kernel']"]
    """
    return [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


class _PathMask:
    """The function :func:`by_path` returns: ``params -> tree of booleans``.

    It compares equal to another mask with the same patterns, so a jitted step that
    holds it as a static argument is not compiled twice.
    """

    def __init__(self, patterns: tuple[str, ...], case_sensitive: bool) -> None:
        self._key = (patterns, case_sensitive)
        self._first_match = _matcher("gradtx.masks.by_path", patterns, case_sensitive)

    def __call__(self, params: Any) -> Any:
        return jax.tree_util.tree_map_with_path(
            lambda path, _: self._first_match(path) is not None, params
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PathMask) and self._key == other._key

    def __hash__(self) -> int:
        return hash(("by_path", self._key))

    def __repr__(self) -> str:
        args = ", ".join(repr(p) for p in self._key[0])
        return f"gradtx.masks.by_path({args}{', case_sensitive=True' if self._key[1] else ''})"


def by_path(*patterns: str, case_sensitive: bool = False) -> Callable[[Any], Any]:
    """A mask function that is ``True`` at every parameter whose path matches a pattern.

    Patterns are globs over the path text of :func:`paths` (``jax.tree_util.keystr``):
    ``*`` matches any text (across levels too), ``?`` one character, and every other
    character stands for itself, brackets and quotes included (so there are no
    ``[seq]`` classes; paths are full of brackets). A pattern may leave out the opening
    of the first key and the closing of the last, so ``"*kernel"`` matches
    ``"['layer']['kernel']"``, ``"*bias"`` matches ``".layers[0].bias"``, ``"*norm*"``
    matches ``"['LayerNorm_0']['scale']"`` and ``"encoder*"`` matches every path under
    the top-level key ``encoder``; the full text (``"['layer']['kernel']"``) works too.
    A trailing ``.value`` (the array inside a Flax ``nnx.Variable``) may be left out.
    Matching ignores case unless ``case_sensitive=True``.

    The result is a function ``params -> mask`` (a tree with the structure of
    ``params``, ``None`` leaves kept), accepted wherever a mask is: :func:`gradtx.masked`,
    :func:`gradtx.freeze`, ``mask=`` of :func:`gradtx.add_decayed_weights` and
    :func:`gradtx.adamw`, ``freeze_mask=`` of :func:`gradtx.selective_transform`.

    Args:
      *patterns: one or more glob patterns; a path is ``True`` if any of them matches.
      case_sensitive: match letter case exactly (default: ignore it).

    Returns:
      The mask function.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> params = {"dense": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)},
      ...           "LayerNorm_0": {"scale": jnp.ones(2)}}
      >>> gradtx.masks.by_path("*kernel")(params)
      {'LayerNorm_0': {'scale': False}, 'dense': {'bias': False, 'kernel': True}}
      >>> tx = gradtx.adamw(1e-3, weight_decay=0.05, mask=gradtx.masks.by_path("*kernel"))
    """
    if not patterns:
        raise ValueError(
            "`gradtx.masks.by_path` needs at least one pattern, such as by_path('*kernel')."
        )
    return _PathMask(tuple(patterns), bool(case_sensitive))


class _PathLabels:
    """The function :func:`labels_by_path` returns: ``params -> tree of labels``."""

    def __init__(
        self, rules: tuple[tuple[str, Hashable], ...], default: Hashable | None, cs: bool
    ) -> None:
        self._key = (rules, default, cs)
        self._first_match = _matcher("gradtx.labels_by_path", tuple(p for p, _ in rules), cs)

    def __call__(self, params: Any) -> Any:
        rules, default, _ = self._key

        def label(path: Any, _: Any) -> Hashable:
            i = self._first_match(path)
            if i is not None:
                return rules[i][1]
            if default is None:
                raise ValueError(
                    f"`gradtx.labels_by_path`: no pattern matches the parameter at "
                    f"{jax.tree_util.keystr(path)}; patterns: {[p for p, _ in rules]}. "
                    "Add a pattern for it, or pass default=... ."
                )
            return default

        return jax.tree_util.tree_map_with_path(label, params)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PathLabels) and self._key == other._key

    def __hash__(self) -> int:
        return hash(("labels_by_path", self._key))

    def __repr__(self) -> str:
        rules, default, cs = self._key
        return f"gradtx.labels_by_path({dict(rules)!r}, default={default!r}" + (
            ", case_sensitive=True)" if cs else ")"
        )


def labels_by_path(
    rules: Mapping[str, Hashable],
    default: Hashable | None = None,
    *,
    case_sensitive: bool = False,
) -> Callable[[Any], Any]:
    """A label function for :func:`gradtx.partition`: each parameter gets the label of
    the first pattern (in ``rules``' order) that matches its path.

    Patterns are those of :func:`by_path`. Put the specific patterns first:
    ``{"*head*": "head", "*": "body"}`` labels everything under ``head`` ``"head"``.

    Args:
      rules: ``{pattern: label}``, tried in order; labels are the keys of the
        ``transforms`` of :func:`gradtx.partition` (any hashable value but ``None``).
      default: the label of a parameter that no pattern matches; ``None`` (the default)
        makes such a parameter an error that names its path.
      case_sensitive: match letter case exactly (default: ignore it).

    Returns:
      The function ``params -> labels`` (a tree with the structure of ``params``).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> params = {"encoder": {"kernel": jnp.ones(2)}, "head": {"kernel": jnp.ones(2)}}
      >>> labels = gradtx.labels_by_path({"head*": "fast"}, default="slow")
      >>> labels(params)
      {'encoder': {'kernel': 'slow'}, 'head': {'kernel': 'fast'}}
      >>> tx = gradtx.partition({"fast": gradtx.sgd(0.1), "slow": gradtx.sgd(0.01)}, labels)
      >>> tx.update(params, tx.init(params))[0]["head"]["kernel"]
      Array([-0.1, -0.1], dtype=float32)
    """
    fn = "gradtx.labels_by_path"
    if not isinstance(rules, Mapping):
        raise TypeError(
            f"`{fn}(rules=...)` must be a mapping {{pattern: label}}; got "
            f"{type(rules).__name__} {rules!r}."
        )
    for pattern, label in rules.items():
        _check_pattern(fn, pattern)
        if label is None:
            raise ValueError(f"`{fn}`: the label of pattern {pattern!r} is None; use a name.")
        _check_hashable(fn, f"the label of pattern {pattern!r}", label)
    if default is not None:
        _check_hashable(fn, "default", default)
    elif not rules:
        raise ValueError(f"`{fn}` needs at least one rule {{pattern: label}} or a default.")
    return _PathLabels(tuple(rules.items()), default, bool(case_sensitive))


def _check_hashable(fn: str, what: str, value: Any) -> None:
    """A label must be hashable and a single pytree leaf (a tuple would be a subtree)."""
    try:
        hash(value)
        leaf = jax.tree_util.treedef_is_leaf(jax.tree.structure(value))
    except TypeError:
        leaf = False
    if not leaf:
        raise TypeError(
            f"`{fn}`: {what} must be hashable and a single pytree leaf (a string or an "
            f"int, say); got {type(value).__name__} {value!r}."
        )

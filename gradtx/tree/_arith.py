"""Arithmetic, reductions and construction over pytrees of arrays.

``None`` leaves are kept as ``None`` by the elementwise functions and skipped by the
reductions, so a tree of updates with frozen (``None``) entries flows through.
"""

from __future__ import annotations

import builtins
import functools
import operator
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx._treeutil import is_none, tmap
from gradtx.numerics import abs_sq

_is_none = is_none
_map = tmap


def _leaves(tree: Any) -> list[Any]:
    return [x for x in jax.tree.leaves(tree, is_leaf=_is_none) if x is not None]


def add(tree_x: Any, tree_y: Any, *other_trees: Any) -> Any:
    """Return the leafwise sum ``x + y (+ ...)`` of trees of the same structure.

    Example:
      >>> import gradtx
      >>> gradtx.tree.add({"a": 1.0}, {"a": 2.0}, {"a": 3.0})
      {'a': 6.0}
    """
    return _map(lambda x, *ys: functools.reduce(operator.add, ys, x), tree_x, tree_y, *other_trees)


def sub(tree_x: Any, tree_y: Any) -> Any:
    """Return the leafwise difference ``x - y``.

    Example:
      >>> import gradtx
      >>> gradtx.tree.sub({"a": 3.0}, {"a": 1.0})
      {'a': 2.0}
    """
    return _map(operator.sub, tree_x, tree_y)


def mul(tree_x: Any, tree_y: Any) -> Any:
    """Return the leafwise product ``x * y``.

    Example:
      >>> import gradtx
      >>> gradtx.tree.mul({"a": 3.0}, {"a": 2.0})
      {'a': 6.0}
    """
    return _map(operator.mul, tree_x, tree_y)


def div(tree_x: Any, tree_y: Any) -> Any:
    """Return the leafwise quotient ``x / y``.

    Example:
      >>> import gradtx
      >>> gradtx.tree.div({"a": 3.0}, {"a": 2.0})
      {'a': 1.5}
    """
    return _map(operator.truediv, tree_x, tree_y)


def scale(scalar: jax.typing.ArrayLike, tree: Any) -> Any:
    """Return ``scalar * x`` for every leaf ``x``, keeping each leaf's dtype.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.scale(2.0, {"a": jnp.ones(2, jnp.bfloat16)})["a"].dtype
      dtype(bfloat16)
    """
    return _map(lambda x: (scalar * x).astype(jnp.result_type(x)), tree)


def add_scale(tree_x: Any, scalar: jax.typing.ArrayLike, tree_y: Any) -> Any:
    """Return ``x + scalar * y`` leafwise.

    Example:
      >>> import gradtx
      >>> gradtx.tree.add_scale({"a": 1.0}, 0.5, {"a": 4.0})
      {'a': 3.0}
    """
    return _map(lambda x, y: x + scalar * y, tree_x, tree_y)


def vdot(tree_x: Any, tree_y: Any) -> jax.Array:
    """Return the inner product ``sum_i vdot(x_i, y_i)`` of two trees.

    Complex leaves of ``tree_x`` are conjugated, as in ``jnp.vdot``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.vdot({"a": jnp.array([1.0, 2.0])}, {"a": jnp.array([3.0, 4.0])})
      Array(11., dtype=float32)
    """
    pairs = [jnp.vdot(x, y) for x, y in zip(_leaves(tree_x), _leaves(tree_y), strict=True)]
    return functools.reduce(operator.add, pairs, jnp.zeros([]))


def sum(tree: Any, associative_reduction: bool = False) -> jax.Array:  # noqa: A001
    """Return the sum of all elements of all leaves (0 for an empty tree).

    Args:
      tree: a pytree of arrays.
      associative_reduction: add the per-leaf sums pairwise (a balanced tree of
        additions, shorter dependency chains for many leaves) instead of left to right.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.sum({"a": jnp.ones(3), "b": jnp.array(2.0)})
      Array(5., dtype=float32)
    """
    sums = [jnp.sum(x) for x in _leaves(tree)]
    if not sums:
        return jnp.zeros([])
    if not associative_reduction:
        return functools.reduce(operator.add, sums)
    while len(sums) > 1:
        pairs = [a + b for a, b in zip(sums[::2], sums[1::2], strict=False)]
        sums = pairs + (sums[-1:] if len(sums) % 2 else [])
    return sums[0]


def max(tree: Any) -> jax.Array:  # noqa: A001 - optax's name
    """Return the largest element over all leaves (``-inf`` for an empty tree).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.max({"a": jnp.array([1.0, 5.0]), "b": jnp.array(2.0)})
      Array(5., dtype=float32)
    """
    return functools.reduce(jnp.maximum, [jnp.max(x) for x in _leaves(tree)], jnp.array(-jnp.inf))


def min(tree: Any) -> jax.Array:  # noqa: A001 - optax's name
    """Return the smallest element over all leaves (``inf`` for an empty tree).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.min({"a": jnp.array([1.0, 5.0]), "b": jnp.array(-2.0)})
      Array(-2., dtype=float32)
    """
    return functools.reduce(jnp.minimum, [jnp.min(x) for x in _leaves(tree)], jnp.array(jnp.inf))


def norm(tree: Any, ord: int | str | float | None = None, squared: bool = False) -> jax.Array:  # noqa: A002
    """Return the norm of the tree seen as one flat vector.

    Args:
      tree: a pytree of arrays.
      ord: ``2`` (or ``None``), ``1``, or ``"inf"``/``jnp.inf``.
      squared: return the square of the norm (for ``ord=2`` without taking a root).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.norm({"a": jnp.array([3.0]), "b": jnp.array([4.0])})
      Array(5., dtype=float32)
    """
    leaves = _leaves(tree)
    if ord in (2, None, "fro"):
        sq = functools.reduce(
            operator.add, [jnp.sum(abs_sq(jnp.asarray(x))) for x in leaves], jnp.zeros([])
        )
        return sq if squared else jnp.sqrt(sq)
    if ord == 1:
        out = functools.reduce(operator.add, [jnp.sum(jnp.abs(x)) for x in leaves], jnp.zeros([]))
    elif ord in ("inf", jnp.inf, np.inf):
        out = functools.reduce(jnp.maximum, [jnp.max(jnp.abs(x)) for x in leaves], jnp.zeros([]))
    else:
        raise ValueError(f"gradtx.tree.norm: ord must be 1, 2 or 'inf'; got {ord=}.")
    return out * out if squared else out


def size(tree: Any) -> int:
    """Return the total number of elements of all leaves.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.size({"a": jnp.ones((2, 3)), "b": jnp.ones(4)})
      10
    """
    return builtins.sum(int(np.size(x)) for x in _leaves(tree))


def zeros_like(tree: Any, dtype: jax.typing.DTypeLike | None = None) -> Any:
    """Return a tree of zeros shaped like ``tree`` (accepts ``ShapeDtypeStruct`` leaves).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.zeros_like({"a": jnp.ones(2)})
      {'a': Array([0., 0.], dtype=float32)}
    """
    return _map(lambda x: jnp.zeros(jnp.shape(x), dtype or x.dtype), tree)


def ones_like(tree: Any, dtype: jax.typing.DTypeLike | None = None) -> Any:
    """Return a tree of ones shaped like ``tree``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.ones_like({"a": jnp.zeros(2)})
      {'a': Array([1., 1.], dtype=float32)}
    """
    return _map(lambda x: jnp.ones(jnp.shape(x), dtype or x.dtype), tree)


def full_like(
    tree: Any, fill_value: jax.typing.ArrayLike, dtype: jax.typing.DTypeLike | None = None
) -> Any:
    """Return a tree filled with ``fill_value``, shaped like ``tree``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.full_like({"a": jnp.zeros(2)}, 0.5)
      {'a': Array([0.5, 0.5], dtype=float32)}
    """
    return _map(lambda x: jnp.full(jnp.shape(x), fill_value, dtype or x.dtype), tree)


def cast(tree: Any, dtype: jax.typing.DTypeLike | None) -> Any:
    """Cast every leaf of ``tree`` to ``dtype``; ``dtype=None`` returns ``tree`` as is.

    As in optax, integer and boolean leaves are cast too: this is an explicit request.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> t = gradtx.tree.cast({"a": jnp.ones(1), "n": jnp.ones(1, jnp.int32)}, jnp.bfloat16)
      >>> t["a"].dtype, t["n"].dtype
      (dtype(bfloat16), dtype(bfloat16))
    """
    if dtype is None:
        return tree
    return _map(lambda x: jnp.asarray(x).astype(dtype), tree)


def cast_like(tree: Any, other_tree: Any) -> Any:
    """Cast each leaf of ``tree`` to the dtype of the matching leaf of ``other_tree``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.cast_like({"a": jnp.ones(1)}, {"a": jnp.ones(1, jnp.bfloat16)})["a"].dtype
      dtype(bfloat16)
    """
    return _map(lambda x, y: jnp.asarray(x).astype(jnp.result_type(y)), tree, other_tree)


def dtype(tree: Any, mixed_dtype_handler: str | None = None) -> jnp.dtype:
    """Return the dtype shared by the leaves of ``tree``.

    Args:
      tree: a pytree of arrays.
      mixed_dtype_handler: what to do when leaves differ: ``None`` raises,
        ``"promote"`` returns JAX's promoted dtype, ``"highest"``/``"lowest"`` the
        widest/narrowest by item size.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.dtype({"a": jnp.ones(1), "b": jnp.ones(1, jnp.bfloat16)}, "promote")
      dtype('float32')
    """
    dtypes = [jnp.result_type(x) for x in _leaves(tree)]
    if not dtypes:
        return jnp.dtype(jnp.float32)
    unique = list(dict.fromkeys(dtypes))
    if len(unique) == 1:
        return unique[0]
    if mixed_dtype_handler is None:
        raise ValueError(
            f"gradtx.tree.dtype: the tree mixes dtypes {[str(d) for d in unique]}; pass "
            "mixed_dtype_handler='promote', 'highest' or 'lowest'."
        )
    if mixed_dtype_handler == "promote":
        return jnp.result_type(*unique)
    if mixed_dtype_handler in ("highest", "lowest"):
        pick = builtins.max if mixed_dtype_handler == "highest" else builtins.min
        best = pick(unique, key=lambda d: d.itemsize)
        ties = [d for d in unique if d.itemsize == best.itemsize]
        if len(ties) > 1:
            raise ValueError(
                f"gradtx.tree.dtype: {[str(d) for d in ties]} have the same size, so there is no "
                f"{mixed_dtype_handler} one; use mixed_dtype_handler='promote'."
            )
        return best
    raise ValueError(
        "gradtx.tree.dtype: mixed_dtype_handler must be None, 'promote', 'highest' or "
        f"'lowest'; got {mixed_dtype_handler=}."
    )


def where(condition: Any, tree_x: Any, tree_y: Any) -> Any:
    """Select leafwise: ``x`` where ``condition`` holds, else ``y``.

    ``condition`` is a scalar or a tree of the same structure.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.where(jnp.array(False), {"a": 1.0}, {"a": 2.0})
      {'a': Array(2., dtype=float32, weak_type=True)}
    """
    if isinstance(condition, (bool, jax.Array, np.ndarray, np.bool_)):
        return _map(lambda x, y: jnp.where(condition, x, y), tree_x, tree_y)
    return _map(lambda x, c, y: jnp.where(c, x, y), tree_x, condition, tree_y)


def clip(
    tree: Any,
    min_value: jax.typing.ArrayLike | None = None,
    max_value: jax.typing.ArrayLike | None = None,
) -> Any:
    """Clip every leaf to ``[min_value, max_value]``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.clip({"a": jnp.array([-2.0, 0.5, 3.0])}, -1.0, 1.0)
      {'a': Array([-1. ,  0.5,  1. ], dtype=float32)}
    """
    return _map(lambda x: jnp.clip(x, min_value, max_value), tree)


def conj(tree: Any) -> Any:
    """Return the complex conjugate of every leaf.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.conj({"a": jnp.array(1 + 2j)})
      {'a': Array(1.-2.j, dtype=complex64, weak_type=True)}
    """
    return _map(jnp.conj, tree)


def real(tree: Any) -> Any:
    """Return the real part of every leaf.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.real({"a": jnp.array(1 + 2j)})
      {'a': Array(1., dtype=float32, weak_type=True)}
    """
    return _map(jnp.real, tree)


def allclose(
    a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> bool:
    """Return whether two trees have the same structure and close leaves.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.allclose({"a": jnp.ones(2)}, {"a": jnp.ones(2) + 1e-9})
      True
    """
    if jax.tree.structure(a, is_leaf=_is_none) != jax.tree.structure(b, is_leaf=_is_none):
        return False
    return builtins.all(
        bool(np.allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol, equal_nan=equal_nan))
        for x, y in zip(_leaves(a), _leaves(b), strict=True)
    )


def split_key_like(rng_key: jax.Array, target_tree: Any) -> Any:
    """Split ``rng_key`` into one key per leaf of ``target_tree``.

    Example:
      >>> import jax, gradtx
      >>> keys = gradtx.tree.split_key_like(jax.random.key(0), {"a": 0.0, "b": 0.0})
      >>> sorted(keys)
      ['a', 'b']
    """
    treedef = jax.tree.structure(target_tree)
    keys = jax.random.split(rng_key, treedef.num_leaves)
    return jax.tree.unflatten(treedef, list(keys))


def random_like(
    rng_key: jax.Array,
    target_tree: Any,
    sampler: Callable[..., jax.Array] = jax.random.normal,
    dtype: jax.typing.DTypeLike | None = None,
) -> Any:
    """Return a tree of random arrays shaped like ``target_tree``, one key per leaf.

    Args:
      rng_key: a JAX random key.
      target_tree: the tree whose shapes (and dtypes, unless ``dtype``) to follow.
      sampler: ``sampler(key, shape, dtype) -> array``; standard normal by default.
      dtype: the dtype of the output; each leaf's own when ``None``.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> gradtx.tree.random_like(jax.random.key(0), {"a": jnp.zeros((2, 3))})["a"].shape
      (2, 3)
    """
    keys = split_key_like(rng_key, target_tree)
    return jax.tree.map(
        lambda k, x: sampler(k, jnp.shape(x), dtype or jnp.result_type(x)), keys, target_tree
    )

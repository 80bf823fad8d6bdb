"""Adam-mini: Adam with one second moment per block of parameters."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_decay, check_nonnegative
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.numerics import abs_sq, safe_increment
from gradtx.transforms._common import debias_factor, is_none, like, tmap, zeros_state

__all__ = ["ScaleByAdamMiniState", "adam_mini_blocks", "scale_by_adam_mini"]


class ScaleByAdamMiniState(NamedTuple):
    """State of :func:`scale_by_adam_mini`.

    Attributes:
      count: int32 number of updates so far.
      mu: the first moment :math:`m`, one per parameter, in ``mu_dtype``.
      nu: the second moment :math:`v`, *one scalar per block*: per leaf an array whose
        shape is the leaf's kept axes (see :func:`adam_mini_blocks`), in the
        parameters' real dtype.
    """

    count: jax.Array
    mu: Any
    nu: Any


def _default_axes(ndim: int) -> tuple[int, ...]:
    return (ndim - 1,) if ndim >= 2 else ()


def _is_axes(spec: Any) -> bool:
    if isinstance(spec, bool):
        return False
    if isinstance(spec, int) or spec in ("leaf", "default"):
        return True
    return isinstance(spec, (tuple, list)) and all(
        isinstance(a, int) and not isinstance(a, bool) for a in spec
    )


def _kept(fn: str, spec: Any, shape: tuple[int, ...], where: str) -> tuple[int, ...]:
    ndim = len(shape)
    if spec is None or spec == "default":
        return _default_axes(ndim)
    if spec == "leaf":
        return ()
    if not _is_axes(spec):
        raise ValueError(
            f'`{fn}(block_axes=...)` must give an axis, a tuple of axes, "leaf" or "default" '
            f"per leaf; got {spec!r} at {where}."
        )
    axes = (spec,) if isinstance(spec, int) else tuple(spec)
    if any(not -ndim <= a < ndim for a in axes):
        raise ValueError(
            f"`{fn}(block_axes=...)` names an axis out of range for the shape {shape} at "
            f"{where}; got {spec!r}."
        )
    kept = tuple(sorted({a % ndim for a in axes}))
    if len(kept) != len(axes):
        raise ValueError(f"`{fn}(block_axes=...)` repeats an axis at {where}; got {spec!r}.")
    return kept


def adam_mini_blocks(block_axes: Any, params: Any, fn: str = "adam_mini_blocks") -> Any:
    """The axes that index Adam-mini's blocks, per leaf: one block per index along them.

    A leaf's gradient is averaged (squared) over its other axes, so each leaf holds
    ``prod(shape[a] for a in kept)`` blocks. The default rule, for ``block_axes=None``:
    a leaf of rank >= 2 keeps its last axis, one block per output neuron of a
    ``(..., inputs, outputs)`` kernel as flax and haiku store them (the paper's "one
    block per output neuron"); a leaf of rank <= 1 is one block.

    Args:
      block_axes: ``None`` (the default rule); one spec for every leaf; a tree like the
        params with a spec at each leaf; or a function of the params returning such a
        tree. A spec is an axis, a tuple or list of axes (negative ones count from the
        end; ``()`` is one block for the leaf), ``"leaf"`` (one block) or
        ``"default"``. For example, the paper's per-token blocks of an embedding
        ``(vocab, features)`` are ``0``, its per-head blocks of a query kernel
        ``(features, heads, head_dim)`` are ``1``, and torch-layout ``(out, in)``
        weights use ``0``.
      params: the parameters (or any tree of arrays of their shapes).
      fn: the function name used in error messages.

    Returns:
      A tree like ``params`` with a sorted tuple of kept axes at each leaf.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> p = {"embed": jnp.zeros((50, 8)), "dense": jnp.zeros((8, 4)), "bias": jnp.zeros(4)}
      >>> gradtx.adam_mini_blocks({"embed": 0, "dense": "default", "bias": "leaf"}, p)
      {'bias': (), 'dense': (1,), 'embed': (0,)}
    """
    paths_leaves, treedef = jax.tree_util.tree_flatten_with_path(params, is_leaf=is_none)
    if callable(block_axes):
        block_axes = block_axes(params)
    if isinstance(block_axes, (tuple, list)) and block_axes and _is_axes(block_axes):
        try:
            treedef.flatten_up_to(block_axes)
        except (ValueError, TypeError):
            pass  # not shaped like the params: one spec for every leaf
        else:
            raise ValueError(
                f"`{fn}(block_axes={block_axes!r})` is ambiguous for parameters held in a "
                f"{type(block_axes).__name__} of {len(block_axes)}: one spec for every leaf, or "
                "one axis per leaf? Write per-leaf specs as one-element tuples, e.g. "
                "((0,), (1,)), or one spec for every leaf as a tree, e.g. "
                "jax.tree.map(lambda _: (0, 1), params)."
            )
    if block_axes is None or _is_axes(block_axes):
        specs = [block_axes] * len(paths_leaves)
    else:
        try:
            specs = treedef.flatten_up_to(block_axes)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"`{fn}(block_axes=...)` must be a spec or a tree like the params with a "
                f"spec at each leaf: {e}"
            ) from None
    kept = [
        None
        if x is None
        else _kept(fn, s, tuple(jnp.shape(x)), jax.tree_util.keystr(path) or "the root")
        for (path, x), s in zip(paths_leaves, specs, strict=True)
    ]
    return treedef.unflatten(kept)


def _reduced(x: Any, kept: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(a for a in range(jnp.ndim(x)) if a not in kept)


def _block_mean(x: jax.Array, axes: tuple[int, ...]) -> jax.Array:
    """The mean over ``axes``; 0 for blocks with no elements (a zero-size parameter)."""
    if math.prod(x.shape[a] for a in axes) == 0:
        return jnp.zeros([n for a, n in enumerate(x.shape) if a not in axes], x.dtype)
    return jnp.mean(x, axis=axes)


def scale_by_adam_mini(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    mu_dtype: Any = None,
    block_axes: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale by Adam-mini: Adam whose second moment is shared by each block of parameters.

    Update rule, from :math:`m_0 = v_0 = 0`, for a parameter :math:`i` in block
    :math:`b` of size :math:`|b|`:

    .. math::

       m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\, g_t, \\qquad
       v_{b,t} = \\beta_2 v_{b,t-1} + (1-\\beta_2)\\,
          \\frac{1}{|b|}\\sum_{j \\in b} g_{j,t}^2,

       u_{i,t} = \\frac{m_{i,t}/(1-\\beta_1^t)}{\\sqrt{v_{b,t}/(1-\\beta_2^t)} + \\epsilon}

    so the second moment takes one number per block instead of one per parameter (the
    paper's "use fewer learning rates"). The blocks are given by ``block_axes``; see
    :func:`adam_mini_blocks` for the default rule (one block per output neuron of a
    matrix, one per vector or scalar) and how to set them per leaf. With a block per
    element (every axis kept) this is Adam.

    Args:
      b1: :math:`\\beta_1` in [0, 1], the first moment's decay.
      b2: :math:`\\beta_2` in [0, 1], the block second moments' decay.
      eps: :math:`\\epsilon` >= 0, added to the root of the second moment.
      mu_dtype: dtype of the first moment; the parameters' dtype when ``None``.
      block_axes: the blocks (see :func:`adam_mini_blocks`); the default rule when
        ``None``.

    Returns:
      A transformation with :class:`ScaleByAdamMiniState`.

    Reference: Zhang, Chen, Li, Ding, Chen, Ye, Luo & Sun 2024, "Adam-mini: Use Fewer
    Learning Rates To Gain More", arXiv 2406.16793, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_adam_mini()
      >>> s = tx.init({"w": jnp.zeros((4, 2))})
      >>> s.nu["w"].shape  # one second moment per output column
      (2,)
      >>> g = jnp.array([[1.0, 4.0], [1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]])
      >>> u, s = tx.update({"w": g}, s)
      >>> u["w"].round(2).T  # g / sqrt(mean of g^2 over the column): RMS 1, then 2
      Array([[ 1.,  1.,  1., -1.],
             [ 2.,  0.,  0.,  0.]], dtype=float32)
    """
    fn = "scale_by_adam_mini"
    check_decay(fn, "b1", b1)
    check_decay(fn, "b2", b2)
    check_nonnegative(fn, "eps", eps)

    def nu_zeros(params: Params) -> Any:
        kept = adam_mini_blocks(block_axes, params, fn)

        def zeros(p: Any, k: tuple[int, ...]) -> jax.Array:
            dt = jnp.result_type(p)
            if jnp.issubdtype(dt, jnp.complexfloating):
                dt = jnp.finfo(dt).dtype
            return jnp.zeros(tuple(jnp.shape(p)[a] for a in k), dt)

        return tmap(zeros, params, kept)

    def init_fn(params: Params) -> ScaleByAdamMiniState:
        return ScaleByAdamMiniState(
            jnp.zeros([], jnp.int32), zeros_state(params, mu_dtype), nu_zeros(params)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        kept = adam_mini_blocks(block_axes, updates, fn)
        count = safe_increment(state.count)
        mu = tmap(lambda g, m: b1 * m + (1 - b1) * g, updates, state.mu)
        nu = tmap(
            lambda g, v, k: b2 * v + (1 - b2) * _block_mean(abs_sq(g), _reduced(g, k)),
            updates,
            state.nu,
            kept,
        )
        c1, c2 = debias_factor(b1, count), debias_factor(b2, count)

        def step(g: jax.Array, m: jax.Array, v: jax.Array, k: tuple[int, ...]) -> jax.Array:
            v = jnp.expand_dims(v, _reduced(g, k))
            return like(m / c1 / (jnp.sqrt(v / c2) + eps), g)

        out = tmap(step, updates, mu, nu, kept)
        return out, ScaleByAdamMiniState(count, tmap(like, mu, state.mu), tmap(like, nu, state.nu))

    return GradientTransformationExtraArgs(init_fn, update_fn)

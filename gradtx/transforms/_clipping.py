"""Clipping updates elementwise, by global norm, by block RMS and unit-wise (AGC)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_nonnegative, check_positive
from gradtx.base import EmptyState, GradientTransformationExtraArgs, Params, Updates, stateless
from gradtx.transforms._common import like, require_params, tmap
from gradtx.tree import norm as tree_norm

__all__ = [
    "AdaptiveGradClipState",
    "ClipByGlobalNormState",
    "adaptive_grad_clip",
    "clip",
    "clip_by_block_rms",
    "clip_by_global_norm",
    "global_norm",
    "per_example_global_norm_clip",
    "per_example_layer_norm_clip",
]

AdaptiveGradClipState = EmptyState
"""The (empty) state of :func:`adaptive_grad_clip`, under optax's name."""


class ClipByGlobalNormState(NamedTuple):
    """State of :func:`clip_by_global_norm`.

    Attributes:
      norm: the global norm of the updates the last call received, before clipping
        (0 before any update), as a scalar in JAX's default float dtype. Read it with
        ``gradtx.tree.get(state, "norm")``.
    """

    norm: jax.Array


def _stateless(fn: Any) -> GradientTransformationExtraArgs:
    return stateless(lambda updates, params: fn(updates))


def global_norm(updates: Any) -> jax.Array:
    """Return the Euclidean norm of all leaves together, :math:`\\sqrt{\\sum_i \\|u_i\\|^2}`.

    Args:
      updates: a pytree of arrays.

    Returns:
      A scalar array.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.global_norm({"a": jnp.array([3.0]), "b": jnp.array([4.0])})
      Array(5., dtype=float32)
    """
    return tree_norm(updates)


def clip(max_delta: jax.typing.ArrayLike) -> GradientTransformationExtraArgs:
    """Clip every update element to ``[-max_delta, max_delta]``.

    Update rule: :math:`u \\leftarrow \\min(\\max(u, -\\delta), \\delta)`.

    Args:
      max_delta: :math:`\\delta` >= 0.

    Returns:
      A stateless transformation.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.clip(1.0)
      >>> tx.update(jnp.array([-3.0, 0.5]), tx.init(None))[0]
      Array([-1. ,  0.5], dtype=float32)
    """
    check_nonnegative("clip", "max_delta", max_delta)
    return _stateless(lambda u: tmap(lambda g: like(jnp.clip(g, -max_delta, max_delta), g), u))


def clip_by_global_norm(max_norm: jax.typing.ArrayLike) -> GradientTransformationExtraArgs:
    """Rescale all updates together so their global norm is at most ``max_norm``.

    Update rule: :math:`u \\leftarrow u \\cdot \\min(1, c / \\|u\\|)` with ``c = max_norm``
    and :math:`\\|u\\|` the norm over every leaf.

    The norm before clipping is recorded in the state (:class:`ClipByGlobalNormState`),
    so a training loop can log it without computing it again. optax's state here is
    empty; the updates are the same.

    Args:
      max_norm: :math:`c` > 0.

    Returns:
      A transformation with :class:`ClipByGlobalNormState`.

    Reference: Pascanu, Mikolov & Bengio 2013, "On the difficulty of training
    recurrent neural networks", arXiv 1211.5063.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.clip_by_global_norm(1.0)
      >>> u, state = tx.update({"a": jnp.array([3.0]), "b": jnp.array([4.0])}, tx.init(None))
      >>> u
      {'a': Array([0.6], dtype=float32), 'b': Array([0.8], dtype=float32)}
      >>> gradtx.tree.get(state, "norm")
      Array(5., dtype=float32)
    """
    check_positive("clip_by_global_norm", "max_norm", max_norm)

    def init_fn(params: Params) -> ClipByGlobalNormState:
        del params
        return ClipByGlobalNormState(jnp.zeros([], jnp.result_type(float)))

    def update_fn(
        updates: Updates,
        state: ClipByGlobalNormState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, ClipByGlobalNormState]:
        del params, extra_args
        g_norm = tree_norm(updates)
        factor = jnp.where(g_norm < max_norm, 1.0, max_norm / jnp.where(g_norm > 0, g_norm, 1.0))
        out = tmap(lambda g: like(g * factor, g), updates)
        return out, ClipByGlobalNormState(jnp.asarray(g_norm, state.norm.dtype))

    return GradientTransformationExtraArgs(init_fn, update_fn)


def clip_by_block_rms(threshold: jax.typing.ArrayLike) -> GradientTransformationExtraArgs:
    """Rescale each leaf so that its root mean square is at most ``threshold``.

    Update rule: :math:`u_i \\leftarrow u_i \\cdot \\min(1, c / \\mathrm{rms}(u_i))`.

    Args:
      threshold: :math:`c` > 0.

    Returns:
      A stateless transformation.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.clip_by_block_rms(1.0)
      >>> tx.update(jnp.array([2.0, 2.0]), tx.init(None))[0]
      Array([1., 1.], dtype=float32)
    """
    check_positive("clip_by_block_rms", "threshold", threshold)

    def clip_leaf(g: jax.Array) -> jax.Array:
        rms = jnp.sqrt(jnp.mean(jnp.square(jnp.abs(g))))
        factor = jnp.where(rms > threshold, threshold / jnp.where(rms > 0, rms, 1.0), 1.0)
        return like(g * factor, g)

    return _stateless(lambda u: tmap(clip_leaf, u))


def _unitwise_axes(ndim: int, axis: int | tuple[int, ...] | None, path: str) -> Any:
    """The axes a unit-wise norm reduces over (``None``: all of them)."""
    if axis is not None:
        return axis
    if ndim <= 1:
        return None  # a bias or a scalar is one unit
    if ndim in (2, 3):
        return (0,)  # dense (in, out) and 1-D conv (width, in, out): one unit per output
    if ndim in (4, 5):
        return tuple(range(ndim - 1))  # 2-D/3-D conv kernels (..., in, out)
    raise ValueError(
        f"`adaptive_grad_clip`: the parameter at {path} has rank {ndim}; the default "
        "unit-wise norm knows ranks 0 to 5 (scalars, biases, dense, conv kernels with the "
        "output axis last). Pass axis=... to say which axes make up one unit."
    )


def _unitwise_norm(x: jax.Array, axes: Any) -> jax.Array:
    return jnp.sqrt(jnp.sum(jnp.square(jnp.abs(x)), axis=axes, keepdims=True))


def adaptive_grad_clip(
    clipping: jax.typing.ArrayLike,
    eps: jax.typing.ArrayLike = 1e-3,
    axis: int | tuple[int, ...] | None = None,
) -> GradientTransformationExtraArgs:
    """Clip each unit's update to at most ``clipping`` times its parameters' norm (AGC).

    Update rule, for each unit :math:`i` (an output row of a weight matrix, an output
    channel of a convolution kernel, a whole bias):

    .. math::

       u_i \\leftarrow u_i \\cdot \\min\\Big(1, \\frac{\\lambda \\max(\\|w_i\\|, \\epsilon)}
       {\\|u_i\\|}\\Big)

    with :math:`\\lambda` = ``clipping``. The norms are taken, by default as in optax,
    over the whole of a leaf of rank 0 or 1, over axis 0 of a leaf of rank 2 or 3 (a dense
    kernel ``(in, out)``: one unit per output) and over every axis but the last of a
    rank-4 or rank-5 convolution kernel (one unit per output channel); ``axis`` sets the
    axes for every leaf instead.

    Args:
      clipping: :math:`\\lambda` > 0, the largest allowed ratio of update norm to
        parameter norm.
      eps: :math:`\\epsilon` >= 0, the smallest parameter norm used (so zero-initialised
        parameters can still move).
      axis: the axes of one unit's norm, for every leaf; ``None`` picks them by rank.

    Returns:
      A transformation with an empty state (:data:`AdaptiveGradClipState`); ``update``
      needs the params.

    Reference: Brock, De, Smith & Simonyan 2021, "High-Performance Large-Scale Image
    Recognition Without Normalization", arXiv 2102.06171.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.adaptive_grad_clip(0.1)
      >>> params = {"w": jnp.array([3.0, 4.0])}
      >>> tx.update({"w": jnp.array([6.0, 8.0])}, tx.init(params), params)[0]
      {'w': Array([0.3, 0.4], dtype=float32)}
    """
    check_positive("adaptive_grad_clip", "clipping", clipping)
    check_nonnegative("adaptive_grad_clip", "eps", eps)

    def update_fn(
        updates: Updates, state: EmptyState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, EmptyState]:
        del extra_args
        require_params("adaptive_grad_clip", params)

        def clip_leaf(path: Any, g: Any, p: Any) -> Any:
            if g is None:
                return None
            axes = _unitwise_axes(jnp.ndim(g), axis, jax.tree_util.keystr(path))
            g_norm = _unitwise_norm(g, axes)
            max_norm = clipping * jnp.maximum(_unitwise_norm(p, axes), eps)
            safe = jnp.where(g_norm > max_norm, g_norm, 1.0)
            return like(jnp.where(g_norm > max_norm, g * (max_norm / safe), g), g)

        out = jax.tree_util.tree_map_with_path(
            clip_leaf, updates, params, is_leaf=lambda x: x is None
        )
        return out, state

    return GradientTransformationExtraArgs(lambda params: EmptyState(), update_fn)


def _per_example_norms(grads: Any) -> jax.Array:
    """The global norm of each example (axis 0 of every leaf) across all leaves."""
    leaves = jax.tree.leaves(grads)
    sq = [jnp.sum(jnp.square(jnp.abs(g)).reshape(g.shape[0], -1), axis=1) for g in leaves]
    return jnp.sqrt(sum(sq[1:], sq[0]))


def _check_batched(fn: str, grads: Any) -> None:
    leaves = jax.tree.leaves(grads)
    if not leaves:
        raise ValueError(f"`{fn}(grads=...)` must hold at least one array; got {grads!r}.")
    sizes = {jnp.shape(g)[0] if jnp.ndim(g) else None for g in leaves}
    if None in sizes or len(sizes) != 1:
        shapes = [jnp.shape(g) for g in leaves]
        raise ValueError(
            f"`{fn}(grads=...)`: every array must have the same batch axis 0 (one row per "
            f"example); got shapes {shapes}."
        )


def _clip_and_sum(g: jax.Array, norms: jax.Array, c: Any) -> jax.Array:
    factor = jnp.where(norms > c, c / jnp.where(norms > 0, norms, 1.0), 1.0)
    factor = factor.reshape((-1,) + (1,) * (g.ndim - 1))
    out_dtype = jnp.promote_types(jnp.result_type(g), jnp.float32)
    return jnp.sum(g * factor, axis=0).astype(out_dtype)


def per_example_global_norm_clip(grads: Any, l2_norm_clip: jax.typing.ArrayLike) -> tuple[Any, Any]:
    """Clip each example's gradient to global norm ``l2_norm_clip``, then sum over examples.

    With :math:`g_j` example :math:`j`'s gradient (row :math:`j` of every leaf) and
    :math:`C` = ``l2_norm_clip``:

    .. math::

       \\sum_j g_j \\min\\big(1, C / \\|g_j\\|\\big)

    the sum used by DP-SGD before adding noise.

    Args:
      grads: a list (or any pytree) of arrays whose axis 0 indexes the examples.
      l2_norm_clip: :math:`C` >= 0.

    Returns:
      ``(summed, num_clipped)``: the sum of the clipped gradients (the structure of
      ``grads`` without axis 0; integer inputs give float32) and the number of examples
      whose norm exceeded :math:`C`.

    Reference: Abadi et al. 2016, "Deep Learning with Differential Privacy",
    arXiv 1607.00133.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> grads = [jnp.array([[0.0, 3.0, 4.0], [4.0, 0.0, 3.0], [0.0, 0.0, 1.0]])]
      >>> gradtx.per_example_global_norm_clip(grads, 1.25)
      ([Array([1. , 0.75, 2.75], dtype=float32)], Array(2, dtype=int32))
    """
    fn = "per_example_global_norm_clip"
    check_nonnegative(fn, "l2_norm_clip", l2_norm_clip)
    _check_batched(fn, grads)
    norms = _per_example_norms(grads)
    summed = jax.tree.map(lambda g: _clip_and_sum(g, norms, l2_norm_clip), grads)
    return summed, jnp.sum(norms > l2_norm_clip).astype(jnp.int32)


def per_example_layer_norm_clip(
    grads: Any, global_l2_norm_clip: jax.typing.ArrayLike, uniform: bool = True
) -> tuple[Any, Any]:
    """Clip each example's gradient layer by layer, then sum over examples.

    Each of the :math:`K` leaves ("layers") is clipped per example to its own norm
    :math:`C_k`, chosen so that the clipped gradient's global norm is at most
    :math:`C` = ``global_l2_norm_clip``:

    .. math::

       C_k = C / \\sqrt{K} \\;\\; (\\text{uniform}), \\qquad
       C_k = C \\sqrt{D_k / D} \\;\\; (\\text{otherwise}),

    with :math:`D_k` the size of layer :math:`k` (per example) and :math:`D` their sum.
    With one leaf this is :func:`per_example_global_norm_clip`.

    Args:
      grads: a list (or any pytree) of arrays whose axis 0 indexes the examples.
      global_l2_norm_clip: :math:`C` >= 0.
      uniform: split :math:`C` equally between layers (``True``) or by their sizes.

    Returns:
      ``(summed, num_clipped)``: the sums of the clipped gradients and, per layer, the
      number of examples clipped, both with the structure of ``grads``.

    Reference: McMahan, Ramage, Talwar & Zhang 2017, "Learning Differentially Private
    Recurrent Language Models", arXiv 1710.06963.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> grads = [jnp.array([[3.0, 4.0], [0.3, 0.4]]), jnp.array([[2.0], [0.1]])]
      >>> summed, clipped = gradtx.per_example_layer_norm_clip(grads, 2.0)
      >>> summed[0], clipped
      (Array([1.1485281, 1.5313708], dtype=float32), [Array(1, dtype=int32), Array(1, dtype=int32)])
    """
    fn = "per_example_layer_norm_clip"
    check_nonnegative(fn, "global_l2_norm_clip", global_l2_norm_clip)
    _check_batched(fn, grads)
    leaves, treedef = jax.tree.flatten(grads)
    sizes = [int(jnp.size(g)) // jnp.shape(g)[0] for g in leaves]
    total = sum(sizes)
    summed, clipped = [], []
    for g, d in zip(leaves, sizes, strict=True):
        c = global_l2_norm_clip * ((1.0 / len(leaves)) ** 0.5 if uniform else (d / total) ** 0.5)
        norms = _per_example_norms([g])
        summed.append(_clip_and_sum(g, norms, c))
        clipped.append(jnp.sum(norms > c).astype(jnp.int32))
    return jax.tree.unflatten(treedef, summed), jax.tree.unflatten(treedef, clipped)

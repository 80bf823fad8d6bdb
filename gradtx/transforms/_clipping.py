"""Clipping updates elementwise, by global norm and by block RMS."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx._checks import check_nonnegative, check_positive
from gradtx.base import GradientTransformationExtraArgs, stateless
from gradtx.transforms._common import like, tmap
from gradtx.tree import norm as tree_norm

__all__ = ["clip", "clip_by_block_rms", "clip_by_global_norm", "global_norm"]


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

    Args:
      max_norm: :math:`c` > 0.

    Returns:
      A stateless transformation.

    Reference: Pascanu, Mikolov & Bengio 2013, "On the difficulty of training
    recurrent neural networks", arXiv 1211.5063.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.clip_by_global_norm(1.0)
      >>> tx.update({"a": jnp.array([3.0]), "b": jnp.array([4.0])}, tx.init(None))[0]
      {'a': Array([0.6], dtype=float32), 'b': Array([0.8], dtype=float32)}
    """
    check_positive("clip_by_global_norm", "max_norm", max_norm)

    def fn(updates: Any) -> Any:
        g_norm = tree_norm(updates)
        factor = jnp.where(g_norm < max_norm, 1.0, max_norm / jnp.where(g_norm > 0, g_norm, 1.0))
        return tmap(lambda g: like(g * factor, g), updates)

    return _stateless(fn)


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

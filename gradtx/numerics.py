"""Numerically safe building blocks: saturating counters and norms with safe gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "abs_sq",
    "safe_increment",
    "safe_int32_increment",
    "safe_norm",
    "safe_root_mean_squares",
]


def safe_increment(count: jax.typing.ArrayLike) -> jax.Array:
    """Increment a counter by one, saturating at the largest value of its dtype.

    Update rule: :math:`c \\leftarrow \\min(c + 1, c_{max})`; floating counters
    saturate at the largest finite value.

    Args:
      count: an integer or floating scalar array.

    Returns:
      ``count + 1`` in the dtype of ``count``, never wrapping around.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.safe_increment(jnp.asarray(2**31 - 1, jnp.int32))
      Array(2147483647, dtype=int32)
    """
    count = jnp.asarray(count)
    dtype = count.dtype
    if jnp.issubdtype(dtype, jnp.integer):
        limit = jnp.iinfo(dtype).max
    elif jnp.issubdtype(dtype, jnp.floating):
        limit = jnp.finfo(dtype).max
    else:
        raise TypeError(f"safe_increment(count) expects an integer or float array; got {dtype}.")
    one = jnp.ones([], dtype)
    return jax.lax.select(count < limit, count + one, jnp.full(count.shape, limit, dtype))


safe_int32_increment = safe_increment
"""optax's older name for :func:`safe_increment`."""


def safe_norm(
    x: jax.typing.ArrayLike,
    min_norm: jax.typing.ArrayLike,
    ord: int | float | str | None = None,  # noqa: A002 - numpy's name
    axis: int | tuple[int, ...] | None = None,
    keepdims: bool = False,
) -> jax.Array:
    """Return ``max(norm(x), min_norm)`` with a gradient that is finite at zero.

    Where the norm is below ``min_norm`` the result is ``min_norm`` and its gradient
    is zero (not NaN, as the plain norm's gradient at zero would be).

    Args:
      x: an array.
      min_norm: the smallest value returned.
      ord: the order of the norm, as in ``jnp.linalg.norm``.
      axis: axes to reduce; all when ``None``.
      keepdims: keep reduced axes with size one.

    Returns:
      The clipped norm.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> jax.grad(lambda x: gradtx.safe_norm(x, 0.0))(jnp.zeros(3))
      Array([0., 0., 0.], dtype=float32)
    """
    x = jnp.asarray(x)
    norm = jnp.linalg.norm(x, ord=ord, axis=axis, keepdims=True)
    big = norm > min_norm
    # Differentiate through x only where the norm is large enough.
    safe_x = jnp.where(big, x, jnp.ones_like(x))
    masked_norm = jnp.linalg.norm(safe_x, ord=ord, axis=axis, keepdims=True)
    out = jnp.where(big, masked_norm, min_norm)
    return out if keepdims else jnp.squeeze(out, axis=axis)


def safe_root_mean_squares(x: jax.typing.ArrayLike, min_rms: jax.typing.ArrayLike) -> jax.Array:
    """Return ``max(sqrt(mean(x**2)), min_rms)`` with a gradient finite at zero.

    Args:
      x: an array.
      min_rms: the smallest value returned.

    Returns:
      The clipped root mean square of ``x`` (a scalar).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.safe_root_mean_squares(jnp.array([3.0, 4.0]), 1.0)
      Array(3.535534, dtype=float32)
    """
    x = jnp.asarray(x)
    sq = jnp.mean(jnp.square(jnp.abs(x)))
    big = sq > jnp.square(min_rms)
    return jnp.where(big, jnp.sqrt(jnp.where(big, sq, 1.0)), min_rms)


def abs_sq(x: jax.Array) -> jax.Array:
    """Return ``|x|**2`` elementwise, real for complex ``x`` (``x * conj(x)``)."""
    if jnp.iscomplexobj(x):
        return jnp.real(x * jnp.conj(x))
    return x * x

"""Exponential moving moments of gradients, the arithmetic under Adam and its family."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx.numerics import abs_sq
from gradtx.tree._arith import _map


def update_moment(updates: Any, moments: Any, decay: jax.typing.ArrayLike, order: int) -> Any:
    """Return the EMA of the ``order``-th power of the updates.

    Update rule: :math:`m \\leftarrow (1 - d)\\, g^{k} + d\\, m` with ``d = decay``,
    ``k = order``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.update_moment({"a": jnp.array(2.0)}, {"a": jnp.array(0.0)}, 0.9, 2)
      {'a': Array(0.4, dtype=float32, weak_type=True)}
    """
    return _map(lambda g, m: (1 - decay) * (g**order) + decay * m, updates, moments)


def _orderth_norm(g: jax.Array, order: int | float) -> jax.Array:
    if not jnp.iscomplexobj(g):
        return g**order
    half = order / 2
    return abs_sq(g) ** (int(half) if float(half).is_integer() else half)


def update_moment_per_elem_norm(
    updates: Any, moments: Any, decay: jax.typing.ArrayLike, order: int
) -> Any:
    """Return the EMA of ``|g|**order``, real even for complex gradients.

    Update rule: :math:`m \\leftarrow (1 - d)\\, |g|^{k} + d\\, m`.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.update_moment_per_elem_norm(
      ...     {"a": jnp.array(1j)}, {"a": jnp.array(0.0)}, 0.5, 2)
      {'a': Array(0.5, dtype=float32, weak_type=True)}
    """
    return _map(lambda g, m: (1 - decay) * _orderth_norm(g, order) + decay * m, updates, moments)


def update_infinity_moment(
    updates: Any, moments: Any, decay: jax.typing.ArrayLike, eps: jax.typing.ArrayLike
) -> Any:
    """Return the exponentially weighted infinity norm (Adamax's ``u``).

    Update rule: :math:`u \\leftarrow \\max(|g| + \\epsilon, d\\, u)`.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.update_infinity_moment(
      ...     {"a": jnp.array(-1.0)}, {"a": jnp.array(2.0)}, 0.9, 0.0)
      {'a': Array(1.8, dtype=float32, weak_type=True)}
    """
    return _map(lambda g, m: jnp.maximum(jnp.abs(g) + eps, decay * m), updates, moments)


def bias_correction(moment: Any, decay: jax.typing.ArrayLike, count: jax.typing.ArrayLike) -> Any:
    """Divide an EMA started at zero by the total weight ``1 - decay**count``.

    Update rule: :math:`\\hat m = m / (1 - d^{t})` with ``t = count`` (from 1).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.tree.bias_correction({"a": jnp.array(0.1)}, 0.9, jnp.array(1))
      {'a': Array(1., dtype=float32)}
    """
    correction = 1 - jnp.asarray(decay) ** count
    return _map(lambda m: m / correction.astype(m.dtype), moment)

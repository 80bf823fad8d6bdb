"""Applying updates to parameters."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx._structure import assert_same_structure
from gradtx.base import Params, Updates

__all__ = ["apply_updates", "incremental_update", "periodic_update"]


def apply_updates(params: Params, updates: Updates) -> Params:
    """Return ``params + updates``, each leaf keeping the dtype of its parameter.

    Update rule: :math:`\\theta \\leftarrow \\theta + u`. ``None`` params stay ``None``;
    a ``None`` update leaves its parameter unchanged.

    Args:
      params: the parameters.
      updates: the updates, a tree with the structure of ``params``.

    Returns:
      The new parameters.

    Raises:
      ValueError: when the two trees differ; the message lists the differing paths.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.apply_updates({"w": jnp.ones(2, jnp.bfloat16)}, {"w": jnp.full(2, 0.5)})
      {'w': Array([1.5, 1.5], dtype=bfloat16)}
    """
    assert_same_structure(params, updates, "params", "updates", "apply_updates")

    def add(p: Any, u: Any) -> Any:
        if p is None:
            return None
        if u is None:
            return p
        p = jnp.asarray(p)
        return jnp.asarray(p + u).astype(p.dtype)

    return jax.tree.map(add, params, updates, is_leaf=lambda x: x is None)


def incremental_update(new_tensors: Any, old_tensors: Any, step_size: jax.typing.ArrayLike) -> Any:
    """Move ``old_tensors`` a fraction ``step_size`` of the way towards ``new_tensors``.

    Update rule: :math:`o \\leftarrow s\\, n + (1 - s)\\, o`, the Polyak average used for
    target networks.

    Args:
      new_tensors: the tree to move towards.
      old_tensors: the current tree, with the same structure.
      step_size: :math:`s` in [0, 1].

    Returns:
      The moved tree.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.incremental_update({"w": jnp.array(1.0)}, {"w": jnp.array(0.0)}, 0.1)
      {'w': Array(0.1, dtype=float32, weak_type=True)}
    """
    assert_same_structure(
        new_tensors, old_tensors, "new_tensors", "old_tensors", "incremental_update"
    )
    return jax.tree.map(
        lambda n, o: step_size * n + (1.0 - step_size) * o, new_tensors, old_tensors
    )


def periodic_update(
    new_tensors: Any,
    old_tensors: Any,
    steps: jax.typing.ArrayLike,
    update_period: int,
) -> Any:
    """Return ``new_tensors`` every ``update_period`` steps and ``old_tensors`` otherwise.

    Update rule: :math:`o \\leftarrow n` when ``steps % update_period == 0``.

    Args:
      new_tensors: the candidate tree.
      old_tensors: the current tree, with the same structure.
      steps: the step counter (an int array).
      update_period: the period, a positive int.

    Returns:
      ``new_tensors`` or ``old_tensors``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.periodic_update({"w": jnp.array(1.0)}, {"w": jnp.array(0.0)}, 4, 2)
      {'w': Array(1., dtype=float32, weak_type=True)}
    """
    assert_same_structure(new_tensors, old_tensors, "new_tensors", "old_tensors", "periodic_update")
    return jax.lax.cond(
        jnp.mod(steps, update_period) == 0, lambda: new_tensors, lambda: old_tensors
    )

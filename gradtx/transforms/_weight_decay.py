"""Weight decay added to the updates."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_schedule_or_nonnegative
from gradtx.base import EmptyState, GradientTransformationExtraArgs, Params, ScalarOrSchedule
from gradtx.numerics import safe_increment
from gradtx.transforms._common import like, require_params, tmap
from gradtx.wrappers import masked

__all__ = ["AddDecayedWeightsState", "add_decayed_weights"]


class AddDecayedWeightsState(NamedTuple):
    """State of :func:`add_decayed_weights` with a scheduled ``weight_decay``.

    Attributes:
      count: int32 number of updates so far.
    """

    count: jax.Array


def add_decayed_weights(
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any = None,
) -> GradientTransformationExtraArgs:
    """Add ``weight_decay * params`` to the updates.

    Update rule: :math:`u \\leftarrow u + \\lambda_t\\, \\theta`. Placed before an
    adaptive scaling it is L2 regularization (torch's ``weight_decay`` on SGD/Adam);
    placed after it, with the learning rate applied afterwards, it is decoupled weight
    decay (AdamW).

    Args:
      weight_decay: :math:`\\lambda`, a number >= 0 or a schedule.
      mask: a tree of booleans with the structure of the params (or a function of
        the params returning one): decay only where ``True``.

    Returns:
      A transformation; its state is ``EmptyState`` for a number,
      :class:`AddDecayedWeightsState` for a schedule.

    Reference: Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization",
    arXiv 1711.05101.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.add_decayed_weights(0.1)
      >>> p = jnp.array([2.0])
      >>> tx.update(jnp.array([1.0]), tx.init(p), p)[0]
      Array([1.2], dtype=float32)
    """
    check_schedule_or_nonnegative("add_decayed_weights", "weight_decay", weight_decay)
    scheduled = callable(weight_decay)

    def init_fn(params: Params) -> Any:
        del params
        return AddDecayedWeightsState(jnp.zeros([], jnp.int32)) if scheduled else EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params("add_decayed_weights", params)
        wd = weight_decay(state.count) if scheduled else weight_decay
        out = tmap(lambda g, p: like(g + wd * p, g), updates, params)
        new_state = AddDecayedWeightsState(safe_increment(state.count)) if scheduled else state
        return out, new_state

    tx = GradientTransformationExtraArgs(init_fn, update_fn)
    return tx if mask is None else masked(tx, mask)

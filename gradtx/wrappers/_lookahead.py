"""Lookahead: k fast steps forward, then one step of the slow weights toward them."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_range, check_transformation
from gradtx._treeutil import tmap
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)
from gradtx.wrappers._accumulate import check_every
from gradtx.wrappers._sam import _reinit

__all__ = ["LookaheadParams", "LookaheadState", "lookahead"]


class LookaheadParams(NamedTuple):
    """The two copies of the parameters :func:`lookahead` works on (optax's fields).

    Attributes:
      fast: the fast weights, those the gradient is taken at.
      slow: the slow weights, the ones to evaluate (and to keep at the end).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> gradtx.LookaheadParams.init_synced({"w": jnp.ones(2)}).slow
      {'w': Array([1., 1.], dtype=float32)}
    """

    fast: Any
    slow: Any

    @classmethod
    def init_synced(cls, params: Params) -> LookaheadParams:
        """Both copies equal to ``params`` (how a run starts).

        Args:
          params: the initial parameters.

        Returns:
          ``LookaheadParams(fast=params, slow=params)``.

        Example:
          >>> import jax.numpy as jnp, gradtx
          >>> p = gradtx.LookaheadParams.init_synced(jnp.zeros(1))
          >>> p.fast is p.slow
          True
        """
        return cls(fast=params, slow=params)


class LookaheadState(NamedTuple):
    """State of :func:`lookahead` (optax's fields, in its order).

    Attributes:
      fast_state: the fast optimizer's state.
      steps_since_sync: int32, the fast steps since the last synchronization, in
        ``0..sync_period-1``.
    """

    fast_state: Any
    steps_since_sync: jax.Array


def lookahead(
    fast_optimizer: GradientTransformation,
    sync_period: int,
    slow_step_size: float,
    reset_state: bool = False,
) -> GradientTransformationExtraArgs:
    """Lookahead: take ``sync_period`` fast steps, then move the slow weights toward them.

    Update rule, with fast weights :math:`\\theta`, slow weights :math:`\\phi`, the fast
    optimizer :math:`A` (the step to add), :math:`k` = ``sync_period`` and
    :math:`\\alpha` = ``slow_step_size``: every call takes a fast step
    :math:`\\theta \\leftarrow \\theta + A(g)` on the gradient :math:`g` at
    :math:`\\theta`; every :math:`k`-th call then also synchronizes,

    .. math::

       \\phi \\leftarrow \\phi + \\alpha (\\theta - \\phi), \\qquad \\theta \\leftarrow \\phi

    The params are a :class:`LookaheadParams` ``(fast, slow)``; the gradient passed to
    ``update`` is the loss's gradient at ``params.fast`` (a tree like ``fast``), and
    the update returned is a :class:`LookaheadParams` of steps for both copies, for
    ``gradtx.apply_updates``. Evaluate the model at ``params.slow``.

    Args:
      fast_optimizer: the inner optimizer :math:`A` (the paper's Adam or SGD).
      sync_period: :math:`k` >= 1, fast steps per synchronization.
      slow_step_size: :math:`\\alpha` in [0, 1] (the paper's 0.5 or 0.8).
      reset_state: re-initialize ``fast_optimizer``'s state at each synchronization
        (hyperparameters set with :func:`gradtx.set_hyperparams` are kept); the paper
        keeps it, as the default does.

    Returns:
      A transformation with :class:`LookaheadState`; ``update`` needs the
      :class:`LookaheadParams`. Extra arguments go to ``fast_optimizer``.

    Reference: Zhang, Lucas, Hinton & Ba 2019, "Lookahead Optimizer: k steps forward,
    1 step back", arXiv 1907.08610, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.lookahead(gradtx.sgd(1.0), sync_period=2, slow_step_size=0.5)
      >>> params = gradtx.LookaheadParams.init_synced(jnp.zeros(1))
      >>> state = tx.init(params)
      >>> for _ in range(2):
      ...     u, state = tx.update(jnp.ones(1), state, params)
      ...     params = gradtx.apply_updates(params, u)
      >>> params  # two fast steps to -2, the slow weights go halfway; fast follow
      LookaheadParams(fast=Array([-1.], dtype=float32), slow=Array([-1.], dtype=float32))
    """
    check_transformation("lookahead", "fast_optimizer", fast_optimizer)
    check_every("lookahead", "sync_period", sync_period)
    check_range("lookahead", "slow_step_size", slow_step_size, 0.0, 1.0)
    if not isinstance(reset_state, bool):
        raise TypeError(f"`lookahead(reset_state=...)` must be a bool; got {reset_state=}.")
    fast_tx = with_extra_args_support(fast_optimizer)

    def init_fn(params: Params) -> LookaheadState:
        # Plain params (optax accepts them too) stand for the fast weights.
        fast = params.fast if isinstance(params, LookaheadParams) else params
        return LookaheadState(fast_tx.init(fast), jnp.zeros([], jnp.int32))

    def update_fn(
        updates: Updates,
        state: LookaheadState,
        params: LookaheadParams | None = None,
        **extra_args: Any,
    ) -> tuple[LookaheadParams, LookaheadState]:
        if not isinstance(params, LookaheadParams):
            raise TypeError(
                "`lookahead` needs the LookaheadParams(fast, slow): call update(grads, state, "
                f"params) with params = LookaheadParams(...); got params of type "
                f"{type(params).__name__}."
            )
        if isinstance(updates, LookaheadParams):
            raise TypeError(
                "`lookahead`'s update takes the gradient at params.fast (a tree like "
                "params.fast), not a LookaheadParams."
            )
        step, fast_state = fast_tx.update(updates, state.fast_state, params.fast, **extra_args)
        sync = state.steps_since_sync >= sync_period - 1

        def moved(f: jax.Array, s: jax.Array) -> jax.Array:
            return f + s.astype(jnp.result_type(f))

        new_fast = tmap(moved, params.fast, step)

        def slow_step(nf: jax.Array, s: jax.Array, g: jax.Array) -> jax.Array:
            out = jnp.where(sync, slow_step_size * (nf - s), jnp.zeros_like(s))
            return out.astype(g.dtype)

        slow_u = tmap(slow_step, new_fast, params.slow, updates)

        def fast_step(u: jax.Array, f: jax.Array, s: jax.Array, su: jax.Array) -> jax.Array:
            synced = s + su.astype(jnp.result_type(s)) - f
            return jnp.where(sync, synced, u.astype(jnp.result_type(f))).astype(u.dtype)

        fast_u = tmap(fast_step, step, params.fast, params.slow, slow_u)
        if reset_state:
            fresh = _reinit(fast_tx, params.fast, fast_state)
            fast_state = jax.tree.map(lambda a, b: jnp.where(sync, a, b), fresh, fast_state)
        steps = jnp.where(sync, 0, state.steps_since_sync + 1).astype(jnp.int32)
        return LookaheadParams(fast_u, slow_u), LookaheadState(fast_state, steps)

    return GradientTransformationExtraArgs(init_fn, update_fn)

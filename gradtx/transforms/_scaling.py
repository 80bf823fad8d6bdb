"""Scaling updates by constants, learning rates, schedules and signs."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_schedule_or_nonnegative
from gradtx.base import (
    EmptyState,
    GradientTransformationExtraArgs,
    Params,
    ScalarOrSchedule,
    Schedule,
    Updates,
    identity,
)
from gradtx.numerics import safe_increment
from gradtx.transforms._common import like, tmap

__all__ = [
    "ScaleByScheduleState",
    "centralize",
    "scale",
    "scale_by_learning_rate",
    "scale_by_schedule",
    "scale_by_sign",
]


def scale(step_size: jax.typing.ArrayLike) -> GradientTransformationExtraArgs:
    """Multiply every update by a fixed ``step_size``.

    Update rule: :math:`u \\leftarrow s\\, u` with ``s = step_size``.

    Args:
      step_size: the factor (a number or a scalar array).

    Returns:
      A stateless transformation.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale(-0.5)
      >>> tx.update(jnp.array([2.0]), tx.init(None))[0]
      Array([-1.], dtype=float32)
    """

    def init_fn(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        return tmap(lambda g: like(step_size * g, g), updates), state

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByScheduleState(NamedTuple):
    """State of :func:`scale_by_schedule`.

    Attributes:
      count: int32 number of updates so far (the schedule's argument).
    """

    count: jax.Array


def scale_by_schedule(step_size_fn: Schedule) -> GradientTransformationExtraArgs:
    """Multiply updates by ``step_size_fn(t)``, with ``t`` counting updates from 0.

    Update rule: :math:`u_t \\leftarrow s(t)\\, u_t`.

    Args:
      step_size_fn: a schedule, ``count -> factor``.

    Returns:
      A transformation with :class:`ScaleByScheduleState`.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_schedule(lambda t: 1.0 / (1 + t))
      >>> s = tx.init(None)
      >>> u, s = tx.update(jnp.array([1.0]), s)
      >>> u, s = tx.update(jnp.array([1.0]), s)
      >>> u
      Array([0.5], dtype=float32)
    """
    if not callable(step_size_fn):
        raise TypeError(
            "`scale_by_schedule(step_size_fn=...)` must be a function of the step count; "
            f"got {type(step_size_fn).__name__}. Use gradtx.scale for a constant."
        )

    def init_fn(params: Params) -> ScaleByScheduleState:
        del params
        return ScaleByScheduleState(jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        step_size = step_size_fn(state.count)
        updates = tmap(lambda g: like(step_size * g, g), updates)
        return updates, ScaleByScheduleState(safe_increment(state.count))

    return GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_learning_rate(
    learning_rate: ScalarOrSchedule | None = None, *, flip_sign: bool = True
) -> GradientTransformationExtraArgs:
    """Multiply updates by ``-learning_rate`` (descent) or ``learning_rate``.

    Update rule: :math:`u \\leftarrow -\\alpha_t\\, u` (``flip_sign=True``).

    Args:
      learning_rate: a number, an array or a schedule ``count -> rate``; ``None``
        returns :func:`~gradtx.identity` (the updates are already steps), as in optax.
      flip_sign: negate, so that ``apply_updates`` descends.

    Returns:
      :func:`scale` for a number, :func:`scale_by_schedule` for a schedule.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_learning_rate(0.1)
      >>> tx.update(jnp.array([2.0]), tx.init(None))[0]
      Array([-0.2], dtype=float32)
    """
    if learning_rate is None:
        return identity()
    check_schedule_or_nonnegative("scale_by_learning_rate", "learning_rate", learning_rate)
    sign = -1 if flip_sign else 1
    if callable(learning_rate):
        return scale_by_schedule(lambda count: sign * learning_rate(count))
    return scale(sign * learning_rate)


def scale_by_sign() -> GradientTransformationExtraArgs:
    """Replace every update by its sign.

    Update rule: :math:`u \\leftarrow \\operatorname{sign}(u)` (signSGD, Bernstein et
    al. 2018, "signSGD: Compressed Optimisation for Non-Convex Problems",
    arXiv 1802.04434).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_sign()
      >>> tx.update(jnp.array([2.0, -0.1, 0.0]), tx.init(None))[0]
      Array([ 1., -1.,  0.], dtype=float32)
    """

    def init_fn(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        return tmap(jnp.sign, updates), state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def centralize() -> GradientTransformationExtraArgs:
    """Subtract from each update of rank >= 2 its mean over all axes but the first.

    Update rule: :math:`u_{i\\ldots} \\leftarrow u_{i\\ldots} - \\operatorname{mean}_{\\ldots}
    u_{i\\ldots}`; vectors and scalars pass unchanged.

    Reference: Yong et al. 2020, "Gradient Centralization: A New Optimization
    Technique for Deep Neural Networks", arXiv 2004.01461.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.centralize()
      >>> tx.update(jnp.array([[1.0, 3.0], [0.0, 0.0]]), tx.init(None))[0]
      Array([[-1.,  1.],
             [ 0.,  0.]], dtype=float32)
    """

    def center(g: Any) -> Any:
        if jnp.ndim(g) < 2:
            return g
        return g - jnp.mean(g, axis=tuple(range(1, jnp.ndim(g))), keepdims=True)

    def init_fn(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update_fn(updates: Updates, state, params=None, **extra_args):
        del params, extra_args
        return tmap(center, updates), state

    return GradientTransformationExtraArgs(init_fn, update_fn)

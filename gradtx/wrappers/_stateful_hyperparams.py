"""Hyperparameters driven by stateful schedules: inject_stateful_hyperparams."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._hyperparams import (
    HyperparamsDict,
    _is_mask_name,
    _is_numeric,
    _is_schedule,
    _strip_nested,
    _to_array,
    bind_arguments,
    register_state_type,
)
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)
from gradtx.numerics import safe_increment

__all__ = [
    "InjectStatefulHyperparamsState",
    "WrappedSchedule",
    "WrappedScheduleState",
    "inject_stateful_hyperparams",
]


class WrappedScheduleState(NamedTuple):
    """State of a :class:`WrappedSchedule`.

    Attributes:
      count: int32 number of updates so far; the schedule is evaluated at it.
    """

    count: jax.Array


class WrappedSchedule:
    """A step schedule ``count -> value`` seen as a stateful schedule.

    A stateful schedule is an object with ``init() -> state``,
    ``update(state, **extra_args) -> state`` and ``__call__(state, **extra_args) ->
    value``; this one's state is the step count. :func:`inject_stateful_hyperparams`
    wraps every plain schedule it is given in one.

    Args:
      schedule_fn: the schedule, a function of the int32 step count.

    Example:
      >>> import gradtx
      >>> s = gradtx.WrappedSchedule(lambda count: 0.5 ** count)
      >>> state = s.update(s.init())
      >>> float(s(state))
      0.5
    """

    def __init__(self, schedule_fn: Callable[[jax.Array], Any]) -> None:
        self.schedule_fn = schedule_fn

    def init(self) -> WrappedScheduleState:
        """The state before any update: count 0."""
        return WrappedScheduleState(jnp.zeros([], jnp.int32))

    def update(self, state: WrappedScheduleState, **extra_args: Any) -> WrappedScheduleState:
        """Advance the count by one (saturating)."""
        del extra_args
        return WrappedScheduleState(safe_increment(state.count))

    def __call__(self, state: WrappedScheduleState, **extra_args: Any) -> Any:
        """The schedule's value at the state's count."""
        del extra_args
        return self.schedule_fn(state.count)


class InjectStatefulHyperparamsState(NamedTuple):
    """State of :func:`inject_stateful_hyperparams` (optax's field names and order).

    Attributes:
      count: int32 number of updates so far.
      hyperparams: the hyperparameters the last update used (before any update: those
        the first will use), as arrays in ``hyperparam_dtype`` (JAX's default float
        dtype when ``None``), never in the parameters' dtype.
      hyperparams_states: ``{name: state}`` of each (stateful) schedule.
      inner_state: the state of the wrapped transformation.
    """

    count: jax.Array
    hyperparams: HyperparamsDict
    hyperparams_states: dict[str, Any]
    inner_state: Any


register_state_type(InjectStatefulHyperparamsState)


def _is_stateful(value: Any) -> bool:
    return (
        callable(value)
        and callable(getattr(value, "init", None))
        and callable(getattr(value, "update", None))
        and not isinstance(value, (tuple, type))
    )


def inject_stateful_hyperparams(
    inner_factory: Callable[..., GradientTransformation],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: Any = None,
) -> Callable[..., GradientTransformationExtraArgs]:
    """Like :func:`inject_hyperparams`, with schedules that keep a state of their own.

    A hyperparameter may be a number, a step schedule (``count -> value``, wrapped in a
    :class:`WrappedSchedule`) or a stateful schedule (``init``/``update``/``__call__``,
    see :class:`WrappedSchedule`), whose ``update`` and ``__call__`` receive the extra
    arguments of the step (``value=loss``, ...). At each update the schedules give the
    values for this update from their current state, then advance their state.

    Hyperparameters are stored in ``hyperparam_dtype``, by default JAX's default float
    dtype (float32; float64 with ``jax_enable_x64``), whatever the parameters' dtype:
    optax stores them in the parameters' dtype, so with bfloat16 parameters a learning
    rate of 0.1 becomes 0.100098 and a momentum of 0.9 becomes 0.898438.

    Args:
      inner_factory: a function returning a transformation, e.g. ``gradtx.sgd``.
      static_args: names of arguments to keep out of the state (callables that are
        not schedules).
      hyperparam_dtype: the dtype of floating hyperparameters.

    Returns:
      A factory with the signature of ``inner_factory`` returning a transformation with
      :class:`InjectStatefulHyperparamsState`; :func:`gradtx.hyperparams` and
      :func:`gradtx.set_hyperparams` (for the numeric ones) work on its state.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.inject_stateful_hyperparams(gradtx.sgd)(
      ...     learning_rate=lambda count: 0.1 / (1 + count), momentum=0.9)
      >>> params = jnp.zeros(2, jnp.bfloat16)
      >>> state = tx.init(params)
      >>> for _ in range(2):
      ...     u, state = tx.update(jnp.ones(2, jnp.bfloat16), state, params)
      >>> state.hyperparams["learning_rate"], state.hyperparams["momentum"].dtype
      (Array(0.05, dtype=float32), dtype('float32'))
    """
    name = getattr(inner_factory, "__name__", "inject_stateful_hyperparams")
    if isinstance(static_args, str):
        static_args = (static_args,)
    static_args = frozenset(static_args)
    sig = inspect.signature(inner_factory)
    unknown = sorted(n for n in static_args if n not in sig.parameters)
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        raise ValueError(
            f"`inject_stateful_hyperparams(static_args=...)`: {unknown} are not arguments "
            f"of {name}{sig}."
        )
    dtype = hyperparam_dtype

    @functools.wraps(inner_factory)
    def wrapped(*args: Any, **kwargs: Any) -> GradientTransformationExtraArgs:
        arguments = bind_arguments("inject_stateful_hyperparams", sig, args, kwargs)
        static = {k for k in arguments if k in static_args or _is_mask_name(k)}
        numeric = {k: v for k, v in arguments.items() if k not in static and _is_numeric(v)}
        schedules = {
            k: v if _is_stateful(v) else WrappedSchedule(v)
            for k, v in arguments.items()
            if k not in static and k not in numeric and (_is_stateful(v) or _is_schedule(v))
        }
        other = {k: v for k, v in arguments.items() if k not in numeric and k not in schedules}

        def build(hps: dict[str, Any]) -> GradientTransformationExtraArgs:
            return with_extra_args_support(inner_factory(**other, **hps))

        def evaluate(sched_states: dict[str, Any], stored: Any, extra: Any) -> HyperparamsDict:
            hps = {k: _to_array(stored[k] if k in stored else v, dtype) for k, v in numeric.items()}
            for k, s in schedules.items():
                hps[k] = _to_array(s(sched_states[k], **extra), dtype)
            return HyperparamsDict(hps, schedules)

        def init_fn(params: Params) -> InjectStatefulHyperparamsState:
            sched_states = {k: s.init() for k, s in schedules.items()}
            hps = evaluate(sched_states, {}, {})
            inner_state = _strip_nested(build(hps).init(params), hps)
            return InjectStatefulHyperparamsState(
                jnp.zeros([], jnp.int32), hps, sched_states, inner_state
            )

        def update_fn(
            updates: Updates,
            state: InjectStatefulHyperparamsState,
            params: Params | None = None,
            **extra_args: Any,
        ) -> tuple[Updates, InjectStatefulHyperparamsState]:
            if not isinstance(state, InjectStatefulHyperparamsState):
                raise ValueError(
                    f"`{name}.update`: expected the InjectStatefulHyperparamsState its init "
                    f"returned; got {type(state).__name__}."
                )
            hps = evaluate(state.hyperparams_states, state.hyperparams, extra_args)
            sched_states = {
                k: s.update(state.hyperparams_states[k], **extra_args) for k, s in schedules.items()
            }
            new, inner_state = build(hps).update(updates, state.inner_state, params, **extra_args)
            new_state = InjectStatefulHyperparamsState(
                safe_increment(state.count), hps, sched_states, _strip_nested(inner_state, hps)
            )
            return new, new_state

        return GradientTransformationExtraArgs(init_fn, update_fn)

    return wrapped

"""Measurements of the updates kept in the state (snapshot, monitor), and scale_gradient."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx.base import (
    EmptyState,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)
from gradtx.transforms._momentum import EmaState
from gradtx.transforms._momentum import ema as _ema

__all__ = [
    "MonitorState",
    "SnapshotState",
    "measure_with_ema",
    "monitor",
    "scale_gradient",
    "snapshot",
]

Measure = Callable[[Any], Any]


class SnapshotState(NamedTuple):
    """State of :func:`snapshot`.

    Attributes:
      measurement: ``{measure_name: value}``, the measure of the last updates seen (at
        init: of the parameters, as in optax), cast to the dtype it had at init.
    """

    measurement: dict[str, Any]


class MonitorState(NamedTuple):
    """State of :func:`monitor`.

    Attributes:
      measurements: ``{name: value}`` for every measure, from init on (zeros before the
        first update), so the state keeps its structure under ``jax.lax.scan``.
      measure_states: the states of the stateful measures, in the order of
        ``measures`` (``EmptyState()`` for plain functions).
    """

    measurements: dict[str, Any]
    measure_states: tuple[Any, ...]


def _cast_like(new: Any, old: Any, fn: str, name: str) -> Any:
    """``new`` in the shapes and dtypes of ``old`` (the state must not change type)."""
    if jax.tree.structure(new) != jax.tree.structure(old):
        raise ValueError(
            f"`{fn}`: the measurement {name!r} changed structure between init and update "
            f"({jax.tree.structure(old)} -> {jax.tree.structure(new)})."
        )

    def cast(n: Any, o: Any) -> jax.Array:
        if jnp.shape(n) != jnp.shape(o):
            raise ValueError(
                f"`{fn}`: the measurement {name!r} has shape {jnp.shape(n)} but had shape "
                f"{jnp.shape(o)} at init; a measure must give the same shape for the "
                "parameters and for the updates."
            )
        return jnp.asarray(n).astype(jnp.result_type(o))

    return jax.tree.map(cast, new, old)


def snapshot(measure_name: str, measure: Measure) -> GradientTransformationExtraArgs:
    """Store ``measure(updates)`` in the state under ``measure_name``; updates pass unchanged.

    Update rule: :math:`u \\leftarrow u`, with ``state.measurement[measure_name] =
    measure(u)``. In a chain it sees the updates as transformed so far, so placing it
    between two members shows an intermediate value (read it with
    ``gradtx.tree.get(state, measure_name)``).

    Args:
      measure_name: the key of the measurement in the state.
      measure: a function of the updates tree returning an array (or a tree of them).

    Returns:
      A transformation with :class:`SnapshotState`.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.snapshot("raw", gradtx.tree.norm), gradtx.clip(1.0))
      >>> params = jnp.zeros(2)
      >>> u, state = tx.update(jnp.array([3.0, 4.0]), tx.init(params))
      >>> u, gradtx.tree.get(state, "raw")
      (Array([1., 1.], dtype=float32), Array(5., dtype=float32))
    """
    if not isinstance(measure_name, str):
        raise TypeError(f"`snapshot(measure_name=...)` must be a str; got {measure_name!r}.")
    if not callable(measure):
        raise TypeError(f"`snapshot(measure=...)` must be callable; got {measure!r}.")

    def init_fn(params: Params) -> SnapshotState:
        # strongly typed, so that the state's avals match after the first update
        value = jax.tree.map(lambda x: jnp.asarray(x, jnp.result_type(x)), measure(params))
        return SnapshotState({measure_name: value})

    def update_fn(
        updates: Updates, state: SnapshotState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, SnapshotState]:
        del params, extra_args
        old = state.measurement[measure_name]
        new = _cast_like(measure(updates), old, "snapshot", measure_name)
        return updates, SnapshotState({measure_name: new})

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _is_transformation(x: Any) -> bool:
    return isinstance(x, tuple) and len(x) == 2 and all(callable(f) for f in x)


def monitor(
    measures: dict[str, GradientTransformationExtraArgs | Measure],
) -> GradientTransformationExtraArgs:
    """Store several measurements of the updates in the state; updates pass unchanged.

    Each entry of ``measures`` is either a function of the updates (as in
    :func:`snapshot`) or a transformation whose ``update`` output is the measurement
    and whose state it keeps (as :func:`measure_with_ema` builds).

    Unlike optax, whose ``measurements`` dict is empty until the first update, the
    state holds every key from init on (zeros, in the measurement's shape and dtype),
    so it keeps one structure under ``jax.lax.scan`` and ``jax.lax.cond``.

    Args:
      measures: ``{name: measure}``.

    Returns:
      A transformation with :class:`MonitorState`.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.monitor({
      ...     "norm": gradtx.tree.norm,
      ...     "norm_ema": gradtx.measure_with_ema(gradtx.tree.norm, decay=0.5),
      ... })
      >>> state = tx.init(jnp.zeros(2))
      >>> for g in (jnp.array([3.0, 4.0]), jnp.array([0.0, 1.0])):
      ...     u, state = tx.update(g, state)
      >>> {k: round(float(v), 4) for k, v in state.measurements.items()}
      {'norm': 1.0, 'norm_ema': 2.3333}
    """
    if not isinstance(measures, dict) or not measures:
        raise TypeError(
            "`monitor(measures=...)` must be a non-empty dict of name -> measure; got "
            f"{measures!r}."
        )
    for name, m in measures.items():
        if not isinstance(name, str) or not callable(m) and not _is_transformation(m):
            raise TypeError(
                "`monitor(measures=...)`: each entry must be name -> function of the updates "
                f"or a transformation; got {name!r}: {m!r}."
            )
    names = list(measures)
    stateful = {k: with_extra_args_support(m) for k, m in measures.items() if _is_transformation(m)}

    def measure_all(updates: Any, states: tuple[Any, ...], params: Any, extra: Any) -> Any:
        values, new_states = {}, []
        for name, s in zip(names, states, strict=True):
            if name in stateful:
                values[name], s = stateful[name].update(updates, s, params, **extra)
            else:
                values[name] = measures[name](updates)
            new_states.append(s)
        return values, tuple(new_states)

    def init_fn(params: Params) -> MonitorState:
        states = tuple(stateful[k].init(params) if k in stateful else EmptyState() for k in names)
        shapes = jax.eval_shape(lambda p, s: measure_all(p, s, p, {})[0], params, states)
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
        return MonitorState(zeros, states)

    def update_fn(
        updates: Updates, state: MonitorState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, MonitorState]:
        values, states = measure_all(updates, state.measure_states, params, extra_args)
        values = {k: _cast_like(v, state.measurements[k], "monitor", k) for k, v in values.items()}
        return updates, MonitorState(values, states)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def measure_with_ema(
    measure: Measure,
    decay: jax.typing.ArrayLike,
    debias: bool = True,
    accumulator_dtype: Any | None = None,
) -> GradientTransformationExtraArgs:
    """A measurement of the updates averaged over steps, for :func:`monitor`.

    Update rule: with :math:`m_t` = ``measure(updates)``,
    :math:`v_t = \\beta v_{t-1} + (1 - \\beta) m_t`; the output (the *measurement*, not
    updates) is :math:`v_t / (1 - \\beta^t)` when ``debias``, else :math:`v_t`.

    Args:
      measure: a function of the updates tree returning an array (a boolean works: its
        average is a frequency, e.g. how often the norm exceeded a threshold).
      decay: :math:`\\beta` in [0, 1].
      debias: divide by :math:`1 - \\beta^t`.
      accumulator_dtype: dtype of :math:`v`; when ``None`` the measurement's dtype
        promoted to at least float32 (optax keeps a bfloat16 or boolean one as it is,
        and its state then changes dtype at the first update).

    Returns:
      A transformation whose ``update`` returns the averaged measurement, with the
      state ``(EmptyState(), EmaState(count, ema))`` (optax's layout).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> m = gradtx.measure_with_ema(lambda u: gradtx.tree.norm(u) > 1.0, decay=0.5)
      >>> state = m.init(jnp.zeros(2))
      >>> for g in (jnp.array([3.0, 4.0]), jnp.array([0.0, 0.5])):
      ...     frac, state = m.update(g, state)
      >>> frac
      Array(0.33333334, dtype=float32)
    """
    if not callable(measure):
        raise TypeError(f"`measure_with_ema(measure=...)` must be callable; got {measure!r}.")
    average = _ema(decay, debias=debias, accumulator_dtype=accumulator_dtype)

    def acc_dtype(dtype: Any) -> Any:
        if accumulator_dtype is not None:
            return jnp.dtype(accumulator_dtype)
        return jnp.promote_types(dtype, jnp.float32)

    def as_acc(tree: Any) -> Any:
        return jax.tree.map(lambda x: jnp.asarray(x).astype(acc_dtype(jnp.result_type(x))), tree)

    def init_fn(params: Params) -> tuple[EmptyState, EmaState]:
        shapes = jax.eval_shape(lambda p: as_acc(measure(p)), params)
        return EmptyState(), average.init(shapes)

    def update_fn(
        updates: Updates,
        state: tuple[EmptyState, EmaState],
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Any, tuple[EmptyState, EmaState]]:
        del params, extra_args
        m = jax.tree.map(
            lambda x, v: jnp.asarray(x).astype(v.dtype), measure(updates), state[1].ema
        )
        out, ema_state = average.update(m, state[1])
        return out, (state[0], ema_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)


@jax.custom_vjp
def _scaled_identity(inputs: Any, scale: jax.Array) -> Any:
    return inputs


def _scaled_fwd(inputs: Any, scale: jax.Array) -> tuple[Any, jax.Array]:
    return inputs, scale


def _scaled_bwd(scale: jax.Array, cotangent: Any) -> tuple[Any, jax.Array]:
    scaled = jax.tree.map(lambda g: (g * scale).astype(jnp.result_type(g)), cotangent)
    return scaled, jnp.zeros_like(scale)


_scaled_identity.defvjp(_scaled_fwd, _scaled_bwd)


def scale_gradient(inputs: Any, scale: jax.typing.ArrayLike) -> Any:
    """Return ``inputs`` unchanged, with the gradient flowing back through it scaled.

    Forward: :math:`y = x`; backward: :math:`\\partial L / \\partial x = s\\,
    \\partial L / \\partial y` with :math:`s` = ``scale`` (0 stops the gradient, -1
    reverses it as in a gradient-reversal layer).

    Args:
      inputs: an array or a tree of arrays.
      scale: the factor :math:`s` applied to the incoming gradient.

    Returns:
      ``inputs``, with the same values and structure.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> jax.grad(lambda x: jnp.sum(gradtx.scale_gradient(x, 0.5) ** 2))(jnp.array([1.0, 2.0]))
      Array([1., 2.], dtype=float32)
    """
    return _scaled_identity(inputs, jnp.asarray(scale))

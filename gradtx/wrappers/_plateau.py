"""Reduce the learning rate when a monitored loss stops improving (torch's ReduceLROnPlateau)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_nonnegative, check_range, concrete
from gradtx.base import GradientTransformationExtraArgs, Params, Updates
from gradtx.transforms._common import as_float, like, tmap

__all__ = ["ReduceLROnPlateauState", "reduce_on_plateau"]


class ReduceLROnPlateauState(NamedTuple):
    """State of :func:`reduce_on_plateau` (optax's field names and order).

    Attributes:
      scale: the factor the updates are multiplied by (1 at the start), in JAX's
        default float dtype.
      best_value: the best (lowest) averaged loss seen so far (``inf`` at the start).
      plateau_count: int32 number of consecutive averaged losses without improvement.
      cooldown_count: int32 number of averaged losses still to ignore after a reduction.
      count: int32 number of losses accumulated into ``avg_value`` since the last check.
      avg_value: the mean of the losses accumulated since the last check.
    """

    scale: jax.Array
    best_value: jax.Array
    plateau_count: jax.Array
    cooldown_count: jax.Array
    count: jax.Array
    avg_value: jax.Array


def _check_int(fn: str, name: str, value: Any, low: int) -> None:
    v = concrete(value)
    if v is not None and (v != int(v) or v < low):
        raise ValueError(f"`{fn}({name}=...)` must be an integer >= {low}; got {name}={value!r}.")


def reduce_on_plateau(
    factor: float = 0.1,
    patience: int = 10,
    rtol: float = 1e-4,
    atol: float = 0.0,
    cooldown: int = 0,
    accumulation_size: int = 1,
    min_scale: float = 0.0,
) -> GradientTransformationExtraArgs:
    """Scale the updates down by ``factor`` when the loss has stopped improving.

    Every call takes the loss as ``update(updates, state, params, value=loss)``; every
    ``accumulation_size`` calls the mean :math:`v` of the losses received is checked.
    With :math:`b` the best mean so far, :math:`v` is an improvement when

    .. math::

       v < b - \\mathrm{atol} - \\mathrm{rtol}\\,|b|,

    and then :math:`b \\leftarrow v` and the plateau count is reset; otherwise the count
    grows by one. When it exceeds ``patience``, the scale becomes
    :math:`\\max(s \\cdot \\mathrm{factor}, \\mathrm{min\\_scale})`, the count is reset and
    the next ``cooldown`` checks are ignored. The updates are multiplied by the scale
    after the check, as torch's new learning rate applies to the next epoch.

    This is torch's ``ReduceLROnPlateau(mode="min")`` with ``min_lr = min_scale`` and a
    threshold of both kinds: ``threshold_mode="rel"`` (``rtol``) and ``"abs"``
    (``atol``). Two deliberate differences from ``optax.contrib.reduce_on_plateau``:

    - **Negative losses.** optax (and torch's ``"rel"`` mode, whose threshold is
      :math:`b (1 - \\mathrm{rtol})`) compare against a threshold *above* a negative
      best value, so a worse loss counts as an improvement and replaces the best one;
      the scale then never decreases. Here the tolerance is :math:`\\mathrm{rtol}|b|`,
      the same for both signs.
    - **Patience** is torch's: the scale drops after ``patience + 1`` checks without
      improvement (optax drops it after ``patience``), so ``patience=0`` reduces at the
      first check that does not improve.

    Args:
      factor: multiplier of the scale at each reduction, in (0, 1).
      patience: checks without improvement that are tolerated (integer >= 0).
      rtol: relative tolerance (>= 0) of what counts as an improvement.
      atol: absolute tolerance (>= 0) of what counts as an improvement.
      cooldown: checks ignored after each reduction (integer >= 0).
      accumulation_size: calls whose losses are averaged into one check (>= 1); use
        more than 1 when ``value`` is a noisy minibatch loss.
      min_scale: the scale never drops below this (>= 0).

    Returns:
      A transformation with :class:`ReduceLROnPlateauState`; ``update`` needs
      ``value=``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.reduce_on_plateau(factor=0.5, patience=1)
      >>> state = tx.init(jnp.zeros(1))
      >>> for loss in [3.0, 2.0, 2.0, 2.0, 1.0]:
      ...     u, state = tx.update(jnp.ones(1), state, value=loss)
      ...     print(float(state.scale), u)
      1.0 [1.]
      1.0 [1.]
      1.0 [1.]
      0.5 [0.5]
      0.5 [0.5]
    """
    fn = "reduce_on_plateau"
    check_range(fn, "factor", factor, 0.0, 1.0, low_open=True, high_open=True)
    _check_int(fn, "patience", patience, 0)
    check_nonnegative(fn, "rtol", rtol)
    check_nonnegative(fn, "atol", atol)
    _check_int(fn, "cooldown", cooldown, 0)
    _check_int(fn, "accumulation_size", accumulation_size, 1)
    check_nonnegative(fn, "min_scale", min_scale)

    def init_fn(params: Params) -> ReduceLROnPlateauState:
        del params
        zero = jnp.zeros([], jnp.int32)
        return ReduceLROnPlateauState(
            scale=as_float(1.0),
            best_value=as_float(jnp.inf),
            plateau_count=zero,
            cooldown_count=zero,
            count=zero,
            avg_value=as_float(0.0),
        )

    def check(state: ReduceLROnPlateauState, v: jax.Array) -> ReduceLROnPlateauState:
        best = state.best_value
        threshold = best - atol - rtol * jnp.abs(best)
        improved = jnp.isposinf(best) | (v < threshold)
        best = jnp.where(improved, v, best)
        bad = jnp.where(improved, 0, state.plateau_count + 1)
        cooling = state.cooldown_count > 0
        cool = jnp.where(cooling, state.cooldown_count - 1, state.cooldown_count)
        bad = jnp.where(cooling, 0, bad)
        reduce = bad > patience
        scale = jnp.where(reduce, jnp.maximum(state.scale * factor, min_scale), state.scale).astype(
            state.scale.dtype
        )
        return ReduceLROnPlateauState(
            scale=scale,
            best_value=best.astype(state.best_value.dtype),
            plateau_count=jnp.where(reduce, 0, bad).astype(jnp.int32),
            cooldown_count=jnp.where(reduce, cooldown, cool).astype(jnp.int32),
            count=jnp.zeros([], jnp.int32),
            avg_value=jnp.zeros_like(state.avg_value),
        )

    def update_fn(
        updates: Updates,
        state: ReduceLROnPlateauState,
        params: Params | None = None,
        *,
        value: Any = None,
        **extra_args: Any,
    ) -> tuple[Updates, ReduceLROnPlateauState]:
        del params, extra_args
        if value is None:
            raise ValueError(
                "`reduce_on_plateau` needs the loss: call update(updates, state, params, "
                "value=loss) (through a chain too: chain.update(..., value=loss))."
            )
        if jnp.ndim(value) != 0:
            raise ValueError(
                f"`reduce_on_plateau`: value must be a scalar loss; got shape {jnp.shape(value)}."
            )
        v = jnp.asarray(value).astype(state.avg_value.dtype)
        count = state.count + 1
        avg = state.avg_value + (v - state.avg_value) / count.astype(v.dtype)
        waiting = state._replace(count=count, avg_value=avg)
        checked = check(state, avg)
        new_state = jax.tree.map(
            lambda a, b: jnp.where(count >= accumulation_size, a, b), checked, waiting
        )
        out = tmap(lambda g: like(g * new_state.scale, g), updates)
        return out, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)

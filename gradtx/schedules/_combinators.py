"""Schedule combinators: join schedules end to end; drive an epoch schedule by a step count."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from gradtx.base import Schedule
from gradtx.schedules._common import as_count, check_int, check_number, floor_div, reached, shift

__all__ = ["join_schedules", "per_epoch"]


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    r"""Runs ``schedules`` one after the other, switching at ``boundaries``.

    With boundaries :math:`b_1 < \dots < b_{n-1}` (and :math:`b_0 = 0`), the schedule
    :math:`k` runs on :math:`b_k \le t < b_{k+1}` and sees its own count, restarted at 0:

    .. math:: \eta_t = \text{schedules}_k(t - b_k).

    Args:
      schedules: one or more schedules (``count -> value``).
      boundaries: ``len(schedules) - 1`` strictly increasing steps at which the next
        schedule starts.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``schedules`` is empty, ``len(boundaries) != len(schedules) - 1``, or
        the boundaries are not strictly increasing numbers.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import constant_schedule, join_schedules, linear_schedule
      >>> warmup = linear_schedule(0.0, 1.0, transition_steps=3)
      >>> schedule = join_schedules([warmup, constant_schedule(1.0)], boundaries=[3])
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [0.0, 0.3333, 0.6667, 1.0, 1.0, 1.0, 1.0, 1.0]

    Differs from optax, which accepts boundaries in any order (switching at the wrong
    steps), too few boundaries (dropping schedules) or an empty list (``IndexError``):
    gradtx raises ``ValueError`` for all three.
    """
    fn = "join_schedules"
    schedules = list(schedules)
    boundaries = [check_number(fn, "boundaries", b) for b in boundaries]
    if not schedules:
        raise ValueError(f"`{fn}(schedules=...)` must hold at least one schedule; got [].")
    if len(boundaries) != len(schedules) - 1:
        raise ValueError(
            f"`{fn}` needs len(boundaries) == len(schedules) - 1 (a boundary before every "
            f"schedule but the first); got {len(schedules)} schedules and "
            f"boundaries={boundaries!r}."
        )
    if any(b <= a for a, b in zip(boundaries, boundaries[1:], strict=False)):
        raise ValueError(
            f"`{fn}(boundaries=...)` must be strictly increasing; got boundaries={boundaries!r}."
        )

    def schedule(count: ArrayLike) -> jax.Array:
        count = as_count(count)
        value = jnp.asarray(schedules[0](count))
        for boundary, following in zip(boundaries, schedules[1:], strict=True):
            value = jnp.where(reached(count, boundary), following(shift(count, boundary)), value)
        return value

    return schedule


def per_epoch(schedule: Schedule, steps_per_epoch: int) -> Schedule:
    r"""Turns a schedule of the epoch into a schedule of the step count.

    .. math:: \eta_t = \text{schedule}(\lfloor t / \text{steps\_per\_epoch} \rfloor)

    An integer step count gives an integer epoch, so the epoch changes exactly every
    ``steps_per_epoch`` steps at any count.

    Args:
      schedule: a schedule indexed by the epoch (0, 1, 2, ...).
      steps_per_epoch: a positive integer, the optimizer steps in one epoch.

    Returns:
      A schedule ``count -> value`` indexed by the optimizer step.

    Raises:
      ValueError: if ``steps_per_epoch`` is not a positive integer.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import inverse_time_decay, per_epoch
      >>> schedule = per_epoch(inverse_time_decay(1.0, decay_rate=1.0), steps_per_epoch=2)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [1.0, 1.0, 0.5, 0.5, 0.3333, 0.3333, 0.25, 0.25]

    torch equivalent: calling ``scheduler.step()`` once per epoch instead of once per batch.
    """
    steps_per_epoch = check_int("per_epoch", "steps_per_epoch", steps_per_epoch, minimum=1)

    def stepped(count: ArrayLike) -> jax.Array:
        return schedule(floor_div(as_count(count), steps_per_epoch))

    return stepped

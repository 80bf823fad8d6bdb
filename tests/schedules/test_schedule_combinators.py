"""join_schedules and per_epoch."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from gradtx.schedules import (
    constant_schedule,
    inverse_time_decay,
    join_schedules,
    linear_schedule,
    per_epoch,
)

R = dict(rtol=1e-6, atol=1e-7)


def identity(count):
    """A "schedule" that shows the count it is given, as a float."""
    return jnp.asarray(count, jnp.float32)


def raw(count):
    """A "schedule" that returns the count it is given, in its own dtype."""
    return count


# ---------------------------------------------------------------- join_schedules


def test_join_schedules_switches_at_the_boundaries(values_of) -> None:
    schedule = join_schedules(
        [constant_schedule(1.0), linear_schedule(1.0, 0.0, 4), constant_schedule(3.0)], [2, 5]
    )
    np.testing.assert_allclose(values_of(schedule, 7), [1, 1, 1, 0.75, 0.5, 3, 3], **R)


def test_join_schedules_restarts_the_count_of_each_schedule(values_of) -> None:
    schedule = join_schedules([identity, identity, identity], [3, 5])
    np.testing.assert_array_equal(values_of(schedule, 8), [0, 1, 2, 0, 1, 0, 1, 2])


def test_join_schedules_single_schedule(values_of) -> None:
    np.testing.assert_array_equal(values_of(join_schedules([identity], []), 3), [0, 1, 2])


def test_join_schedules_negative_boundary_saturates_instead_of_wrapping(huge_values_of) -> None:
    schedule = join_schedules([raw, raw], [-2])
    assert schedule(jnp.int32(3)) == 5
    # count + 2 would wrap around to a negative int32 near 2**31; it saturates instead.
    np.testing.assert_array_equal(huge_values_of(schedule), [2**31 - 1, 2**31 - 1])


@pytest.mark.parametrize(
    "schedules,boundaries,message",
    [
        ([], [], r"`join_schedules\(schedules=...\)` must hold at least one schedule; got \[\]."),
        (
            [identity, identity],
            [],
            r"`join_schedules` needs len\(boundaries\) == len\(schedules\) - 1 \(a boundary before "
            r"every schedule but the first\); got 2 schedules and boundaries=\[\].",
        ),
        ([identity], [3], r"got 1 schedules and boundaries=\[3\]."),
        (
            [identity] * 3,
            [5, 5],
            r"`join_schedules\(boundaries=...\)` must be strictly increasing; got "
            r"boundaries=\[5, 5\].",
        ),
        ([identity] * 3, [8, 5], r"must be strictly increasing; got boundaries=\[8, 5\]."),
        ([identity] * 2, ["5"], r"`join_schedules\(boundaries=...\)` must be a finite Python"),
    ],
)
def test_join_schedules_errors(schedules, boundaries, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        join_schedules(schedules, boundaries)


# ---------------------------------------------------------------- per_epoch


def test_per_epoch_steps_an_epoch_schedule(values_of) -> None:
    schedule = per_epoch(inverse_time_decay(1.0, 1.0), steps_per_epoch=2)
    np.testing.assert_allclose(values_of(schedule, 6), [1, 1, 0.5, 0.5, 1 / 3, 1 / 3], **R)


def test_per_epoch_passes_an_integer_epoch(values_of) -> None:
    seen = []

    def record(epoch):
        seen.append(epoch.dtype)
        return identity(epoch)

    np.testing.assert_array_equal(values_of(per_epoch(record, 3), 7), [0, 0, 0, 1, 1, 1, 2])
    assert seen == [jnp.int32]


def test_per_epoch_float_counts_are_floored() -> None:
    np.testing.assert_array_equal(per_epoch(identity, 2)(jnp.asarray([3.5, 4.0])), [1.0, 2.0])


def test_per_epoch_is_exact_at_huge_counts(huge_values_of) -> None:
    # (2**31 - 1) // 2 = 2**30 - 1; in float32 2**31 - 1 rounds to 2**31, which would give 2**30.
    values = huge_values_of(per_epoch(raw, 2))
    np.testing.assert_array_equal(values, [2**30 - 1, 2**30 - 1])


@pytest.mark.parametrize("steps", [0, -1, 2.5])
def test_per_epoch_rejects_bad_steps_per_epoch(steps) -> None:
    with pytest.raises(
        ValueError,
        match=rf"`per_epoch\(steps_per_epoch=...\)` must be a positive integer; "
        rf"got steps_per_epoch={steps}.",
    ):
        per_epoch(identity, steps)

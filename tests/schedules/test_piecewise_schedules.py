"""piecewise_constant, piecewise_interpolate, step (StepLR) and multistep (MultiStepLR)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from gradtx.schedules import (
    multistep_schedule,
    piecewise_constant_schedule,
    piecewise_interpolate_schedule,
    step_schedule,
)

R = dict(rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- piecewise_constant_schedule


def test_piecewise_constant_scales_apply_at_their_boundary(values_of) -> None:
    schedule = piecewise_constant_schedule(1.0, {4: 0.1, 2: 0.5})  # any order
    np.testing.assert_allclose(values_of(schedule, 6), [1, 1, 0.5, 0.5, 0.05, 0.05], **R)


def test_piecewise_constant_boundary_at_zero_applies_from_the_start(values_of) -> None:
    np.testing.assert_allclose(
        values_of(piecewise_constant_schedule(0.3, {0: 0.5, 2: 3.0}), 3), [0.15, 0.15, 0.45], **R
    )


@pytest.mark.parametrize("pieces", [None, {}])
def test_piecewise_constant_without_pieces_is_constant(values_of, pieces) -> None:
    np.testing.assert_array_equal(values_of(piecewise_constant_schedule(2.0, pieces), 3), [2.0] * 3)


def test_piecewise_constant_huge_counts(huge_values_of) -> None:
    schedule = piecewise_constant_schedule(1.0, {-3: 0.5, 4: 0.1, 2**40: 7.0})
    # The boundary 2**40 lies beyond int32 and is never reached; nothing overflows.
    np.testing.assert_allclose(huge_values_of(schedule), [0.05, 0.05], rtol=1e-6)


def test_piecewise_constant_rejects_a_negative_scale() -> None:
    with pytest.raises(
        ValueError,
        match=r"`piecewise_constant_schedule\(boundaries_and_scales\[3\]=...\)` must be "
        r"non-negative; got boundaries_and_scales\[3\]=-0.5.",
    ):
        piecewise_constant_schedule(1.0, {3: -0.5})


def test_piecewise_constant_rejects_a_non_dict() -> None:
    with pytest.raises(
        ValueError, match=r"must be a dict from step to scale; got .*\[\(3, 0.5\)\]"
    ):
        piecewise_constant_schedule(1.0, [(3, 0.5)])


def test_piecewise_constant_rejects_a_non_number_boundary() -> None:
    with pytest.raises(ValueError, match=r"boundaries_and_scales=...\)` must be a finite Python"):
        piecewise_constant_schedule(1.0, {"3": 0.5})


# ---------------------------------------------------------------- piecewise_interpolate_schedule


def test_piecewise_interpolate_linear(values_of) -> None:
    # Knots (0, 1), (2, 2), (6, 0.5).
    schedule = piecewise_interpolate_schedule("linear", 1.0, {6: 0.25, 2: 2.0})
    np.testing.assert_allclose(
        values_of(schedule, 8), [1, 1.5, 2, 1.625, 1.25, 0.875, 0.5, 0.5], **R
    )


def test_piecewise_interpolate_cosine(values_of) -> None:
    # 0.5 + 0.5 * (1 + cos(pi t / 4)) / 2: (1 + cos(pi/4)) / 2 = 0.85355339.
    schedule = piecewise_interpolate_schedule("cosine", 1.0, {4: 0.5})
    np.testing.assert_allclose(
        values_of(schedule, 6), [1, 0.92677670, 0.75, 0.57322330, 0.5, 0.5], **R
    )


def test_piecewise_interpolate_boundary_at_zero_jumps(values_of) -> None:
    schedule = piecewise_interpolate_schedule("linear", 1.0, {0: 0.5, 4: 0.5})
    np.testing.assert_allclose(values_of(schedule, 6), [0.5, 0.4375, 0.375, 0.3125, 0.25, 0.25])


def test_piecewise_interpolate_zero_scale(values_of) -> None:
    schedule = piecewise_interpolate_schedule("linear", 2.0, {4: 0.0, 8: 5.0})
    np.testing.assert_allclose(values_of(schedule, 10), [2, 1.5, 1, 0.5, 0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("kind", ["Linear", "quadratic", None])
def test_piecewise_interpolate_rejects_an_unknown_type(kind) -> None:
    with pytest.raises(
        ValueError,
        match=r"`piecewise_interpolate_schedule\(interpolate_type=...\)` must be one of "
        r"'linear', 'cosine'; got interpolate_type=",
    ):
        piecewise_interpolate_schedule(kind, 1.0, {3: 0.5})


def test_piecewise_interpolate_rejects_a_negative_scale() -> None:
    with pytest.raises(ValueError, match=r"boundaries_and_scales\[3\]=...\)` must be non-negative"):
        piecewise_interpolate_schedule("cosine", 1.0, {3: -1.0})


# ---------------------------------------------------------------- step_schedule


def test_step_schedule_values(values_of) -> None:
    np.testing.assert_allclose(
        values_of(step_schedule(1.0, 2, 0.5), 7), [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125], **R
    )
    # Default gamma 0.1: changes exactly at multiples of step_size.
    np.testing.assert_allclose(
        values_of(step_schedule(2.0, 3), 7), [2, 2, 2, 0.2, 0.2, 0.2, 0.02], **R
    )


def test_step_schedule_huge_counts(huge_values_of) -> None:
    np.testing.assert_array_equal(huge_values_of(step_schedule(1.0, 3, 0.5)), [0.0, 0.0])
    np.testing.assert_array_equal(huge_values_of(step_schedule(1.0, 3, 1.0)), [1.0, 1.0])


@pytest.mark.parametrize("size", [0, -2, 2.5])
def test_step_schedule_rejects_bad_step_size(size) -> None:
    with pytest.raises(
        ValueError,
        match=rf"`step_schedule\(step_size=...\)` must be a positive integer; "
        rf"got step_size={size}.",
    ):
        step_schedule(1.0, size)


def test_step_schedule_rejects_a_negative_gamma() -> None:
    with pytest.raises(ValueError, match=r"`step_schedule\(gamma=...\)` must be non-negative"):
        step_schedule(1.0, 2, -0.5)


# ---------------------------------------------------------------- multistep_schedule


def test_multistep_schedule_values(values_of) -> None:
    np.testing.assert_allclose(
        values_of(multistep_schedule(1.0, [1, 4], 0.5), 6), [1, 0.5, 0.5, 0.5, 0.25, 0.25], **R
    )
    np.testing.assert_allclose(values_of(multistep_schedule(1.0, (0, 2)), 3), [0.1, 0.1, 0.01], **R)


def test_multistep_schedule_without_milestones_is_constant(values_of) -> None:
    np.testing.assert_array_equal(values_of(multistep_schedule(0.3, []), 2), np.float32([0.3, 0.3]))


def test_multistep_schedule_huge_counts(huge_values_of) -> None:
    np.testing.assert_allclose(
        huge_values_of(multistep_schedule(1.0, [5, 2**31 - 1], 0.5)), [0.5, 0.25], rtol=1e-6
    )


@pytest.mark.parametrize(
    "milestones,message",
    [
        ([3, 2], "must be strictly increasing; got milestones=[3, 2]."),
        ([2, 2], "must be strictly increasing; got milestones=[2, 2]."),
        ([-1, 2], "must be a non-negative integer; got milestones=-1."),
        ([1.5], "must be a non-negative integer; got milestones=1.5."),
        (5, "must be a sequence of strictly increasing non-negative integers; got milestones=5."),
        ("12", "must be a sequence of strictly increasing non-negative integers"),
    ],
)
def test_multistep_schedule_rejects_bad_milestones(milestones, message: str) -> None:
    with pytest.raises(ValueError) as info:
        multistep_schedule(1.0, milestones)
    assert str(info.value).startswith("`multistep_schedule(milestones=...)` " + message)


def test_piecewise_schedules_take_python_and_float_counts() -> None:
    schedule = step_schedule(1.0, 2, 0.5)
    assert float(schedule(3)) == 0.5
    assert float(schedule(jnp.float32(4.0))) == 0.25
    assert float(schedule(3.5)) == 0.5

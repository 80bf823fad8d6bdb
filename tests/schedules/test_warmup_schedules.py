"""Warmup schedules: constant, cosine, exponential, inverse sqrt and warmup-stable-decay."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradtx.schedules import (
    inverse_sqrt_schedule,
    warmup_constant_schedule,
    warmup_cosine_decay_schedule,
    warmup_exponential_decay_schedule,
    warmup_stable_decay_schedule,
)

R = dict(rtol=1e-6, atol=1e-7)
# (1 + cos(pi k / 4)) / 2 for k = 1, 2, 3.
C1, C2, C3 = 0.85355339, 0.5, 0.14644661


# ---------------------------------------------------------------- warmup_constant_schedule


def test_warmup_constant_values(values_of) -> None:
    np.testing.assert_allclose(
        values_of(warmup_constant_schedule(0.0, 1.0, 4), 6), [0, 0.25, 0.5, 0.75, 1, 1], **R
    )
    np.testing.assert_allclose(
        values_of(warmup_constant_schedule(1.0, 0.5, 2), 4), [1, 0.75, 0.5, 0.5], **R
    )


def test_warmup_constant_without_warmup_is_the_peak(values_of) -> None:
    # optax 0.2.8 returns init_value (0.1) here; gradtx returns peak_value.
    np.testing.assert_array_equal(values_of(warmup_constant_schedule(0.1, 1.0, 0), 3), [1.0] * 3)


@pytest.mark.parametrize(
    "build",
    [
        lambda: warmup_constant_schedule(0.0, 1.0, -1),
        lambda: warmup_cosine_decay_schedule(0.0, 1.0, -1, 10),
        lambda: warmup_exponential_decay_schedule(0.0, 1.0, -1, 3, 0.5),
    ],
    ids=["constant", "cosine", "exponential"],
)
def test_warmup_schedules_reject_negative_warmup_steps(build) -> None:
    with pytest.raises(
        ValueError, match=r"^`warmup_\w+_schedule\(warmup_steps=...\)` must be non-negative; "
    ):
        build()


# ---------------------------------------------------------------- warmup_cosine_decay_schedule


def test_warmup_cosine_decay_values(values_of) -> None:
    # Warm up over 2 steps, then 4 cosine steps from 1.0 to 0.0; total decay_steps = 6.
    np.testing.assert_allclose(
        values_of(warmup_cosine_decay_schedule(0.0, 1.0, 2, 6), 8),
        [0, 0.5, 1, C1, C2, C3, 0, 0],
        **R,
    )


def test_warmup_cosine_decay_end_value_and_exponent(values_of) -> None:
    schedule = warmup_cosine_decay_schedule(0.2, 1.0, 2, 6, end_value=0.1, exponent=2.0)
    expected = [0.2, 0.6, 1.0] + [0.1 + 0.9 * c**2 for c in (C1, C2, C3)] + [0.1, 0.1]
    np.testing.assert_allclose(values_of(schedule, 8), expected, **R)


def test_warmup_cosine_decay_with_zero_peak_decays_to_end_value(values_of) -> None:
    # optax ignores end_value when peak_value == 0; gradtx goes from 0.0 to end_value.
    schedule = warmup_cosine_decay_schedule(0.1, 0.0, 2, 6, end_value=0.01)
    np.testing.assert_allclose(
        values_of(schedule, 8),
        [0.1, 0.05, 0, 0.01 * (1 - C1), 0.005, 0.01 * (1 - C3), 0.01, 0.01],
        **R,
    )


@pytest.mark.parametrize("decay_steps", [5, 4])
def test_warmup_cosine_decay_rejects_decay_steps_not_beyond_warmup(decay_steps: int) -> None:
    with pytest.raises(
        ValueError,
        match=rf"`warmup_cosine_decay_schedule\(decay_steps=...\)` must be greater than "
        rf"warmup_steps \(it is the total length, warmup included\); got "
        rf"decay_steps={decay_steps}, warmup_steps=5.",
    ):
        warmup_cosine_decay_schedule(0.0, 1.0, 5, decay_steps)


def test_warmup_cosine_decay_rejects_a_negative_exponent() -> None:
    with pytest.raises(ValueError, match=r"`warmup_cosine_decay_schedule\(exponent=...\)` must be"):
        warmup_cosine_decay_schedule(0.0, 1.0, 2, 6, exponent=-0.5)


# ---------------------------------------------------------------- warmup_exponential_decay


def test_warmup_exponential_decay_values(values_of) -> None:
    np.testing.assert_allclose(
        values_of(warmup_exponential_decay_schedule(0.0, 1.0, 2, 1, 0.5), 6),
        [0, 0.5, 1, 0.5, 0.25, 0.125],
        **R,
    )


def test_warmup_exponential_decay_begin_staircase_and_end(values_of) -> None:
    schedule = warmup_exponential_decay_schedule(
        0.1, 1.0, 5, 3, 0.5, transition_begin=2, staircase=True, end_value=0.2
    )
    # Warmup to step 5, hold through 5 + 2 + 2, halve at 10 and 13, floor 0.2 from 16.
    np.testing.assert_allclose(
        values_of(schedule, 17),
        [0.1, 0.28, 0.46, 0.64, 0.82, 1, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2],
        **R,
    )


def test_warmup_exponential_decay_without_warmup(values_of) -> None:
    np.testing.assert_allclose(
        values_of(warmup_exponential_decay_schedule(0.1, 1.0, 0, 1, 0.5), 3), [1, 0.5, 0.25], **R
    )


def test_warmup_exponential_decay_errors_name_the_function() -> None:
    with pytest.raises(
        ValueError, match=r"`warmup_exponential_decay_schedule\(decay_rate=...\)` must be non-neg"
    ):
        warmup_exponential_decay_schedule(0.1, 1.0, 2, 3, -0.5)
    with pytest.warns(UserWarning, match="`warmup_exponential_decay_schedule`: transition_steps=0"):
        warmup_exponential_decay_schedule(0.1, 1.0, 2, 0, 0.5)


# ---------------------------------------------------------------- inverse_sqrt_schedule


def test_inverse_sqrt_values(values_of) -> None:
    # Warmup 0 -> 1 over 4 steps, then sqrt(4 / t).
    values = values_of(inverse_sqrt_schedule(1.0, 4), 17)
    np.testing.assert_allclose(values[:5], [0, 0.25, 0.5, 0.75, 1], **R)
    np.testing.assert_allclose(values[5:], [math.sqrt(4 / t) for t in range(5, 17)], **R)
    assert values[16] == pytest.approx(0.5, rel=1e-6)


def test_inverse_sqrt_is_continuous_at_the_end_of_warmup(values_of) -> None:
    values = values_of(inverse_sqrt_schedule(2.0, 10, timescale=3), 12)
    assert values[10] == 2.0  # exactly the peak
    assert values[9] == pytest.approx(1.8, rel=1e-6)
    assert values[11] == pytest.approx(2.0 * math.sqrt(3 / 4), rel=1e-6)


def test_inverse_sqrt_is_the_noam_schedule(values_of) -> None:
    """peak * min(t / W, sqrt(W / t)) with peak = (d W) ** -0.5 is Vaswani et al.'s
    d ** -0.5 * min(t ** -0.5, t * W ** -1.5)."""
    d, w = 512, 40
    t = np.arange(1, 64)
    noam = d**-0.5 * np.minimum(t**-0.5, t * w**-1.5)
    values = values_of(inverse_sqrt_schedule((d * w) ** -0.5, w))
    np.testing.assert_allclose(values[1:], noam, rtol=1e-6)


def test_inverse_sqrt_without_warmup(values_of) -> None:
    values = values_of(inverse_sqrt_schedule(1.0, 0, timescale=10))
    assert values[0] == 1.0
    assert values[30] == pytest.approx(0.5, rel=1e-6)


def test_inverse_sqrt_huge_counts(huge_values_of) -> None:
    np.testing.assert_allclose(
        huge_values_of(inverse_sqrt_schedule(1.0, 100)), [math.sqrt(100 / 2**31)] * 2, rtol=1e-6
    )


def test_inverse_sqrt_needs_a_timescale_without_warmup() -> None:
    with pytest.raises(
        ValueError,
        match=r"`inverse_sqrt_schedule\(timescale=...\)` is required when warmup_steps=0",
    ):
        inverse_sqrt_schedule(1.0, 0)


@pytest.mark.parametrize("timescale", [0, -5.0])
def test_inverse_sqrt_rejects_a_non_positive_timescale(timescale) -> None:
    with pytest.raises(
        ValueError,
        match=rf"`inverse_sqrt_schedule\(timescale=...\)` must be positive; got "
        rf"timescale={timescale}.",
    ):
        inverse_sqrt_schedule(1.0, 10, timescale)


@pytest.mark.parametrize("warmup", [-1, 2.5])
def test_inverse_sqrt_rejects_bad_warmup(warmup) -> None:
    with pytest.raises(
        ValueError, match=r"`inverse_sqrt_schedule\(warmup_steps=...\)` must be a non-negative int"
    ):
        inverse_sqrt_schedule(1.0, warmup)


# ---------------------------------------------------------------- warmup_stable_decay_schedule


@pytest.mark.parametrize(
    "decay_type,decay",
    [
        ("linear", [0.75, 0.5, 0.25]),
        ("cosine", [C1, C2, C3]),
        # 1 - sqrt(k / 4): 1 - 0.5, 1 - 0.70710678, 1 - 0.8660254.
        ("sqrt", [0.5, 0.29289322, 0.1339746]),
    ],
)
def test_warmup_stable_decay_values(values_of, decay_type: str, decay: list[float]) -> None:
    schedule = warmup_stable_decay_schedule(1.0, 2, 2, 4, decay_type=decay_type)
    # Warmup 0..2, stable 2..4, decay 4..8, then end_value.
    np.testing.assert_allclose(values_of(schedule, 10), [0, 0.5, 1, 1, 1, *decay, 0, 0], **R)


def test_warmup_stable_decay_init_and_end_values(values_of) -> None:
    schedule = warmup_stable_decay_schedule(1.0, 2, 1, 2, init_value=0.2, end_value=0.1)
    np.testing.assert_allclose(values_of(schedule, 7), [0.2, 0.6, 1, 1, 0.55, 0.1, 0.1], **R)


def test_warmup_stable_decay_degenerate_phases(values_of) -> None:
    # No warmup and no stable phase: decay from the start.
    np.testing.assert_allclose(
        values_of(warmup_stable_decay_schedule(1.0, 0, 0, 2), 3), [1, 0.5, 0], **R
    )
    # No decay phase: jump to end_value after the stable phase.
    np.testing.assert_allclose(
        values_of(warmup_stable_decay_schedule(1.0, 1, 2, 0, end_value=0.3), 5),
        [0, 1, 1, 0.3, 0.3],
        **R,
    )


def test_warmup_stable_decay_rejects_an_unknown_decay_type() -> None:
    with pytest.raises(
        ValueError,
        match=r"`warmup_stable_decay_schedule\(decay_type=...\)` must be one of 'linear', "
        r"'cosine', 'sqrt'; got decay_type='exp'.",
    ):
        warmup_stable_decay_schedule(1.0, 2, 2, 4, decay_type="exp")


@pytest.mark.parametrize("name", ["warmup_steps", "stable_steps", "decay_steps"])
@pytest.mark.parametrize("bad", [-1, 2.5])
def test_warmup_stable_decay_rejects_bad_lengths(name: str, bad) -> None:
    lengths = dict(warmup_steps=2, stable_steps=2, decay_steps=4) | {name: bad}
    with pytest.raises(
        ValueError,
        match=rf"`warmup_stable_decay_schedule\({name}=...\)` must be a non-negative integer; "
        rf"got {name}={bad}.",
    ):
        warmup_stable_decay_schedule(1.0, **lengths)

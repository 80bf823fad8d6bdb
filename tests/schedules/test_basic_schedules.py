"""constant, linear, polynomial, exponential, inverse-time and cosine schedules.

Expected numbers are worked out by hand from the formulas in the docstrings (the
irrational ones with numpy, noted next to them).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradtx.schedules import (
    constant_schedule,
    cosine_decay_schedule,
    exponential_decay,
    inverse_time_decay,
    linear_schedule,
    polynomial_schedule,
)

R = dict(rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- constant_schedule


def test_constant_schedule_broadcasts_to_the_count(values_of) -> None:
    np.testing.assert_allclose(values_of(constant_schedule(0.1), 3), [0.1, 0.1, 0.1], **R)
    scalar = constant_schedule(0.1)(7)
    assert scalar.shape == () and scalar.dtype == jnp.float32


def test_constant_schedule_returns_a_float_for_an_int_value() -> None:
    value = constant_schedule(3)(jnp.arange(2))
    assert value.dtype == jnp.float32
    np.testing.assert_array_equal(value, [3.0, 3.0])


def test_constant_schedule_keeps_a_low_precision_value_dtype() -> None:
    value = constant_schedule(jnp.asarray(0.5, jnp.bfloat16))(jnp.arange(2))
    assert value.dtype == jnp.bfloat16


# ---------------------------------------------------------------- linear / polynomial


def test_linear_schedule_values(values_of) -> None:
    np.testing.assert_allclose(
        values_of(linear_schedule(1.0, 0.0, 4), 7), [1, 0.75, 0.5, 0.25, 0, 0, 0], **R
    )


def test_linear_schedule_transition_begin(values_of) -> None:
    # Constant until step 2, then 4 steps down from 2.0 to 1.0, exactly 1.0 at step 6.
    np.testing.assert_allclose(
        values_of(linear_schedule(2.0, 1.0, 4, transition_begin=2), 8),
        [2, 2, 2, 1.75, 1.5, 1.25, 1, 1],
        **R,
    )


def test_linear_schedule_bf16_value_is_computed_in_float32() -> None:
    value = linear_schedule(jnp.asarray(1.0, jnp.bfloat16), 0.0, 1000)(jnp.asarray(999))
    assert value.dtype == jnp.bfloat16
    np.testing.assert_allclose(float(value), 0.001, rtol=1e-2)


def test_polynomial_schedule_values(values_of) -> None:
    # (1 - t/4)**2
    np.testing.assert_allclose(
        values_of(polynomial_schedule(1.0, 0.0, 2, 4), 6),
        [1, 0.5625, 0.25, 0.0625, 0, 0],
        **R,
    )
    # 0.9 * (1 - t/4)**0.5 + 0.1; sqrt(3/4) = 0.8660254, sqrt(1/2) = 0.7071068, sqrt(1/4) = 0.5.
    np.testing.assert_allclose(
        values_of(polynomial_schedule(1.0, 0.1, 0.5, 4), 6),
        [1, 0.87942286, 0.73639610, 0.55, 0.1, 0.1],
        **R,
    )


def test_polynomial_schedule_fractional_power_under_jit_is_not_nan() -> None:
    """Under jit XLA computes s / 13 as s * (1 / 13) = 1 + 4e-8 at s = 13, and
    (1 - 1.00000004) ** 0.5 would be NaN (optax 0.2.8 returns NaN here)."""
    schedule = jax.jit(polynomial_schedule(2.0, 0.5, 0.5, 13, transition_begin=5))
    values = np.asarray(schedule(jnp.arange(16, 24)))
    np.testing.assert_array_equal(values[2:], np.float32([0.5] * 6))
    # 1.5 * sqrt(1 - 11/13) + 0.5 and 1.5 * sqrt(1 - 12/13) + 0.5.
    np.testing.assert_allclose(values[:2], [1.08834841, 0.91602515], rtol=1e-6)


def test_polynomial_schedule_power_zero_is_constant(values_of) -> None:
    np.testing.assert_allclose(values_of(polynomial_schedule(1.0, 0.0, 0, 4), 6), np.ones(6))


@pytest.mark.parametrize("steps", [0, -3])
def test_linear_schedule_non_positive_transition_steps_warns_and_is_constant(
    values_of, steps: int
) -> None:
    with pytest.warns(UserWarning, match=rf"`linear_schedule`: transition_steps={steps} is not"):
        schedule = linear_schedule(1.0, 0.0, steps)
    np.testing.assert_array_equal(values_of(schedule, 3), [1.0, 1.0, 1.0])


def test_linear_schedule_negative_transition_begin_warns_and_uses_zero(values_of) -> None:
    with pytest.warns(UserWarning, match="transition_begin=-3 is negative; using 0"):
        schedule = linear_schedule(1.0, 0.0, 4, transition_begin=-3)
    np.testing.assert_allclose(values_of(schedule, 5), [1, 0.75, 0.5, 0.25, 0], **R)


def test_polynomial_schedule_rejects_a_negative_power() -> None:
    with pytest.raises(
        ValueError,
        match=r"`polynomial_schedule\(power=...\)` must be non-negative; got power=-1.0.",
    ):
        polynomial_schedule(1.0, 0.0, -1.0, 4)


@pytest.mark.parametrize("bad", ["10", None, float("nan"), jnp.arange(2)])
def test_linear_schedule_rejects_a_non_number_of_steps(bad) -> None:
    with pytest.raises(ValueError, match=r"`linear_schedule\(transition_steps=...\)` must be a"):
        linear_schedule(1.0, 0.0, bad)


# ---------------------------------------------------------------- exponential_decay


def test_exponential_decay_values(values_of) -> None:
    # 0.5 ** (t / 2); 0.5 ** 0.5 = 0.70710678.
    np.testing.assert_allclose(
        values_of(exponential_decay(1.0, 2, 0.5), 5),
        [1, 0.70710678, 0.5, 0.35355339, 0.25],
        **R,
    )


def test_exponential_decay_staircase_and_begin(values_of) -> None:
    schedule = exponential_decay(1.0, 2, 0.5, transition_begin=3, staircase=True)
    # Constant through step 3 + 1; halves at 3 + 2 = 5, again at 7.
    np.testing.assert_allclose(values_of(schedule, 9), [1, 1, 1, 1, 1, 0.5, 0.5, 0.25, 0.25], **R)


def test_exponential_decay_end_value_is_a_floor_or_a_ceiling(values_of) -> None:
    np.testing.assert_allclose(
        values_of(exponential_decay(1.0, 1, 0.5, end_value=0.2), 5), [1, 0.5, 0.25, 0.2, 0.2], **R
    )
    np.testing.assert_allclose(
        values_of(exponential_decay(1.0, 1, 2.0, end_value=5.0), 5), [1, 2, 4, 5, 5], **R
    )


def test_exponential_decay_huge_counts(huge_values_of) -> None:
    np.testing.assert_array_equal(huge_values_of(exponential_decay(1.0, 3, 0.5)), [0.0, 0.0])
    np.testing.assert_array_equal(
        huge_values_of(exponential_decay(1.0, 3, 2.0, end_value=5.0)), [5.0, 5.0]
    )
    # Unbounded growth overflows, as documented.
    np.testing.assert_array_equal(huge_values_of(exponential_decay(1.0, 3, 2.0)), [np.inf] * 2)


def test_exponential_decay_rejects_a_negative_rate() -> None:
    with pytest.raises(
        ValueError,
        match=r"`exponential_decay\(decay_rate=...\)` must be non-negative; got decay_rate=-0.5.",
    ):
        exponential_decay(1.0, 3, -0.5)


def test_exponential_decay_zero_rate_warns_and_is_constant(values_of) -> None:
    with pytest.warns(UserWarning, match="`exponential_decay`: decay_rate=0"):
        schedule = exponential_decay(2.0, 3, 0.0)
    np.testing.assert_array_equal(values_of(schedule, 3), [2.0, 2.0, 2.0])


def test_exponential_decay_traced_rate_is_not_checked_but_works() -> None:
    def value(rate):
        return exponential_decay(1.0, 1, rate)(2)

    np.testing.assert_allclose(jax.jit(value)(0.5), 0.25, rtol=1e-6)


# ---------------------------------------------------------------- inverse_time_decay


def test_inverse_time_decay_values(values_of) -> None:
    # 1 / (1 + 0.5 t)
    np.testing.assert_allclose(
        values_of(inverse_time_decay(1.0, 0.5), 4), [1, 1 / 1.5, 0.5, 0.4], **R
    )
    # 1 / (1 + 0.5 t / 2)
    np.testing.assert_allclose(
        values_of(inverse_time_decay(1.0, 0.5, 2), 5), [1, 0.8, 1 / 1.5, 1 / 1.75, 0.5], **R
    )


def test_inverse_time_decay_staircase(values_of) -> None:
    np.testing.assert_allclose(
        values_of(inverse_time_decay(3.0, 1.0, 2, staircase=True), 6), [3, 3, 1.5, 1.5, 1, 1], **R
    )


def test_inverse_time_decay_huge_count(huge_values_of) -> None:
    # 1 / (1 + 0.5 * 2**31) = 9.3132e-10 in float32 (2**31 - 1 rounds to 2**31).
    np.testing.assert_allclose(
        huge_values_of(inverse_time_decay(1.0, 0.5)), [1 / (1 + 2**30)] * 2, rtol=1e-6
    )


@pytest.mark.parametrize("steps", [0, -1, 1.5, True])
def test_inverse_time_decay_rejects_bad_transition_steps(steps) -> None:
    with pytest.raises(
        ValueError,
        match=rf"`inverse_time_decay\(transition_steps=...\)` must be a positive integer; "
        rf"got transition_steps={steps!r}.",
    ):
        inverse_time_decay(1.0, 0.5, steps)


def test_inverse_time_decay_accepts_an_integral_float_of_steps(values_of) -> None:
    np.testing.assert_allclose(values_of(inverse_time_decay(1.0, 1.0, 2.0), 3), [1, 2 / 3, 0.5])


def test_inverse_time_decay_rejects_a_negative_rate() -> None:
    with pytest.raises(ValueError, match=r"`inverse_time_decay\(decay_rate=...\)` must be non-neg"):
        inverse_time_decay(1.0, -0.1)


# ---------------------------------------------------------------- cosine_decay_schedule


def test_cosine_decay_schedule_values(values_of) -> None:
    # 0.9 * (1 + cos(pi t / 4)) / 2 + 0.1: (1 + cos(pi/4)) / 2 = 0.85355339.
    np.testing.assert_allclose(
        values_of(cosine_decay_schedule(1.0, 4, alpha=0.1), 6),
        [1, 0.86819805, 0.55, 0.23180195, 0.1, 0.1],
        **R,
    )


def test_cosine_decay_schedule_exponent(values_of) -> None:
    # 2 * ((1 + cos(pi t / 4)) / 2) ** 2: 0.85355339**2 = 0.72855339, 0.14644661**2 = 0.02144661.
    np.testing.assert_allclose(
        values_of(cosine_decay_schedule(2.0, 4, exponent=2.0), 5),
        [2, 1.45710678, 0.5, 0.04289322, 0],
        **R,
    )


@pytest.mark.parametrize("steps", [0, -1])
def test_cosine_decay_schedule_rejects_non_positive_steps(steps: int) -> None:
    with pytest.raises(
        ValueError,
        match=rf"`cosine_decay_schedule\(decay_steps=...\)` must be positive; "
        rf"got decay_steps={steps}.",
    ):
        cosine_decay_schedule(1.0, steps)


def test_cosine_decay_schedule_rejects_a_negative_exponent() -> None:
    with pytest.raises(
        ValueError, match=r"`cosine_decay_schedule\(exponent=...\)` must be non-neg"
    ):
        cosine_decay_schedule(1.0, 4, exponent=-1.0)

"""cyclic_schedule (CyclicLR), cosine_restarts_schedule (SGDR restarts) and sgdr_schedule."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradtx.schedules import cosine_restarts_schedule, cyclic_schedule, sgdr_schedule

R = dict(rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- cyclic_schedule


def test_cyclic_triangular(values_of) -> None:
    np.testing.assert_allclose(
        values_of(cyclic_schedule(0.0, 1.0, 2), 9), [0, 0.5, 1, 0.5, 0, 0.5, 1, 0.5, 0], **R
    )
    # Up 2, down 3: cycle of 5.
    np.testing.assert_allclose(
        values_of(cyclic_schedule(1.0, 4.0, 2, 3), 11),
        [1, 2.5, 4, 3, 2, 1, 2.5, 4, 3, 2, 1],
        **R,
    )


def test_cyclic_sawtooth_without_a_way_down(values_of) -> None:
    np.testing.assert_allclose(
        values_of(cyclic_schedule(0.0, 3.0, 3, 0), 7), [0, 1, 2, 0, 1, 2, 0], **R
    )


def test_cyclic_triangular2_halves_the_amplitude_every_cycle(values_of) -> None:
    np.testing.assert_allclose(
        values_of(cyclic_schedule(0.0, 1.0, 2, mode="triangular2"), 13),
        [0, 0.5, 1, 0.5, 0, 0.25, 0.5, 0.25, 0, 0.125, 0.25, 0.125, 0],
        **R,
    )


def test_cyclic_exp_range_scales_by_gamma_to_the_step(values_of) -> None:
    # Up 1, down 1: the top at odd steps t, where the value is gamma ** t.
    values = values_of(cyclic_schedule(0.0, 1.0, 1, mode="exp_range", gamma=0.5), 6)
    np.testing.assert_allclose(values, [0, 0.5, 0, 0.125, 0, 0.03125], **R)


def test_cyclic_gamma_is_ignored_outside_exp_range(values_of) -> None:
    np.testing.assert_allclose(
        values_of(cyclic_schedule(0.0, 1.0, 2, gamma=5.0), 3), [0, 0.5, 1], **R
    )


def test_cyclic_is_exact_at_huge_integer_counts(huge_values_of) -> None:
    # 2**31 - 2 is even (bottom), 2**31 - 1 odd (top); float32 could not tell them apart.
    np.testing.assert_array_equal(
        huge_values_of(cyclic_schedule(0.1, 1.0, 1)), np.float32([0.1, 1.0])
    )
    np.testing.assert_array_equal(
        jax.jit(cyclic_schedule(0.1, 1.0, 1))(jnp.int32(2**31 - 1)), jnp.float32(1.0)
    )
    np.testing.assert_allclose(
        huge_values_of(cyclic_schedule(0.1, 1.0, 1, mode="triangular2")), [0.1, 0.1], rtol=1e-6
    )
    np.testing.assert_allclose(
        huge_values_of(cyclic_schedule(0.1, 1.0, 1, mode="exp_range", gamma=0.9)),
        [0.1, 0.1],
        rtol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (
            dict(step_size_up=0),
            r"`cyclic_schedule(step_size_up=...)` must be a positive integer; got step_size_up=0.",
        ),
        (
            dict(step_size_up=2.5),
            r"`cyclic_schedule(step_size_up=...)` must be a positive integer; "
            r"got step_size_up=2.5.",
        ),
        (
            dict(step_size_down=-1),
            r"`cyclic_schedule(step_size_down=...)` must be a non-negative integer; "
            r"got step_size_down=-1.",
        ),
        (
            dict(mode="exp"),
            r"`cyclic_schedule(mode=...)` must be one of 'triangular', 'triangular2', "
            r"'exp_range'; got mode='exp'.",
        ),
        (
            dict(mode="exp_range", gamma=1.5),
            r"`cyclic_schedule(gamma=...)` must be in (0, 1]; got gamma=1.5.",
        ),
        (
            dict(mode="exp_range", gamma=0.0),
            r"`cyclic_schedule(gamma=...)` must be in (0, 1]; got gamma=0.0.",
        ),
    ],
)
def test_cyclic_errors(kwargs: dict, message: str) -> None:
    arguments = dict(base_value=0.1, max_value=1.0, step_size_up=2) | kwargs
    with pytest.raises(ValueError) as info:
        cyclic_schedule(**arguments)
    assert str(info.value) == message


# ---------------------------------------------------------------- cosine_restarts_schedule


def restarts_reference(init: float, first: int, mult: int, low: float, n: int) -> np.ndarray:
    """An independent loop over periods (torch's T_cur / T_i bookkeeping), in float64."""
    out, position, period = [], 0, first
    for _ in range(n):
        out.append(low + (init - low) * (1 + math.cos(math.pi * position / period)) / 2)
        position += 1
        if position >= period:
            position, period = 0, period * mult
    return np.asarray(out)


@pytest.mark.parametrize("first,mult", [(3, 1), (2, 2), (1, 2), (2, 3), (5, 4)])
def test_cosine_restarts_against_a_loop(values_of, first: int, mult: int) -> None:
    np.testing.assert_allclose(
        values_of(cosine_restarts_schedule(0.7, first, mult, 0.1)),
        restarts_reference(0.7, first, mult, 0.1, 64),
        **R,
    )


def test_cosine_restarts_restart_exactly_at_period_boundaries(values_of) -> None:
    # Periods 2, 4, 8, 16, 32 start at 0, 2, 6, 14, 30.
    values = values_of(cosine_restarts_schedule(1.0, 2, 2))
    np.testing.assert_array_equal(values[[0, 2, 6, 14, 30, 62]], [1.0] * 6)
    # The step before a restart is one step short of the end of its period:
    # (1 + cos(7 pi / 8)) / 2 = 0.03806023, (1 + cos(15 pi / 16)) / 2 = 0.00960736.
    np.testing.assert_allclose(values[[13, 29]], [0.03806023, 0.00960736], rtol=1e-6, atol=1e-7)


def test_cosine_restarts_closed_form_at_large_counts_under_jit() -> None:
    """Periods 1, 2, 4, ...: period k starts at 2**k - 1, where the logarithm may land one
    period off, which the correction step must fix. Checked around k = 20 and k = 23."""
    schedule = jax.jit(cosine_restarts_schedule(1.0, 1, 2))
    counts = [2**k + d for k in (20, 23) for d in (-2, -1, 0)]
    expected = []
    for k in (20, 23):
        last = (1 + math.cos(math.pi * (2 ** (k - 1) - 1) / 2 ** (k - 1))) / 2
        first = (1 + math.cos(math.pi / 2**k)) / 2
        expected += [last, 1.0, first]
    values = schedule(jnp.asarray(counts, dtype=jnp.int32))
    np.testing.assert_allclose(values, expected, rtol=1e-6, atol=1e-7)


def test_cosine_restarts_huge_counts(huge_values_of) -> None:
    # 2**31 - 2 = 0 and 2**31 - 1 = 1 (mod 3): a restart, then one step into the period of
    # 3, exactly, with integer arithmetic; 0.1 + 0.9 * (1 + cos(pi / 3)) / 2 = 0.775.
    np.testing.assert_allclose(
        huge_values_of(cosine_restarts_schedule(1.0, 3, 1, 0.1)), [1.0, 0.775], **R
    )
    for mult in (2, 3, 10):
        values = huge_values_of(cosine_restarts_schedule(1.0, 7, mult, 0.1))
        assert np.all((values >= 0.1) & (values <= 1.0)), values


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (
            dict(first_period=0),
            "first_period=...)` must be a positive integer; got first_period=0.",
        ),
        (dict(first_period=2.5), "must be a positive integer; got first_period=2.5."),
        (dict(period_mult=0), "period_mult=...)` must be a positive integer; got period_mult=0."),
        (dict(period_mult=1.5), "must be a positive integer; got period_mult=1.5."),
    ],
)
def test_cosine_restarts_errors(kwargs: dict, message: str) -> None:
    arguments = dict(init_value=1.0, first_period=3) | kwargs
    with pytest.raises(ValueError) as info:
        cosine_restarts_schedule(**arguments)
    assert str(info.value).startswith("`cosine_restarts_schedule(")
    assert str(info.value).endswith(message)


# ---------------------------------------------------------------- sgdr_schedule


def test_sgdr_restarts_each_cycle(values_of) -> None:
    cycles = [
        dict(init_value=0.0, peak_value=1.0, warmup_steps=1, decay_steps=3),
        dict(init_value=0.5, peak_value=0.5, warmup_steps=0, decay_steps=2, end_value=0.1),
    ]
    # Cycle 1: 0, 1, 0.5 (steps 0..2); cycle 2 from step 3: 0.5, 0.3, then 0.1 forever.
    np.testing.assert_allclose(
        values_of(sgdr_schedule(cycles), 8), [0, 1, 0.5, 0.5, 0.3, 0.1, 0.1, 0.1], **R
    )


def test_sgdr_accepts_a_generator(values_of) -> None:
    cycle = dict(init_value=0.0, peak_value=1.0, warmup_steps=1, decay_steps=3)
    schedule = sgdr_schedule(cycle for _ in range(2))
    np.testing.assert_allclose(values_of(schedule, 7), [0, 1, 0.5, 0, 1, 0.5, 0], **R)


def test_sgdr_errors() -> None:
    with pytest.raises(ValueError, match=r"`sgdr_schedule\(cosine_kwargs=...\)` must hold at"):
        sgdr_schedule([])
    with pytest.raises(ValueError, match=r"with decay_steps; got entry 1: \{'init_value': 0.0\}"):
        sgdr_schedule(
            [
                dict(init_value=0.0, peak_value=1.0, warmup_steps=0, decay_steps=3),
                dict(init_value=0.0),
            ]
        )
    with pytest.raises(ValueError, match=r"`warmup_cosine_decay_schedule\(decay_steps=...\)`"):
        sgdr_schedule([dict(init_value=0.0, peak_value=1.0, warmup_steps=4, decay_steps=3)])

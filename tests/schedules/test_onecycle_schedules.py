"""linear_onecycle_schedule and cosine_onecycle_schedule."""

from __future__ import annotations

import numpy as np
import pytest

from gradtx.schedules import cosine_onecycle_schedule, linear_onecycle_schedule

R = dict(rtol=1e-6, atol=1e-9)


def test_linear_onecycle_values(values_of) -> None:
    # Knots (0, 0.25), (2, 1), (6, 0.25), (8, 0.025).
    schedule = linear_onecycle_schedule(8, 1.0, 0.25, 0.75, 4.0, 10.0)
    np.testing.assert_allclose(
        values_of(schedule, 10),
        [0.25, 0.625, 1, 0.8125, 0.625, 0.4375, 0.25, 0.1375, 0.025, 0.025],
        **R,
    )


def test_linear_onecycle_defaults(values_of) -> None:
    # Knots (0, 0.04), (6, 1), (17, 0.04), (20, 4e-6).
    values = values_of(linear_onecycle_schedule(20, 1.0), 22)
    np.testing.assert_allclose(
        values[[0, 3, 6, 17, 20, 21]], [0.04, 0.52, 1, 0.04, 4e-6, 4e-6], **R
    )


def test_linear_onecycle_with_coinciding_knots_jumps(values_of) -> None:
    # pct_final = 1: knots (0, 0.04), (3, 1), (10, 0.04), (10, 4e-6): down to 0.04, then the
    # final value from step 10 on (optax ends at 1e-4 here).
    values = values_of(linear_onecycle_schedule(10, 1.0, pct_final=1.0), 12)
    np.testing.assert_allclose(values[[3, 9, 10, 11]], [1, 1 - 0.96 * 6 / 7, 4e-6, 4e-6], **R)
    # pct_start == pct_final: up to the peak at 5, jump to 0.04, anneal to 4e-6 at 10.
    values = values_of(linear_onecycle_schedule(10, 1.0, pct_start=0.5, pct_final=0.5), 11)
    np.testing.assert_allclose(
        values[[4, 5, 7, 10]], [0.808, 0.04, 0.04 - (0.04 - 4e-6) * 2 / 5, 4e-6], **R
    )


def test_cosine_onecycle_values(values_of) -> None:
    # Up from 0.25 to 1 over steps 0..2, down to 0.025 over 2..6; (1 + cos(pi/4)) / 2 = 0.85355339.
    schedule = cosine_onecycle_schedule(6, 1.0, 1 / 3, 4.0, 10.0)
    c = 0.85355339
    np.testing.assert_allclose(
        values_of(schedule, 8),
        [0.25, 0.625, 1, 0.025 + 0.975 * c, 0.5125, 0.025 + 0.975 * (1 - c), 0.025, 0.025],
        **R,
    )


def test_cosine_onecycle_extreme_pct_start(values_of) -> None:
    # pct_start = 0: no warmup, start at the peak.
    values = values_of(cosine_onecycle_schedule(10, 1.0, pct_start=0.0), 11)
    np.testing.assert_allclose(values[[0, 5, 10]], [1, 0.500002, 4e-6], **R)
    # pct_start = 1: warm up over the whole cycle, then the final value (optax loses the peak).
    values = values_of(cosine_onecycle_schedule(10, 1.0, pct_start=1.0), 11)
    # (1 + cos(0.9 pi)) / 2 = 0.02447174.
    np.testing.assert_allclose(values[[0, 9, 10]], [0.04, 1 - 0.96 * 0.02447174, 4e-6], **R)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (
            dict(transition_steps=0),
            r"`linear_onecycle_schedule\(transition_steps=...\)` must be "
            r"positive; got transition_steps=0.",
        ),
        (
            dict(pct_start=0.6, pct_final=0.5),
            r"`linear_onecycle_schedule` needs 0 <= pct_start "
            r"<= pct_final <= 1; got pct_start=0.6, pct_final=0.5.",
        ),
        (
            dict(pct_final=1.5),
            r"needs 0 <= pct_start <= pct_final <= 1; got pct_start=0.3, "
            r"pct_final=1.5.",
        ),
        (dict(pct_start=-0.1), r"got pct_start=-0.1, pct_final=0.85."),
        (
            dict(div_factor=0.0),
            r"`linear_onecycle_schedule\(div_factor=...\)` must be positive; "
            r"got div_factor=0.0.",
        ),
        (dict(final_div_factor=-1), r"\(final_div_factor=...\)` must be positive"),
    ],
)
def test_linear_onecycle_errors(kwargs: dict, message: str) -> None:
    arguments = dict(transition_steps=10, peak_value=1.0) | kwargs
    with pytest.raises(ValueError, match=message):
        linear_onecycle_schedule(**arguments)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (
            dict(transition_steps=-5),
            r"`cosine_onecycle_schedule\(transition_steps=...\)` must be "
            r"positive; got transition_steps=-5.",
        ),
        (
            dict(pct_start=1.2),
            r"`cosine_onecycle_schedule` needs 0 <= pct_start <= 1; got "
            r"pct_start=1.2.",
        ),
        (dict(div_factor=0), r"`cosine_onecycle_schedule\(div_factor=...\)` must be positive"),
        (dict(final_div_factor=0), r"\(final_div_factor=...\)` must be positive"),
    ],
)
def test_cosine_onecycle_errors(kwargs: dict, message: str) -> None:
    arguments = dict(transition_steps=10, peak_value=1.0) | kwargs
    with pytest.raises(ValueError, match=message):
        cosine_onecycle_schedule(**arguments)

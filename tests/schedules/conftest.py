"""Fixtures for the schedule tests.

Every schedule is evaluated on the same array of counts, so that JAX compiles each
operation once for the whole suite instead of once per shape.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
import pytest

# Steps 0..63 then the two largest int32 counts.
COUNTS = jnp.asarray([*range(64), 2**31 - 2, 2**31 - 1], dtype=jnp.int32)


@pytest.fixture
def values_of() -> Callable[..., np.ndarray]:
    """``values_of(schedule, n)``: the schedule at steps ``0 .. n - 1`` as float64 numbers.

    The schedule is evaluated at all of ``COUNTS`` and the two huge counts are checked to be
    finite on the way, so every test that reads values also covers ``2**31 - 1``.
    """

    def evaluate(schedule: Callable, n: int = 64) -> np.ndarray:
        values = np.asarray(schedule(COUNTS), dtype=np.float64)
        assert values.shape == COUNTS.shape
        assert np.all(np.isfinite(values[-2:])), values[-2:]
        return values[:n]

    return evaluate


@pytest.fixture
def huge_values_of() -> Callable[..., np.ndarray]:
    """``huge_values_of(schedule)``: the schedule at counts ``2**31 - 2`` and ``2**31 - 1``."""

    def evaluate(schedule: Callable) -> np.ndarray:
        return np.asarray(schedule(COUNTS), dtype=np.float64)[-2:]

    return evaluate

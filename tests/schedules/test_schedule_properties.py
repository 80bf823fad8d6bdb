"""Properties every schedule has: jit, vmap, scalar and array counts, dtypes, huge counts.

Each public schedule is registered once with typical arguments; a new schedule gets all
checks by being added to ``REGISTRY`` (the coverage test fails until it is).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx.schedules as gs

# Steps 0..63, then the two largest int32 counts.
COUNTS = jnp.asarray([*range(64), 2**31 - 2, 2**31 - 1], dtype=jnp.int32)

REGISTRY: dict[str, Callable[[], Callable]] = {
    "constant_schedule": lambda: gs.constant_schedule(0.1),
    "linear_schedule": lambda: gs.linear_schedule(1.0, 0.1, 20, 5),
    "polynomial_schedule": lambda: gs.polynomial_schedule(1.0, 0.1, 0.5, 13, 5),
    "exponential_decay": lambda: gs.exponential_decay(1.0, 3, 0.5, 2, True, 0.01),
    "inverse_time_decay": lambda: gs.inverse_time_decay(1.0, 0.5, 3, True),
    "cosine_decay_schedule": lambda: gs.cosine_decay_schedule(1.0, 30, 0.1, 2.0),
    "piecewise_constant_schedule": lambda: gs.piecewise_constant_schedule(1.0, {5: 0.5, 9: 0.1}),
    "piecewise_interpolate_schedule": lambda: gs.piecewise_interpolate_schedule(
        "cosine", 1.0, {5: 0.5, 9: 0.1}
    ),
    "step_schedule": lambda: gs.step_schedule(1.0, 4, 0.5),
    "multistep_schedule": lambda: gs.multistep_schedule(1.0, [3, 7, 20], 0.5),
    "warmup_constant_schedule": lambda: gs.warmup_constant_schedule(0.0, 1.0, 5),
    "warmup_cosine_decay_schedule": lambda: gs.warmup_cosine_decay_schedule(
        0.0, 1.0, 5, 40, 0.01, 1.5
    ),
    "warmup_exponential_decay_schedule": lambda: gs.warmup_exponential_decay_schedule(
        0.0, 1.0, 5, 3, 0.5, 2, False, 0.01
    ),
    "inverse_sqrt_schedule": lambda: gs.inverse_sqrt_schedule(1.0, 8, 4),
    "warmup_stable_decay_schedule": lambda: gs.warmup_stable_decay_schedule(
        1.0, 5, 10, 20, 0.1, 0.01, "sqrt"
    ),
    "linear_onecycle_schedule": lambda: gs.linear_onecycle_schedule(40, 1.0),
    "cosine_onecycle_schedule": lambda: gs.cosine_onecycle_schedule(40, 1.0),
    "cyclic_schedule": lambda: gs.cyclic_schedule(0.1, 1.0, 3, 5, "exp_range", 0.95),
    "cosine_restarts_schedule": lambda: gs.cosine_restarts_schedule(1.0, 3, 2, 0.05),
    "sgdr_schedule": lambda: gs.sgdr_schedule(
        [dict(init_value=0.0, peak_value=1.0, warmup_steps=2, decay_steps=10)] * 3
    ),
    "join_schedules": lambda: gs.join_schedules(
        [gs.linear_schedule(0.0, 1.0, 5), gs.cosine_decay_schedule(1.0, 20)], [5]
    ),
    "per_epoch": lambda: gs.per_epoch(gs.exponential_decay(1.0, 1, 0.9), 7),
}
NAMES = sorted(REGISTRY)


def test_registry_covers_every_public_schedule() -> None:
    assert set(REGISTRY) == set(gs.__all__)


@pytest.fixture(scope="module")
def transformed() -> dict[str, dict[str, jax.Array]]:
    """Every schedule under ``jit`` and under ``jit(vmap)`` (inside ``vmap`` each call sees
    a scalar count). Each is one ``jax.jit`` over all schedules: two compilations in all."""
    schedules = {name: make() for name, make in REGISTRY.items()}
    plain = jax.jit(lambda c: {n: s(c) for n, s in schedules.items()})(COUNTS)
    mapped = jax.jit(lambda c: {n: jax.vmap(s)(c) for n, s in schedules.items()})(COUNTS)
    return {name: {"jit": plain[name], "vmap": mapped[name]} for name in schedules}


@pytest.fixture(scope="module")
def under_x64() -> dict[str, jax.Array]:
    """Every schedule built and evaluated (under one jit) with float64 enabled.

    ``"float32_value"`` is a schedule whose value is an explicit float32: it stays float32.
    """
    with jax.enable_x64(True):
        schedules = {name: make() for name, make in REGISTRY.items()}
        schedules["float32_value"] = gs.linear_schedule(jnp.float32(1.0), 0.0, 10)
        counts = jnp.arange(64)
        return jax.jit(lambda c: {name: s(c) for name, s in schedules.items()})(counts)


@pytest.mark.parametrize("name", NAMES)
def test_array_counts_give_finite_float32(name: str) -> None:
    values = REGISTRY[name]()(COUNTS)
    assert values.dtype == jnp.float32
    assert values.shape == COUNTS.shape
    assert bool(jnp.all(jnp.isfinite(values)))


@pytest.mark.parametrize("name", NAMES)
def test_jit_and_vmap_match_eager(name: str, transformed) -> None:
    eager = REGISTRY[name]()(COUNTS)
    np.testing.assert_allclose(transformed[name]["jit"], eager, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(transformed[name]["vmap"], eager, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_float_counts_agree_with_integer_counts_and_stay_finite(name: str, transformed) -> None:
    """Float counts (steps 0..63, then 2**31, 2**31 in float32) work like integer ones."""
    values = REGISTRY[name]()(COUNTS.astype(jnp.float32))
    assert values.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(values))), values
    np.testing.assert_allclose(values[:64], transformed[name]["jit"][:64], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_python_float_values_give_float64_under_x64(name: str, under_x64) -> None:
    values = under_x64[name]
    assert values.dtype == jnp.float64
    np.testing.assert_allclose(values, REGISTRY[name]()(COUNTS)[:64], rtol=1e-6, atol=1e-7)


def test_an_explicit_float32_value_stays_float32_under_x64(under_x64) -> None:
    assert under_x64["float32_value"].dtype == jnp.float32


def test_eager_python_scalar_counts() -> None:
    schedule = gs.warmup_cosine_decay_schedule(0.0, 1.0, 5, 40, 0.01)
    expected = schedule(COUNTS)[7]
    for count in (7, 7.0):
        value = schedule(count)
        assert value.shape == () and value.dtype == jnp.float32, count
        np.testing.assert_allclose(value, expected, rtol=1e-6, err_msg=repr(count))


def test_schedule_traces_once_for_any_count() -> None:
    """No Python branching on the count: one trace serves every count value."""
    traces = []

    def traced(count):
        traces.append(None)
        return gs.warmup_stable_decay_schedule(1.0, 5, 10, 20)(count)

    jitted = jax.jit(traced)
    for count in (0, 7, 30, 2**31 - 1):
        jitted(jnp.int32(count))
    assert len(traces) == 1

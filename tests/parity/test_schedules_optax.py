"""gradtx's optax-named schedules against optax's, called as a black box.

Every schedule optax has is compared at steps 0..63 (and at the largest int32 count) for
its default arguments and several others, at float32 with rtol 1e-6. optax's
``piecewise_interpolate_schedule`` and one-cycle schedules accept only scalar counts,
so optax is vmapped there; gradtx's take arrays directly.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx.schedules as gs

optax = pytest.importorskip("optax")

# Steps 0..63, then the two largest int32 counts (the counts of tests/schedules too, so
# that JAX compiles each operation once for both).
COUNTS = jnp.asarray([*range(64), 2**31 - 2, 2**31 - 1], dtype=jnp.int32)

OPTAX_NAMES = [
    "constant_schedule",
    "linear_schedule",
    "polynomial_schedule",
    "exponential_decay",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "cosine_decay_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "linear_onecycle_schedule",
    "cosine_onecycle_schedule",
    "sgdr_schedule",
    "join_schedules",
]

PIECES = {10: 0.5, 5: 0.1, 20: 2.0}
SGDR_CYCLES = [
    dict(init_value=0.1, peak_value=1.0, warmup_steps=2, decay_steps=8, end_value=0.05),
    dict(init_value=0.2, peak_value=0.5, warmup_steps=0, decay_steps=10),
    dict(init_value=0.0, peak_value=0.3, warmup_steps=3, decay_steps=9, exponent=2.0),
]

CASES = [
    ("constant_schedule", dict(value=0.1)),
    ("constant_schedule", dict(value=3)),
    ("linear_schedule", dict(init_value=1.0, end_value=0.0, transition_steps=10)),
    (
        "linear_schedule",
        dict(init_value=0.1, end_value=2.5, transition_steps=7, transition_begin=3),
    ),
    ("linear_schedule", dict(init_value=1.0, end_value=0.0, transition_steps=2.5)),
    ("polynomial_schedule", dict(init_value=1.0, end_value=0.1, power=2.0, transition_steps=10)),
    (
        "polynomial_schedule",
        dict(init_value=2.0, end_value=0.5, power=0.5, transition_steps=13, transition_begin=5),
    ),
    ("polynomial_schedule", dict(init_value=1.0, end_value=0.0, power=3, transition_steps=7)),
    ("exponential_decay", dict(init_value=1.0, transition_steps=3, decay_rate=0.5)),
    (
        "exponential_decay",
        dict(
            init_value=1.0, transition_steps=3, decay_rate=0.5, transition_begin=4, staircase=True
        ),
    ),
    (
        "exponential_decay",
        dict(init_value=1.0, transition_steps=3, decay_rate=0.5, end_value=0.3),
    ),
    ("exponential_decay", dict(init_value=1.0, transition_steps=3, decay_rate=2.0, end_value=5)),
    ("exponential_decay", dict(init_value=0.5, transition_steps=1, decay_rate=0.9)),
    (
        "exponential_decay",
        dict(
            init_value=2.0, transition_steps=2.5, decay_rate=0.7, transition_begin=1, staircase=True
        ),
    ),
    ("piecewise_constant_schedule", dict(init_value=1.0)),
    ("piecewise_constant_schedule", dict(init_value=1.0, boundaries_and_scales=PIECES)),
    ("piecewise_constant_schedule", dict(init_value=0.3, boundaries_and_scales={0: 0.5, 7: 3.0})),
    ("piecewise_constant_schedule", dict(init_value=1.0, boundaries_and_scales={-3: 0.5, 4: 0.1})),
    ("piecewise_interpolate_schedule", dict(interpolate_type="linear", init_value=1.0)),
    (
        "piecewise_interpolate_schedule",
        dict(interpolate_type="linear", init_value=1.0, boundaries_and_scales=PIECES),
    ),
    (
        "piecewise_interpolate_schedule",
        dict(interpolate_type="cosine", init_value=1.0, boundaries_and_scales=PIECES),
    ),
    (
        "piecewise_interpolate_schedule",
        dict(interpolate_type="linear", init_value=1.0, boundaries_and_scales={0: 0.5, 4: 0.5}),
    ),
    (
        "piecewise_interpolate_schedule",
        dict(interpolate_type="cosine", init_value=2.0, boundaries_and_scales={2.5: 0.5, 9: 0}),
    ),
    (
        "piecewise_interpolate_schedule",
        dict(interpolate_type="linear", init_value=1.0, boundaries_and_scales={-4: 0.5, 4: 0.5}),
    ),
    ("cosine_decay_schedule", dict(init_value=2.0, decay_steps=10)),
    ("cosine_decay_schedule", dict(init_value=2.0, decay_steps=10, alpha=0.1, exponent=2.0)),
    ("cosine_decay_schedule", dict(init_value=1.0, decay_steps=7, alpha=0.5, exponent=0.5)),
    ("cosine_decay_schedule", dict(init_value=1.0, decay_steps=2.5)),
    ("warmup_constant_schedule", dict(init_value=0.1, peak_value=1.0, warmup_steps=5)),
    ("warmup_constant_schedule", dict(init_value=1.0, peak_value=0.1, warmup_steps=3)),
    (
        "warmup_cosine_decay_schedule",
        dict(init_value=0.1, peak_value=1.0, warmup_steps=5, decay_steps=15),
    ),
    (
        "warmup_cosine_decay_schedule",
        dict(init_value=0.1, peak_value=1.0, warmup_steps=5, decay_steps=15, end_value=0.01),
    ),
    (
        "warmup_cosine_decay_schedule",
        dict(
            init_value=0.1,
            peak_value=1.0,
            warmup_steps=5,
            decay_steps=15,
            end_value=0.01,
            exponent=2.0,
        ),
    ),
    (
        "warmup_cosine_decay_schedule",
        dict(init_value=0.1, peak_value=1.0, warmup_steps=0, decay_steps=15, end_value=0.01),
    ),
    (
        "warmup_cosine_decay_schedule",
        dict(init_value=0.0, peak_value=2.0, warmup_steps=2, decay_steps=6, end_value=3.0),
    ),
    (
        "warmup_exponential_decay_schedule",
        dict(init_value=0.1, peak_value=1.0, warmup_steps=5, transition_steps=3, decay_rate=0.5),
    ),
    (
        "warmup_exponential_decay_schedule",
        dict(
            init_value=0.1,
            peak_value=1.0,
            warmup_steps=5,
            transition_steps=3,
            decay_rate=0.5,
            transition_begin=2,
            staircase=True,
            end_value=0.2,
        ),
    ),
    (
        "warmup_exponential_decay_schedule",
        dict(init_value=0.1, peak_value=1.0, warmup_steps=0, transition_steps=3, decay_rate=0.5),
    ),
    ("linear_onecycle_schedule", dict(transition_steps=20, peak_value=1.0)),
    (
        "linear_onecycle_schedule",
        dict(
            transition_steps=20,
            peak_value=1.0,
            pct_start=0.25,
            pct_final=0.75,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
    ),
    ("linear_onecycle_schedule", dict(transition_steps=7, peak_value=1.0)),
    (
        "linear_onecycle_schedule",
        dict(transition_steps=37, peak_value=0.5, pct_start=0.2, pct_final=0.9),
    ),
    ("cosine_onecycle_schedule", dict(transition_steps=20, peak_value=1.0)),
    (
        "cosine_onecycle_schedule",
        dict(
            transition_steps=20,
            peak_value=1.0,
            pct_start=0.25,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
    ),
    ("cosine_onecycle_schedule", dict(transition_steps=7, peak_value=1.0)),
    ("cosine_onecycle_schedule", dict(transition_steps=10, peak_value=1.0, pct_start=0.0)),
    ("cosine_onecycle_schedule", dict(transition_steps=1, peak_value=1.0)),
    ("cosine_onecycle_schedule", dict(transition_steps=10.5, peak_value=2.0)),
    ("linear_onecycle_schedule", dict(transition_steps=10.5, peak_value=2.0)),
    ("sgdr_schedule", dict(cosine_kwargs=SGDR_CYCLES[:1])),
    ("sgdr_schedule", dict(cosine_kwargs=SGDR_CYCLES)),
]


# optax 0.2.8 gives 0.1 here at counts near 2**31 (it should stay at 1.0 * 0.5 * 0.1 = 0.05);
# tests/schedules checks that gradtx does.
OPTAX_WRONG_AT_HUGE_COUNTS = [
    ("piecewise_constant_schedule", dict(init_value=1.0, boundaries_and_scales={-3: 0.5, 4: 0.1})),
]


# Under jit, optax 0.2.8 returns NaN at the end of this transition (XLA turns s / 13 into
# s * (1 / 13) = 1 + 4e-8 and (1 - that) ** 0.5 is NaN); it is compared eagerly instead.
OPTAX_NAN_UNDER_JIT = [
    (
        "polynomial_schedule",
        dict(init_value=2.0, end_value=0.5, power=0.5, transition_steps=13, transition_begin=5),
    ),
]


def _ids(cases: list[tuple[str, dict]]) -> list[str]:
    return [f"{name}-{i}" for i, (name, _) in enumerate(cases)]


# optax's piecewise_interpolate_schedule and one-cycle schedules take scalar counts only.
SCALAR_ONLY = {
    "piecewise_interpolate_schedule",
    "linear_onecycle_schedule",
    "cosine_onecycle_schedule",
}


def _optax_values(name: str, schedule, counts: jax.Array) -> jax.Array:
    if name in SCALAR_ONLY:
        return jax.vmap(schedule)(counts)
    return jnp.broadcast_to(jnp.asarray(schedule(counts)), counts.shape)


def _join(lib):
    return lib.join_schedules(
        [
            lib.constant_schedule(1.0),
            lib.linear_schedule(1.0, 0.0, 10),
            lib.cosine_decay_schedule(3.0, 6),
        ],
        [5, 8],
    )


def _join_negative_boundary(lib):
    return lib.join_schedules([lib.constant_schedule(1.0), lib.linear_schedule(1.0, 0.0, 4)], [-2])


# Schedules built from other schedules of the same library (gradtx's or optax's).
BUILT = {"join": _join, "join_negative_boundary": _join_negative_boundary}


@pytest.fixture(scope="module")
def optax_table() -> dict[str, np.ndarray]:
    """optax's values for every case (keyed ``case-<index in CASES>``, or by name in BUILT), all
    under one ``jax.jit``: one compilation for the file."""
    schedules = {
        f"case-{i}": (name, getattr(optax, name)(**kwargs))
        for i, (name, kwargs) in enumerate(CASES)
    }
    schedules |= {key: ("join_schedules", build(optax)) for key, build in BUILT.items()}

    def evaluate(counts: jax.Array) -> dict[str, jax.Array]:
        return {key: _optax_values(name, s, counts) for key, (name, s) in schedules.items()}

    return {key: np.asarray(values) for key, values in jax.jit(evaluate)(COUNTS).items()}


@pytest.mark.parametrize("index", range(len(CASES)), ids=_ids(CASES))
def test_matches_optax(index: int, optax_table) -> None:
    name, kwargs = CASES[index]
    ours = getattr(gs, name)(**kwargs)(COUNTS)
    theirs = optax_table[f"case-{index}"]
    if CASES[index] in OPTAX_NAN_UNDER_JIT:
        # XLA on the CPU rewrites t/n into t*(1/n), which optax turns into a NaN at the end of
        # the transition (other backends need not); compare with optax run eagerly instead.
        assert np.all(np.isfinite(ours))
        theirs = _optax_values(name, getattr(optax, name)(**kwargs), COUNTS)
    assert ours.dtype == jnp.float32
    if CASES[index] in OPTAX_WRONG_AT_HUGE_COUNTS:
        ours, theirs = ours[:-2], theirs[:-2]
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


def test_scalar_python_int_counts_match_optax() -> None:
    kwargs = dict(init_value=0.1, peak_value=1.0, warmup_steps=5, decay_steps=15, end_value=0.01)
    ours = gs.warmup_cosine_decay_schedule(**kwargs)
    theirs = optax.warmup_cosine_decay_schedule(**kwargs)
    for count in (0, 3, 17):
        assert ours(count).shape == ()
        np.testing.assert_allclose(ours(count), theirs(count), rtol=1e-6)


def test_join_schedules_matches_optax(optax_table) -> None:
    ours = _join(gs)(COUNTS)
    np.testing.assert_allclose(ours, optax_table["join"], rtol=1e-6, atol=1e-7)


def test_join_schedules_negative_boundary_matches_optax(optax_table) -> None:
    ours = _join_negative_boundary(gs)(COUNTS)
    theirs = optax_table["join_negative_boundary"]
    np.testing.assert_allclose(ours[:-2], theirs[:-2], rtol=1e-6)
    # optax's count - boundary wraps around near 2**31 (it returns 1.0 there); gradtx's
    # saturates and stays at the end of the linear schedule.
    np.testing.assert_array_equal(theirs[-2:], [1.0, 1.0])
    np.testing.assert_array_equal(ours[-2:], [0.0, 0.0])


# Arguments optax accepts with a logged warning and turns into a constant (or clamps):
# gradtx gives the same numbers and emits a UserWarning.
DEGENERATE = [
    (
        "linear_schedule",
        dict(init_value=1.0, end_value=0.0, transition_steps=0),
        "transition_steps",
    ),
    (
        "linear_schedule",
        dict(init_value=1.0, end_value=0.0, transition_steps=-1),
        "transition_steps",
    ),
    (
        "linear_schedule",
        dict(init_value=1.0, end_value=0.0, transition_steps=10, transition_begin=-3),
        "transition_begin",
    ),
    (
        "polynomial_schedule",
        dict(init_value=1.0, end_value=0.0, power=2, transition_steps=0),
        "transition_steps",
    ),
    (
        "exponential_decay",
        dict(init_value=1.0, transition_steps=0, decay_rate=0.5),
        "transition_steps",
    ),
    ("exponential_decay", dict(init_value=1.0, transition_steps=3, decay_rate=0.0), "decay_rate"),
    (
        "exponential_decay",
        dict(init_value=1.0, transition_steps=3, decay_rate=0.5, transition_begin=-2),
        "transition_begin",
    ),
    (
        "warmup_exponential_decay_schedule",
        dict(init_value=0.1, peak_value=1.0, warmup_steps=3, transition_steps=0, decay_rate=0.5),
        "transition_steps",
    ),
]


@pytest.mark.parametrize(
    "name,kwargs,argument", DEGENERATE, ids=[d[0] + "-" + d[2] for d in DEGENERATE]
)
def test_degenerate_arguments_match_optax_with_a_warning(name, kwargs, argument) -> None:
    with pytest.warns(UserWarning, match=f"`{name}`: {argument}="):
        ours = getattr(gs, name)(**kwargs)
    theirs = getattr(optax, name)(**kwargs)
    np.testing.assert_allclose(ours(COUNTS), _optax_values(name, theirs, COUNTS), rtol=1e-6)


@pytest.mark.parametrize("name", OPTAX_NAMES)
def test_signature_matches_optax(name: str) -> None:
    ours = inspect.signature(getattr(gs, name)).parameters
    theirs = inspect.signature(getattr(optax, name)).parameters
    assert list(ours) == list(theirs)
    for key, parameter in theirs.items():
        assert ours[key].kind == parameter.kind, key
        assert ours[key].default == parameter.default, key


def test_every_optax_schedule_is_covered() -> None:
    assert {name for name, _ in CASES} | {"join_schedules"} == set(OPTAX_NAMES)

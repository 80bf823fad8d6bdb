"""Accumulation and non-finite wrappers against optax 0.2.8, in float64.

Every case runs the same builder with ``m = gradtx`` and ``m = optax`` on the shared
gradient sequence (``_sequences.py``) and compares the output updates at every step to
rtol 1e-10. The documented differences are tested as differences: the accumulator
dtype of ``MultiSteps`` and the counter of ``apply_if_finite`` after it gives up.
"""

from __future__ import annotations

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import EXACT, assert_sequences_close, run_updates, standard_data, x64

optax = pytest.importorskip("optax")

RTOL = 1e-10
F64 = jnp.float64


@pytest.fixture(scope="module", autouse=True)
def _float64():
    with x64():
        yield


@pytest.fixture(scope="module")
def data():
    return standard_data(9)


def _with_non_finite(grads, inf=True):
    """Steps 3 and 4 get a NaN and an infinity (a NaN without ``inf``), step 7 a NaN:
    never more than 2 in a row."""
    out = [dict(g) for g in grads]
    for t, v in ((2, np.nan), (3, np.inf if inf else np.nan), (6, np.nan)):
        w = out[t]["w"].copy()
        w[1, 2] = v
        out[t]["w"] = w
    return out


def k_schedule(step):
    return jnp.minimum(step + 1, 3)


def when(step):
    return step % 3 != 1


LR, MOM = EXACT["lr"], EXACT["momentum"]


def _jit(tx):
    """``tx`` with a jitted update (the wrappers use lax.cond, which retraces eagerly)."""
    return optax.GradientTransformationExtraArgs(tx.init, jax.jit(tx.update))


CASES = [
    (
        "MultiSteps-adam",
        lambda m: m.MultiSteps(m.adam(LR), 3, accumulator_dtype=F64).gradient_transformation(),
        False,
    ),
    (
        "MultiSteps-sum-schedule",
        lambda m: m.MultiSteps(
            m.sgd(LR, momentum=MOM), k_schedule, use_grad_mean=False, accumulator_dtype=F64
        ).gradient_transformation(),
        False,
    ),
    (
        "MultiSteps-skip_not_finite",
        lambda m: m.MultiSteps(
            m.adam(LR), 2, should_skip_update_fn=m.skip_not_finite, accumulator_dtype=F64
        ).gradient_transformation(),
        True,
    ),
    (
        "MultiSteps-skip_large_updates",
        lambda m: m.MultiSteps(
            m.sgd(LR),
            2,
            should_skip_update_fn=functools.partial(m.skip_large_updates, max_squared_norm=50.0),
            accumulator_dtype=F64,
        ).gradient_transformation(),
        False,
    ),
    ("apply_every", lambda m: m.chain(m.sgd(LR, momentum=MOM), m.apply_every(3)), False),
    ("apply_every-default", lambda m: m.chain(m.adam(LR), m.apply_every()), False),
    ("apply_if_finite", lambda m: m.apply_if_finite(m.adam(LR), 2), True),
    ("zero_nans", lambda m: m.chain(m.zero_nans(), m.adam(LR)), "nan"),
    ("conditionally_transform", lambda m: m.conditionally_transform(m.adam(LR), when), False),
    (
        "conditionally_mask",
        lambda m: m.conditionally_mask(m.sgd(LR, momentum=MOM), when, forward_extra_args=True),
        False,
    ),
]


@pytest.mark.parametrize("name, build, non_finite", CASES, ids=[c[0] for c in CASES])
def test_matches_optax(name, build, non_finite, data):
    params, grads = data
    if non_finite:
        grads = _with_non_finite(grads, inf=non_finite != "nan")
    got = run_updates(_jit(build(gradtx)), params, grads)
    want = run_updates(_jit(build(optax)), params, grads)
    assert_sequences_close(got, want, RTOL)
    # Not vacuous: most steps move.
    moving = [any(np.any(x != 0) for x in jax.tree.leaves(u)) for u in want]
    assert sum(moving) >= 3, moving


def test_multisteps_states_match(data):
    params, grads = data
    grads = _with_non_finite(grads)
    states = []
    for m in (gradtx, optax):
        tx = m.MultiSteps(m.sgd(LR, momentum=MOM), 2, should_skip_update_fn=m.skip_not_finite)
        s, step = tx.init(jax.tree.map(jnp.asarray, params)), jax.jit(tx.update)
        for g in grads[:5]:
            _, s = step(jax.tree.map(jnp.asarray, g), s)
        states.append(s)
    g, o = states
    assert type(g).__name__ == type(o).__name__ == "MultiStepsState"
    assert g._fields == o._fields
    for field in ("mini_step", "gradient_step"):
        assert int(getattr(g, field)) == int(getattr(o, field))
    assert {k: int(v) for k, v in g.skip_state.items()} == {
        k: int(v) for k, v in o.skip_state.items()
    }
    for a, b in zip(jax.tree.leaves(g.acc_grads), jax.tree.leaves(o.acc_grads), strict=True):
        # optax keeps acc_grads in float32 (see the next test); compare at its precision
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_multisteps_accumulator_precision_differs_from_optax(data):
    """optax 0.2.8 accumulates float64 gradients in float32 (its accumulator_dtype
    default); gradtx promotes, so its default equals accumulator_dtype=float64 exactly."""
    params, grads = data

    def run(m, **kw):
        tx = m.MultiSteps(m.sgd(LR), 3, **kw).gradient_transformation()
        return run_updates(_jit(tx), params, grads)

    g_default, g_64 = run(gradtx), run(gradtx, accumulator_dtype=F64)
    for a, b in zip(g_default, g_64, strict=True):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_array_equal(x, y)
    o_default, o_64 = run(optax), run(optax, accumulator_dtype=F64)
    assert_sequences_close(g_64, o_64, RTOL)
    err = max(
        float(np.max(np.abs(x - y)) / np.max(np.abs(y)))
        for a, b in zip(o_default, o_64, strict=True)
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
        if np.any(y != 0)
    )
    assert 1e-10 < err < 1e-6, err  # float32 rounding in optax's default
    state = gradtx.MultiSteps(gradtx.sgd(LR), 3).init({"w": jnp.zeros(2, F64)})
    assert state.acc_grads["w"].dtype == F64


def test_apply_if_finite_counter_differs_after_giving_up():
    """optax keeps counting after it gives up, so it lets every further non-finite update
    through; gradtx resets the count and skips again (optax PR 1746)."""
    seq = [1.0] + [np.nan] * 6 + [1.0]

    def trace(m):
        tx = m.apply_if_finite(m.sgd(1.0), 2)
        s, out, step = tx.init(jnp.zeros(1)), [], jax.jit(tx.update)
        for v in seq:
            u, s = step(jnp.asarray([v]), s)
            out.append((int(s.notfinite_count), bool(np.asarray(u)[0] != 0)))
        return out, s

    (g, gs), (o, os_) = trace(gradtx), trace(optax)
    # The first give-up is the same ...
    assert g[:3] == o[:3] == [(0, True), (1, False), (2, False)]
    assert g[3] == (0, True) and o[3] == (3, True)  # both give up; only gradtx resets
    # ... then optax applies every NaN update, gradtx skips two more before giving up again.
    assert [a for _, a in o[4:7]] == [True, True, True]
    assert [a for _, a in g[4:7]] == [False, False, True]
    assert int(gs.total_notfinite) == int(os_.total_notfinite) == 6
    assert gs._fields == os_._fields and type(gs).__name__ == type(os_).__name__


def _run_lookahead(m, params, grads, **kw):
    tx = m.lookahead(m.sgd(LR, momentum=MOM), 3, 0.5, **kw)
    lp = m.LookaheadParams.init_synced(jax.tree.map(jnp.asarray, params))
    state, out, step = tx.init(lp), [], jax.jit(tx.update)
    for g in grads:
        u, state = step(jax.tree.map(jnp.asarray, g), state, lp)
        lp = m.apply_updates(lp, u)
        out.append((jax.tree.map(np.asarray, lp.fast), jax.tree.map(np.asarray, lp.slow)))
    return out, state


@pytest.mark.parametrize("reset", [False, True], ids=["default", "reset_state"])
def test_lookahead_matches_optax(reset, data):
    params, grads = data
    (got, gs), (want, os_) = (
        _run_lookahead(m, params, grads, reset_state=reset) for m in (gradtx, optax)
    )
    for kind in (0, 1):
        assert_sequences_close([x[kind] for x in got], [x[kind] for x in want], RTOL)
    assert int(gs.steps_since_sync) == int(os_.steps_since_sync)
    assert (
        gs._fields == os_._fields
        and gradtx.LookaheadParams._fields == optax.LookaheadParams._fields
    )


def test_skip_functions_match_optax(data):
    _, grads = data
    for g in (grads[0], _with_non_finite(grads)[2]):
        g = jax.tree.map(jnp.asarray, g)
        for fn in ("skip_not_finite", "skip_large_updates"):
            kw = {"max_squared_norm": 10.0} if fn == "skip_large_updates" else {}
            (gs, ginfo), (os_, oinfo) = (
                getattr(m, fn)(g, jnp.asarray(0), None, **kw) for m in (gradtx, optax)
            )
            assert bool(gs) == bool(os_) and set(ginfo) == set(oinfo)
            for k in ginfo:
                np.testing.assert_allclose(np.asarray(ginfo[k]), np.asarray(oinfo[k]), rtol=1e-12)


@pytest.mark.parametrize(
    "name",
    [
        "MultiStepsState",
        "ApplyEvery",
        "ApplyIfFiniteState",
        "ZeroNansState",
        "ConditionallyTransformState",
        "ConditionallyMaskState",
        "LookaheadState",
        "LookaheadParams",
    ],
)
def test_state_names_and_fields(name):
    assert getattr(gradtx, name)._fields == getattr(optax, name)._fields


def test_multisteps_signature_and_interop(data):
    g_sig = list(inspect.signature(gradtx.MultiSteps).parameters.values())
    o_sig = list(inspect.signature(optax.MultiSteps).parameters.values())
    assert [(p.name, p.kind) for p in g_sig] == [(p.name, p.kind) for p in o_sig]
    for a, b in zip(g_sig, o_sig, strict=True):
        assert a.default is b.default or a.default == b.default, a.name
    assert callable(gradtx.MultiSteps(gradtx.sgd(0.1), 2).has_updated)
    # gradtx's MultiSteps goes straight into optax.chain; optax's wraps gradtx's adam.
    params, grads = data
    clip = optax.clip_by_global_norm(5.0)
    pure = optax.MultiSteps(optax.adam(LR), 2, accumulator_dtype=F64).gradient_transformation()
    want = run_updates(_jit(optax.chain(clip, pure)), params, grads)
    mixed = optax.chain(clip, gradtx.MultiSteps(gradtx.adam(LR), 2, accumulator_dtype=F64))
    assert_sequences_close(run_updates(_jit(mixed), params, grads), want, RTOL)
    wrapped = optax.MultiSteps(gradtx.adam(LR), 2, accumulator_dtype=F64).gradient_transformation()
    want = run_updates(_jit(pure), params, grads)
    assert_sequences_close(run_updates(_jit(wrapped), params, grads), want, RTOL)

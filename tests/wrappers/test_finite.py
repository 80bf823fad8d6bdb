"""apply_if_finite, zero_nans, skip_not_finite and skip_large_updates against hand-written
loops."""

from __future__ import annotations

import functools

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params

import gradtx

NAN, INF = float("nan"), float("inf")


def test_apply_if_finite_leaves_params_and_inner_state_unchanged(rng, x64):
    params = nested_params(rng, np.float64)
    grads = gradient_stream(rng, params, 8)
    grads[2]["w"] = grads[2]["w"].at[0, 0].set(NAN)
    grads[3]["w"] = grads[3]["w"].at[1, 1].set(INF)
    grads[5]["b"][0] = grads[5]["b"][0].at[2].set(-INF)
    tx = gradtx.apply_if_finite(gradtx.adam(0.1), max_consecutive_errors=3)
    step = jax.jit(tx.update)
    state, p = tx.init(params), params
    # Reference: Adam that simply never sees the non-finite gradients.
    reference = ref.Chain(ref.Adam(0.9, 0.999, 1e-8), ref.ScaleByLearningRate(0.1))
    reference.init(leaves(params))
    got, want = [], []
    for t, g in enumerate(grads):
        before_inner = state.inner_state
        u, state = step(g, state, p)
        finite = all(np.all(np.isfinite(x)) for x in leaves(g))
        got.append(u)
        if finite:
            want.append(reference.update(leaves(g)))
        else:
            want.append([np.zeros_like(x) for x in leaves(g)])
            # Bit for bit: the inner state is the one before the step, the update zero.
            for a, b in zip(
                jax.tree.leaves(before_inner), jax.tree.leaves(state.inner_state), strict=True
            ):
                np.testing.assert_array_equal(a, b)
            assert all(np.all(np.asarray(x) == 0) for x in jax.tree.leaves(u))
        assert bool(state.last_finite) == finite, t
        p = gradtx.apply_updates(p, u)
        assert all(np.all(np.isfinite(x)) for x in leaves(p)), t
    assert_close_to_reference(got, want, rtol=1e-12)
    assert int(state.total_notfinite) == 3 and int(state.notfinite_count) == 0


def _counts(tx, values):
    state, out, step = tx.init(jnp.zeros(1)), [], jax.jit(tx.update)
    for v in values:
        u, state = step(jnp.asarray([v]), state)
        out.append((int(state.notfinite_count), bool(np.all(np.asarray(u) != 0))))
    return out, state


def test_apply_if_finite_counter_resets_after_giving_up():
    # m = 2: two non-finite updates in a row are skipped, the third is let through (the
    # wrapper gives up) and the count starts again: skip, skip, apply, skip, skip, apply.
    tx = gradtx.apply_if_finite(gradtx.sgd(1.0), max_consecutive_errors=2)
    counts, state = _counts(tx, [1.0] + [NAN] * 6 + [1.0, NAN])
    applied = [a for _, a in counts]
    assert applied == [True, False, False, True, False, False, True, True, False]
    assert [c for c, _ in counts] == [0, 1, 2, 0, 1, 2, 0, 0, 1]
    assert int(state.total_notfinite) == 7
    # m = 0 never skips.
    counts, _ = _counts(gradtx.apply_if_finite(gradtx.sgd(1.0), 0), [NAN, NAN])
    assert counts == [(0, True), (0, True)]


def test_zero_nans_recovers_from_nan_gradients(rng, x64):
    params = nested_params(rng, np.float64)
    grads = gradient_stream(rng, params, 6)
    grads[1]["w"] = grads[1]["w"].at[0, 1].set(NAN)
    grads[3]["b"][1] = (jnp.asarray(NAN, jnp.float64), None)
    tx = gradtx.chain(gradtx.zero_nans(), gradtx.adam(0.1))
    state, p, got = tx.init(params), params, []
    for g in grads:
        u, state = tx.update(g, state, p)
        got.append(u)
        p = gradtx.apply_updates(p, u)
    cleaned = [[np.nan_to_num(x, nan=0.0) for x in leaves(g)] for g in grads]
    reference = ref.Chain(ref.Adam(0.9, 0.999, 1e-8), ref.ScaleByLearningRate(0.1))
    assert_close_to_reference(got, ref.run(reference, leaves(params), cleaned), rtol=1e-12)
    assert all(np.all(np.isfinite(x)) for x in leaves(p))
    found = state[0].found_nan
    assert found["b"][1][1] is None and not bool(found["w"])  # the last step was clean
    _, s = gradtx.zero_nans().update(grads[3], gradtx.zero_nans().init(params))
    assert bool(s.found_nan["b"][1][0]) and not bool(s.found_nan["w"])
    # Infinities are not NaNs: they pass.
    u, _ = gradtx.zero_nans().update(jnp.asarray([INF, NAN]), gradtx.zero_nans().init(None))
    np.testing.assert_array_equal(u, [INF, 0.0])


def test_skip_functions():
    g = {"w": jnp.asarray([3.0, NAN]), "v": jnp.asarray([INF]), "n": None}
    skip, info = gradtx.skip_not_finite(g, jnp.asarray(0), None)
    assert bool(skip) and int(info["num_not_finite"]) == 2
    assert info["num_not_finite"].dtype == jnp.int32
    skip, info = gradtx.skip_not_finite({"w": jnp.ones(3)}, 0, None)
    assert not bool(skip) and int(info["num_not_finite"]) == 0
    g = {"w": jnp.asarray([3.0, 0.0]), "c": jnp.asarray([4.0j]), "n": None}
    for tau, expected in ((25.0, True), (25.5, False)):
        skip, info = gradtx.skip_large_updates(g, 0, None, tau)
        assert bool(skip) is expected and float(info["norm_squared"]) == 25.0
    skip, _ = gradtx.skip_large_updates({"w": jnp.asarray([NAN])}, 0, None, 1e9)
    assert bool(skip)


def test_skip_large_updates_inside_multisteps():
    skip = functools.partial(gradtx.skip_large_updates, max_squared_norm=10.0)
    tx = gradtx.MultiSteps(gradtx.sgd(1.0), 2, should_skip_update_fn=skip)
    state, outs = tx.init(jnp.zeros(2)), []
    for g in ([1.0, 1.0], [30.0, 0.0], [2.0, 1.0]):
        u, state = tx.update(jnp.asarray(g), state)
        outs.append(np.asarray(u))
    np.testing.assert_array_equal(outs[2], [-1.5, -1.0])
    assert float(state.skip_state["norm_squared"]) == 5.0


def test_state_stable_and_none_leaves():
    params = {"w": jnp.ones(3, jnp.bfloat16), "n": None}
    g = {"w": jnp.ones(3, jnp.bfloat16), "n": None}
    for tx in (gradtx.apply_if_finite(gradtx.adamw(1e-3), 2), gradtx.zero_nans()):

        def states(g, p, tx=tx):
            s0 = tx.init(p)
            u, s1 = tx.update(g, s0, p)
            return u, s0, s1

        u, s0, s1 = jax.eval_shape(states, g, params)
        assert u["w"].dtype == jnp.bfloat16 and u["n"] is None
        avals = lambda t: jax.tree.map(lambda x: (x.shape, x.dtype, x.weak_type), t)  # noqa: E731
        assert avals(s0) == avals(s1)
        jax.eval_shape(lambda c, s0=s0, s1=s1: jax.lax.cond(c, lambda: s0, lambda: s1), True)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: gradtx.apply_if_finite(gradtx.sgd, 2),
            TypeError,
            r"`apply_if_finite\(inner=\.\.\.\)` must be a gradient transformation",
        ),
        (
            lambda: gradtx.apply_if_finite(gradtx.sgd(0.1), -1),
            ValueError,
            r"`apply_if_finite\(max_consecutive_errors=\.\.\.\)` must lie in \[0, inf\)",
        ),
        (
            lambda: gradtx.apply_if_finite(gradtx.sgd(0.1), 2.0),
            TypeError,
            r"`apply_if_finite\(max_consecutive_errors=\.\.\.\)` must be an int",
        ),
        (
            lambda: gradtx.skip_large_updates({"w": jnp.ones(1)}, 0, None, -1.0),
            ValueError,
            r"`skip_large_updates\(max_squared_norm=\.\.\.\)` must lie in \[0, inf\)",
        ),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()

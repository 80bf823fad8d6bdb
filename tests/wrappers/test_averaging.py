"""param_ema and swa against NumPy references, and averaged_params' search of a state.

The references follow the definitions, not gradtx's update form: the debiased EMA is
Adam's (an average started at zero, divided by ``1 - decay**t``), torch's EMA copies the
first snapshot and then moves by ``1 - decay``, and SWA is the plain mean of the
snapshots that the ``start_step``/``every_k`` rule selects.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

STEPS = 7


def _trajectory(rng, n=STEPS):
    """Parameters (a dict with a None leaf) and n gradients, float64."""
    params = {"w": rng.normal(size=(2, 3)), "b": [rng.normal(size=3), None]}
    grads = [{"w": rng.normal(size=(2, 3)), "b": [rng.normal(size=3), None]} for _ in range(n)]
    return params, grads


def _run(tx, params, grads):
    """Train with ``tx`` (jitted once); return the post-update params and the states."""
    step = jax.jit(lambda g, s, p: tx.update(g, s, p))
    state, p = tx.init(params), params
    history, states = [], []
    for g in grads:
        u, state = step(g, state, p)
        p = gradtx.apply_updates(p, u)
        history.append(p)
        states.append(state)
    return history, states


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def _ema_reference(snapshots, decay, debias):
    if debias:  # Adam's bias-corrected average of an EMA started at zero
        m = [np.zeros_like(x) for x in snapshots[0]]
        out = []
        for t, snap in enumerate(snapshots, start=1):
            m = [decay * a + (1 - decay) * x for a, x in zip(m, snap, strict=True)]
            out.append([a / (1 - decay**t) for a in m])
        return out
    avg, out = None, []
    for snap in snapshots:  # torch: copy the first snapshot, then lerp by 1 - decay
        avg = (
            list(snap)
            if avg is None
            else [decay * a + (1 - decay) * x for a, x in zip(avg, snap, strict=True)]
        )
        out.append(avg)
    return out


@pytest.mark.parametrize("debias", [True, False])
@pytest.mark.parametrize("decay", [0.9, 0.5])
def test_param_ema_matches_reference(x64, rng, decay, debias):
    params, grads = _trajectory(rng)
    tx = gradtx.chain(gradtx.adam(0.1), gradtx.param_ema(decay, debias=debias))
    history, states = _run(tx, params, grads)
    want = _ema_reference([_leaves(h) for h in history], decay, debias)
    for state, w in zip(states, want, strict=True):
        avg = gradtx.averaged_params(state)
        assert avg["b"][1] is None
        for got, ref in zip(_leaves(avg), w, strict=True):
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    # The two weightings differ after the first step (a test that could fail).
    if debias:
        other = _ema_reference([_leaves(h) for h in history], decay, False)
        assert not np.allclose(other[-1][0], want[-1][0], rtol=1e-6)


@pytest.mark.parametrize(("start_step", "every_k"), [(0, 1), (2, 2), (5, 3)])
def test_swa_matches_reference(x64, rng, start_step, every_k):
    params, grads = _trajectory(rng, 9)
    tx = gradtx.chain(gradtx.sgd(0.3, momentum=0.9), gradtx.swa(start_step, every_k))
    history, states = _run(tx, params, grads)
    chosen = []
    for t, (snap, state) in enumerate(zip(history, states, strict=True), start=1):
        if t > start_step and (t - start_step) % every_k == 0:
            chosen.append(_leaves(snap))
        want = (
            [np.mean(x, axis=0) for x in zip(*chosen, strict=True)] if chosen else _leaves(params)
        )
        assert int(gradtx.tree.get(state, "n_averaged")) == len(chosen)
        for got, ref in zip(_leaves(gradtx.averaged_params(state)), want, strict=True):
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14)
    assert chosen  # every case averages something within the run


def test_updates_pass_through_unchanged(rng):
    params, grads = _trajectory(rng, 1)
    params, grads = jax.tree.map(jnp.float32, params), jax.tree.map(jnp.float32, grads)
    for avg in (gradtx.param_ema(0.9), gradtx.swa()):
        u, _ = avg.update(grads[0], avg.init(params), params, unused_extra=1)
        assert u is grads[0]


def test_debiased_decay_one_is_swa(x64, rng):
    params, grads = _trajectory(rng)
    ema_hist, ema_states = _run(gradtx.chain(gradtx.sgd(0.1), gradtx.param_ema(1.0)), params, grads)
    _, swa_states = _run(gradtx.chain(gradtx.sgd(0.1), gradtx.swa()), params, grads)
    for a, b in zip(ema_states, swa_states, strict=True):
        for x, y in zip(
            _leaves(gradtx.averaged_params(a)), _leaves(gradtx.averaged_params(b)), strict=True
        ):
            np.testing.assert_allclose(x, y, rtol=1e-12)
    # Without debiasing, decay=1 keeps the first post-update parameters.
    _, frozen = _run(
        gradtx.chain(gradtx.sgd(0.1), gradtx.param_ema(1.0, debias=False)), params, grads
    )
    for x, y in zip(_leaves(gradtx.averaged_params(frozen[-1])), _leaves(ema_hist[0]), strict=True):
        np.testing.assert_array_equal(x, y)


def test_debiased_weight_is_accurate_for_decay_near_one():
    """(1 - d) / (1 - d**t) in float32 would lose digits to cancellation at d = 0.9999."""
    tx = gradtx.param_ema(0.9999)
    state = tx.init(jnp.zeros(()))
    for value in (1.0, 3.0):
        _, state = tx.update(jnp.asarray(value), state, jnp.zeros(()))
    d = np.float64(np.float32(0.9999))
    want = (d * 1.0 + 3.0) / (1 + d)
    np.testing.assert_allclose(float(state.average), want, rtol=2e-7)


def test_half_precision_params_average_in_float32_and_state_is_stable():
    params = {"w": jnp.full(3, 1.0, jnp.bfloat16), "b": None, "c": jnp.zeros(2, jnp.float32)}
    grads = {"w": jnp.full(3, 0.01, jnp.bfloat16), "b": None, "c": jnp.ones(2, jnp.float32)}
    for avg in (gradtx.param_ema(0.99), gradtx.swa(1, 2)):
        tx = gradtx.chain(gradtx.sgd(1.0), avg)
        s0 = tx.init(params)
        u, s1 = jax.jit(tx.update)(grads, s0, params)
        assert u["w"].dtype == jnp.bfloat16 and u["b"] is None
        average = gradtx.averaged_params(s1)
        assert average["w"].dtype == jnp.float32 and average["c"].dtype == jnp.float32
        assert average["b"] is None
        assert jax.tree.structure(s0) == jax.tree.structure(s1)
        types = lambda t: jax.tree.map(lambda x: (x.shape, x.dtype, x.weak_type), t)  # noqa: E731
        assert types(s0) == types(s1)
        jax.lax.cond(True, lambda a, b: a, lambda a, b: b, s0, s1)  # branches of equal types


def test_float32_average_absorbs_steps_bfloat16_cannot():
    """bf16 cannot move 1.0 by 1e-3 (its spacing at 1 is 2**-7); the float32 average can."""
    p = jnp.ones(1, jnp.bfloat16)
    tx = gradtx.param_ema(0.999, debias=False)
    state = tx.init(p)
    _, state = tx.update(jnp.zeros(1, jnp.bfloat16), state, p)  # copies 1.0
    _, state = tx.update(jnp.full(1, 1.0, jnp.bfloat16), state, p)  # snapshot 2.0
    np.testing.assert_allclose(np.asarray(state.average), [1.001], rtol=1e-6)


def test_skipped_swa_step_ignores_non_finite_params():
    tx = gradtx.swa(start_step=1)
    p = jnp.ones(2)
    state = tx.init(p)
    _, state = tx.update(jnp.array([jnp.nan, jnp.inf]), state, p)  # step 1: not averaged
    np.testing.assert_array_equal(state.average, [1.0, 1.0])
    _, state = tx.update(jnp.ones(2), state, p)
    np.testing.assert_array_equal(state.average, [2.0, 2.0])


def test_averaged_params_finds_the_state_anywhere():
    params = {"w": jnp.ones(2)}
    nested = gradtx.named_chain(
        ("opt", gradtx.chain(gradtx.clip(1.0), gradtx.adamw(0.1))),
        ("avg", gradtx.chain(gradtx.identity(), gradtx.param_ema(0.9))),
    )
    state = nested.init(params)
    _, state = nested.update({"w": jnp.ones(2)}, state, params)
    np.testing.assert_allclose(gradtx.averaged_params(state)["w"], [0.9, 0.9], rtol=1e-4)
    masked = gradtx.masked(gradtx.swa(), {"w": True})
    assert gradtx.averaged_params(masked.init(params))["w"].shape == (2,)


def test_averaged_params_errors_list_what_was_found():
    params = {"w": jnp.ones(2)}
    with pytest.raises(
        ValueError, match=r"holds no ParamEmaState or SWAState \(got OptimizerState\)"
    ):
        gradtx.averaged_params(gradtx.adam(0.1).init(params))
    both = gradtx.chain(gradtx.sgd(0.1), gradtx.param_ema(0.9), gradtx.swa()).init(params)
    with pytest.raises(
        ValueError, match=r"2 averaging states, at \['\[1\]: ParamEmaState', '\[2\]: SWAState'\]"
    ):
        gradtx.averaged_params(both)
    assert gradtx.averaged_params(both[2]) is both[2].average  # picking one works


def test_invalid_arguments():
    with pytest.raises(ValueError, match=r"`param_ema\(decay=...\)` must lie in \[0, 1\]"):
        gradtx.param_ema(1.5)
    with pytest.raises(TypeError, match=r"`param_ema\(debias=...\)` must be a bool"):
        gradtx.param_ema(0.9, debias="yes")
    with pytest.raises(ValueError, match=r"`swa\(start_step=...\)` must be an int >= 0"):
        gradtx.swa(start_step=-1)
    with pytest.raises(
        ValueError, match=r"`swa\(every_k=...\)` must be an int >= 1; got every_k=0"
    ):
        gradtx.swa(every_k=0)
    for fn, tx in (("param_ema", gradtx.param_ema(0.9)), ("swa", gradtx.swa())):
        with pytest.raises(ValueError, match=rf"`{fn}` averages the parameters, so it needs them"):
            tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


def test_decay_can_be_injected_and_optax_can_chain_it():
    import optax  # a black-box reference: gradtx transforms work inside optax.chain

    params = {"w": jnp.zeros(2)}
    grads = {"w": jnp.array([-1.0, -2.0])}
    injected = gradtx.inject_hyperparams(gradtx.param_ema)(decay=0.5)
    for tx in (
        gradtx.chain(gradtx.sgd(1.0), injected),
        optax.chain(optax.sgd(1.0), gradtx.param_ema(0.5)),
    ):
        state, p = tx.init(params), params
        for _ in range(2):  # params go 0 -> g -> 2g
            u, state = tx.update(grads, state, p)
            p = gradtx.apply_updates(p, u)
        # debiased: (0.5 * 1 + 2) / 1.5 = 5/3 of the gradient's size
        np.testing.assert_allclose(gradtx.averaged_params(state)["w"], [5 / 3, 10 / 3], rtol=1e-6)

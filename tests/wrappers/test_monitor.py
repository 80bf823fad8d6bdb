"""snapshot, monitor, measure_with_ema, scale_gradient, keep_params_nonnegative, flatten and
inject_stateful_hyperparams against hand-written loops."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx


def _grads(rng, n=4):
    return [
        {
            "w": jnp.asarray(rng.normal(size=(2, 3)), jnp.float32),
            "b": jnp.asarray(rng.normal(size=3), jnp.float32),
        }
        for _ in range(n)
    ]


def _np_norm(tree):
    return float(
        np.sqrt(sum(np.sum(np.square(np.asarray(x, np.float64))) for x in jax.tree.leaves(tree)))
    )


def _avals(tree):
    return jax.tree.map(lambda x: (jnp.shape(x), jnp.result_type(x)), tree)


# ----------------------------------------------------------------- snapshot and monitor


def test_snapshot_records_intermediate_updates(rng):
    grads = _grads(rng)
    tx = gradtx.chain(
        gradtx.scale(3.0), gradtx.snapshot("mid", gradtx.tree.norm), gradtx.clip_by_global_norm(1.0)
    )
    params = jax.tree.map(jnp.zeros_like, grads[0])
    state = tx.init(params)
    assert float(gradtx.tree.get(state, "mid")) == 0.0  # measure(params), as optax
    step = jax.jit(tx.update)
    for g in grads:
        u, state = step(g, state)
        assert gradtx.tree.get(state, "mid") == pytest.approx(3 * _np_norm(g), rel=1e-6)
        assert _np_norm(u) == pytest.approx(1.0, rel=1e-6)


def test_monitor_measures_and_ema_against_numpy(rng):
    grads = _grads(rng, 5)
    decay = 0.8
    tx = gradtx.monitor(
        {
            "norm": gradtx.tree.norm,
            "big": gradtx.measure_with_ema(lambda u: gradtx.tree.norm(u) > 2.5, decay),
            "ema": gradtx.measure_with_ema(gradtx.tree.norm, decay, debias=False),
        }
    )
    params = jax.tree.map(jnp.zeros_like, grads[0])
    s0 = tx.init(params)
    assert sorted(s0.measurements) == ["big", "ema", "norm"]  # every key from init on
    v_big = v_ema = 0.0
    state = s0
    for t, g in enumerate(grads, start=1):
        u, state = jax.jit(tx.update)(g, state)
        assert u is not g and _np_norm(u) == _np_norm(g)  # updates pass unchanged
        n = _np_norm(g)
        v_big = decay * v_big + (1 - decay) * float(n > 2.5)
        v_ema = decay * v_ema + (1 - decay) * n
        m = state.measurements
        assert float(m["norm"]) == pytest.approx(n, rel=1e-6)
        assert float(m["big"]) == pytest.approx(v_big / (1 - decay**t), rel=1e-6)
        assert float(m["ema"]) == pytest.approx(v_ema, rel=1e-6)
    assert _avals(s0) == _avals(state)
    jax.lax.cond(True, lambda: s0, lambda: state)  # one structure: scan and cond work


def test_monitor_under_scan_keeps_structure(rng):
    grads = _grads(rng, 3)
    tx = gradtx.monitor(
        {"n": gradtx.tree.norm, "e": gradtx.measure_with_ema(gradtx.tree.norm, 0.5)}
    )
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *grads)

    def body(s, g):
        return tx.update(g, s)[1], None

    state, _ = jax.lax.scan(body, tx.init(grads[0]), stacked)
    assert float(state.measurements["n"]) == pytest.approx(_np_norm(grads[-1]), rel=1e-6)


def test_measure_with_ema_accumulator_dtype():
    m = gradtx.measure_with_ema(gradtx.tree.norm, 0.9)
    s = m.init(jnp.ones(3, jnp.bfloat16))
    assert s[1].ema.dtype == jnp.float32  # bfloat16 measure, float32 average
    out, s1 = m.update(jnp.ones(3, jnp.bfloat16), s)
    assert s1[1].ema.dtype == jnp.float32 and out.dtype == jnp.float32
    m16 = gradtx.measure_with_ema(gradtx.tree.norm, 0.9, accumulator_dtype=jnp.bfloat16)
    assert m16.init(jnp.ones(3))[1].ema.dtype == jnp.bfloat16


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (
            lambda: gradtx.snapshot(3, gradtx.tree.norm),
            TypeError,
            r"snapshot\(measure_name=\.\.\.\)` must be a str",
        ),
        (
            lambda: gradtx.snapshot("a", 3.0),
            TypeError,
            r"snapshot\(measure=\.\.\.\)` must be callable",
        ),
        (
            lambda: gradtx.monitor({}),
            TypeError,
            r"monitor\(measures=\.\.\.\)` must be a non-empty dict",
        ),
        (lambda: gradtx.monitor({"a": 1.0}), TypeError, r"each entry must be name -> function"),
        (
            lambda: gradtx.measure_with_ema(1.0, 0.9),
            TypeError,
            r"measure_with_ema\(measure=\.\.\.\)",
        ),
        (
            lambda: gradtx.measure_with_ema(gradtx.tree.norm, 1.5),
            ValueError,
            r"ema\(decay=\.\.\.\)",
        ),
    ],
)
def test_invalid_arguments_raise(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_snapshot_shape_change_raises():
    tx = gradtx.snapshot("first", lambda u: u["w"][0])
    state = tx.init({"w": jnp.zeros(3)})
    with pytest.raises(
        ValueError, match=r"measurement 'first' has shape \(2,\) but had shape \(\)"
    ):
        tx.update({"w": jnp.zeros((3, 2))}, state)


# ----------------------------------------------------------------------- scale_gradient


def test_scale_gradient_scales_only_the_backward_pass():
    x = {"a": jnp.array([1.0, -2.0]), "b": jnp.array(3.0)}

    def f(x, s):
        y = gradtx.scale_gradient(x, s)
        return jnp.sum(y["a"] ** 2) + y["b"] ** 3

    assert jax.tree.map(float, gradtx.scale_gradient(x, 0.3)["b"]) == 3.0
    for s in (0.0, 0.25, -1.0):
        g = jax.jit(jax.grad(f))(x, s)
        np.testing.assert_allclose(g["a"], s * 2 * np.array([1.0, -2.0]), rtol=1e-6)
        np.testing.assert_allclose(g["b"], s * 27.0, rtol=1e-6)
    bf = jax.grad(lambda v: jnp.sum(gradtx.scale_gradient(v, 0.5)).astype(jnp.float32))(
        jnp.ones(2, jnp.bfloat16)
    )
    assert bf.dtype == jnp.bfloat16


# ------------------------------------------------------- keep_params_nonnegative, flatten


def test_keep_params_nonnegative_against_numpy(rng):
    p = {"w": jnp.asarray(np.abs(rng.normal(size=5)), jnp.float32), "n": None}
    tx = gradtx.chain(gradtx.sgd(1.0), gradtx.keep_params_nonnegative())
    state = tx.init(p)
    for _ in range(4):
        g = {"w": jnp.asarray(rng.normal(size=5), jnp.float32), "n": None}
        u, state = tx.update(g, state, p)
        want = np.maximum(np.asarray(p["w"]) - np.asarray(g["w"]), 0.0)
        p = gradtx.apply_updates(p, u)
        np.testing.assert_allclose(p["w"], want, rtol=1e-6, atol=1e-7)
        assert np.all(np.asarray(p["w"]) >= 0) and u["n"] is None
    with pytest.raises(ValueError, match=r"keep_params_nonnegative` needs the parameters"):
        tx.update(g, state)


def test_flatten_equals_the_unflattened_transform(rng):
    grads = _grads(rng, 3)
    params = jax.tree.map(lambda g: g * 0 + 1.0, grads[0])
    params["none"], grads = None, [{**g, "none": None} for g in grads]
    flat, plain = gradtx.flatten(gradtx.adamw(0.1)), gradtx.adamw(0.1)
    sf, sp = flat.init(params), plain.init(params)
    assert gradtx.tree.get(sf, "mu").shape == (9,)
    for g in grads:
        uf, sf = jax.jit(flat.update)(g, sf, params)
        up, sp = plain.update(g, sp, params)
        assert uf["none"] is None
        for a, b in zip(jax.tree.leaves(uf), jax.tree.leaves(up), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    with pytest.raises(
        TypeError, match=r"flatten\(inner=\.\.\.\)` must be a gradient transformation"
    ):
        gradtx.flatten(gradtx.adamw)


def test_flatten_keeps_each_leaf_dtype():
    tx = gradtx.flatten(gradtx.sgd(0.5))
    p = {"a": jnp.ones(2, jnp.bfloat16), "b": jnp.ones(3, jnp.float32)}
    u, _ = tx.update(p, tx.init(p), p)
    assert u["a"].dtype == jnp.bfloat16 and u["b"].dtype == jnp.float32


# ------------------------------------------------------------ inject_stateful_hyperparams


class HalveOnValueRise:
    """A stateful schedule driven by the loss: halves the rate when ``value`` rises."""

    def init(self):
        return {"lr": jnp.asarray(0.5), "last": jnp.asarray(jnp.inf)}

    def update(self, state, value=None, **extra):
        lr = jnp.where(value > state["last"], state["lr"] / 2, state["lr"])
        return {"lr": lr, "last": jnp.asarray(value, jnp.float32)}

    def __call__(self, state, **extra):
        return state["lr"]


@pytest.mark.parametrize("dtype", ["bfloat16", "float64"])
def test_hyperparams_stay_in_the_default_float_dtype(dtype, x64):
    params = jnp.zeros(3, dtype)
    tx = gradtx.inject_stateful_hyperparams(gradtx.sgd)(
        learning_rate=lambda c: 0.1 / (1 + c), momentum=0.9
    )
    state = tx.init(params)
    step = jax.jit(tx.update)
    for _ in range(2):
        u, new = step(jnp.ones(3, dtype), state, params)
        assert _avals(new) == _avals(state)
        state = new
    hps = state.hyperparams
    default = jnp.result_type(float)
    assert hps["learning_rate"].dtype == default and hps["momentum"].dtype == default
    assert float(hps["learning_rate"]) == pytest.approx(0.05, rel=1e-12)  # not 0.0500488
    assert float(hps["momentum"]) == pytest.approx(0.9, rel=1e-12)
    assert u.dtype == jnp.dtype(dtype)
    f32 = gradtx.inject_stateful_hyperparams(gradtx.sgd, hyperparam_dtype=jnp.float32)(0.1)
    assert f32.init(params).hyperparams["learning_rate"].dtype == jnp.float32


def test_stateful_schedule_reads_extra_args_against_a_loop():
    tx = gradtx.inject_stateful_hyperparams(gradtx.sgd)(learning_rate=HalveOnValueRise())
    params, state = jnp.zeros(1), None
    state = tx.init(params)
    losses = [3.0, 2.0, 2.5, 1.0, 1.5, 1.6]
    lr, last, steps = 0.5, np.inf, []
    for v in losses:
        u, state = jax.jit(tx.update)(jnp.ones(1), state, params, value=v)
        steps.append(-lr)  # this update uses the rate before the schedule sees v
        lr, last = (lr / 2 if v > last else lr), v
        assert float(u[0]) == pytest.approx(steps[-1])
    assert float(gradtx.hyperparams(state)["learning_rate"]) == pytest.approx(0.125)
    assert int(state.count) == len(losses)


def test_set_hyperparams_and_hyperparams_read_the_state():
    tx = gradtx.inject_stateful_hyperparams(gradtx.sgd)(
        learning_rate=gradtx.WrappedSchedule(lambda c: 0.1 * 0.5**c), momentum=0.5
    )
    state = tx.init(jnp.zeros(2))
    assert {"learning_rate", "momentum"} <= set(gradtx.hyperparams(state))
    state = gradtx.set_hyperparams(state, momentum=0.0)
    u, state = tx.update(jnp.ones(2), state)
    u, state = tx.update(jnp.ones(2), state)
    np.testing.assert_allclose(u, -0.05, rtol=1e-6)  # no momentum, second scheduled rate
    assert int(state.hyperparams_states["learning_rate"].count) == 2
    with pytest.raises(ValueError, match=r"'learning_rate' follows a schedule"):
        gradtx.set_hyperparams(state, learning_rate=0.3)
    with pytest.raises(ValueError, match=r"static_args=\.\.\.\)`: \['nope'\] are not arguments"):
        gradtx.inject_stateful_hyperparams(gradtx.scale_by_adam, static_args="nope")


def test_snapshot_state_avals_are_stable_for_python_scalars():
    """A measure returning a Python number must not leave a weakly typed value at init
    (``lax.cond`` and ``lax.scan`` compare weak types too)."""
    tx = gradtx.snapshot("c", lambda u: 1.0)
    s0 = tx.init(jnp.zeros(2))
    _, s1 = tx.update(jnp.ones(2), s0)
    weak = jax.tree.map(lambda x: x.weak_type, (s0, s1))
    assert weak == (gradtx.SnapshotState({"c": False}), gradtx.SnapshotState({"c": False}))
    jax.lax.cond(True, lambda: s0, lambda: s1)

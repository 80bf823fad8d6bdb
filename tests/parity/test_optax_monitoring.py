"""Monitoring, clipping and plateau scheduling against optax, in float64 (rtol 1e-10).

Same names, signatures and numbers, except where the issue asks for a difference; each
difference is shown by a test here (``clip_by_global_norm``'s recorded norm,
``reduce_on_plateau``'s patience and negative losses, hyperparameter dtypes of
``inject_stateful_hyperparams``, ``monitor``'s state at init).
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import (
    assert_sequences_close,
    assert_trajectories_close,
    initial_params,
    run_optax_like,
    standard_data,
    to_jax,
    x64,
)

optax = pytest.importorskip("optax")
contrib = pytest.importorskip("optax.contrib")

RTOL = 1e-10


@pytest.fixture(scope="module", autouse=True)
def _float64():
    with x64():
        yield


@pytest.fixture(scope="module")
def data():
    return standard_data(6)


def run_jitted(tx, params, grads):
    """``run_updates`` with the update jitted (one compilation instead of eager ops)."""
    p, update = to_jax(params), jax.jit(tx.update)
    state, out = tx.init(p), []
    for g in grads:
        u, state = update(to_jax(g), state, p)
        out.append(jax.tree.map(np.asarray, u))
    return out


def jitted(tx):
    return type(tx)(tx.init, jax.jit(tx.update))


def sched(count):
    return 0.1 / (1.0 + 0.25 * count)


# ------------------------------------------------------------------------- signatures

NAMES = [
    "adaptive_grad_clip",
    "clip_by_global_norm",
    "flatten",
    "inject_stateful_hyperparams",
    "keep_params_nonnegative",
    "measure_with_ema",
    "monitor",
    "per_example_global_norm_clip",
    "per_example_layer_norm_clip",
    "scale_gradient",
    "snapshot",
]


def _params(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", NAMES)
def test_same_signature(name):
    assert _params(getattr(gradtx, name)) == _params(getattr(optax, name))


def test_same_signature_and_state_fields_reduce_on_plateau():
    assert _params(gradtx.contrib.reduce_on_plateau) == _params(contrib.reduce_on_plateau)
    assert gradtx.ReduceLROnPlateauState._fields == contrib.ReduceLROnPlateauState._fields
    assert (
        gradtx.InjectStatefulHyperparamsState._fields
        == optax.InjectStatefulHyperparamsState._fields
    )
    assert gradtx.MonitorState._fields == optax.MonitorState._fields
    assert gradtx.SnapshotState._fields == optax.SnapshotState._fields


# ---------------------------------------------------------------- transformations' updates

PARAM_TRANSFORMS = [
    ("adaptive_grad_clip", lambda m: m.adaptive_grad_clip(0.05)),
    ("adaptive_grad_clip-eps-axis", lambda m: m.adaptive_grad_clip(0.3, eps=0.5, axis=None)),
    ("clip_by_global_norm", lambda m: m.clip_by_global_norm(0.7)),
    ("flatten-adam", lambda m: m.flatten(m.scale_by_adam())),
    ("flatten-sgd-momentum", lambda m: m.flatten(m.sgd(0.1, momentum=0.9, nesterov=True))),
    ("keep_params_nonnegative", lambda m: m.chain(m.sgd(0.3), m.keep_params_nonnegative())),
    (
        "inject_stateful_hyperparams-schedule",
        lambda m: m.inject_stateful_hyperparams(m.sgd)(learning_rate=sched, momentum=0.9),
    ),
    (
        "inject_stateful_hyperparams-wrapped",
        lambda m: m.inject_stateful_hyperparams(m.scale_by_adam)(
            b1=m.WrappedSchedule(lambda c: 0.9 - 0.5 / (1.0 + c)), b2=0.99
        ),
    ),
    ("snapshot", lambda m: m.chain(m.scale(2.0), m.snapshot("n", m.tree.norm))),
    ("monitor", lambda m: m.monitor({"n": m.tree.norm, "e": m.measure_with_ema(m.tree.norm, 0.5)})),
]


@pytest.mark.parametrize("name, build", PARAM_TRANSFORMS, ids=[c[0] for c in PARAM_TRANSFORMS])
def test_updates_match_optax(name, build, data):
    params, grads = data
    if name == "keep_params_nonnegative":
        params = {k: np.abs(v) * 0.3 for k, v in params.items()}  # steps cross zero
        got = run_optax_like(jitted(build(gradtx)), params, grads)
        want = run_optax_like(jitted(build(optax)), params, grads)
        assert_trajectories_close(got, want, RTOL)
        assert min(float(np.min(p[k])) for p in got for k in p) == 0.0
        return
    got, want = run_jitted(build(gradtx), params, grads), run_jitted(build(optax), params, grads)
    assert_sequences_close(got, want, RTOL)


def test_agc_clips_on_the_standard_data(data):
    """The comparison above is not vacuous: AGC changes most updates there."""
    params, grads = data
    out = run_jitted(gradtx.adaptive_grad_clip(0.05), params, grads)
    changed = [not np.allclose(o[k], g[k]) for o, g in zip(out, grads, strict=True) for k in g]
    assert sum(changed) > len(changed) // 2


def test_agc_conv_kernels_match_optax(rng):
    shapes = {"c1": (5, 3, 4), "c2": (3, 3, 2, 4), "c3": (2, 2, 2, 3, 4)}
    params = {k: rng.normal(size=s) for k, s in shapes.items()}
    grads = {k: rng.normal(size=s) for k, s in shapes.items()}
    grads = [grads, {k: 0.1 * v for k, v in grads.items()}]
    got = run_jitted(gradtx.adaptive_grad_clip(0.05), params, grads)
    want = run_jitted(optax.adaptive_grad_clip(0.05), params, grads)
    assert_sequences_close(got, want, RTOL)


def _measurements(tx, params, grads, key):
    p, update = to_jax(params), jax.jit(tx.update)
    state, out = tx.init(p), []
    for g in grads:
        _, state = update(to_jax(g), state, p)
        out.append({k: np.asarray(v) for k, v in key(state).items()})
    return out


@pytest.mark.parametrize("debias", [True, False])
def test_monitor_measurements_match_optax(debias, data):
    params, grads = data

    def build(m):
        return m.chain(
            m.scale_by_adam(),
            m.monitor(
                {
                    "norm": m.tree.norm,
                    "ema": m.measure_with_ema(m.tree.norm, 0.8, debias=debias),
                    "big": m.measure_with_ema(lambda u: m.tree.norm(u) > 2.0, 0.5),
                }
            ),
        )

    got = _measurements(build(gradtx), params, grads, lambda s: s[1].measurements)
    want = _measurements(build(optax), params, grads, lambda s: s[1].measurements)
    # a boolean measure is averaged in float32 by both libraries (measured 3e-8 apart)
    big = [{"big": x.pop("big")} for x in got], [{"big": x.pop("big")} for x in want]
    assert_sequences_close(got, want, RTOL)
    assert_sequences_close(*big, 1e-6)
    assert 0 < float(big[0][-1]["big"]) < 1


def test_snapshot_measurement_matches_optax(data):
    params, grads = data
    got = _measurements(
        gradtx.snapshot("n", gradtx.tree.norm), params, grads, lambda s: s.measurement
    )
    want = _measurements(
        optax.snapshot("n", optax.tree.norm), params, grads, lambda s: s.measurement
    )
    assert_sequences_close(got, want, RTOL)


def test_monitor_state_at_init_differs_from_optax():
    """optax's ``measurements`` is ``{}`` until the first update (the state changes
    structure, which ``lax.scan`` rejects); gradtx holds every key from init on."""
    p = to_jax(initial_params())
    o = optax.monitor({"n": optax.tree.norm}).init(p)
    g = gradtx.monitor({"n": gradtx.tree.norm}).init(p)
    assert o.measurements == {} and list(g.measurements) == ["n"]


def test_scale_gradient_matches_optax(data):
    params, _ = data
    p = to_jax(params)

    def loss(m, p, s):
        q = m.scale_gradient(p, s)
        return sum(jnp.sum(jnp.sin(x) * x) for x in jax.tree.leaves(q))

    got = [
        jax.jit(jax.grad(lambda p, s: loss(gradtx, p, s)), static_argnums=1)(p, s)
        for s in (0.5, -2.0)
    ]
    want = [
        jax.jit(jax.grad(lambda p, s: loss(optax, p, s)), static_argnums=1)(p, s)
        for s in (0.5, -2.0)
    ]
    assert_sequences_close(got, want, RTOL)


@pytest.mark.parametrize("uniform", [True, False])
def test_per_example_clipping_matches_optax(uniform, rng):
    leaves = [jnp.asarray(rng.normal(size=(7,) + s)) for s in [(3, 2), (5,), ()]]

    def both(m, c):
        return (
            m.per_example_global_norm_clip(leaves, c),
            m.per_example_layer_norm_clip(leaves, c, uniform=uniform),
        )

    for c in (0.5, 2.5):  # some examples clipped, then most of them
        (got, n), (got_l, n_l) = jax.jit(lambda c: both(gradtx, c))(c)
        (want, m), (want_l, m_l) = jax.jit(lambda c: both(optax, c))(c)
        assert_sequences_close([got, got_l], [want, want_l], RTOL)
        assert int(n) == int(m) and [int(x) for x in n_l] == [int(x) for x in m_l]
        assert 0 < int(n) <= 7


# ------------------------------------------------------------------- deliberate differences


def test_clip_by_global_norm_state_records_the_norm(data):
    params, grads = data
    g = to_jax(grads[0])
    _, state = gradtx.clip_by_global_norm(1.0).update(g, gradtx.clip_by_global_norm(1.0).init(None))
    _, o_state = optax.clip_by_global_norm(1.0).update(g, optax.clip_by_global_norm(1.0).init(None))
    assert o_state == optax.EmptyState()  # optax keeps nothing
    assert float(state.norm) == pytest.approx(float(optax.global_norm(g)), rel=RTOL)


def test_inject_stateful_hyperparams_dtype_differs_from_optax():
    p = jnp.zeros(2, jnp.bfloat16)
    ours = gradtx.inject_stateful_hyperparams(gradtx.sgd)(learning_rate=0.1, momentum=0.9).init(p)
    theirs = optax.inject_stateful_hyperparams(optax.sgd)(learning_rate=0.1, momentum=0.9).init(p)
    assert theirs.hyperparams["momentum"].dtype == jnp.bfloat16  # 0.898438
    assert ours.hyperparams["momentum"].dtype == jnp.result_type(float)
    assert float(ours.hyperparams["momentum"]) == 0.9


# Plateaus of several lengths, ending with one long enough for the default patience (10).
POSITIVE = [5.0, 4.0, 4.0, 3.9999, 4.1, 3.0, 3.0, 3.0, 3.0, 2.9, 2.9, 2.9, 2.9, 2.9] + [1.0] * 13

PLATEAU = [
    {"factor": 0.5, "patience": 1, "rtol": 1e-3},
    {},  # defaults: one reduction, in the final plateau
    {"factor": 0.3, "patience": 0, "cooldown": 2, "min_scale": 0.05, "rtol": 0.0, "atol": 1e-6},
    {"factor": 0.5, "patience": 0, "accumulation_size": 2, "rtol": 1e-3, "atol": 0.01},
]


def _plateau_run(m, values, grads, params, **kwargs):
    tx = m.contrib.reduce_on_plateau(**kwargs)
    p, update = to_jax(params), jax.jit(tx.update)
    state, outs, scales = tx.init(p), [], []
    for v, g in zip(values, grads, strict=True):
        u, state = update(to_jax(g), state, p, value=jnp.asarray(v))
        outs.append(jax.tree.map(np.asarray, u))
        scales.append(float(state.scale))
    return outs, np.asarray(scales)


@pytest.mark.parametrize("kwargs", PLATEAU)
def test_reduce_on_plateau_matches_optax_with_patience_plus_one(kwargs):
    """For positive losses optax's rule is gradtx's with optax's patience one larger."""
    params = initial_params()
    grads = [
        to_jax({k: np.ones_like(v) * (i + 1) for k, v in params.items()})
        for i in range(len(POSITIVE))
    ]
    grads = [jax.tree.map(np.asarray, g) for g in grads]
    theirs = dict(kwargs, patience=kwargs.get("patience", 10) + 1)
    if theirs.get("rtol", 1e-4) == 0 and theirs.get("atol", 0) == 0:
        raise AssertionError("optax needs a positive tolerance")
    got_u, got_s = _plateau_run(gradtx, POSITIVE, grads, params, **kwargs)
    want_u, want_s = _plateau_run(optax, POSITIVE, grads, params, **theirs)
    np.testing.assert_allclose(got_s, want_s, rtol=RTOL)
    assert_sequences_close(got_u, want_u, RTOL)
    assert got_s[-1] < 1.0


def test_reduce_on_plateau_negative_losses_differ_from_optax():
    """optax takes -9.5, -9.6, ... (all worse than -10) for improvements: its scale never
    drops. gradtx counts them as a plateau and reduces."""
    values = [-8.0, -10.0, -9.5, -9.6, -9.7, -9.8, -9.9, -9.95]
    params = initial_params()
    grads = [params] * len(values)
    _, ours = _plateau_run(gradtx, values, grads, params, factor=0.5, patience=1, rtol=0.1)
    _, theirs = _plateau_run(optax, values, grads, params, factor=0.5, patience=2, rtol=0.1)
    assert np.all(theirs == 1.0)
    np.testing.assert_array_equal(ours, [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125])

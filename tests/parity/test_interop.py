"""gradtx and optax mixed: each library's transformations inside the other's combinators,
and a training loop written for optax run unchanged with ``import gradtx as optax``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import (
    EXACT,
    assert_trajectories_close,
    gradient_sequence,
    initial_params,
    run_optax_like,
    standard_data,
    to_jax,
    x64,
)

optax = pytest.importorskip("optax")

RTOL = 1e-10
MASK = {"w": True, "b": False, "s": True}
E = EXACT


@pytest.fixture(scope="module")
def data():
    return standard_data()


@pytest.fixture()
def float64():
    with x64():
        yield


def _run(tx, data, **kw):
    params, grads = data
    return run_optax_like(tx, params, grads, **kw)


# (id, mixed transformation, the same in pure optax); float64, rtol 1e-10.
MIXED = [
    # gradtx inside optax
    (
        "optax.chain(gradtx.clip_by_global_norm, optax.adam)",
        lambda: optax.chain(gradtx.clip_by_global_norm(1.0), optax.adam(0.1)),
        lambda: optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.1)),
    ),
    (
        "optax.chain(optax.clip, gradtx.sgd)",
        lambda: optax.chain(optax.clip(0.5), gradtx.sgd(E["lr"], momentum=E["momentum"])),
        lambda: optax.chain(optax.clip(0.5), optax.sgd(E["lr"], momentum=E["momentum"])),
    ),
    (
        "optax.chain(gradtx.scale_by_adam, gradtx.add_decayed_weights, optax.scale)",
        lambda: optax.chain(
            gradtx.scale_by_adam(), gradtx.add_decayed_weights(0.01, MASK), optax.scale(-0.1)
        ),
        lambda: optax.chain(
            optax.scale_by_adam(), optax.add_decayed_weights(0.01, MASK), optax.scale(-0.1)
        ),
    ),
    (
        "optax.masked(gradtx.scale_by_rms)",
        lambda: optax.chain(optax.masked(gradtx.scale_by_rms(), MASK), optax.scale(-0.01)),
        lambda: optax.chain(optax.masked(optax.scale_by_rms(), MASK), optax.scale(-0.01)),
    ),
    (
        "optax.MultiSteps(gradtx.sgd)",
        lambda: optax.MultiSteps(
            gradtx.sgd(E["lr"], momentum=E["momentum"]), 2
        ).gradient_transformation(),
        lambda: optax.MultiSteps(
            optax.sgd(E["lr"], momentum=E["momentum"]), 2
        ).gradient_transformation(),
    ),
    (
        "optax.apply_if_finite(gradtx.rmsprop)",
        lambda: optax.apply_if_finite(gradtx.rmsprop(E["lr"], decay=E["decay"], eps=E["eps"]), 2),
        lambda: optax.apply_if_finite(optax.rmsprop(E["lr"], decay=E["decay"], eps=E["eps"]), 2),
    ),
    (
        "optax.inject_hyperparams(gradtx.scale_by_adam)",
        lambda: optax.chain(
            optax.inject_hyperparams(gradtx.scale_by_adam)(b1=0.8), optax.scale(-0.1)
        ),
        lambda: optax.chain(
            optax.inject_hyperparams(optax.scale_by_adam)(b1=0.8), optax.scale(-0.1)
        ),
    ),
    # optax inside gradtx
    (
        "gradtx.chain(optax.clip_by_global_norm, gradtx.scale_by_adam, gradtx.scale)",
        lambda: gradtx.chain(
            optax.clip_by_global_norm(1.0), gradtx.scale_by_adam(), gradtx.scale(-0.1)
        ),
        lambda: optax.chain(
            optax.clip_by_global_norm(1.0), optax.scale_by_adam(), optax.scale(-0.1)
        ),
    ),
    (
        "gradtx.chain(optax.scale_by_adam, gradtx.add_decayed_weights, optax.scale)",
        lambda: gradtx.chain(
            optax.scale_by_adam(), gradtx.add_decayed_weights(0.01), optax.scale(-0.1)
        ),
        lambda: optax.chain(
            optax.scale_by_adam(), optax.add_decayed_weights(0.01), optax.scale(-0.1)
        ),
    ),
    (
        "gradtx.named_chain(optax.trace, gradtx.scale)",
        lambda: gradtx.named_chain(
            ("m", optax.trace(0.9, nesterov=True)), ("lr", gradtx.scale(-0.1))
        ),
        lambda: optax.chain(optax.trace(0.9, nesterov=True), optax.scale(-0.1)),
    ),
    (
        "gradtx.masked(optax.scale_by_adam)",
        lambda: gradtx.chain(gradtx.masked(optax.scale_by_adam(), MASK), gradtx.scale(-0.1)),
        lambda: optax.chain(optax.masked(optax.scale_by_adam(), MASK), optax.scale(-0.1)),
    ),
    (
        "gradtx.chain(gradtx.sgd, optax.clip)",
        lambda: gradtx.chain(
            gradtx.sgd(E["lr"], momentum=E["momentum"], nesterov=True), optax.clip(0.05)
        ),
        lambda: optax.chain(
            optax.sgd(E["lr"], momentum=E["momentum"], nesterov=True), optax.clip(0.05)
        ),
    ),
]


# Wrappers built on lax.cond retrace at every eager call: run those jitted (faster).
JITTED = {"optax.MultiSteps(gradtx.sgd)", "optax.apply_if_finite(gradtx.rmsprop)"}


def _jit(tx):
    return optax.GradientTransformationExtraArgs(tx.init, jax.jit(tx.update))


@pytest.mark.parametrize("name, mixed, pure", MIXED, ids=[c[0] for c in MIXED])
def test_mixed_chain_matches_pure_optax(name, mixed, pure, data, float64):
    mixed, pure = mixed(), pure()
    if name in JITTED:
        mixed, pure = _jit(mixed), _jit(pure)
    assert_trajectories_close(_run(mixed, data), _run(pure, data), RTOL)


@pytest.mark.parametrize(
    "name, mixed, pure", [MIXED[0], MIXED[7]], ids=["optax-outer", "gradtx-outer"]
)
def test_mixed_chain_under_jit(name, mixed, pure, data, float64):
    assert_trajectories_close(_run(_jit(mixed()), data), _run(pure(), data), RTOL)


def test_gradtx_inject_hyperparams_of_optax_factory(data, float64):
    """gradtx's inject_hyperparams wraps an optax factory (float64 hyperparameters here,
    so that it is optax's own inject_hyperparams under x64)."""
    got = gradtx.chain(
        gradtx.inject_hyperparams(optax.scale_by_adam, hyperparam_dtype=jnp.float64)(b1=0.8),
        gradtx.scale(-0.1),
    )
    want = optax.chain(optax.inject_hyperparams(optax.scale_by_adam)(b1=0.8), optax.scale(-0.1))
    assert_trajectories_close(_run(got, data), _run(want, data), RTOL)


def test_gradtx_chain_passes_extra_args_past_plain_optax_transforms(float64):
    """A hand-written optax transformation without ``**extra_args`` inside gradtx.chain,
    next to optax's scale_by_polyak, which needs ``value=``: the same updates as in
    optax.chain."""

    def plain_update(updates, state, params=None):
        return jax.tree.map(lambda g: 2 * g, updates), state

    def build(m):
        plain = optax.GradientTransformation(lambda p: optax.EmptyState(), plain_update)
        return m.chain(plain, optax.scale_by_polyak(max_learning_rate=1.0), m.scale(-1.0))

    params = to_jax(initial_params())
    for g in gradient_sequence(3):
        grads = to_jax(g)
        value = jnp.asarray(float(np.sum(g["w"] ** 2)))
        got, _ = build(gradtx).update(grads, build(gradtx).init(params), params, value=value)
        want, _ = build(optax).update(grads, build(optax).init(params), params, value=value)
        for k in grads:
            np.testing.assert_allclose(got[k], want[k], rtol=RTOL)
            assert np.all(got[k] != 0)


def test_apply_updates_across_libraries(data, float64):
    params, grads = data
    p, u = to_jax(params), to_jax(grads[0])
    g_updates, _ = gradtx.adam(0.1).update(u, gradtx.adam(0.1).init(p), p)
    o_updates, _ = optax.adam(0.1).update(u, optax.adam(0.1).init(p), p)
    for updates in (g_updates, o_updates):
        a, b = optax.apply_updates(p, updates), gradtx.apply_updates(p, updates)
        for k in p:
            np.testing.assert_array_equal(a[k], b[k])
            np.testing.assert_array_equal(a[k], p[k] + updates[k])
    p32 = jax.tree.map(lambda x: x.astype(jnp.float32), p)
    a, b = optax.apply_updates(p32, g_updates), gradtx.apply_updates(p32, g_updates)
    for k in p:
        assert a[k].dtype == b[k].dtype == jnp.float32
        np.testing.assert_array_equal(a[k], b[k])


# ----------------------------------------------- a training loop written for optax


def _problem(dtype):
    rng = np.random.default_rng(7)
    a = rng.normal(size=(32, 5))
    y = a @ rng.normal(size=5) + 0.5 + 0.1 * rng.normal(size=32)
    return jnp.asarray(a, dtype), jnp.asarray(y, dtype)


def train(optax, dtype, steps=60):  # noqa: A002 - the point: run with either module
    """Least squares written against the optax API, using whatever module ``optax`` is."""
    a, y = _problem(dtype)
    params = {"w": jnp.zeros(5, dtype), "b": jnp.zeros((), dtype)}

    def loss_fn(p):
        return jnp.mean((a @ p["w"] + p["b"] - y) ** 2)

    schedule = optax.warmup_cosine_decay_schedule(0.0, 0.125, 8, steps, 0.0)
    opt = optax.chain(
        optax.clip_by_global_norm(4.0),
        optax.inject_hyperparams(optax.adamw)(learning_rate=schedule, weight_decay=2.0**-10),
    )
    state = opt.init(params)

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, state = opt.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss, optax.global_norm(grads)

    losses, norms = [], []
    for _ in range(steps):
        params, state, loss, norm = step(params, state)
        losses.append(float(loss))
        norms.append(float(norm))
    lr = float(state[1].hyperparams["learning_rate"])
    return params, np.asarray(losses), np.asarray(norms), lr


@pytest.mark.parametrize("dtype, rtol", [(jnp.float32, 5e-6)], ids=["float32"])
def test_training_loop_written_for_optax(dtype, rtol):
    """The same function, handed ``optax`` or ``gradtx``, trains to the same parameters
    (float32, the everyday case: gradtx's float32 hyperparameters are then optax's
    precision too; measured: 5.5e-7 on the losses, 1 ulp on the parameters)."""
    g_params, g_losses, g_norms, g_lr = train(gradtx, dtype)
    o_params, o_losses, o_norms, o_lr = train(optax, dtype)
    assert o_losses[-1] < 0.1 * o_losses[0]  # it trains
    np.testing.assert_allclose(g_losses, o_losses, rtol=rtol)
    np.testing.assert_allclose(g_norms, o_norms, rtol=rtol)
    for k in o_params:
        np.testing.assert_allclose(g_params[k], o_params[k], rtol=rtol, atol=1e-6)
    assert g_lr == pytest.approx(o_lr, rel=1e-6)


def test_training_loop_written_for_optax_float64(float64):
    """In float64 with exactly representable hyperparameters and no bias correction in
    play (SGD with Nesterov momentum and clipping), the two runs agree to 1e-12."""

    def run(optax):
        a, y = _problem(jnp.float64)
        params = {"w": jnp.zeros(5), "b": jnp.zeros(())}
        opt = optax.chain(
            optax.clip_by_global_norm(4.0),
            optax.sgd(E["lr"] / 4, momentum=E["momentum"], nesterov=True),
        )
        state = opt.init(params)
        for _ in range(40):
            grads = jax.grad(lambda p: jnp.mean((a @ p["w"] + p["b"] - y) ** 2))(params)
            updates, state = opt.update(grads, state, params)
            params = optax.apply_updates(params, updates)
        return params

    got, want = run(gradtx), run(optax)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12)


def test_tree_get_learning_rate_of_injected_optimizer():
    """optax code reads the current learning rate with
    ``optax.tree.get(state, "learning_rate")``; with ``import gradtx as optax`` the
    injected gradtx alias records it twice (its own hyperparameters and the wrapper's),
    so the same line must still find one value."""
    params = {"w": jnp.zeros(3)}
    for mod in (optax, gradtx):
        state = mod.inject_hyperparams(mod.adamw)(learning_rate=0.1, weight_decay=1e-3).init(params)
        assert float(mod.tree.get(state, "learning_rate")) == pytest.approx(0.1), mod.__name__

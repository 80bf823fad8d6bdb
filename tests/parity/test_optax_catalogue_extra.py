"""optimistic_adam, Lion's modes and SAM against optax, in float64 to rtol 1e-10.

optax is a black box here: the same inputs go to both libraries and the parameter
trajectories (and their steps, see ``_sequences``) are compared.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import assert_trajectories_close, run_optax_like, standard_data, x64

optax = pytest.importorskip("optax")

RTOL = 1e-10


@pytest.fixture
def data():
    with x64():
        yield standard_data()


def _sched(count):
    return 0.1 / (1.0 + 0.25 * count)


BUILDS = [
    ("optimistic_adam", lambda m: m.optimistic_adam(0.125)),
    ("optimistic_adam-optimism", lambda m: m.optimistic_adam(0.125, optimism=0.5)),
    ("optimistic_adam-plain", lambda m: m.optimistic_adam(0.125, nesterov=False)),
    (
        "optimistic_adam-args",
        lambda m: m.optimistic_adam(
            0.05, 0.01, b1=0.875, b2=0.99, eps=1e-6, eps_root=1e-9, nesterov=False
        ),
    ),
    ("scale_by_lion-smooth", lambda m: m.chain(m.scale_by_lion(mode="smooth"), m.scale(-0.1))),
    (
        "scale_by_lion-smooth-beta",
        lambda m: m.chain(
            m.scale_by_lion(0.8, 0.95, mode="smooth", smooth_beta=4.0), m.scale(-0.1)
        ),
    ),
    ("scale_by_lion-refined", lambda m: m.chain(m.scale_by_lion(mode="refined"), m.scale(-0.1))),
    ("scale_by_lion-hard", lambda m: m.chain(m.scale_by_lion(mode="hard"), m.scale(-0.1))),
]


@pytest.mark.parametrize("build", [b for _, b in BUILDS], ids=[i for i, _ in BUILDS])
def test_matches_optax(build, data):
    params, grads = data
    with x64():
        got = run_optax_like(build(gradtx), params, grads)
        want = run_optax_like(build(optax), params, grads)
    assert_trajectories_close(got, want, rtol=RTOL)


@pytest.mark.parametrize("mode", ["smooth", "refined"])
def test_lion_mode_is_optax_chain(mode, data):
    # optax.lion has no `mode`; gradtx.lion(mode=...) is optax's chain of the same parts.
    params, grads = data

    def optax_lion(learning_rate, weight_decay):
        return optax.chain(
            optax.scale_by_lion(mode=mode, smooth_beta=2.0),
            optax.add_decayed_weights(weight_decay),
            optax.scale_by_learning_rate(learning_rate),
        )

    with x64():
        ours = gradtx.lion(_sched, weight_decay=0.125, mode=mode, smooth_beta=2.0)
        got = run_optax_like(ours, params, grads)
        want = run_optax_like(optax_lion(_sched, 0.125), params, grads)
    assert_trajectories_close(got, want, rtol=RTOL)


# ---------------------------------------------------------------------------------------
# SAM: a non-quadratic loss, so the gradient at the adversarial point matters.


def _loss(p):
    return (
        jnp.sum((p["w"] - 0.5) ** 4)
        + jnp.sum(p["b"] ** 2) * (1.0 + p["s"] ** 2)
        + jnp.sum(jnp.sin(p["w"]))
    )


def _run_sam(m, opaque, sync_period, reset_state, params, steps=6):
    outer = m.adam(0.05)
    adv = m.chain(m.contrib.normalize(), m.sgd(0.1, momentum=0.5))
    tx = m.contrib.sam(
        outer, adv, sync_period=sync_period, reset_state=reset_state, opaque_mode=opaque
    )
    p = jax.tree.map(jnp.asarray, params)
    state, traj = tx.init(p), [params]
    grad = jax.grad(_loss)
    extra = {"grad_fn": lambda q, i: grad(q)} if opaque else {}
    step = jax.jit(lambda g, s, p: tx.update(g, s, p, **extra))  # one compilation
    for _ in range(steps):
        u, state = step(grad(p), state, p)
        p = jax.tree.map(jnp.add, p, u)
        traj.append(jax.tree.map(np.asarray, p))
    return traj, state


@pytest.mark.parametrize("opaque", [False, True], ids=["visible", "opaque"])
@pytest.mark.parametrize(("sync_period", "reset_state"), [(2, True), (3, False)])
def test_sam_matches_optax(opaque, sync_period, reset_state, data):
    params, _ = data
    with x64():
        got, s1 = _run_sam(gradtx, opaque, sync_period, reset_state, params)
        want, s2 = _run_sam(optax, opaque, sync_period, reset_state, params)
    assert_trajectories_close(got, want, rtol=RTOL)
    assert s1._fields == s2._fields == ("steps_since_sync", "opt_state", "adv_state", "cache")
    assert int(s1.steps_since_sync) == int(s2.steps_since_sync)
    if opaque:
        assert s1.cache is None and s2.cache is None
    else:
        for k in params:
            np.testing.assert_allclose(s1.cache[k], s2.cache[k], rtol=RTOL)


def test_sam_batch_axis_name_matches_optax(data):
    # Under vmap with an axis name, every adversarial gradient is averaged over the
    # axis: members that differ only in their first gradient end with the same step.
    params, _ = data
    scales = jnp.array([1.0, 3.0])

    def run(m, axis):
        tx = m.contrib.sam(
            m.sgd(0.1), m.sgd(0.5), sync_period=3, opaque_mode=True, batch_axis_name=axis
        )
        p = jax.tree.map(jnp.asarray, params)
        state = tx.init(p)

        def one(scale):
            def grad_fn(q, i):
                return jax.tree.map(lambda x: scale * jnp.sin(x) + i, q)

            return tx.update(grad_fn(p, 0), state, p, grad_fn=grad_fn)[0]

        return jax.jit(jax.vmap(one, axis_name="batch"))(scales)

    with x64():
        got, want = run(gradtx, "batch"), run(optax, "batch")
        alone = run(gradtx, None)
    for k in params:
        np.testing.assert_allclose(got[k], want[k], rtol=RTOL)
        np.testing.assert_allclose(got[k][0], got[k][1], rtol=1e-12)
        assert not np.allclose(alone[k][0], alone[k][1])

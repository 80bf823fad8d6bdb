"""The code of docs/index.md and docs/guide/composing.md runs and does what the text says.

Neither page prints; the checks read the objects the blocks leave in the namespace.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from _guides import run_page

import gradtx


def test_index_first_example_trains_and_shows_its_hyperparameters():
    printed, ns = run_page("index.md", expected_blocks=1)
    assert printed == []
    x = jnp.linspace(-1.0, 1.0, 24).reshape(8, 3)
    y = x @ jnp.array([1.0, -2.0, 0.5]) + 0.3
    params, state = ns["params"], ns["state"]
    first = ns["loss"](params, x, y)
    for _ in range(200):
        params, state = ns["step"](params, state, x, y)
    assert float(ns["loss"](params, x, y)) < 0.05 * float(first)
    hp = gradtx.hyperparams(state)  # found inside the chain, after the clipping's state
    assert float(hp["learning_rate"]) == np.float32(0.01)
    assert float(hp["b1"]) == np.float32(0.9)
    assert hp["learning_rate"].dtype == jnp.float32
    assert ns["step"]._cache_size() == 1


def test_composing_guide_blocks_run_and_behave_as_described():
    printed, ns = run_page("guide/composing.md", expected_blocks=15)
    assert printed == []
    g = {"w": jnp.array([0.5, -1.0, 2.0]), "b": jnp.array(0.25)}
    zeros = jax.tree.map(jnp.zeros_like, g)

    # "The first step of this chain is exactly -lr g_1" (dampened, bias-corrected momentum).
    tx = ns["ema_momentum"]
    u, _ = tx.update(g, tx.init(zeros), zeros)
    for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True):
        np.testing.assert_allclose(a, -1e-3 * b, rtol=1e-6)
    # Without dampening the same rate gives a step ~1/(1 - beta) = 10x larger after many
    # steps along a steady gradient.
    mom, ema = ns["momentum_sgd"], ns["ema_momentum"]
    s_mom, s_ema = mom.init(zeros), ema.init(zeros)
    for _ in range(100):
        u_mom, s_mom = mom.update(g, s_mom, zeros)
        u_ema, s_ema = ema.update(g, s_ema, zeros)
    ratio = (u_mom["w"] / 1e-2) / (u_ema["w"] / 1e-3)
    np.testing.assert_allclose(ratio, 10.0, rtol=1e-3)

    # The hand-written transformation scales by 1/sqrt(t), with an int32 count.
    tx = gradtx.chain(ns["scale_by_inv_sqrt_step"](), gradtx.scale_by_learning_rate(0.1))
    state = tx.init(zeros)
    for t in range(1, 5):
        u, state = tx.update(g, state, zeros)
        np.testing.assert_allclose(u["w"], -0.1 * g["w"] / np.sqrt(t), rtol=1e-6)
    assert state[0].count.dtype == jnp.int32 and int(state[0].count) == 4

    # train_step ran twice, before and after set_hyperparams, and compiled once.
    assert ns["train_step"]._cache_size() == 1
    assert not np.allclose(ns["params"]["w"], 0.0)
    adam_state = gradtx.adam(learning_rate=1e-3).init(ns["params"])
    hp = gradtx.hyperparams(adam_state)
    expected = {"b1": 0.9, "b2": 0.999, "eps": 1e-08, "eps_root": 0.0, "learning_rate": 0.001}
    assert sorted(hp) == sorted(expected)
    for name, value in expected.items():
        assert hp[name].dtype == jnp.float32 and float(hp[name]) == np.float32(value), name

    # inject_hyperparams puts the factory's numeric arguments in the state.
    hp = gradtx.hyperparams(
        gradtx.inject_hyperparams(ns["ema_momentum_sgd"])(learning_rate=1e-3).init(zeros)
    )
    assert sorted(hp) == ["beta", "learning_rate"]
    assert hp["beta"].dtype == jnp.float32 and float(hp["beta"]) == np.float32(0.9)

    # The vmapped sweep: one loss per rate; 1e-3 is far too slow for 200 steps
    # (measured 1.5e-3), the larger rates reach the noise-free optimum (~1e-9).
    losses = np.asarray(ns["final_losses"])
    assert losses.shape == (5,)
    assert losses[0] > 1e-4
    assert np.all(losses[1:] < 1e-6)

    # Schedules: the epoch-indexed one changes once per epoch; the momentum one warms up.
    sched, spe = ns["schedule"], ns["steps_per_epoch"]
    assert spe == 31
    assert float(sched(spe - 1)) == float(sched(0)) == np.float32(1e-3)
    np.testing.assert_allclose(float(sched(10 * spe)), 1e-3 / (1 + 0.005 * 10), rtol=1e-6)
    np.testing.assert_allclose(float(ns["momentum"](0)), 0.85, rtol=1e-6)
    np.testing.assert_allclose(float(ns["momentum"](1_000)), 0.95, rtol=1e-6)

    # Polyak's step: u = -(f - f*) / ||g||^2 g, with f the loss passed as value=.
    grads, loss = ns["grads"], float(ns["loss"])
    sq = sum(float(jnp.sum(v**2)) for v in jax.tree.leaves(grads))
    assert sq < 100.0  # below the clipping threshold (10^2), so the clip is inactive
    for a, b in zip(jax.tree.leaves(ns["updates"]), jax.tree.leaves(grads), strict=True):
        np.testing.assert_allclose(a, -loss / sq * b, rtol=1e-5)

    # The one-line migration.
    assert ns["optax"] is gradtx

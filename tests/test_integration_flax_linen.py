"""docs/guide/flax_linen.md runs as written, and gradtx works as a Linen ``TrainState.tx``.

The page trains a Linen MLP with ``TrainState.create(..., tx=gradtx.adam(schedule))``
and ``apply_gradients``, logs the learning rate from ``state.opt_state``, then uses a
clipped AdamW with a weight-decay mask by path and sets its learning rate by hand. The
tests check what it prints and what it claims: the logged learning rates are the
schedule's, the mask spares the biases, ``set_hyperparams`` reuses the compiled step
while a new ``tx`` recompiles it, and a donated state works.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _guides import run_page, shown_output

import gradtx

train_state = pytest.importorskip("flax.training.train_state")

PAGE = "guide/flax_linen.md"
NUMBER = r"\d+\.?\d*"


@pytest.fixture(scope="module")
def page():
    return run_page(PAGE, expected_blocks=2)


def test_page_prints_what_it_shows(page):
    printed, _ = page
    shown = shown_output(PAGE)
    assert len(printed) == len(shown) == 7
    for got, want in zip(printed, shown, strict=True):
        # the same text; the numbers equal to the printed digits, losses to 2e-4
        assert re.sub(NUMBER, "#", got) == re.sub(NUMBER, "#", want)
        g = [float(v) for v in re.findall(NUMBER, got)]
        w = [float(v) for v in re.findall(NUMBER, want)]
        np.testing.assert_allclose(g, w, rtol=0, atol=2e-4)


def test_training_reduces_the_loss_and_logs_the_schedule(page):
    printed, ns = page
    rows = [[float(v) for v in re.findall(NUMBER, line)] for line in printed[:4]]
    for step, _, lr in rows:
        # the learning rate the update of step `step` used: schedule(step - 1)
        assert lr == pytest.approx(float(ns["schedule"](int(step) - 1)), abs=5e-6)
    # measured: 0.5647 -> 0.0003 in 300 steps
    assert rows[-1][1] < rows[0][1] / 100
    assert int(ns["state"].step) == 200  # the second TrainState's steps


def test_weight_decay_mask_spares_the_biases(page):
    _, ns = page
    params = ns["params"]
    tx = gradtx.chain(
        gradtx.clip_by_global_norm(1.0),
        gradtx.adamw(0.1, weight_decay=0.5, mask=gradtx.masks.by_path("*kernel")),
    )
    state = train_state.TrainState.create(apply_fn=None, params=params, tx=tx)
    apply = jax.jit(lambda state, grads: state.apply_gradients(grads=grads))
    state = apply(state, jax.tree.map(jnp.zeros_like, params))
    for layer in ("Dense_0", "Dense_1"):
        np.testing.assert_allclose(
            state.params[layer]["kernel"], params[layer]["kernel"] * 0.95, rtol=1e-6
        )
        np.testing.assert_array_equal(state.params[layer]["bias"], params[layer]["bias"])


def test_set_hyperparams_reuses_the_compiled_step(page, count_compiles):
    _, ns = page
    step, x, y = ns["train_step"], ns["x"], ns["y"]
    state = ns["state"]
    counts = []
    for lr in (1e-4, 2e-4, 3e-4):
        state = state.replace(opt_state=gradtx.set_hyperparams(state.opt_state, learning_rate=lr))
        state, _ = step(state, x, y)
        counts.append(count_compiles())
        assert ns["learning_rate"](state) == pytest.approx(lr)
    assert counts[2] == counts[1]  # (the first round compiles set_hyperparams' eager ops)


def _clipped_adamw(lr):
    return gradtx.chain(
        gradtx.clip_by_global_norm(1.0),
        gradtx.adamw(lr, weight_decay=1e-4, mask=gradtx.masks.by_path("*kernel")),
    )


def test_a_rebuilt_tx_recompiles_and_its_learning_rate_is_taken_up(page, count_compiles):
    _, ns = page
    step, x, y, lr_of = ns["train_step"], ns["x"], ns["y"], ns["learning_rate"]
    create = train_state.TrainState.create
    state, _ = step(create(apply_fn=ns["model"].apply, params=ns["params"], tx=ns["tx"]), x, y)
    compiles = count_compiles()
    # A new tx object is a new static field: the step compiles again, and the old state
    # takes up the rebuilt learning rate, as in optax ...
    rebuilt, _ = step(state.replace(tx=_clipped_adamw(5e-3)), x, y)
    assert count_compiles() > compiles
    assert lr_of(rebuilt) == pytest.approx(5e-3)
    # ... unless the value was set by hand: set_hyperparams wins over the built value.
    state = state.replace(opt_state=gradtx.set_hyperparams(state.opt_state, learning_rate=2e-3))
    rebuilt, _ = step(state.replace(tx=_clipped_adamw(5e-3)), x, y)
    assert lr_of(rebuilt) == pytest.approx(2e-3)


def test_donated_state_trains():
    params = {"w": jnp.ones(3), "b": jnp.zeros(())}
    state = train_state.TrainState.create(apply_fn=None, params=params, tx=gradtx.adam(0.1))

    def update(state):
        return state.apply_gradients(grads=jax.tree.map(jnp.ones_like, state.params))

    step = jax.jit(update, donate_argnums=0)
    old = state
    for _ in range(3):
        state = step(state)
    np.testing.assert_allclose(state.params["w"], 1.0 - 3 * 0.1, rtol=1e-5)
    with pytest.raises(RuntimeError, match="deleted"):
        np.asarray(old.params["w"])  # the donated buffers are gone, as the page warns

"""docs/guide/optax_interop.md runs as written: gradtx and optax mix both ways.

The page puts a gradtx transformation inside ``optax.chain`` and an optax one inside
``gradtx.chain``, runs an optax-style loop with ``import gradtx as optax``, and
checkpoints a mixed state with Orbax and resumes it. The tests check what it prints,
the numbers against the pure-optax and pure-gradtx runs, and the resumed run against the
uninterrupted one, bit for bit. (The float64, 1e-10 versions of the mixed chains are in
tests/parity/test_interop.py.)
"""

from __future__ import annotations

import math
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _guides import run_page, shown_output

import gradtx

optax = pytest.importorskip("optax")
ocp = pytest.importorskip("orbax.checkpoint")

PAGE = "guide/optax_interop.md"
NUMBER = r"\d+\.?\d*(?:e[-+]\d+)?"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("optax_interop"))  # the page writes orbax-interop/
    try:
        return run_page(PAGE, expected_blocks=5)
    finally:
        os.chdir(cwd)


def test_page_prints_what_it_shows(page):
    printed, _ = page
    shown = shown_output(PAGE)
    assert len(printed) == len(shown) == 8
    for got, want in zip(printed, shown, strict=True):
        assert re.sub(NUMBER, "#", got) == re.sub(NUMBER, "#", want)
        g = [float(v) for v in re.findall(NUMBER, got)]
        w = [float(v) for v in re.findall(NUMBER, want)]
        # the differences printed (1.5e-08, float32 rounding) may be 0 or a few 1e-8
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


def test_mixed_chains_match_the_pure_ones(page):
    _, ns = page
    train, max_diff, loss_fn = ns["train"], ns["max_diff"], ns["loss_fn"]
    p0 = {"w": jnp.zeros(8), "b": jnp.zeros(())}
    # The page runs the other two mixes (gradtx clip in optax.chain, optax clip in
    # gradtx.chain); here the adam comes from the other library.
    runs = {
        "optax.chain(optax clip, gradtx adam)": optax.chain(
            optax.clip_by_global_norm(1.0), gradtx.adam(1e-2)
        ),
        "gradtx.chain(gradtx clip, optax adam)": gradtx.chain(
            gradtx.clip_by_global_norm(1.0), optax.adam(1e-2)
        ),
    }
    want, _ = train(optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2)))
    # It trains: the least-squares minimum is 0.74871; measured 0.8843 -> 0.7492, 99.6% of
    # the way there in 50 steps.
    design = np.concatenate([np.asarray(ns["a"]), np.ones((64, 1), np.float32)], axis=1)
    best = np.linalg.lstsq(design, np.asarray(ns["b"]), rcond=None)[0]
    minimum = float(np.mean((design @ best - np.asarray(ns["b"])) ** 2))
    start, end = float(loss_fn(p0)), float(loss_fn(want))
    assert end - minimum < 0.01 * (start - minimum)
    for name, tx in runs.items():
        got, _ = train(tx)
        # float32 rounding only, on parameters of size ~0.3: measured 3.9e-7 with gradtx's
        # adam (float32 hyperparameters, where optax folds in Python floats), 1.5e-8 with
        # gradtx's clipping
        assert max_diff(got, want) < 2e-6, name


def test_gradtx_state_inside_a_mixed_chain_is_readable_and_settable(page):
    _, ns = page
    state = ns["s_mixed"]
    assert float(gradtx.hyperparams(state)["learning_rate"]) == pytest.approx(1e-2)
    state = gradtx.set_hyperparams(state, learning_rate=0.0)
    params = ns["p_mixed"]
    p, _ = ns["train"](ns["mixed"], steps=3, params=params, state=state)
    assert ns["max_diff"](p, params) == 0.0  # a zero learning rate: nothing moves


def test_import_gradtx_as_optax_loop(page):
    _, ns = page
    assert ns["loss_gradtx"] == pytest.approx(ns["loss_optax"], rel=1e-6)
    assert ns["lr_gradtx"] == pytest.approx(ns["lr_optax"], rel=1e-6)
    schedule = optax.warmup_cosine_decay_schedule(0.0, 0.1, 10, 60, 1e-3)
    assert ns["lr_gradtx"] == pytest.approx(float(schedule(59)), rel=1e-6)
    assert ns["max_diff"](ns["p_gradtx"], ns["p_optax"]) < 1e-6


def test_orbax_resume_is_bit_for_bit(page):
    _, ns = page
    restored, state, params = ns["restored"], ns["state"], ns["params"]
    assert jax.tree.structure(restored["opt_state"]) == jax.tree.structure(state)
    original = {"params": params, "opt_state": state}
    for u, v in zip(jax.tree.leaves(restored), jax.tree.leaves(original), strict=True):
        assert u.dtype == v.dtype
        np.testing.assert_array_equal(u, v)
    assert ns["max_diff"](ns["p_resumed"], ns["p_straight"]) == 0.0
    lr = float(gradtx.hyperparams(restored["opt_state"])["learning_rate"])
    assert lr == pytest.approx(0.5 * (1 + math.cos(math.pi * 19 / 100)) * 1e-2, rel=1e-6)


def test_orbax_restore_into_another_optimizer_fails(page, tmp_path):
    _, ns = page
    params, state = ns["params"], ns["state"]
    other = gradtx.chain(gradtx.adamw(1e-2), optax.clip_by_global_norm(1.0))
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(tmp_path / "ckpt", state)
        checkpointer.wait_until_finished()
        with pytest.raises(ValueError):
            checkpointer.restore(tmp_path / "ckpt", jax.eval_shape(other.init, params))


def test_tree_get_finds_a_scheduled_injected_learning_rate():
    """``tree.get(state, "learning_rate")`` on an injected alias with a schedule: gradtx
    finds the one value (optax 0.2.8's own version raises a KeyError here, which is why
    the page reads ``state[1].hyperparams`` in the loop it runs with both)."""
    params = {"w": jnp.zeros(3)}
    schedule = gradtx.schedules.linear_schedule(0.1, 0.0, 10)
    tx = gradtx.inject_hyperparams(gradtx.adamw)(learning_rate=schedule, weight_decay=1e-3)
    state = tx.init(params)
    for _ in range(3):
        _, state = tx.update(params, state, params)
    assert float(gradtx.tree.get(state, "learning_rate")) == pytest.approx(0.08)

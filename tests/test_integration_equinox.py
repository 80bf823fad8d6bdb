"""docs/guide/equinox.md runs as written, and gradtx optimizes Equinox models.

The page trains an ``eqx.nn.MLP`` with ``eqx.filter_jit``, a weight-decay mask built
from the model with ``eqx.is_inexact_array``, ``gradtx.partition`` labels built from the
model (a callable module, read as a tree and never called) and a frozen first layer. The
tests check what it prints and what it claims without printing.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _guides import run_page, shown_output

import gradtx

eqx = pytest.importorskip("equinox")

PAGE = "guide/equinox.md"
NUMBER = r"\d+\.?\d*(?:e[-+]\d+)?"


@pytest.fixture(scope="module")
def page():
    return run_page(PAGE, expected_blocks=3)


def _params(model):
    return eqx.filter(model, eqx.is_inexact_array)


def test_page_prints_what_it_shows(page):
    printed, _ = page
    shown = shown_output(PAGE)
    assert len(printed) == len(shown) == 7
    for got, want in zip(printed, shown, strict=True):
        assert re.sub(NUMBER, "#", got) == re.sub(NUMBER, "#", want)
        g = [float(v) for v in re.findall(NUMBER, got)]
        w = [float(v) for v in re.findall(NUMBER, want)]
        np.testing.assert_allclose(g, w, rtol=0.05)  # the final loss is ~2e-5


def test_training_reduces_the_loss(page):
    printed, _ = page
    first, last = (float(re.findall(NUMBER, line)[-1]) for line in printed[:2])
    assert last < first / 1000  # measured: 0.482 -> 1.9e-5 in 300 steps


def test_decay_mask_from_is_inexact_array_spares_biases_and_matches_by_path(page):
    _, ns = page
    model = ns["model"]
    params = _params(model)
    tx = gradtx.adamw(0.1, weight_decay=0.5, mask=ns["decay_mask"])
    zeros = jax.tree.map(jnp.zeros_like, params)
    updates, _ = tx.update(zeros, tx.init(params), params)
    for u, layer in zip(updates.layers, model.layers, strict=True):
        np.testing.assert_allclose(u.weight, -0.05 * layer.weight, rtol=1e-6)
        np.testing.assert_array_equal(u.bias, 0.0)
    by_path = gradtx.masks.by_path("*weight")(params)
    want = jax.tree.leaves(ns["decay_mask"])
    got = jax.tree.leaves(by_path)
    # decay_mask also has False leaves for the non-array fields, where params have None
    assert [bool(v) for v in want if v] == [bool(v) for v in got if v]
    assert sum(map(bool, got)) == 3


def test_callable_module_labels_are_a_tree_not_a_function(page):
    _, ns = page
    labels, params = ns["labels"], _params(ns["model"])
    assert callable(labels)  # an MLP of strings: calling it would fail
    tx = gradtx.partition(
        {"matrix": gradtx.adamw(0.1, weight_decay=0.5), "vector": gradtx.sgd(1.0)}, labels
    )
    ones = jax.tree.map(jnp.ones_like, params)
    updates, _ = tx.update(ones, tx.init(params), params)
    for u, layer in zip(updates.layers, params.layers, strict=True):
        np.testing.assert_array_equal(u.bias, -1.0)  # sgd(1.0) on the vectors
        # adamw on the matrices: Adam's first step is -0.1 * sign(g), plus the decay
        np.testing.assert_allclose(u.weight, -0.1 - 0.05 * layer.weight, rtol=1e-5)


def test_frozen_layer_keeps_no_state_and_does_not_move(page):
    _, ns = page
    tuned, model, opt_state = ns["tuned"], ns["model"], ns["opt_state"]
    mu = gradtx.tree.get(opt_state, "mu")
    assert isinstance(mu.layers[0].weight, gradtx.MaskedNode)
    assert mu.layers[1].weight.shape == model.layers[1].weight.shape
    np.testing.assert_array_equal(tuned.layers[0].weight, model.layers[0].weight)
    np.testing.assert_array_equal(tuned.layers[0].bias, model.layers[0].bias)
    for layer in (1, 2):
        assert not jnp.array_equal(tuned.layers[layer].weight, model.layers[layer].weight)


def test_set_hyperparams_under_filter_jit_does_not_recompile(page, count_compiles):
    _, ns = page
    model, x, y = ns["model"], ns["x"], ns["y"]
    tx = gradtx.adam(1e-2)
    step = ns["make_step"](tx)
    counts = []
    for lr in (1e-3, 2e-3, 3e-3):
        opt_state = gradtx.set_hyperparams(tx.init(_params(model)), learning_rate=lr)
        new, opt_state, _ = step(model, opt_state, x, y)
        counts.append(count_compiles())
        # Adam's first step moves a weight by lr * |g| / (|g| + eps): lr at most
        moved = jnp.abs(new.layers[1].weight - model.layers[1].weight)
        assert float(jnp.max(moved)) == pytest.approx(lr, rel=1e-4)
    assert counts[2] == counts[1]


def test_init_on_the_unfiltered_model_fails_as_the_page_says(page):
    with pytest.raises(TypeError, match="dtype"):
        gradtx.adam(1e-2).init(page[1]["model"])

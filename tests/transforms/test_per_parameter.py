"""scale_by_tree and layerwise_lr_decay.

The reference for a learning-rate multiplier tree is torch's parameter groups: AdamW
run on each leaf alone with the rate ``lr * c`` (Adam's step is per leaf, so the groups
do not interact), written out in NumPy.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx


def _adamw_numpy(p, grads, lr, b1=0.9, b2=0.999, eps=1e-8, wd=1e-4):
    m, v = np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1**t) / (np.sqrt(v / (1 - b2**t)) + eps) + wd * p)
    return p


def test_multipliers_give_per_group_learning_rates(x64, rng):
    params = {
        "enc": {"a": rng.normal(size=3), "b": rng.normal(size=(2, 2))},
        "head": rng.normal(size=2),
    }
    grads = [jax.tree.map(lambda p: rng.normal(size=p.shape), params) for _ in range(5)]
    scales = {"enc": 0.25, "head": 1.0}  # a prefix tree
    tx = gradtx.chain(gradtx.adamw(0.1, weight_decay=1e-4), gradtx.scale_by_tree(scales))
    step = jax.jit(tx.update)
    state, p = tx.init(params), params
    for g in grads:
        u, state = step(g, state, p)
        p = gradtx.apply_updates(p, u)
    for path, got in jax.tree_util.tree_leaves_with_path(p):
        group = path[0].key
        leaf = params[group] if group == "head" else params[group][path[1].key]
        seq = [g[group] if group == "head" else g[group][path[1].key] for g in grads]
        want = _adamw_numpy(leaf, seq, 0.1 * scales[group])
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_full_tree_none_multipliers_none_leaves_and_dtypes():
    updates = {"a": jnp.ones(2, jnp.bfloat16), "b": None, "c": [jnp.ones(3), jnp.ones(1)]}
    tx = gradtx.scale_by_tree({"a": 0.5, "b": 3.0, "c": [None, jnp.asarray(2.0)]})
    out, state = jax.jit(tx.update)(updates, tx.init(updates))
    assert out["a"].dtype == jnp.bfloat16 and out["b"] is None
    np.testing.assert_array_equal(out["a"], [0.5, 0.5])
    np.testing.assert_array_equal(out["c"][0], np.ones(3))  # None: unchanged
    np.testing.assert_array_equal(out["c"][1], [2.0])
    assert state == gradtx.EmptyState()
    whole = gradtx.scale_by_tree(-2.0)  # a scalar is a prefix of every tree
    np.testing.assert_array_equal(
        whole.update(updates, whole.init(None))[0]["c"][0], -2 * np.ones(3)
    )


def test_scale_by_tree_errors_name_the_paths():
    with pytest.raises(ValueError, match=r"must be scalars; at \['b'\] got shape \(2,\)"):
        gradtx.scale_by_tree({"a": 1.0, "b": np.ones(2)})
    with pytest.raises(
        TypeError, match=r"must be numbers \(or scalar arrays\); at \['a'\] got str"
    ):
        gradtx.scale_by_tree({"a": "fast"})
    tx = gradtx.scale_by_tree({"enc": 0.5, "dec": 1.0})
    with pytest.raises(
        ValueError,
        match=r"`scale_by_tree`: the multipliers must have the structure of the updates "
        r"\(or a prefix of it\); first difference at the root: multipliers has a dict with "
        r"keys \['dec', 'enc'\], updates has a dict with keys \['enc', 'head'\]; only in "
        r"multipliers: \['dec'\]; only in updates: \['head'\]\.",
    ):
        tx.update({"enc": jnp.ones(1), "head": jnp.ones(1)}, tx.init(None))


def _bert_params():
    block = {"attn": jnp.ones(2), "mlp": jnp.ones(2)}
    return {
        "embeddings": {"word": jnp.ones(2)},
        "layers": {f"layer_{i}": dict(block) for i in range(3)},
        "pooler": None,
        "classifier": jnp.ones(2),
    }


def _layer_of(path):
    if "embeddings" in path:
        return 0
    found = re.search(r"layer_(\d+)", path)
    return int(found.group(1)) + 1 if found else None


def test_layerwise_lr_decay_on_a_dict_of_layers():
    scales = gradtx.layerwise_lr_decay(_bert_params(), _layer_of, num_layers=4, decay=0.5)
    assert scales["embeddings"] == {"word": 0.0625}
    assert scales["layers"]["layer_0"] == {"attn": 0.125, "mlp": 0.125}
    assert scales["layers"]["layer_2"] == {"attn": 0.5, "mlp": 0.5}
    assert scales["classifier"] == 1.0 and scales["pooler"] is None
    # The tree plugs into scale_by_tree and keeps the parameters' structure.
    tx = gradtx.chain(gradtx.sgd(1.0), gradtx.scale_by_tree(scales))
    grads = jax.tree.map(jnp.ones_like, _bert_params())
    u, _ = tx.update(grads, tx.init(_bert_params()))
    np.testing.assert_array_equal(u["embeddings"]["word"], [-0.0625, -0.0625])
    np.testing.assert_array_equal(u["classifier"], [-1.0, -1.0])


def test_layerwise_lr_decay_errors():
    params = _bert_params()
    with pytest.raises(
        ValueError, match=r"layer in 0..num_layers=2; for \['layers'\]\['layer_2'\]"
    ):
        gradtx.layerwise_lr_decay(params, _layer_of, num_layers=2, decay=0.5)
    with pytest.raises(
        ValueError, match=r"must return an int or None; for \['classifier'\] it returned str"
    ):
        gradtx.layerwise_lr_decay(params, lambda path: "top", num_layers=2, decay=0.5)
    with pytest.raises(
        ValueError, match=r"`layerwise_lr_decay\(num_layers=...\)` must be a positive int"
    ):
        gradtx.layerwise_lr_decay(params, _layer_of, num_layers=0, decay=0.5)
    with pytest.raises(
        ValueError, match=r"`layerwise_lr_decay\(decay=...\)` must lie in \(0, inf\)"
    ):
        gradtx.layerwise_lr_decay(params, _layer_of, num_layers=4, decay=0.0)
    with pytest.raises(TypeError, match=r"must be a function of a parameter's path"):
        gradtx.layerwise_lr_decay(params, {"layer_0": 1}, num_layers=4, decay=0.5)

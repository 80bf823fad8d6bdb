"""gradtx.monitoring.norms against NumPy, with no host callbacks; the monitoring guide runs."""

from __future__ import annotations

import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

GUIDE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide" / "monitoring.md"


def _tree(rng, dtype=np.float32):
    return {
        "w": jnp.asarray(rng.normal(size=(3, 4)), dtype),
        "b": [jnp.asarray(rng.normal(size=4), dtype), None],
    }


def _n(x):
    return float(np.sqrt(np.sum(np.square(np.asarray(x, np.float64)))))


def _reference(grads, out, params):
    """The state's fields, from NumPy float64."""
    leaves = lambda t: [x for x in jax.tree.leaves(t) if x is not None]  # noqa: E731
    g = float(np.sqrt(sum(_n(x) ** 2 for x in leaves(grads))))
    u = float(np.sqrt(sum(_n(x) ** 2 for x in leaves(out))))
    p = float(np.sqrt(sum(_n(x) ** 2 for x in leaves(params))))
    bad = sum(int(np.sum(~np.isfinite(np.asarray(x, np.float64)))) for x in leaves(grads))
    return {
        "grad_norm": g,
        "update_norm": u,
        "param_norm": p,
        "update_param_ratio": u / p,
        "bad": bad,
    }


def test_norms_around_an_optimizer_against_numpy(rng):
    params = _tree(rng)
    tx = gradtx.monitoring.norms(gradtx.adamw(0.05, weight_decay=0.1))
    plain = gradtx.adamw(0.05, weight_decay=0.1)
    state, plain_state = tx.init(params), plain.init(params)
    step, plain_step = jax.jit(tx.update), jax.jit(plain.update)
    for _ in range(3):
        grads = _tree(rng)
        out, state = step(grads, state, params)
        want_out, plain_state = plain_step(grads, plain_state, params)
        for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(want_out), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6)  # the optimizer's updates, unchanged
        ref = _reference(grads, out, params)
        for name in ("grad_norm", "update_norm", "param_norm", "update_param_ratio"):
            assert float(gradtx.tree.get(state, name)) == pytest.approx(ref[name], rel=1e-6), name
        assert int(gradtx.tree.get(state, "nonfinite_count")) == 0
        per_leaf = gradtx.tree.get(state, "grad_norm_per_leaf")
        assert per_leaf["b"][1] is None
        assert float(per_leaf["w"]) == pytest.approx(_n(grads["w"]), rel=1e-6)
        assert float(per_leaf["b"][0]) == pytest.approx(_n(grads["b"][0]), rel=1e-6)
        params = gradtx.apply_updates(params, out)
    assert float(gradtx.tree.get(state, "learning_rate")) == pytest.approx(0.05)


def test_norms_first_in_a_chain_sees_the_gradients_before_clipping(rng):
    params = _tree(rng)
    grads = jax.tree.map(
        lambda x: None if x is None else 10 * x, _tree(rng), is_leaf=lambda x: x is None
    )
    tx = gradtx.chain(gradtx.monitoring.norms(), gradtx.clip_by_global_norm(1.0), gradtx.sgd(0.1))
    out, state = jax.jit(tx.update)(grads, tx.init(params), params)
    ref = _reference(grads, grads, params)
    assert float(gradtx.tree.get(state, "grad_norm")) == pytest.approx(ref["grad_norm"], rel=1e-6)
    assert float(gradtx.tree.get(state, "update_norm")) == pytest.approx(ref["grad_norm"], rel=1e-6)
    # clip_by_global_norm records the same pre-clip norm
    assert float(gradtx.tree.get(state, "norm")) == pytest.approx(ref["grad_norm"], rel=1e-6)
    assert _n(out["w"]) <= 0.1 + 1e-6


def test_nonfinite_count_and_bfloat16(rng):
    params = _tree(rng, jnp.bfloat16)
    grads = jax.tree.map(lambda x: x, params)
    grads["w"] = grads["w"].at[0, 0].set(jnp.nan).at[1, 2].set(jnp.inf)
    grads["b"][0] = jnp.full(4, 300.0, jnp.bfloat16)  # its square overflows nothing in float32
    tx = gradtx.monitoring.norms()
    s0 = tx.init(params)
    out, s1 = jax.jit(tx.update)(grads, s0, params)
    assert int(s1.nonfinite_count) == 2
    assert out["w"].dtype == jnp.bfloat16
    assert float(s1.grad_norm_per_leaf["b"][0]) == pytest.approx(600.0, rel=1e-6)
    assert jax.tree.map(lambda x: (x.shape, x.dtype), s0) == jax.tree.map(
        lambda x: (x.shape, x.dtype), s1
    )
    jax.lax.cond(True, lambda: s0, lambda: s1)
    assert s1.grad_norm.dtype == jnp.float32


def test_zero_parameters_ratio():
    tx = gradtx.monitoring.norms()
    p = {"w": jnp.zeros(2)}
    _, s = tx.update({"w": jnp.ones(2)}, tx.init(p), p)
    assert float(s.update_param_ratio) == np.inf
    _, s = tx.update({"w": jnp.zeros(2)}, tx.init(p), p)
    assert float(s.update_param_ratio) == 0.0


def _host_calls(jaxpr):
    """The names of host-calling primitives (callbacks, debug prints) in the program."""
    text = str(jaxpr)
    return [w for w in ("callback", "debug_print", "io_callback") if w in text]


def test_no_host_callbacks_in_the_step(rng):
    params = _tree(rng)
    tx = gradtx.chain(
        gradtx.monitoring.norms(gradtx.adam(1e-3)),
        gradtx.clip_by_global_norm(1.0),
        gradtx.monitor({"n": gradtx.tree.norm}),
    )
    jaxpr = jax.make_jaxpr(tx.update)(params, tx.init(params), params)
    assert not _host_calls(jaxpr), _host_calls(jaxpr)
    # the check can fail: host calls show up as primitives (in nested jaxprs too)
    printing = jax.make_jaxpr(
        lambda x: jax.lax.cond(x > 0, lambda: jax.debug.print("{}", x), lambda: None) or x
    )(1.0)
    calling = jax.make_jaxpr(lambda x: jax.pure_callback(np.sin, x, x))(1.0)
    assert _host_calls(printing) and _host_calls(calling)


def test_errors_name_the_call():
    tx = gradtx.monitoring.norms()
    with pytest.raises(ValueError, match=r"monitoring.norms` needs the parameters: call init"):
        tx.init(None)
    state = tx.init({"w": jnp.ones(1)})
    with pytest.raises(
        ValueError, match=r"needs the parameters: call update\(updates, state, params\)"
    ):
        tx.update({"w": jnp.ones(1)}, state)
    with pytest.raises(TypeError, match=r"monitoring.norms\(inner=\.\.\.\)` must be a gradient"):
        gradtx.monitoring.norms(gradtx.adam)


def test_guide_snippets_run():
    """Every python block of docs/guide/monitoring.md runs, in order, in one namespace."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(GUIDE), "exec"), namespace)  # noqa: S102 - our own docs

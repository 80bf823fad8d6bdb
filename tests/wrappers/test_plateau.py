"""reduce_on_plateau against a NumPy transcription of its rule and against torch's scheduler."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

# Losses with plateaus, small improvements below the tolerance, and a new descent.
PLATEAUS = [5.0, 4.0, 4.0, 3.9999, 4.1, 3.0, 3.0, 3.0, 3.0, 2.9, 2.9, 2.9, 2.9, 2.9, 1.0, 1.0]
# The same shape below zero: -10 is the best value, later values are worse.
NEGATIVE = [-8.0, -10.0, -9.5, -9.6, -9.7, -9.8, -9.9, -9.95, -12.0, -11.9, -11.95, -12.0]


def reference(
    values, factor=0.1, patience=10, rtol=1e-4, atol=0.0, cooldown=0, accum=1, min_scale=0.0
):
    """The docstring's rule, step by step in Python floats; the scale after every call."""
    scale, best, bad, cool, buf, out = 1.0, math.inf, 0, 0, [], []
    for v in values:
        buf.append(v)
        if len(buf) == accum:
            mean, buf = sum(buf) / accum, []
            if best == math.inf or mean < best - atol - rtol * abs(best):
                best, bad = mean, 0
            else:
                bad += 1
            if cool > 0:
                cool, bad = cool - 1, 0
            if bad > patience:
                scale, cool, bad = max(scale * factor, min_scale), cooldown, 0
        out.append(scale)
    return out


def run(values, **kwargs):
    tx = gradtx.reduce_on_plateau(**kwargs)
    step = jax.jit(tx.update)
    g = {"w": jnp.ones(2), "none": None}
    state, scales, outs = tx.init(g), [], []
    for v in values:
        u, state = step(g, state, value=v)
        scales.append(float(state.scale))
        outs.append(float(u["w"][0]))
        assert u["none"] is None
    return scales, outs, state


CASES = [
    ({"factor": 0.5, "patience": 1}, PLATEAUS),
    ({"factor": 0.5, "patience": 0, "cooldown": 2}, PLATEAUS),
    ({"factor": 0.5, "patience": 1, "rtol": 0.0, "atol": 0.05}, PLATEAUS),
    ({"factor": 0.5, "patience": 0, "accumulation_size": 2}, PLATEAUS),
    ({"factor": 0.5, "patience": 0, "min_scale": 0.2}, [1.0] * 8),
    ({"factor": 0.3, "patience": 1, "rtol": 0.01}, NEGATIVE),
    ({"factor": 0.3, "patience": 0, "cooldown": 1, "rtol": 0.01, "atol": 0.01}, NEGATIVE),
]


@pytest.mark.parametrize(("kwargs", "values"), CASES)
def test_matches_reference(kwargs, values):
    accum = kwargs.get("accumulation_size", 1)
    ref_kw = {k: v for k, v in kwargs.items() if k != "accumulation_size"}
    want = reference(values, accum=accum, **ref_kw)
    scales, outs, _ = run(values, **kwargs)
    np.testing.assert_allclose(scales, want, rtol=1e-6)
    np.testing.assert_allclose(outs, want, rtol=1e-6)  # the updates carry the new scale
    assert min(want) < 1.0  # every case reduces at least once


def test_negative_losses_reduce_when_worse():
    """-10 is the best loss; the later, worse ones must count as a plateau."""
    scales, _, state = run(NEGATIVE[:8], factor=0.5, patience=1, rtol=0.01)
    assert float(state.best_value) == -10.0
    assert scales == [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]


def test_state_fields_dtypes_and_lax_cond():
    tx = gradtx.reduce_on_plateau(accumulation_size=3)
    params = {"w": jnp.ones(3, jnp.bfloat16)}
    s0 = tx.init(params)
    assert s0._fields == (
        "scale",
        "best_value",
        "plateau_count",
        "cooldown_count",
        "count",
        "avg_value",
    )
    u, s1 = tx.update(params, s0, value=jnp.asarray(2.0, jnp.bfloat16))
    assert u["w"].dtype == jnp.bfloat16
    assert jax.tree.map(lambda x: (x.dtype, x.shape), s0) == jax.tree.map(
        lambda x: (x.dtype, x.shape), s1
    )
    assert s0.plateau_count.dtype == jnp.int32 and s0.scale.dtype == jnp.float32
    jax.lax.cond(True, lambda: s0, lambda: s1)
    assert int(s1.count) == 1 and float(s1.avg_value) == 2.0
    assert float(gradtx.tree.get(s1, "scale")) == 1.0


def test_missing_or_bad_value_raises():
    tx = gradtx.reduce_on_plateau()
    with pytest.raises(ValueError, match=r"reduce_on_plateau` needs the loss: .*value=loss"):
        tx.update(jnp.ones(1), tx.init(None))
    with pytest.raises(ValueError, match=r"value must be a scalar loss; got shape \(2,\)"):
        tx.update(jnp.ones(1), tx.init(None), value=jnp.ones(2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"factor": 1.0},
            r"reduce_on_plateau\(factor=\.\.\.\)` must lie in \(0, 1\); got factor=1\.0",
        ),
        ({"factor": 0.0}, r"factor=\.\.\.\)` must lie in \(0, 1\)"),
        ({"patience": -1}, r"reduce_on_plateau\(patience=\.\.\.\)` must be an integer >= 0"),
        ({"patience": 1.5}, r"patience=\.\.\.\)` must be an integer >= 0; got patience=1\.5"),
        ({"rtol": -1e-3}, r"reduce_on_plateau\(rtol=\.\.\.\)` must lie in \[0, inf\)"),
        ({"atol": -1.0}, r"reduce_on_plateau\(atol=\.\.\.\)` must lie in \[0, inf\)"),
        ({"cooldown": -2}, r"cooldown=\.\.\.\)` must be an integer >= 0"),
        ({"accumulation_size": 0}, r"accumulation_size=\.\.\.\)` must be an integer >= 1"),
        ({"min_scale": -0.1}, r"min_scale=\.\.\.\)` must lie in \[0, inf\)"),
    ],
)
def test_invalid_hyperparameters_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gradtx.reduce_on_plateau(**kwargs)


def test_in_a_chain_under_scan_with_value():
    """The usual placement: last in a chain, the loss handed through ``value=``."""
    tx = gradtx.chain(gradtx.sgd(0.5), gradtx.reduce_on_plateau(factor=0.5, patience=0))
    losses = jnp.asarray([3.0, 2.0, 2.5, 2.5, 1.0])

    def body(state, loss):
        u, state = tx.update({"w": jnp.ones(1)}, state, value=loss)
        return state, u["w"][0]

    _, steps = jax.lax.scan(body, tx.init({"w": jnp.zeros(1)}), losses)
    np.testing.assert_allclose(steps, [-0.5, -0.5, -0.25, -0.125, -0.125])
    assert gradtx.contrib.reduce_on_plateau is gradtx.reduce_on_plateau

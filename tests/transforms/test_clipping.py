"""clip, clip_by_global_norm and clip_by_block_rms against NumPy."""

from __future__ import annotations

import _reference as ref
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

STEPS = 6
RTOL = {"float32": 1e-6, "float64": 1e-12}

CASES = [
    pytest.param(gradtx.clip, ref.Clip, {"max_delta": 0.5}, id="clip"),
    pytest.param(gradtx.clip, ref.Clip, {"max_delta": 100.0}, id="clip-inactive"),
    pytest.param(
        gradtx.clip_by_global_norm, ref.ClipByGlobalNorm, {"max_norm": 1.0}, id="global_norm"
    ),
    pytest.param(
        gradtx.clip_by_global_norm,
        ref.ClipByGlobalNorm,
        {"max_norm": 8.0},
        id="global_norm-sometimes",
    ),
    pytest.param(gradtx.clip_by_block_rms, ref.ClipByBlockRms, {"threshold": 0.5}, id="block_rms"),
    pytest.param(
        gradtx.clip_by_block_rms, ref.ClipByBlockRms, {"threshold": 2.0}, id="block_rms-sometimes"
    ),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs"), CASES)
def test_matches_reference(factory, reference, kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    want = ref.run(reference(**kwargs), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_global_norm_clip_reaches_exactly_max_norm(rng):
    g = {"a": jnp.asarray(rng.normal(size=4).astype(np.float32) * 10), "b": jnp.array(7.0)}
    tx = gradtx.clip_by_global_norm(2.0)
    u, _ = tx.update(g, tx.init(None))
    assert float(gradtx.global_norm(u)) == pytest.approx(2.0, rel=1e-6)
    np.testing.assert_allclose(u["a"] / g["a"], float(u["b"] / g["b"]), rtol=1e-6)


@pytest.mark.parametrize(
    "tx",
    [gradtx.clip_by_global_norm(1.0), gradtx.clip_by_block_rms(1.0)],
    ids=["global_norm", "block_rms"],
)
def test_zero_updates_stay_zero(tx):
    g = {"a": jnp.zeros(3), "b": jnp.zeros([])}
    u, _ = tx.update(g, tx.init(None))
    np.testing.assert_array_equal(u["a"], 0.0)
    np.testing.assert_array_equal(u["b"], 0.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.clip(-1.0),
            r"clip\(max_delta=\.\.\.\)` must lie in \[0, inf\); got "
            r"max_delta=-1\.0",
        ),
        (
            lambda: gradtx.clip_by_global_norm(0.0),
            r"clip_by_global_norm\(max_norm=\.\.\.\)` must "
            r"lie in \(0, inf\); got max_norm=0\.0",
        ),
        (
            lambda: gradtx.clip_by_block_rms(-2.0),
            r"clip_by_block_rms\(threshold=.*got "
            r"threshold=-2\.0",
        ),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()

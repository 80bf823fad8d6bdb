"""scale_by_rms, scale_by_stddev, scale_by_rss, scale_by_adam, scale_by_amsgrad against NumPy."""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import (
    assert_close_to_reference,
    gradient_stream,
    leaves,
    nested_params,
    run_gradtx,
)

import gradtx

STEPS = 8
RTOL = {"float32": 1e-5, "float64": 1e-10}

CASES = [
    pytest.param(gradtx.scale_by_rms, ref.Rms, {}, id="rms"),
    pytest.param(gradtx.scale_by_rms, ref.Rms, {"decay": 0.5, "eps": 1e-3}, id="rms-decay"),
    pytest.param(
        gradtx.scale_by_rms, ref.Rms, {"eps_in_sqrt": False, "eps": 1e-2}, id="rms-eps-outside"
    ),
    pytest.param(
        gradtx.scale_by_rms,
        ref.Rms,
        {"bias_correction": True, "decay": 0.99},
        id="rms-bias-correction",
    ),
    pytest.param(
        gradtx.scale_by_rms,
        ref.Rms,
        {"initial_scale": 1.0, "bias_correction": True},
        id="rms-initial-scale",
    ),
    pytest.param(gradtx.scale_by_stddev, ref.Stddev, {}, id="stddev"),
    pytest.param(
        gradtx.scale_by_stddev,
        ref.Stddev,
        {"decay": 0.8, "eps": 1e-2, "eps_in_sqrt": False, "initial_scale": 0.5},
        id="stddev-eps-outside",
    ),
    pytest.param(
        gradtx.scale_by_stddev,
        ref.Stddev,
        {"bias_correction": True, "eps": 1.0},
        id="stddev-bias-correction",
    ),
    pytest.param(gradtx.scale_by_rss, ref.Rss, {}, id="rss"),
    pytest.param(
        gradtx.scale_by_rss,
        ref.Rss,
        {"initial_accumulator_value": 0.0, "eps": 1e-10, "eps_in_sqrt": False},
        id="rss-torch",
    ),
    pytest.param(
        gradtx.scale_by_rss, ref.Rss, {"initial_accumulator_value": 2.0, "eps": 0.5}, id="rss-eps"
    ),
    pytest.param(gradtx.scale_by_adam, ref.Adam, {}, id="adam"),
    pytest.param(
        gradtx.scale_by_adam, ref.Adam, {"b1": 0.5, "b2": 0.9, "eps": 1e-3}, id="adam-betas"
    ),
    pytest.param(gradtx.scale_by_adam, ref.Adam, {"b1": 0.0, "eps_root": 1e-2}, id="adam-root"),
    pytest.param(gradtx.scale_by_adam, ref.Adam, {"nesterov": True}, id="adam-nesterov"),
    pytest.param(
        gradtx.scale_by_adam,
        ref.Adam,
        {"bias_correction": False, "b2": 0.99},
        id="adam-uncorrected",
    ),
    pytest.param(
        gradtx.scale_by_adam,
        ref.Adam,
        {"bias_correction": False, "nesterov": True, "b1": 0.8},
        id="adam-uncorrected-nesterov",
    ),
    pytest.param(gradtx.scale_by_amsgrad, ref.Amsgrad, {}, id="amsgrad"),
    pytest.param(
        gradtx.scale_by_amsgrad,
        ref.Amsgrad,
        {"max_of_raw_moment": True, "b2": 0.9},
        id="amsgrad-raw",
    ),
    pytest.param(
        gradtx.scale_by_amsgrad,
        ref.Amsgrad,
        {"bias_correction_mu": False, "bias_correction_nu": False, "b2": 0.9, "eps_root": 1e-4},
        id="amsgrad-paper",
    ),
    pytest.param(
        gradtx.scale_by_amsgrad,
        ref.Amsgrad,
        {"bias_correction_mu": True, "bias_correction_nu": False, "b1": 0.5},
        id="amsgrad-mu-only",
    ),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs"), CASES)
def test_matches_reference(factory, reference, kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    want = ref.run(reference(**kwargs), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_rss_update_is_zero_where_nothing_accumulated():
    # The docstring: with eps_in_sqrt, where s_t = 0 the update is 0 (not 0/0).
    tx = gradtx.scale_by_rss(initial_accumulator_value=0.0, eps=0.0)
    g = jnp.array([0.0, -3.0, 4.0])
    u, state = tx.update(g, tx.init(g))
    assert float(u[0]) == 0.0  # exactly zero, not NaN
    np.testing.assert_allclose(u, [0.0, -1.0, 1.0], rtol=2e-7)  # rsqrt may be 1 ulp off on GPUs
    u, _ = tx.update(jnp.array([0.0, 0.0, 3.0]), state)
    np.testing.assert_allclose(u, [0.0, 0.0, 3.0 / 5.0], rtol=1e-6)


def test_adam_mu_dtype_sets_first_moment_dtype(rng):
    params = nested_params(rng, np.float32)
    tx = gradtx.scale_by_adam(mu_dtype=jnp.bfloat16)
    state = tx.init(params)
    g = gradient_stream(rng, params, 1)[0]
    u, state = tx.update(g, state)
    assert {x.dtype for x in jax.tree.leaves(state.mu)} == {jnp.dtype(jnp.bfloat16)}
    assert {x.dtype for x in jax.tree.leaves(state.nu)} == {jnp.dtype(jnp.float32)}
    assert {x.dtype for x in jax.tree.leaves(u)} == {jnp.dtype(jnp.float32)}


def test_amsgrad_maximum_holds_when_gradients_shrink():
    # One large then small gradients: v_hat falls but the running maximum stays, so the
    # step shrinks with the gradient (Adam's would not).
    tx = gradtx.scale_by_amsgrad(b1=0.0, b2=0.5, eps=0.0, bias_correction_nu=False)
    state = tx.init(jnp.zeros(1))
    _, state = tx.update(jnp.array([4.0]), state)
    u, state = tx.update(jnp.array([1.0]), state)
    # v_1 = 8, v_2 = 4.5, max = 8: u_2 = 1 / sqrt(8).
    np.testing.assert_allclose(u, [1.0 / np.sqrt(8.0)], rtol=1e-6)
    np.testing.assert_allclose(state.nu_max, [8.0], rtol=1e-6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.scale_by_rms(decay=1.5),
            r"scale_by_rms\(decay=\.\.\.\)` must lie in "
            r"\[0, 1\]; got decay=1\.5",
        ),
        (lambda: gradtx.scale_by_rms(eps=-1e-8), r"scale_by_rms\(eps=.*got eps=-1e-08"),
        (lambda: gradtx.scale_by_stddev(decay=-0.5), r"scale_by_stddev\(decay=.*got decay=-0\.5"),
        (
            lambda: gradtx.scale_by_rss(initial_accumulator_value=-0.1),
            r"scale_by_rss\(initial_accumulator_value=.*got initial_accumulator_value=-0\.1",
        ),
        (lambda: gradtx.scale_by_rss(eps=-1.0), r"scale_by_rss\(eps=.*got eps=-1\.0"),
        (
            lambda: gradtx.scale_by_adam(b1=1.1),
            r"scale_by_adam\(b1=\.\.\.\)` must lie in "
            r"\[0, 1\]; got b1=1\.1",
        ),
        (lambda: gradtx.scale_by_adam(b1=-0.1), r"scale_by_adam\(b1=.*got b1=-0\.1"),
        (lambda: gradtx.scale_by_adam(b2=1.001), r"scale_by_adam\(b2=.*got b2=1\.001"),
        (
            lambda: gradtx.scale_by_adam(eps=-1e-8),
            r"scale_by_adam\(eps=\.\.\.\)` must lie in "
            r"\[0, inf\); got eps=-1e-08",
        ),
        (
            lambda: gradtx.scale_by_adam(eps_root=-1e-8),
            r"scale_by_adam\(eps_root=.*got "
            r"eps_root=-1e-08",
        ),
        (lambda: gradtx.scale_by_amsgrad(b2=-1.0), r"scale_by_amsgrad\(b2=.*got b2=-1\.0"),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    "tx",
    [
        pytest.param(gradtx.scale_by_stddev(bias_correction=True), id="scale_by_stddev"),
        pytest.param(
            gradtx.scale_by_stddev(bias_correction=True, eps_in_sqrt=False),
            id="scale_by_stddev-eps-outside",
        ),
        pytest.param(
            gradtx.rmsprop(0.1, centered=True, bias_correction=True), id="rmsprop-centered"
        ),
    ],
)
def test_centered_bias_corrected_first_step_is_finite(tx, rng):
    # At t=1 the bias-corrected variance nu_hat - mu_hat^2 = g^2 - g^2 is 0 in exact
    # arithmetic; in floating point it is rounding noise of either sign, so the root of
    # it must be taken of max(0, .), or the update is NaN where the noise is negative.
    g = jnp.asarray((3 * rng.normal(size=256)).astype(np.float32))
    u, _ = tx.update(g, tx.init(g))
    assert np.all(np.isfinite(u)), f"{int(np.sum(~np.isfinite(u)))} of 256 updates not finite"

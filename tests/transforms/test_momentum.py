"""scale_by_momentum, trace, ema and bias_correction against NumPy, and their compositions."""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

STEPS = 8
RTOL = {"float32": 1e-5, "float64": 1e-10}

CASES = [
    pytest.param(gradtx.scale_by_momentum, ref.Momentum, {"decay": 0.9}, id="momentum"),
    pytest.param(
        gradtx.scale_by_momentum,
        ref.Momentum,
        {"decay": 0.5, "nesterov": True},
        id="momentum-nesterov",
    ),
    pytest.param(
        gradtx.scale_by_momentum, ref.Momentum, {"decay": 0.9, "dampening": 0.9}, id="momentum-ema"
    ),
    pytest.param(
        gradtx.scale_by_momentum,
        ref.Momentum,
        {"decay": 0.8, "dampening": 0.3, "undampened_first_step": True},
        id="momentum-torch-first-step",
    ),
    pytest.param(
        gradtx.scale_by_momentum,
        ref.Momentum,
        {"decay": 0.7, "dampening": 0.4, "nesterov": True, "undampened_first_step": True},
        id="momentum-all",
    ),
    pytest.param(gradtx.scale_by_momentum, ref.Momentum, {"decay": 0.0}, id="momentum-zero"),
    pytest.param(gradtx.trace, ref.Trace, {"decay": 0.9}, id="trace"),
    pytest.param(gradtx.trace, ref.Trace, {"decay": 0.6, "nesterov": True}, id="trace-nesterov"),
    pytest.param(gradtx.ema, ref.Ema, {"decay": 0.9}, id="ema"),
    pytest.param(gradtx.ema, ref.Ema, {"decay": 0.5, "debias": False}, id="ema-raw"),
    pytest.param(gradtx.bias_correction, ref.BiasCorrection, {"decay": 0.9}, id="bias_correction"),
    pytest.param(
        gradtx.bias_correction, ref.BiasCorrection, {"decay": 0.0}, id="bias_correction-zero"
    ),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs"), CASES)
def test_matches_reference(factory, reference, kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    want = ref.run(reference(**kwargs), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


@pytest.mark.parametrize("decay", [0.5, 0.9])
def test_dampened_momentum_then_bias_correction_is_the_corrected_ema(decay, float_dtype, rng):
    # The course notes' bias-corrected average v_t / (1 - b^t), built from primitives.
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    composed = gradtx.chain(
        gradtx.scale_by_momentum(decay, dampening=decay), gradtx.bias_correction(decay)
    )
    got = run_gradtx(composed, params, grads)
    want = ref.run(ref.Ema(decay, debias=True), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])
    # ... and the same numbers as gradtx's own ema.
    direct = run_gradtx(gradtx.ema(decay), params, grads)
    assert_close_to_reference(got, [leaves(u) for u in direct], rtol=RTOL[float_dtype.name])


def test_trace_is_undampened_momentum(rng):
    params = nested_params(rng, np.float32)
    grads = gradient_stream(rng, params, STEPS)
    a = run_gradtx(gradtx.trace(0.9, nesterov=True), params, grads)
    b = run_gradtx(gradtx.scale_by_momentum(0.9, nesterov=True), params, grads)
    for x, y in zip(a, b, strict=True):
        for u, v in zip(jax.tree.leaves(x), jax.tree.leaves(y), strict=True):
            np.testing.assert_array_equal(u, v)


def test_accumulator_dtype_sets_buffer_dtype_not_update_dtype(rng):
    params = nested_params(rng, np.float32)
    tx = gradtx.scale_by_momentum(0.9, accumulator_dtype=jnp.bfloat16)
    state = tx.init(params)
    assert {x.dtype for x in jax.tree.leaves(state.trace)} == {jnp.dtype(jnp.bfloat16)}
    u, state = tx.update(gradient_stream(rng, params, 1)[0], state)
    assert {x.dtype for x in jax.tree.leaves(state.trace)} == {jnp.dtype(jnp.bfloat16)}
    assert {x.dtype for x in jax.tree.leaves(u)} == {jnp.dtype(jnp.float32)}


def test_ema_state_keeps_the_raw_average():
    tx = gradtx.ema(0.5)
    u, state = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
    np.testing.assert_allclose(u, [2.0])  # 1.0 / (1 - 0.5)
    np.testing.assert_allclose(state.ema, [1.0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.scale_by_momentum(1.5),
            r"scale_by_momentum\(decay=\.\.\.\)` must lie "
            r"in \[0, 1\]; got decay=1\.5",
        ),
        (
            lambda: gradtx.scale_by_momentum(0.9, dampening=-0.1),
            r"scale_by_momentum\(dampening=.*got dampening=-0\.1",
        ),
        (lambda: gradtx.trace(-0.5), r"scale_by_momentum\(decay=.*got decay=-0\.5"),
        (
            lambda: gradtx.ema(1.01),
            r"ema\(decay=\.\.\.\)` must lie in \[0, 1\]; got "
            r"decay=1\.01",
        ),
        (
            lambda: gradtx.bias_correction(1.0),
            r"bias_correction\(decay=\.\.\.\)` must lie in "
            r"\[0, 1\); got decay=1\.0",
        ),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()

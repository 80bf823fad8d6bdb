"""adam, adamw, nadam, nadamw, amsgrad, adamax, adamaxw and radam against NumPy."""

from __future__ import annotations

import _reference as ref
import jax
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

STEPS = 8
# gradtx stores an optimizer's hyperparameters as float32; the reference gets the same
# rounded values, so float64 runs are held to 1e-9.
RTOL = {"float32": 1e-5, "float64": 1e-9}
# See tests/transforms/test_adam_variants.py: RAdam's rectifier with b2=0.999 is
# ill-conditioned at its first adaptive steps; float32 reaches ~1% there.
RADAM_DEFAULT_F32_RTOL = 2e-2

# Leaves of nested_params in tree order: b[0] (3,), b[1][0] (), w (2, 3).
MASK_TREE = {"w": True, "b": [False, (True, None)]}
MASK_LEAVES = [False, True, True]


def _schedule(count):
    return 0.1 * 0.9**count


def _nadam(**kwargs):
    return ref.nadam(**kwargs)


def _nadamw(**kwargs):
    return ref.nadamw(**kwargs)


CASES = [
    pytest.param(gradtx.adam, ref.adam, {"learning_rate": 0.1}, None, id="adam"),
    pytest.param(
        gradtx.adam,
        ref.adam,
        {"learning_rate": 0.01, "b1": 0.5, "b2": 0.9, "eps": 1e-3, "eps_root": 1e-4},
        None,
        id="adam-args",
    ),
    pytest.param(
        gradtx.adam, ref.adam, {"learning_rate": 0.1, "nesterov": True}, None, id="adam-nesterov"
    ),
    pytest.param(
        gradtx.adam,
        ref.adam,
        {"learning_rate": 0.1, "bias_correction": False, "b2": 0.9},
        None,
        id="adam-uncorrected",
    ),
    pytest.param(gradtx.adam, ref.adam, {"learning_rate": _schedule}, None, id="adam-schedule"),
    pytest.param(
        gradtx.adamw, ref.adamw, {"learning_rate": 0.1, "weight_decay": 0.1}, None, id="adamw"
    ),
    pytest.param(
        gradtx.adamw,
        ref.adamw,
        {"learning_rate": 0.1, "weight_decay": 1e-2, "b2": 0.9, "nesterov": True},
        None,
        id="adamw-nesterov",
    ),
    pytest.param(gradtx.nadam, _nadam, {"learning_rate": 0.1}, None, id="nadam"),
    pytest.param(
        gradtx.nadam, _nadam, {"learning_rate": 0.1, "momentum_decay": 4e-3}, None, id="nadam-torch"
    ),
    pytest.param(
        gradtx.nadam,
        _nadam,
        {"learning_rate": 0.05, "b1": 0.8, "b2": 0.9, "momentum_decay": 0.1},
        None,
        id="nadam-psi",
    ),
    pytest.param(
        gradtx.nadamw, _nadamw, {"learning_rate": 0.1, "weight_decay": 0.1}, None, id="nadamw"
    ),
    pytest.param(
        gradtx.nadamw,
        _nadamw,
        {"learning_rate": 0.1, "weight_decay": 0.05, "momentum_decay": 4e-3},
        None,
        id="nadamw-torch",
    ),
    pytest.param(gradtx.amsgrad, ref.amsgrad, {"learning_rate": 0.1}, None, id="amsgrad"),
    pytest.param(
        gradtx.amsgrad,
        ref.amsgrad,
        {"learning_rate": 0.1, "b2": 0.9, "max_of_raw_moment": True},
        None,
        id="amsgrad-raw",
    ),
    pytest.param(
        gradtx.amsgrad,
        ref.amsgrad,
        {"learning_rate": 0.1, "b2": 0.9, "bias_correction_mu": False, "bias_correction_nu": False},
        None,
        id="amsgrad-paper",
    ),
    pytest.param(gradtx.adamax, ref.adamax, {"learning_rate": 0.1}, None, id="adamax"),
    pytest.param(
        gradtx.adamax,
        ref.adamax,
        {"learning_rate": 0.1, "b1": 0.5, "b2": 0.7, "eps": 1e-3},
        None,
        id="adamax-args",
    ),
    pytest.param(
        gradtx.adamaxw, ref.adamaxw, {"learning_rate": 0.1, "weight_decay": 0.1}, None, id="adamaxw"
    ),
    pytest.param(
        gradtx.radam, ref.radam, {"learning_rate": 0.1}, RADAM_DEFAULT_F32_RTOL, id="radam"
    ),
    pytest.param(
        gradtx.radam,
        ref.radam,
        {"learning_rate": 0.1, "b2": 0.9, "threshold": 4.5, "nesterov": True},
        None,
        id="radam-nesterov",
    ),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs", "rtol_f32"), CASES)
def test_matches_reference(factory, reference, kwargs, rtol_f32, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    stored = ref.as_stored(factory, reference, kwargs)
    want = ref.run(reference(**stored), leaves(params), [leaves(g) for g in grads])
    rtol = RTOL[float_dtype.name]
    if float_dtype == np.float32 and rtol_f32 is not None:
        rtol = rtol_f32
    assert_close_to_reference(got, want, rtol=rtol)


@pytest.mark.parametrize("lr", [0.1, 1e-3])
def test_adam_is_scale_by_adam_then_learning_rate(lr, float_dtype, rng):
    # The primitives get the float32-rounded numbers the alias stores.
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    composed = gradtx.chain(
        gradtx.scale_by_adam(ref.f32(0.9), ref.f32(0.999), ref.f32(1e-8)),
        gradtx.scale_by_learning_rate(ref.f32(lr)),
    )
    got = run_gradtx(gradtx.adam(lr), params, grads)
    want = run_gradtx(composed, params, grads)
    assert_close_to_reference(got, [leaves(u) for u in want], rtol=RTOL[float_dtype.name])


MASKED = [
    pytest.param(gradtx.adamw, ref.adamw, "mask", id="adamw"),
    pytest.param(gradtx.nadamw, _nadamw, "mask", id="nadamw"),
    pytest.param(gradtx.adamaxw, ref.adamaxw, "mask", id="adamaxw"),
]


@pytest.mark.parametrize(("factory", "reference", "arg"), MASKED)
@pytest.mark.parametrize(
    "mask",
    [MASK_TREE, lambda p: jax.tree.map(lambda x: x.ndim != 1, p)],
    ids=["tree", "function"],
)
def test_weight_decay_mask(factory, reference, arg, mask, rng):
    params = nested_params(rng, np.float32)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(0.1, weight_decay=0.5, **{arg: mask}), params, grads)
    want = ref.run(
        reference(learning_rate=ref.f32(0.1), weight_decay=ref.f32(0.5), mask=MASK_LEAVES),
        leaves(params),
        [leaves(g) for g in grads],
    )
    assert_close_to_reference(got, want, rtol=1e-5)


@pytest.mark.parametrize("factory", [gradtx.adamw, gradtx.nadamw, gradtx.adamaxw])
def test_non_boolean_mask_raises_type_error_naming_the_path(factory, rng):
    params = nested_params(rng, np.float32)
    tx = factory(0.1, mask={"w": True, "b": [0.5, (True, None)]})
    with pytest.raises(
        TypeError,
        match=r"mask leaves must be booleans; at \['b'\]\[0\] got "
        r"float 0\.5",
    ):
        tx.init(params)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.adam(-1e-3),
            r"adam\(learning_rate=\.\.\.\)` must lie in \[0, inf\); "
            r"got learning_rate=-0\.001",
        ),
        (lambda: gradtx.adam(1e-3, b1=1.5), r"b1=\.\.\.\)` must lie in \[0, 1\]; got b1=1\.5"),
        (lambda: gradtx.adam(1e-3, b1=-0.5), r"b1=\.\.\.\)` must lie in \[0, 1\]; got b1=-0\.5"),
        (lambda: gradtx.adam(1e-3, b2=1.5), r"b2=\.\.\.\)` must lie in \[0, 1\]; got b2=1\.5"),
        (
            lambda: gradtx.adam(1e-3, eps=-1e-8),
            r"eps=\.\.\.\)` must lie in \[0, inf\); got "
            r"eps=-1e-08",
        ),
        (lambda: gradtx.adam(1e-3, eps_root=-1.0), r"got eps_root=-1\.0"),
        (
            lambda: gradtx.adamw(1e-3, weight_decay=-0.1),
            r"adamw\(weight_decay=\.\.\.\)` must "
            r"lie in \[0, inf\); got "
            r"weight_decay=-0\.1",
        ),
        (lambda: gradtx.nadam(1e-3, momentum_decay=-1.0), r"momentum_decay=-1\.0"),
        (
            lambda: gradtx.nadam(1e-3, nesterov=False, momentum_decay=4e-3),
            r"nadam\(momentum_decay=\.\.\.\)` is Nesterov's schedule; it needs nesterov=True",
        ),
        (lambda: gradtx.nadamw(-1.0), r"nadamw\(learning_rate=.*got learning_rate=-1\.0"),
        (lambda: gradtx.amsgrad(-1.0), r"amsgrad\(learning_rate=.*got learning_rate=-1\.0"),
        (lambda: gradtx.amsgrad(1e-3, b1=2.0), r"got b1=2\.0"),
        (lambda: gradtx.adamax(-1.0), r"adamax\(learning_rate=.*got learning_rate=-1\.0"),
        (lambda: gradtx.adamax(1e-3, eps=-1.0), r"got eps=-1\.0"),
        (
            lambda: gradtx.adamaxw(1e-3, weight_decay=-1.0),
            r"adamaxw\(weight_decay=.*got "
            r"weight_decay=-1\.0",
        ),
        (lambda: gradtx.radam(-1.0), r"radam\(learning_rate=.*got learning_rate=-1\.0"),
        (lambda: gradtx.radam(1e-3, b2=-0.1), r"got b2=-0\.1"),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()

"""rmsprop, adagrad and adadelta against NumPy, and RMSProp built from primitives."""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import (
    assert_close_to_reference,
    gradient_stream,
    ill_conditioned_quadratic,
    leaves,
    nested_params,
    run_gradtx,
)

import gradtx

STEPS = 8
# gradtx stores an optimizer's hyperparameters as float32; the reference gets the same
# rounded values (ref.as_stored), so float64 runs are held to 1e-9.
RTOL = {"float32": 1e-5, "float64": 1e-9}

# Leaves of nested_params in tree order: b[0] (3,), b[1][0] (), w (2, 3).
MASK_TREE = {"w": True, "b": [False, (True, None)]}
MASK_LEAVES = [False, True, True]


def _schedule(count):
    return 0.05 / (1.0 + count)


CASES = [
    pytest.param(gradtx.rmsprop, ref.rmsprop, {"learning_rate": 0.01}, id="rmsprop"),
    pytest.param(
        gradtx.rmsprop,
        ref.rmsprop,
        {"learning_rate": 0.01, "decay": 0.99, "eps_in_sqrt": False},
        id="rmsprop-torch",
    ),
    pytest.param(
        gradtx.rmsprop,
        ref.rmsprop,
        {"learning_rate": 0.01, "centered": True},
        id="rmsprop-centered",
    ),
    pytest.param(
        gradtx.rmsprop, ref.rmsprop, {"learning_rate": 0.01, "momentum": 0.9}, id="rmsprop-momentum"
    ),
    pytest.param(
        gradtx.rmsprop,
        ref.rmsprop,
        {
            "learning_rate": 0.01,
            "momentum": 0.8,
            "nesterov": True,
            "centered": True,
            "eps_in_sqrt": False,
            "eps": 1e-3,
        },
        id="rmsprop-nesterov-centered",
    ),
    pytest.param(
        gradtx.rmsprop,
        ref.rmsprop,
        {"learning_rate": 0.01, "bias_correction": True, "initial_scale": 0.5},
        id="rmsprop-bias-correction",
    ),
    pytest.param(
        gradtx.rmsprop,
        ref.rmsprop,
        {"learning_rate": _schedule, "momentum": 0.5, "decay": 0.5},
        id="rmsprop-schedule-momentum",
    ),
    pytest.param(gradtx.adagrad, ref.adagrad, {"learning_rate": 0.1}, id="adagrad"),
    pytest.param(
        gradtx.adagrad,
        ref.adagrad,
        {
            "learning_rate": 0.1,
            "initial_accumulator_value": 0.0,
            "eps": 1e-10,
            "eps_in_sqrt": False,
        },
        id="adagrad-torch",
    ),
    pytest.param(
        gradtx.adagrad,
        ref.adagrad,
        {"learning_rate": _schedule, "initial_accumulator_value": 1.0, "eps": 0.5},
        id="adagrad-schedule",
    ),
    pytest.param(gradtx.adadelta, ref.adadelta, {}, id="adadelta"),
    pytest.param(
        gradtx.adadelta,
        ref.adadelta,
        {"learning_rate": 0.5, "rho": 0.5, "eps": 1e-3, "weight_decay": 0.1},
        id="adadelta-args",
    ),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs"), CASES)
def test_matches_reference(factory, reference, kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    stored = ref.as_stored(factory, reference, kwargs)
    want = ref.run(reference(**stored), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


@pytest.mark.parametrize("lr_first", [True, False], ids=["lr-then-momentum", "momentum-then-lr"])
@pytest.mark.parametrize("nesterov", [False, True], ids=["heavy-ball", "nesterov"])
def test_rms_then_momentum_is_rmsprop_with_momentum(lr_first, nesterov, float_dtype, rng):
    # chain(scale_by_rms, scale_by_momentum) with a constant learning rate anywhere in
    # the chain is gradtx.rmsprop(lr, momentum=...). The primitives get the
    # float32-rounded numbers the alias stores.
    lr, decay, eps, beta = 0.01, 0.9, 1e-8, 0.9
    rms = gradtx.scale_by_rms(ref.f32(decay), ref.f32(eps))
    momentum = gradtx.scale_by_momentum(ref.f32(beta), nesterov=nesterov)
    scale = gradtx.scale_by_learning_rate(ref.f32(lr))
    composed = (
        gradtx.chain(rms, scale, momentum) if lr_first else gradtx.chain(rms, momentum, scale)
    )
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(composed, params, grads)
    alias = run_gradtx(
        gradtx.rmsprop(lr, decay, eps, momentum=beta, nesterov=nesterov), params, grads
    )
    assert_close_to_reference(got, [leaves(u) for u in alias], rtol=RTOL[float_dtype.name])
    want = ref.run(
        ref.rmsprop(
            ref.f32(lr), ref.f32(decay), ref.f32(eps), momentum=ref.f32(beta), nesterov=nesterov
        ),
        leaves(params),
        [leaves(g) for g in grads],
    )
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


@pytest.mark.parametrize(
    "mask", [MASK_TREE, lambda p: jax.tree.map(lambda x: x.ndim != 1, p)], ids=["tree", "function"]
)
def test_adadelta_weight_decay_mask(mask, rng):
    params = nested_params(rng, np.float32)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(gradtx.adadelta(weight_decay=0.5, weight_decay_mask=mask), params, grads)
    want = ref.run(
        ref.adadelta(
            weight_decay=ref.f32(0.5), eps=ref.f32(1e-6), rho=ref.f32(0.9), mask=MASK_LEAVES
        ),
        leaves(params),
        [leaves(g) for g in grads],
    )
    assert_close_to_reference(got, want, rtol=1e-5)


def test_adadelta_default_learning_rate_is_one(rng):
    state = gradtx.adadelta().init(nested_params(rng, np.float32))
    assert float(gradtx.hyperparams(state)["learning_rate"]) == 1.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.rmsprop(-0.1),
            r"rmsprop\(learning_rate=\.\.\.\)` must lie in "
            r"\[0, inf\); got learning_rate=-0\.1",
        ),
        (
            lambda: gradtx.rmsprop(0.1, decay=2.0),
            r"decay=\.\.\.\)` must lie in \[0, 1\]; got "
            r"decay=2\.0",
        ),
        (lambda: gradtx.rmsprop(0.1, eps=-1.0), r"got eps=-1\.0"),
        (
            lambda: gradtx.rmsprop(0.1, momentum=1.5),
            r"rmsprop\(momentum=\.\.\.\)` must lie in "
            r"\[0, 1\]; got momentum=1\.5",
        ),
        (
            lambda: gradtx.rmsprop(0.1, nesterov=True),
            r"rmsprop\(nesterov=True\)` needs a "
            r"momentum; got momentum=None",
        ),
        (lambda: gradtx.adagrad(-0.1), r"adagrad\(learning_rate=.*got learning_rate=-0\.1"),
        (
            lambda: gradtx.adagrad(0.1, initial_accumulator_value=-1.0),
            r"initial_accumulator_value=-1\.0",
        ),
        (lambda: gradtx.adagrad(0.1, eps=-1.0), r"got eps=-1\.0"),
        (lambda: gradtx.adadelta(-1.0), r"adadelta\(learning_rate=.*got learning_rate=-1\.0"),
        (lambda: gradtx.adadelta(rho=1.5), r"rho=\.\.\.\)` must lie in \[0, 1\]; got rho=1\.5"),
        (
            lambda: gradtx.adadelta(eps=0.0),
            r"eps=\.\.\.\)` must lie in \(0, inf\); got "
            r"eps=0\.0",
        ),
        (
            lambda: gradtx.adadelta(weight_decay=-0.1),
            r"adadelta\(weight_decay=.*got "
            r"weight_decay=-0\.1",
        ),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_per_parameter_scaling_wins_on_an_ill_conditioned_quadratic():
    # The course notes' lesson: steep directions need small steps and flat ones large
    # steps. Gradient descent at its largest stable rate (just under 2/h_max) barely moves
    # along the flattest direction (curvature 1: factor 1 - 1.9e-3 per step, 0.57 after
    # 300 steps), while RMSProp's and Adam's per-parameter rates reach the minimum.
    problem = ill_conditioned_quadratic(dim=6, condition=1e3)
    init = {"w": jnp.asarray(problem.init["w"])}
    target = problem.minimizer["w"]

    def distance_ratio(tx, steps=300):
        def body(carry, _):
            p, s = carry
            u, s = tx.update(jax.grad(problem.loss)(p), s, p)
            return (gradtx.apply_updates(p, u), s), None

        (p, _), _ = jax.lax.scan(body, (init, tx.init(init)), None, length=steps)
        return float(np.linalg.norm(p["w"] - target) / np.linalg.norm(init["w"] - target))

    assert distance_ratio(gradtx.sgd(1.9 / 1e3)) > 0.25
    for tx in (gradtx.rmsprop(0.01), gradtx.adam(0.05)):
        assert distance_ratio(tx) < 1e-2

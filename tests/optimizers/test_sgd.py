"""sgd against NumPy: momentum, Nesterov, torch's dampening and coupled weight decay."""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

STEPS = 8
# gradtx stores an optimizer's hyperparameters as float32; the reference gets the same
# rounded values (ref.f32), so float64 runs are held to 1e-9.
RTOL = {"float32": 1e-5, "float64": 1e-9}


def _schedule(count):
    return 0.2 / (1.0 + 0.5 * count)


CASES = [
    pytest.param({"learning_rate": 0.1}, id="plain"),
    pytest.param({"learning_rate": 0.1, "momentum": 0.9}, id="momentum"),
    pytest.param({"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}, id="nesterov"),
    pytest.param({"learning_rate": 0.1, "momentum": 0.8, "dampening": 0.3}, id="dampening"),
    pytest.param({"learning_rate": 0.1, "momentum": 0.9, "weight_decay": 1e-2}, id="weight-decay"),
    pytest.param({"learning_rate": 0.1, "weight_decay": 0.5}, id="plain-weight-decay"),
    pytest.param(
        {"learning_rate": _schedule, "momentum": 0.5, "nesterov": True, "weight_decay": 0.1},
        id="schedule-nesterov-decay",
    ),
]


def test_nesterov_with_dampening_is_refused_as_in_torch():
    with pytest.raises(ValueError, match=r"`sgd\(nesterov=True\)` needs dampening=0"):
        gradtx.sgd(0.1, momentum=0.7, nesterov=True, dampening=0.4)


@pytest.mark.parametrize("kwargs", CASES)
def test_matches_reference(kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(gradtx.sgd(**kwargs), params, grads)
    want = ref.run(
        ref.sgd(**ref.as_stored(gradtx.sgd, ref.sgd, kwargs)),
        leaves(params),
        [leaves(g) for g in grads],
    )
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_first_momentum_step_is_undampened():
    # torch.optim.SGD: the buffer starts as the first gradient, whatever the dampening.
    tx = gradtx.sgd(1.0, momentum=0.9, dampening=0.5)
    state = tx.init(jnp.zeros(1))
    u1, state = tx.update(jnp.array([2.0]), state)
    u2, _ = tx.update(jnp.array([2.0]), state)
    np.testing.assert_allclose(u1, [-2.0], rtol=1e-6)
    np.testing.assert_allclose(u2, [-(0.9 * 2.0 + 0.5 * 2.0)], rtol=1e-6)


def test_plain_sgd_equals_chain_of_primitives(rng):
    params = nested_params(rng, np.float32)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(gradtx.sgd(0.1, momentum=0.9), params, grads)
    want = run_gradtx(
        gradtx.chain(gradtx.trace(0.9), gradtx.scale_by_learning_rate(0.1)), params, grads
    )
    assert_close_to_reference(got, [leaves(u) for u in want], rtol=1e-6)


def test_hyperparams_are_float32_in_state(rng):
    state = gradtx.sgd(0.1, momentum=0.9, weight_decay=1e-3, dampening=0.1).init(
        nested_params(rng, "float32")
    )
    hps = gradtx.hyperparams(state)
    assert sorted(hps) == ["dampening", "learning_rate", "momentum", "weight_decay"]
    assert all(v.dtype == jnp.float32 and v.shape == () for v in hps.values())
    assert float(hps["momentum"]) == ref.f32(0.9)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.sgd(-0.1),
            r"sgd\(learning_rate=\.\.\.\)` must lie in \[0, inf\); got "
            r"learning_rate=-0\.1",
        ),
        (
            lambda: gradtx.sgd(0.1, momentum=1.5),
            r"sgd\(momentum=\.\.\.\)` must lie in \[0, 1\]; "
            r"got momentum=1\.5",
        ),
        (
            lambda: gradtx.sgd(0.1, momentum=0.9, dampening=2.0),
            r"sgd\(dampening=.*got dampening=2\.0",
        ),
        (
            lambda: gradtx.sgd(0.1, weight_decay=-1e-4),
            r"sgd\(weight_decay=.*got weight_decay=-0\.0001",
        ),
        (
            lambda: gradtx.sgd(0.1, nesterov=True),
            r"sgd\(nesterov=True\)` needs a momentum; got "
            r"momentum=None",
        ),
        (
            lambda: gradtx.sgd(0.1, dampening=0.5),
            r"sgd\(dampening=\.\.\.\)` needs a momentum; "
            r"got dampening=0\.5",
        ),
        (lambda: gradtx.sgd(float("nan")), r"sgd\(learning_rate=.*got learning_rate=nan"),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_array_learning_rate_is_accepted_and_stored(rng):
    # An array (here a concrete one) is a hyperparameter like a float.
    state = gradtx.sgd(jnp.asarray(0.25)).init(nested_params(rng, "float32"))
    assert float(gradtx.hyperparams(state)["learning_rate"]) == 0.25
    assert jax.tree.structure(state) == jax.tree.structure(
        gradtx.sgd(0.25).init(nested_params(rng, "float32"))
    )

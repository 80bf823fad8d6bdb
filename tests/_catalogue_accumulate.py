"""Conformance entries for the accumulation and non-finite wrappers (see tests/_catalogue.py).

lookahead is not here: its params are a LookaheadParams pair, which the suite's problems
are not (tests/wrappers/test_lookahead.py runs it under jit with None leaves and checks
its state under lax.cond).
"""

import pytest
from _conformance_kit import Tuning

import gradtx


def multisteps_adam(learning_rate, **kwargs):
    return gradtx.MultiSteps(gradtx.adam(learning_rate), **kwargs)


def apply_if_finite_adam(learning_rate, **kwargs):
    return gradtx.apply_if_finite(gradtx.adam(learning_rate), **kwargs)


def zero_nans_sgd(learning_rate):
    return gradtx.chain(gradtx.zero_nans(), gradtx.sgd(learning_rate))


def sgd_apply_every(learning_rate, k=2):
    return gradtx.chain(gradtx.sgd(learning_rate), gradtx.apply_every(k))


def conditionally_mask_sgd(learning_rate):
    return gradtx.conditionally_mask(gradtx.sgd(learning_rate), lambda step: step % 2 == 0)


# MultiSteps(k=2) takes one Adam step every 2 calls (on the same gradient twice, since
# the params do not move in between): Adam's tuning with twice the calls. Measured:
# the quadratic at 5.5e-15 of its initial loss,
# Rosenbrock 7.2e-7 from its minimum (exactly apply_if_finite-adam at half the calls).
MULTISTEPS_ADAM = Tuning(0.1, 1000, 0.02, 16000)
# Finite gradients only: apply_if_finite(adam) is Adam. Measured: quadratic 5.5e-15,
# Rosenbrock 7.2e-7.
APPLY_IF_FINITE_ADAM = Tuning(0.1, 500, 0.02, 8000)
# Finite gradients: zero_nans changes nothing; plain gradient descent's tuning.
# Measured: quadratic 6.9e-16, Rosenbrock 8.7e-5.
ZERO_NANS_SGD = Tuning(0.15, 200, 1e-3, 40000)
# apply_every(2) after sgd: every second call applies two SGD steps taken at the same
# point, i.e. one step of twice the rate. Measured: quadratic 6.9e-16,
# Rosenbrock 8.7e-5 (the zero_nans-sgd run, two calls per step).
SGD_APPLY_EVERY = Tuning(0.075, 400, 5e-4, 80000)
# SGD on every other call. Measured: quadratic 6.9e-16, Rosenbrock 8.7e-5.
CONDITIONALLY_MASK_SGD = Tuning(0.15, 400, 1e-3, 80000)

ENTRIES = [
    pytest.param(multisteps_adam, {"every_k_schedule": 2}, MULTISTEPS_ADAM, id="multisteps-adam"),
    pytest.param(
        apply_if_finite_adam,
        {"max_consecutive_errors": 3},
        APPLY_IF_FINITE_ADAM,
        id="apply_if_finite-adam",
    ),
    pytest.param(zero_nans_sgd, {}, ZERO_NANS_SGD, id="zero_nans-sgd"),
    pytest.param(sgd_apply_every, {}, SGD_APPLY_EVERY, id="sgd-apply_every"),
    pytest.param(conditionally_mask_sgd, {}, CONDITIONALLY_MASK_SGD, id="conditionally_mask-sgd"),
]

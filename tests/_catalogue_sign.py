"""Conformance entries for the sign family (see tests/_catalogue.py)."""

import pytest
from _conformance_kit import Tuning, _with_lr

import gradtx


def _decaying(rate):
    # Sign methods take steps of fixed size: with a constant rate they end oscillating at
    # distance ~rate from Rosenbrock's minimum, so the rate decays (by 2e4 over 10000 steps).
    return lambda count: rate * 0.999**count


# Like scale_by_sign, plain sign descent zig-zags across Rosenbrock's curved valley in
# axis-aligned steps: held to 2e-2, not 1e-2 (measured 1.06e-2 after 10000 steps).
SIGN_SGD = Tuning(0.01, 500, _decaying(0.05), 10000, rosen_dist=2e-2)
# Momentum smooths the zig-zag: measured 5e-6 from Rosenbrock's minimum.
SIGNUM = Tuning(0.01, 500, _decaying(0.05), 10000)
# Lion's slow momentum (b2=0.99) overshoots the quadratic's minimum at first: the loss is
# 1.2e-2 of its initial value after 500 steps, 9e-6 after 1000 (Rosenbrock: 1e-6).
LION = Tuning(0.01, 1000, _decaying(0.05), 10000)
# Lion's continuous modes (same tuning), measured: mode="smooth" (smooth_beta=10) ends
# 3.3e-4 from Rosenbrock's minimum, quadratic 6.6e-10 of its initial loss; "refined"
# 3.4e-3 and 9.2e-7 (its steps shrink with the momentum, so it creeps at the end).
# Rprop adapts its own step sizes, so a constant rate converges: measured 1.2e-3 from
# Rosenbrock's minimum after 5000 steps (2.7e-2 after 2000), quadratic 2e-14 after 200.
RPROP = Tuning(0.01, 200, 0.01, 5000)


def _scale_by_rprop(learning_rate):
    return gradtx.chain(gradtx.scale_by_rprop(learning_rate), gradtx.scale(-1.0))


ENTRIES = [
    pytest.param(gradtx.sign_sgd, {}, SIGN_SGD, id="sign_sgd"),
    pytest.param(gradtx.signum, {}, SIGNUM, id="signum"),
    pytest.param(gradtx.lion, {}, LION, id="lion"),
    pytest.param(gradtx.lion, {"mode": "smooth", "smooth_beta": 10.0}, LION, id="lion-smooth"),
    pytest.param(gradtx.lion, {"mode": "refined"}, LION, id="lion-refined"),
    pytest.param(gradtx.rprop, {}, RPROP, id="rprop"),
    pytest.param(_with_lr(gradtx.scale_by_lion), {}, LION, id="scale_by_lion"),
    pytest.param(_scale_by_rprop, {}, RPROP, id="scale_by_rprop"),
]

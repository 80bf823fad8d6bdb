"""Conformance entries for the trust family (see tests/_catalogue.py).

LAMB, LARS and Fromage take steps proportional to each leaf's norm, so on Rosenbrock,
whose valley runs from the start (-1.2, 1) through the origin, they slow down
geometrically as they approach (0, 0). Where the method has a ``min_norm`` (Fromage,
``scale_by_trust_ratio``) it is set to 1 so that the step length stays lr-sized there;
LARS's momentum carries it through; LAMB has neither and is held to a looser bound.

Polyak's step size needs the loss (``update(..., value=f)``), which the conformance
checks do not pass: :func:`_with_value` supplies it from the problem the parameters
belong to (recognised by their shapes; any other tree gets a stand-in loss).
"""

from __future__ import annotations

import pytest
from _conformance_kit import Tuning, _with_lr
from _problems import conformance_loss

import gradtx


def _decaying(rate, factor):
    return lambda count: rate * factor**count


def _with_value(tx):
    """``tx`` with ``value=`` (the problem's loss at the params) passed to ``update``."""

    def update(updates, state, params=None, **extra_args):
        return tx.update(
            updates, state, params, value=conformance_loss(params)(params), **extra_args
        )

    return gradtx.GradientTransformationExtraArgs(tx.init, update)


def _polyak_sgd(learning_rate, **kwargs):
    return _with_value(gradtx.polyak_sgd(scaling=learning_rate, **kwargs))


def _scale_by_polyak(learning_rate, **kwargs):
    return _with_value(_with_lr(gradtx.scale_by_polyak)(learning_rate, **kwargs))


# Relative steps: the rate decays (by e^-10 over Rosenbrock's 20000 steps).
RELATIVE = Tuning(_decaying(0.1, 0.995), 1000, _decaying(0.01, 0.9995), 20000)
# LAMB stalls near the origin on Rosenbrock (see the module docstring): measured 1.37
# from (1, 1) after 20000 steps, i.e. it ends by the origin; the quadratic converges.
LAMB = Tuning(_decaying(0.1, 0.995), 1000, _decaying(0.01, 0.9995), 20000, rosen_dist=1.5)
# Relative steps on the quadratic too: with a constant rate they end oscillating
# (measured 2.5e-3 of the initial loss with nesterov and weight decay).
LARS = Tuning(_decaying(1.0, 0.995), 1000, _decaying(0.1, 0.9995), 20000)
GD = Tuning(0.15, 200, 1e-3, 40000)
# Optimism's 2 g_t - g_{t-1} is stable for a rate below about half of GD's.
OPTIMISTIC = Tuning(0.05, 500, 5e-4, 80000)
ADAM = Tuning(0.1, 500, 0.01, 8000)
POLYAK = Tuning(1.0, 200, 1.0, 20000)
# optimistic_adam's default NAdam look-ahead bounces in Rosenbrock's valley at rate 0.01
# (measured 8.3e-3 from the minimum after 12000 steps); at 5e-3 it settles (2.4e-3
# after 10000 steps). Quadratic: 5.8e-15 of the initial loss after 500 steps.
OPTIMISTIC_ADAM = Tuning(0.1, 500, 5e-3, 10000)

ENTRIES = [
    pytest.param(gradtx.lamb, {}, LAMB, id="lamb"),
    pytest.param(gradtx.lamb, {"weight_decay": 1e-4}, LAMB, id="lamb-wd"),
    pytest.param(gradtx.lars, {"trust_coefficient": 0.02}, LARS, id="lars"),
    pytest.param(
        gradtx.lars,
        {"trust_coefficient": 0.02, "nesterov": True, "weight_decay": 1e-4},
        LARS,
        id="lars-nesterov",
    ),
    pytest.param(gradtx.fromage, {"min_norm": 1.0}, RELATIVE, id="fromage"),
    pytest.param(gradtx.noisy_sgd, {"key": 0}, GD, id="noisy_sgd"),
    pytest.param(_polyak_sgd, {}, POLYAK, id="polyak_sgd"),
    pytest.param(_polyak_sgd, {"variant": "sps+", "eps": 1e-8}, POLYAK, id="polyak_sgd-plus"),
    pytest.param(gradtx.optimistic_gradient_descent, {}, OPTIMISTIC, id="optimistic_gd"),
    pytest.param(gradtx.optimistic_adam_v2, {}, ADAM, id="optimistic_adam_v2"),
    pytest.param(gradtx.optimistic_adam, {}, OPTIMISTIC_ADAM, id="optimistic_adam"),
    pytest.param(
        _with_lr(gradtx.scale_by_trust_ratio),
        {"min_norm": 1.0},
        RELATIVE,
        id="scale_by_trust_ratio",
    ),
    pytest.param(
        _with_lr(gradtx.add_noise), {"eta": 0.01, "gamma": 0.55, "key": 0}, GD, id="add_noise"
    ),
    pytest.param(_scale_by_polyak, {}, POLYAK, id="scale_by_polyak"),
    pytest.param(
        _with_lr(gradtx.scale_by_optimistic_gradient),
        {},
        OPTIMISTIC,
        id="scale_by_optimistic_gradient",
    ),
]

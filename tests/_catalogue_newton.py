"""Conformance entries for Newton and Newton-CG (see tests/_catalogue.py).

Both need the objective (``update(..., value_fn=f)``), which the conformance checks do
not pass: the wrapper supplies the loss of the problem the parameters belong to (from
tests/_problems.py's ``conformance_loss``; any other tree gets a stand-in, whose Hessian is
the identity). Wrapped entries skip the hyperparameter checks; test_newton.py covers them.

Measured (CPU, float32; first step below the target): the conformance quadratic below
1e-3 of its initial loss after 1 step (newton, newton-armijo; loss 0 to rounding), 3
(newton_cg-armijo: the default forcing term solves only to half the gradient norm) and 2
(newton_cg-damped); Rosenbrock from (-1.2, 1) within 1e-3 of (1, 1) after 5 (newton),
20 (newton-armijo), 61 (newton_cg-armijo) and 19 (newton_cg-damped) steps.
"""

from __future__ import annotations

import pytest
from _conformance_kit import Tuning
from _problems import conformance_loss

import gradtx
from gradtx.second_order import newton, newton_cg


def _with_value_fn(tx):
    def update(updates, state, params=None, **extra_args):
        return tx.update(updates, state, params, value_fn=conformance_loss(params), **extra_args)

    return gradtx.GradientTransformationExtraArgs(tx.init, update)


def _newton(learning_rate, **kwargs):
    return _with_value_fn(newton(learning_rate, **kwargs))


def _newton_cg(learning_rate, **kwargs):
    return _with_value_fn(newton_cg(learning_rate, **kwargs))


ENTRIES = [
    pytest.param(_newton, {}, Tuning(1.0, 1, 1.0, 10, 1e-3), id="newton"),
    pytest.param(
        _newton, {"linesearch": "armijo"}, Tuning(1.0, 1, 1.0, 30, 1e-3), id="newton-armijo"
    ),
    pytest.param(
        _newton_cg, {"linesearch": "armijo"}, Tuning(1.0, 5, 1.0, 90, 1e-3), id="newton_cg-armijo"
    ),
    pytest.param(
        _newton_cg,
        {"damping": 0.5, "tol": 1e-3},
        Tuning(1.0, 4, 1.0, 40, 1e-3),
        id="newton_cg-damped",
    ),
]

"""Conformance entries for L-BFGS with its line searches (see tests/_catalogue.py).

The line searches need ``value``, ``grad`` and ``value_fn`` in ``update``, which the
conformance checks do not pass: the wrapper supplies the loss of the problem the
parameters belong to (tests/_problems.py's ``conformance_loss``; other trees get a
stand-in), its value at ``params`` and the incoming gradient as ``grad``. Wrapped
entries skip the hyperparameter checks; tests/second_order/test_lbfgs.py and
test_linesearch.py cover the rest.

Measured (CPU, float32): the conformance quadratic below 1e-3 of its initial loss
after 5 steps (both: every step takes t = 1); Rosenbrock from (-1.2, 1) within 1e-3 of
(1, 1) after 34 (lbfgs, zoom) and 43 (lbfgs-backtracking) steps.
"""

from __future__ import annotations

import pytest
from _conformance_kit import Tuning
from _problems import conformance_loss

import gradtx
from gradtx.second_order import lbfgs, scale_by_backtracking_linesearch


def _with_objective(tx):
    def update(updates, state, params=None, **extra_args):
        f = conformance_loss(params)
        return tx.update(
            updates, state, params, value=f(params), grad=updates, value_fn=f, **extra_args
        )

    return gradtx.GradientTransformationExtraArgs(tx.init, update)


def _lbfgs(learning_rate, **kwargs):
    return _with_objective(lbfgs(learning_rate, **kwargs))


def _lbfgs_backtracking(learning_rate, **kwargs):
    ls = scale_by_backtracking_linesearch(30, **kwargs)
    return _with_objective(lbfgs(learning_rate, linesearch=ls))


ENTRIES = [
    pytest.param(_lbfgs, {}, Tuning(1.0, 8, 1.0, 50, 1e-3), id="lbfgs"),
    pytest.param(_lbfgs_backtracking, {}, Tuning(1.0, 8, 1.0, 60, 1e-3), id="lbfgs-backtracking"),
]

"""Conformance entries for Shampoo (see tests/_catalogue.py).

The problems' parameters are vectors (and a scalar), which Shampoo preconditions by
full-matrix Adagrad-like statistics (:math:`L^{-1/2}`); the scalar takes the graft's
update.
"""

import pytest
from _conformance_kit import Tuning, _with_lr

import gradtx


def _decaying(rate, factor):
    return lambda count: rate * factor**count


# Defaults (RMSProp graft, heavy-ball Nesterov momentum 0.9): the quadratic's loss is
# 8.8e-10 of its initial value after 100 steps at 0.1. On Rosenbrock a constant rate
# keeps bouncing in the valley (1e-3: 4e-3 from the minimum after 8000 steps, 2e-5
# after 10000; 1e-2: 9e-5 after 5000, 3e-2 after 10000); decaying from 0.03 by 0.9995
# per step it is 2.7e-5 from the minimum after 3000 steps.
SHAMPOO = Tuning(0.1, 100, _decaying(0.03, 0.9995), 3000)
# The primitive, without momentum, in blocks of 2 (the quadratic's (4,) vector is two
# blocks), roots every 3 steps, Adagrad graft: quadratic 2e-14 after 100 steps at 1.0;
# Rosenbrock at a constant 1.0: 8e-2 from the minimum after 5000 steps, 1.9e-3 after
# 8000 (at 0.3: 6.5e-2 after 8000).
BLOCKED_LAZY = Tuning(1.0, 100, 1.0, 8000)

ENTRIES = [
    pytest.param(gradtx.shampoo, {}, SHAMPOO, id="shampoo"),
    pytest.param(
        _with_lr(gradtx.scale_by_shampoo),
        {"block_size": 2, "preconditioning_compute_steps": 3, "graft_type": "adagrad"},
        BLOCKED_LAZY,
        id="scale_by_shampoo-blocked-lazy-adagrad",
    ),
]

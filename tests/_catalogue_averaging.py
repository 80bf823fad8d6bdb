"""Conformance entries for param_ema, swa and scale_by_tree (see tests/_catalogue.py).

The averaging transforms pass the updates through, so each entry is an optimizer with
an average chained last and keeps that optimizer's tuning (the convergence test reads
the trained parameters; the averages are checked in tests/wrappers/test_averaging.py).
"""

import pytest
from _conformance_kit import Tuning

import gradtx

# Adam's tuning from tests/test_conformance.py, unchanged. Measured: quadratic 5.5e-15 of
# its initial loss, 4.5e-7 from Rosenbrock's minimum (the average itself: 7.3e-7 with
# debias=True, 4.6e-6 with torch's weights at decay 0.99).
ADAM = Tuning(0.1, 500, 0.02, 8000)
# Heavy-ball momentum's tuning, unchanged. Measured: quadratic 6.4e-15, Rosenbrock 1.1e-6
# (the SWA average of every 5th iterate from step 10 on: 2.9e-2, the trajectory's mean).
HEAVY_BALL = Tuning(0.05, 300, 1e-3, 8000)
# Plain gradient steps scaled by 0.5 through scale_by_tree: GD's tuning at twice the rate
# (0.3, 2e-3) takes the same steps. Measured: quadratic 6.9e-16, Rosenbrock 8.7e-5.
HALVED_GD = Tuning(0.3, 200, 2e-3, 40000)


def adam_param_ema(learning_rate, **kwargs):
    return gradtx.chain(gradtx.adam(learning_rate), gradtx.param_ema(**kwargs))


def momentum_swa(learning_rate, **kwargs):
    return gradtx.chain(gradtx.sgd(learning_rate, momentum=0.9), gradtx.swa(**kwargs))


def halved_by_tree(learning_rate):
    # A scalar is a prefix of every tree: the entry works on any problem's parameters.
    return gradtx.chain(gradtx.sgd(learning_rate), gradtx.scale_by_tree(0.5))


ENTRIES = [
    pytest.param(adam_param_ema, {"decay": 0.9}, ADAM, id="param_ema"),
    pytest.param(adam_param_ema, {"decay": 0.99, "debias": False}, ADAM, id="param_ema-torch"),
    pytest.param(momentum_swa, {"start_step": 10, "every_k": 5}, HEAVY_BALL, id="swa"),
    pytest.param(halved_by_tree, {}, HALVED_GD, id="scale_by_tree"),
]

"""Conformance entries for the factored family (see tests/_catalogue.py)."""

import pytest
from _conformance_kit import Tuning, _with_lr

import gradtx


def _hyperbolic(rate, k):
    """The course notes' decay ``rate / (1 + k t)``."""
    return lambda count: rate / (1.0 + k * count)


# Adafactor's steps are ~lr * rms(params) in size whatever the gradient (its update is
# RMS-normalized and clipped) and it has no momentum by default: with a constant rate
# 0.01 it stalls at 3.5e-2 from Rosenbrock's minimum after 8000 steps (0.72 at 3e-3,
# 1.3 at 1e-3 after 20000). A hyperbolic decay from 0.02 settles: measured 1.3e-3
# after 12000 steps.
ADAFACTOR = Tuning(0.1, 500, _hyperbolic(0.02, 1e-3), 12000)
# With momentum 0.9 a constant rate does (measured 3e-3 after 8000 steps).
ADAFACTOR_MOMENTUM = Tuning(0.1, 500, 0.01, 8000)
# SM3 on vectors is Adagrad: its rates only shrink, so it needs a large one (measured
# 5.7e-5 from Rosenbrock's minimum after 20000 steps).
SM3 = Tuning(0.5, 500, 0.5, 20000)
# Gradient steps times the parameters' scale (~1 on Rosenbrock, up to ~4 on the
# quadratic): plain gradient descent's small rate (measured 9e-5 after 40000 steps).
PARAM_SCALE = Tuning(0.05, 300, 1e-3, 40000)

ENTRIES = [
    pytest.param(gradtx.adafactor, {}, ADAFACTOR, id="adafactor"),
    pytest.param(
        gradtx.adafactor,
        {"min_dim_size_to_factor": 2, "momentum": 0.9, "weight_decay_rate": 1e-5},
        ADAFACTOR_MOMENTUM,
        id="adafactor-factored-momentum",
    ),
    pytest.param(gradtx.sm3, {}, SM3, id="sm3"),
    pytest.param(
        _with_lr(gradtx.scale_by_factored_rms),
        {"min_dim_size_to_factor": 2},
        ADAFACTOR,
        id="scale_by_factored_rms",
    ),
    pytest.param(
        _with_lr(gradtx.scale_by_param_block_rms), {}, PARAM_SCALE, id="scale_by_param_block_rms"
    ),
    pytest.param(
        _with_lr(gradtx.scale_by_param_block_norm), {}, PARAM_SCALE, id="scale_by_param_block_norm"
    ),
    pytest.param(_with_lr(gradtx.scale_by_sm3), {}, SM3, id="scale_by_sm3"),
]

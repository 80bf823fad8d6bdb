"""Conformance entries for the wrappers cautious and sam (see tests/_catalogue.py)."""

import pytest
from _catalogue_sign import LION
from _conformance_kit import Tuning

import gradtx


def cautious_adamw(learning_rate, **kwargs):
    return gradtx.cautious(gradtx.adamw(learning_rate, **kwargs))


def cautious_lion(learning_rate, **kwargs):
    return gradtx.cautious(gradtx.lion(learning_rate, **kwargs))


def sam_sgd(learning_rate, rho=1e-3, **kwargs):
    adversary = gradtx.chain(gradtx.normalize(), gradtx.sgd(rho))
    return gradtx.sam(gradtx.sgd(learning_rate), adversary, **kwargs)


def sam_adam(learning_rate, rho=1e-3, **kwargs):
    adversary = gradtx.chain(gradtx.normalize(), gradtx.sgd(rho))
    return gradtx.sam(gradtx.adam(learning_rate), adversary, **kwargs)


# The cautious mask only drops components: the entries keep their inner optimizer's
# tuning. Measured: cautious(adamw) ends 3.2e-4 from Rosenbrock's minimum (quadratic
# 7.9e-12 of its initial loss); cautious(lion) 3.0e-7 (quadratic 1.3e-4).
CAUTIOUS_ADAMW = Tuning(0.1, 500, 0.02, 8000)
# SAM takes one outer step every sync_period calls, so it gets more calls than its
# outer optimizer's entry. With a fixed rho it ends oscillating at a distance set by
# rho: SGD measured 8.7e-7 (quadratic, same after 200 calls) and 3.8e-3 from
# Rosenbrock's minimum (4.0e-3 after 20000 calls); Adam (sync_period 3) measured
# 7.4e-8 and 4.7e-3 (at rate 0.02 it bounces in the valley: 6.5e-3 after 24000).
SAM_SGD = Tuning(0.15, 400, 1e-3, 40000)
SAM_ADAM = Tuning(0.1, 1000, 0.01, 24000)

ENTRIES = [
    pytest.param(cautious_adamw, {}, CAUTIOUS_ADAMW, id="cautious-adamw"),
    pytest.param(cautious_lion, {}, LION, id="cautious-lion"),
    pytest.param(sam_sgd, {}, SAM_SGD, id="sam-sgd"),
    pytest.param(sam_adam, {"sync_period": 3, "reset_state": False}, SAM_ADAM, id="sam-adam"),
]

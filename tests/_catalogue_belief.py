"""Conformance entries for the belief family (see tests/_catalogue.py)."""

import pytest
from _conformance_kit import Tuning, _with_lr

import gradtx

ADAM_LIKE = Tuning(0.1, 500, 0.02, 8000)  # as adam's in tests/test_conformance.py
YOGI = ADAM_LIKE
# NovoGrad normalizes each leaf's gradient by its norm, and Rosenbrock is one leaf: its
# steps keep a length ~learning_rate / (1 - b1) and it ends circling the minimum at that
# scale (measured 0.09 from it at rate 0.02, 6e-4 at rate 1e-3 after 8000 steps).
NOVOGRAD = Tuning(0.1, 500, 1e-3, 8000)
ADAN = ADAM_LIKE

ENTRIES: list = [
    pytest.param(gradtx.adabelief, {}, ADAM_LIKE, id="adabelief"),
    pytest.param(gradtx.adabelief, {"nesterov": True}, ADAM_LIKE, id="adabelief-nesterov"),
    pytest.param(gradtx.yogi, {}, YOGI, id="yogi"),
    pytest.param(gradtx.novograd, {}, NOVOGRAD, id="novograd"),
    pytest.param(gradtx.novograd, {"weight_decay": 1e-4}, NOVOGRAD, id="novograd-wd"),
    pytest.param(gradtx.adan, {}, ADAN, id="adan"),
    pytest.param(gradtx.adan, {"weight_decay": 1e-4}, ADAN, id="adan-wd"),
    pytest.param(_with_lr(gradtx.scale_by_belief), {}, ADAM_LIKE, id="scale_by_belief"),
    pytest.param(_with_lr(gradtx.scale_by_yogi), {}, YOGI, id="scale_by_yogi"),
    pytest.param(_with_lr(gradtx.scale_by_novograd), {}, NOVOGRAD, id="scale_by_novograd"),
    pytest.param(_with_lr(gradtx.scale_by_adan), {}, ADAN, id="scale_by_adan"),
]

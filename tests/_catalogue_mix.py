"""Conformance entries for the mix family (see tests/_catalogue.py)."""

import pytest
from _conformance_kit import Tuning, _with_lr

import gradtx

# The slow EMA (b3 = 0.9999, alpha = 5) keeps pushing along old gradients: at Adam's
# Rosenbrock rate 0.02 the iterate ends 0.012 from (1, 1) (with weight_decay=1e-4); at
# 0.1 it ends 1.9e-3 (1.3e-3 with the decay).
ADEMAMIX = Tuning(0.1, 500, 0.1, 8000)
# scale_by_ademamix defaults to alpha = 6: Rosenbrock ends 0.017 from (1, 1) at 0.1.
PRIM_ADEMAMIX = Tuning(0.1, 500, 0.05, 8000)
# Simplified-AdEMAMix's undamped momentum weighs up to 1/(1 - b1) = 100 gradients, so
# it oscillates long on the quadratic: measured loss ratio 0.19 after 500 steps and
# 1.7e-4 after 2000 at rate 0.03; Rosenbrock ends 6e-4 from (1, 1) at rate 1e-3.
SIMPLIFIED = Tuning(3e-2, 2000, 1e-3, 8000)
# MADGRAD: Rosenbrock ends 4e-6 from (1, 1) at rate 1e-2 (0.53 at 0.1).
MADGRAD = Tuning(0.1, 500, 1e-2, 8000)
# ACProp divides the raw gradient (no momentum in the numerator) by a centred RMS:
# Rosenbrock ends 6.5e-3 from (1, 1) at rate 1e-3 (0.015 at 3e-3, diverges at 0.1).
ACPROP = Tuning(0.1, 500, 1e-3, 8000)


def _madgrad(learning_rate, **kwargs):
    return gradtx.scale_by_madgrad(learning_rate, **kwargs)


_madgrad.__name__ = "scale_by_madgrad"

ENTRIES: list = [
    pytest.param(gradtx.ademamix, {}, ADEMAMIX, id="ademamix"),
    pytest.param(gradtx.ademamix, {"weight_decay": 1e-4}, ADEMAMIX, id="ademamix-wd"),
    pytest.param(gradtx.simplified_ademamix, {}, SIMPLIFIED, id="simplified_ademamix"),
    # MADGRAD's first update is not linear in the rate (it scales as (lr + eps)^(2/3), the
    # rate weighting both s and v), so tests/test_conformance.py leaves it out of
    # test_set_learning_rate; it runs every other check.
    pytest.param(gradtx.madgrad, {}, MADGRAD, id="madgrad"),
    pytest.param(gradtx.acprop, {}, ACPROP, id="acprop"),
    pytest.param(_with_lr(gradtx.scale_by_ademamix), {}, PRIM_ADEMAMIX, id="scale_by_ademamix"),
    pytest.param(
        _with_lr(gradtx.scale_by_simplified_ademamix),
        {},
        SIMPLIFIED,
        id="scale_by_simplified_ademamix",
    ),
    pytest.param(_madgrad, {}, MADGRAD, id="scale_by_madgrad"),
    pytest.param(_with_lr(gradtx.scale_by_acprop), {}, ACPROP, id="scale_by_acprop"),
]

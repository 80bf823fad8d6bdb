"""Conformance entries for the low-memory / variance-reduced family: MARS, Adam-mini, GaLore.

(See tests/_catalogue.py.) The conformance problems have no matrix leaves, so there
GaLore projects nothing and runs its base optimizer (Adam); its projection is checked by
tests/optimizers/test_galore.py, and by the state-stability check here, whose tree has a
(2, 3) leaf that GaLore does project.
"""

import pytest
from _conformance_kit import Tuning, _with_lr

import gradtx

# MARS clips the corrected gradient to norm 1 and normalizes it like Adam. Measured
# (float32): quadratic loss < 1e-12 of its initial value after 500 steps; Rosenbrock
# 3.5e-4 from the minimum after 8000 steps at rate 0.02 (1.0e-3 with weight_decay=1e-4,
# which moves the minimum).
MARS = Tuning(0.1, 500, 0.02, 8000)
# Adam-mini on the conformance problems: every leaf is a vector or a scalar, so each is
# one block (one shared second moment), i.e. normalized momentum. Measured: quadratic
# loss 8.9e-10 of its initial value after 500 steps; Rosenbrock 2.7e-4 from the minimum
# after 8000 steps at rate 0.02 (1.8e-5 without the alias's default weight decay).
ADAM_MINI = Tuning(0.1, 500, 0.02, 8000)
# GaLore is Adam here (no 2-D leaf): measured quadratic 5.5e-15, Rosenbrock 1.3e-3 after
# 8000 steps (2e-6 after 4000: Adam at rate 0.02 wanders in the valley's floor).
GALORE = Tuning(0.1, 500, 0.02, 8000)


ENTRIES = [
    pytest.param(gradtx.mars, {}, MARS, id="mars"),
    pytest.param(gradtx.mars, {"gamma": 0.1, "weight_decay": 1e-4}, MARS, id="mars-gamma"),
    pytest.param(_with_lr(gradtx.scale_by_mars), {}, MARS, id="scale_by_mars"),
    pytest.param(gradtx.adam_mini, {}, ADAM_MINI, id="adam_mini"),
    pytest.param(gradtx.adam_mini, {"block_axes": "leaf"}, ADAM_MINI, id="adam_mini-leaf-blocks"),
    pytest.param(_with_lr(gradtx.scale_by_adam_mini), {}, ADAM_MINI, id="scale_by_adam_mini"),
    pytest.param(gradtx.contrib.galore, {"rank": 1, "update_proj_gap": 2}, GALORE, id="galore"),
    pytest.param(
        _with_lr(gradtx.contrib.scale_by_galore), {"rank": 1}, GALORE, id="scale_by_galore"
    ),
]

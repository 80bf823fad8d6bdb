"""Conformance entries for the schedfree family (see tests/_catalogue.py).

The params a schedule-free optimizer updates, and that these checks see converge, are
its gradient points :math:`y` (not the evaluation average :math:`x`).
"""

import pytest
from _conformance_kit import Tuning, _with_lr

import gradtx


def _schedule_free_adam(learning_rate, **kwargs):
    """The wrapper around Adam without momentum (the base carries the learning rate)."""
    base = gradtx.chain(gradtx.scale_by_adam(b1=0.0), gradtx.scale_by_learning_rate(learning_rate))
    return gradtx.schedule_free(base, learning_rate, **kwargs)


# Rosenbrock's start diverges above rate ~0.01; at 5e-3 the y iterate is measured
# 1e-4 from the minimum after 40000 steps (2e-3 after 20000).
SF_SGD = Tuning(0.1, 500, 5e-3, 40000)
# With a constant rate the y iterate keeps circling at a distance ~rate/10 (measured
# 3e-2 at rate 0.1, 7e-4 to 9e-4 at rate 0.01 after 20000 steps).
SF_ADAM = Tuning(0.1, 500, 0.01, 20000)
# b2=0.9999 keeps v near the first squared gradient (|g| ~ 200 at Rosenbrock's start)
# for thousands of steps, so the steps stay small: measured 4e-2 from the minimum after
# 8000 steps at rate 0.1, 3e-5 after 20000.
ADOPT = Tuning(0.1, 500, 0.1, 20000)

ENTRIES: list = [
    pytest.param(gradtx.schedule_free_sgd, {}, SF_SGD, id="schedule_free_sgd"),
    pytest.param(
        gradtx.schedule_free_sgd,
        {"warmup_steps": 10, "weight_decay": 1e-5},
        SF_SGD,
        id="schedule_free_sgd-warmup-wd",
    ),
    pytest.param(gradtx.schedule_free_adamw, {}, SF_ADAM, id="schedule_free_adamw"),
    pytest.param(
        gradtx.schedule_free_adamw,
        {"warmup_steps": 10, "weight_decay": 1e-4},
        SF_ADAM,
        id="schedule_free_adamw-warmup-wd",
    ),
    pytest.param(_schedule_free_adam, {}, SF_ADAM, id="schedule_free"),
    pytest.param(gradtx.adopt, {}, ADOPT, id="adopt"),
    pytest.param(gradtx.adopt, {"use_clipping": False}, ADOPT, id="adopt-noclip"),
    pytest.param(gradtx.adopt, {"nesterov": True}, ADOPT, id="adopt-nesterov"),
    pytest.param(_with_lr(gradtx.scale_by_adopt), {}, ADOPT, id="scale_by_adopt"),
]

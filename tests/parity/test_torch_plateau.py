"""reduce_on_plateau against torch.optim.lr_scheduler.ReduceLROnPlateau: the scale sequence.

torch's learning rate, starting at 1, after ``scheduler.step(loss)`` is compared with
``state.scale`` after ``update(..., value=loss)``, in float64. ``rtol`` is torch's
``threshold_mode="rel"`` and ``atol`` its ``"abs"``; ``min_scale`` is ``min_lr``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import x64

torch = pytest.importorskip("torch")

POSITIVE = [5.0, 4.0, 4.0, 3.9999, 4.1, 3.0, 3.0, 3.0, 3.0, 2.9, 2.9, 2.9, 2.9, 2.9, 1.0, 1.0]
MIXED = [2.0, 1.0, 0.5, 0.5, 0.0, -0.5, -0.5, -0.4, -0.5, -1.0, -1.0, -1.5, -1.4, -1.45, -1.5]
NEGATIVE = [-8.0, -10.0, -9.5, -9.6, -9.7, -9.8, -9.9, -9.95, -12.0, -11.9, -11.95, -12.0]


def torch_scales(values, mode="min", **kwargs):
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, **kwargs)
    out = []
    for v in values:
        sched.step(v)
        out.append(opt.param_groups[0]["lr"])
    return np.asarray(out)


def gradtx_scales(values, **kwargs):
    with x64():
        tx = gradtx.reduce_on_plateau(**kwargs)
        step = jax.jit(tx.update)
        state, out = tx.init(None), []
        for v in values:
            _, state = step(jnp.zeros(1), state, value=jnp.asarray(v))
            out.append(float(state.scale))
    return np.asarray(out)


# (id, values, gradtx kwargs, torch kwargs)
CASES = [
    (
        "rel",
        POSITIVE,
        {"factor": 0.5, "patience": 1, "rtol": 1e-3},
        {"factor": 0.5, "patience": 1, "threshold": 1e-3},
    ),
    ("rel-defaults", POSITIVE * 3, {}, {}),
    (
        "rel-cooldown-min",
        POSITIVE,
        {"factor": 0.3, "patience": 0, "cooldown": 2, "min_scale": 0.05},
        {"factor": 0.3, "patience": 0, "cooldown": 2, "min_lr": 0.05},
    ),
    (
        "abs-mixed-sign",
        MIXED,
        {"factor": 0.5, "patience": 1, "rtol": 0.0, "atol": 0.05},
        {"factor": 0.5, "patience": 1, "threshold": 0.05, "threshold_mode": "abs"},
    ),
    (
        "abs-negative-cooldown",
        NEGATIVE,
        {"factor": 0.5, "patience": 0, "rtol": 0.0, "atol": 0.1, "cooldown": 1},
        {"factor": 0.5, "patience": 0, "threshold": 0.1, "threshold_mode": "abs", "cooldown": 1},
    ),
]


@pytest.mark.parametrize(
    ("values", "ours", "theirs"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_scale_sequence_matches_torch(values, ours, theirs):
    want = torch_scales(values, **theirs)
    got = gradtx_scales(values, **ours)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert want[-1] < 1.0  # the sequence has plateaus that torch reacts to


def test_negative_losses_relative_tolerance():
    """torch's ``rel`` threshold in ``min`` mode is ``best * (1 - threshold)``: above a
    negative best, so worse losses count as improvements and the rate never drops. Its
    ``max`` mode on the negated losses has the correct threshold for negative values; gradtx
    matches that, and differs from ``min`` mode exactly there."""
    for rtol in (0.01, 0.1):
        ours = gradtx_scales(NEGATIVE, factor=0.5, patience=1, rtol=rtol)
        negated = [-v for v in NEGATIVE]
        as_max = torch_scales(negated, mode="max", factor=0.5, patience=1, threshold=rtol)
        np.testing.assert_allclose(ours, as_max, rtol=1e-12)
        assert ours[-1] <= 0.25
    # With rtol=0.1, torch's min mode takes every loss after -10 (-9.5, -9.6, ...) for an
    # improvement (the threshold is -9), and never reduces.
    as_min = torch_scales(NEGATIVE, factor=0.5, patience=1, threshold=0.1)
    assert np.all(as_min == 1.0)

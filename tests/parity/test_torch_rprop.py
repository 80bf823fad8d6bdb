"""gradtx.rprop against torch.optim.Rprop, in float64, to rtol 1e-10.

``rprop(lr, eta_minus, eta_plus, min_step_size, max_step_size)`` is
``torch.optim.Rprop(params, lr=lr, etas=(eta_minus, eta_plus),
step_sizes=(min_step_size, max_step_size))``: the first step is already
``-sign(g_1) * lr`` (optax's ``rprop`` is one step late, see tests/optimizers/test_sign.py).
The gradient sequence of ``_sequences.py`` changes sign in most entries, so the step sizes
both grow and shrink; the extra cases make the step-size bounds bind.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradtx

from ._sequences import assert_trajectories_close, run_optax_like, run_torch, standard_data, x64

torch = pytest.importorskip("torch")

RTOL = 1e-10
N_STEPS = 15

# (id, gradtx kwargs); torch gets the same numbers.
CASES = [
    ("defaults", dict(learning_rate=0.01)),
    ("lr", dict(learning_rate=0.1)),
    ("etas", dict(learning_rate=0.05, eta_minus=0.3, eta_plus=1.5)),
    # Both bounds bind within the run (0.1 * 1.5^2 > 0.2; 0.1 * 0.25 < 0.03).
    (
        "bounds",
        dict(
            learning_rate=0.1, eta_minus=0.25, eta_plus=1.5, min_step_size=0.03, max_step_size=0.2
        ),
    ),
    # A first step size outside the bounds is clamped at once, as torch does.
    ("lr-above-max", dict(learning_rate=0.5, max_step_size=0.25)),
]


def _torch_kwargs(kw):
    return dict(
        lr=kw["learning_rate"],
        etas=(kw.get("eta_minus", 0.5), kw.get("eta_plus", 1.2)),
        step_sizes=(kw.get("min_step_size", 1e-6), kw.get("max_step_size", 50.0)),
    )


@pytest.mark.parametrize("kwargs", [kw for _, kw in CASES], ids=[i for i, _ in CASES])
def test_rprop_matches_torch(kwargs):
    params, grads = standard_data(N_STEPS)
    with x64():
        got = run_optax_like(gradtx.rprop(**kwargs), params, grads)
    want = run_torch(torch.optim.Rprop, params, grads, **_torch_kwargs(kwargs))
    assert_trajectories_close(got, want, rtol=RTOL)
    # The first step is already a full step against the gradient's sign.
    lr = min(kwargs["learning_rate"], kwargs.get("max_step_size", 50.0))
    for k in params:
        np.testing.assert_allclose(got[1][k] - got[0][k], -lr * np.sign(grads[0][k]), rtol=1e-12)


def test_sequence_changes_sign():
    # Most entries flip sign at some step (so eta_minus and the forgetting are exercised).
    _, grads = standard_data(N_STEPS)
    flips = sum(
        int(np.sum(g1[k] * g0[k] < 0))
        for g0, g1 in zip(grads[:-1], grads[1:], strict=True)
        for k in g0
    )
    assert flips > 50

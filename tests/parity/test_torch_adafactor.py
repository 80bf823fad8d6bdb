"""gradtx.adafactor against torch.optim.Adafactor, in float64, to rtol 1e-10.

``torch.optim.Adafactor(params, lr=lr, weight_decay=wd)`` (its other arguments at their
defaults: ``beta2_decay=-0.8``, ``eps=(None, 1e-3)``, ``d=1.0``) is

    gradtx.adafactor(
        learning_rate=lambda count: jnp.minimum(lr, jax.lax.rsqrt(count + 1.0)),
        min_dim_size_to_factor=1,
        weight_decay_rate=lr * wd,  # None when wd == 0
    )

torch uses ``lr`` as the cap of the paper's relative step ``rho_t = min(lr, 1/sqrt(t))``
(the schedule above; gradtx's count starts at 0), factors every leaf of rank >= 2
(``min_dim_size_to_factor=1``), and decays the weights by ``lr * wd`` each step, not
scaled by the relative step (gradtx's ``weight_decay_rate`` is not multiplied by the
learning rate either). Both take the parameter scale ``max(rms(theta), 1e-3)`` from the
weights before the decay. The two epsilons differ in form (gradtx adds ``eps=1e-30`` to
the squared gradients; torch clamps the root of the estimate at the dtype's epsilon) and
neither binds for these gradients. The leaves include a rank-3 tensor whose last two
dimensions are its largest, so both libraries factor over the same pair.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import (
    params_error,
    run_optax_like,
    run_torch,
    sequence_error,
    standard_data,
    step_sequence,
    x64,
)

torch = pytest.importorskip("torch")

RTOL = 1e-10
N_STEPS = 12

# (lr, weight_decay): the default cap (which binds from step 1: 0.01 < 1/sqrt(t) until
# t = 10^4), a cap that binds only after step 11 (1/sqrt(12) < 0.3), and weight decay.
CASES = [(1e-2, 0.0), (0.3, 0.0), (0.05, 0.1)]


def _data():
    params, grads = standard_data(N_STEPS)
    rng = np.random.default_rng(5)
    params["t"] = rng.normal(size=(2, 5, 7)) + 0.3
    for g in grads:
        g["t"] = rng.normal(size=(2, 5, 7)) * 10 ** rng.uniform(-2.0, 1.0)
    return params, grads


def torch_adafactor_as_gradtx(lr: float, weight_decay: float) -> gradtx.GradientTransformation:
    """The documented gradtx configuration of ``torch.optim.Adafactor(lr=, weight_decay=)``."""
    return gradtx.adafactor(
        lambda count: jnp.minimum(lr, jax.lax.rsqrt(count + 1.0)),
        min_dim_size_to_factor=1,
        weight_decay_rate=lr * weight_decay if weight_decay else None,
    )


@pytest.mark.parametrize("lr, weight_decay", CASES, ids=[f"lr{a}-wd{b}" for a, b in CASES])
def test_adafactor_matches_torch(lr, weight_decay):
    params, grads = _data()
    with x64():
        got = run_optax_like(torch_adafactor_as_gradtx(lr, weight_decay), params, grads)
    want = run_torch(torch.optim.Adafactor, params, grads, lr=lr, weight_decay=weight_decay)
    # Measured: parameters 4e-16, steps 3e-14 (relative, largest over leaves and steps).
    assert params_error(got, want) < RTOL
    assert sequence_error(step_sequence(got), step_sequence(want)) < RTOL


def test_torch_configuration_needs_the_relative_step():
    # Without the 1/sqrt(t) cap the first steps are the same size (lr = 0.3 < 1), but
    # from t = 12 on torch's steps shrink: the schedule above is what makes them agree.
    params, grads = _data()
    with x64():
        plain = run_optax_like(gradtx.adafactor(0.3, min_dim_size_to_factor=1), params, grads)
    want = run_torch(torch.optim.Adafactor, params, grads, lr=0.3)
    assert params_error(plain[:12], want[:12]) < RTOL
    assert params_error(plain, want) > 1e-4

"""Levenberg-Marquardt and Gauss-Newton against ``scipy.optimize.least_squares``.

Each problem is solved by scipy with ``method="lm"`` and ``"trf"`` at tight tolerances
and by gradtx in float64 inside one jitted ``lax.while_loop``; the minimisers agree to
1e-5 (relative).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import least_squares

import gradtx
from gradtx.second_order import gauss_newton, levenberg_marquardt

# Exponential decay y = a exp(-b t) + c, with fixed noise.
_T = np.linspace(0.0, 4.0, 20)
_Y_EXP = 2.5 * np.exp(-1.3 * _T) + 0.5 + 0.02 * np.sin(7.0 * _T)

# Bard (Moré, Garbow & Hillstrom 1981, problem 8): a rational, Meyer-like fit.
_Y_BARD = np.array(
    [0.14, 0.18, 0.22, 0.25, 0.29, 0.32, 0.35, 0.39, 0.37, 0.58, 0.73, 0.96, 1.34, 2.10, 4.39]
)
_U = np.arange(1.0, 16.0)
_V = 16.0 - _U
_W = np.minimum(_U, _V)

# A small nonlinear (logistic) regression: y = sigmoid(X w) + noise.
_X = np.stack([np.ones(15), np.linspace(-2, 2, 15), np.cos(np.linspace(0, 3, 15))], axis=1)
_Y_LOG = 1 / (1 + np.exp(-(_X @ np.array([0.3, 1.5, -0.8])))) + 0.03 * np.cos(5.0 * np.arange(15))


def _exp_decay(p, xp=jnp):
    return p[0] * xp.exp(-p[1] * _T) + p[2] - _Y_EXP


def _rosenbrock(p, xp=jnp):
    return xp.stack([10 * (p[1] - p[0] ** 2), 1 - p[0]])


def _bard(p, xp=jnp):
    return _Y_BARD - (p[0] + _U / (p[1] * _V + p[2] * _W))


def _powell_badly_scaled(p, xp=jnp):  # Moré, Garbow & Hillstrom problem 3
    return xp.stack([1e4 * p[0] * p[1] - 1, xp.exp(-p[0]) + xp.exp(-p[1]) - 1.0001])


def _logistic(p, xp=jnp):
    return 1 / (1 + xp.exp(-(_X @ p))) - _Y_LOG


PROBLEMS = [
    pytest.param(_exp_decay, [1.0, 0.5, 0.0], id="exp_decay"),
    pytest.param(_rosenbrock, [-1.2, 1.0], id="rosenbrock"),
    pytest.param(_bard, [1.0, 1.0, 1.0], id="bard"),
    pytest.param(_powell_badly_scaled, [0.0, 1.0], id="powell_badly_scaled"),
    pytest.param(_logistic, [0.0, 0.0, 0.0], id="logistic"),
]

# Marquardt's scaling on every problem; Levenberg's identity on the two hardest.
CASES = [pytest.param(*p.values, "marquardt", id=p.id + "-marquardt") for p in PROBLEMS] + [
    pytest.param(*p.values, "identity", id=p.id + "-identity")
    for p in PROBLEMS
    if p.id in ("bard", "powell_badly_scaled")
]


def _solve(tx, residual_fn, x0, max_steps=500):
    """Run ``tx`` in one jitted while_loop until it stalls or the gradient vanishes.

    Levenberg-Marquardt has stalled once its damping passes 1e12: only a run of
    rejected steps gets it there, and near a minimum that means the actual and
    predicted reductions are rounding noise.
    """

    def grad_norm(x):
        return jnp.linalg.norm(jax.grad(lambda z: 0.5 * jnp.sum(residual_fn(z) ** 2))(x))

    def cond(carry):
        x, s, k = carry
        stalled = gradtx.tree.get(s, "damping") > 1e12  # gauss_newton's: its fixed damping
        return (grad_norm(x) > 1e-14) & ~stalled & (k < max_steps)

    def body(carry):
        x, s, k = carry
        u, s = tx.update(x, s, x, residual_fn=residual_fn)
        return x + u, s, k + 1

    @jax.jit
    def run(x0):
        return jax.lax.while_loop(cond, body, (x0, tx.init(x0), jnp.asarray(0)))

    x, _, k = run(jnp.asarray(x0))
    return np.asarray(x), int(k)


def _scipy(residual_fn, x0, method):
    return least_squares(
        lambda p: residual_fn(p, np), x0, method=method, xtol=1e-15, ftol=1e-15, gtol=1e-15
    )


@pytest.mark.parametrize(("residual_fn", "x0", "scaling"), CASES)
def test_levenberg_marquardt_matches_scipy(x64, residual_fn, x0, scaling):
    got, steps = _solve(levenberg_marquardt(scaling=scaling), residual_fn, x0)
    assert steps < 500, steps  # converged before the cap
    cost = 0.5 * np.sum(residual_fn(got, np) ** 2)
    for method in ("lm", "trf"):
        want = _scipy(residual_fn, np.array(x0), method)
        np.testing.assert_allclose(got, want.x, rtol=1e-5, atol=1e-9, err_msg=method)
        np.testing.assert_allclose(cost, want.cost, rtol=1e-9, atol=1e-20, err_msg=method)


@pytest.mark.parametrize(("residual_fn", "x0"), PROBLEMS[:1] + PROBLEMS[4:])
def test_gauss_newton_matches_scipy_on_benign_problems(x64, residual_fn, x0):
    """Undamped Gauss-Newton converges (quadratically, small residuals) from a near start."""
    got, steps = _solve(gauss_newton(), residual_fn, x0, max_steps=50)
    assert steps < 50, steps
    want = _scipy(residual_fn, np.array(x0), "lm").x
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)

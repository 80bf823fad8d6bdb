"""Newton and Newton-CG (through ``minimize``) against ``scipy.optimize.minimize``.

scipy is a black-box reference: ``method="trust-ncg"`` and ``method="Newton-CG"`` with
exact gradients and Hessians, float64. The solutions must agree to 1e-5 (measured
differences are below 1e-9, see each case). Complex inputs are out of scope (the
objectives are real functions of real parameters).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradtx.second_order import minimize, newton, newton_cg

scipy_optimize = pytest.importorskip("scipy.optimize")


def rosenbrock(x):
    """Rosenbrock 1960; minimum 0 at (1, 1)."""
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def himmelblau(x):
    """Himmelblau 1972; four minima, value 0, one at (3, 2)."""
    return (x[0] ** 2 + x[1] - 11) ** 2 + (x[0] + x[1] ** 2 - 7) ** 2


def matyas(x):
    """Matyas function; minimum 0 at the origin."""
    return 0.26 * (x[0] ** 2 + x[1] ** 2) - 0.48 * x[0] * x[1]


def zakharov(x):
    """Zakharov function; minimum 0 at the origin."""
    s = jnp.sum(0.5 * jnp.arange(1, x.shape[0] + 1) * x)
    return jnp.sum(x**2) + s**2 + s**4


def _logistic():
    rng = np.random.default_rng(5)
    a = rng.normal(size=(80, 5))
    y = (rng.random(80) < 1 / (1 + np.exp(-a @ rng.normal(size=5)))).astype(float)

    def loss(w):
        z = jnp.asarray(a) @ w
        return jnp.mean(jnp.logaddexp(0.0, z) - jnp.asarray(y) * z) + 0.05 * w @ w

    return loss


PROBLEMS = [
    pytest.param(rosenbrock, (-1.2, 1.0), id="rosenbrock"),
    pytest.param(himmelblau, (1.0, 1.0), id="himmelblau"),
    pytest.param(matyas, (1.0, -0.5), id="matyas"),
    pytest.param(zakharov, (1.0, -0.5, 0.7), id="zakharov"),
    pytest.param(_logistic(), (0.0,) * 5, id="logistic"),
]

SOLVERS = {
    "newton": lambda: newton(linesearch="armijo"),
    "newton_cg": lambda: newton_cg(linesearch="armijo"),
}


@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize(("fun", "x0"), PROBLEMS)
def test_matches_scipy(x64, fun, x0, solver):
    x0 = np.asarray(x0, np.float64)
    grad = jax.jit(jax.grad(fun))
    hess = jax.jit(jax.hessian(fun))
    kwargs = dict(jac=lambda x: np.asarray(grad(x)), hess=lambda x: np.asarray(hess(x)))
    references = [
        scipy_optimize.minimize(fun, x0, method="trust-ncg", options={"gtol": 1e-11}, **kwargs),
        scipy_optimize.minimize(fun, x0, method="Newton-CG", options={"xtol": 1e-12}, **kwargs),
    ]
    res = minimize(fun, jnp.asarray(x0), SOLVERS[solver](), max_steps=200, tol=1e-10)
    assert float(res.grad_norm) <= 1e-10 and int(res.num_steps) < 200
    for ref in references:
        assert ref.success, ref.message
        np.testing.assert_allclose(res.params, ref.x, atol=1e-5, rtol=0)
        np.testing.assert_allclose(res.value, ref.fun, atol=1e-9, rtol=1e-9)

"""Newton, Newton-CG and ``minimize``: NumPy references, convergence rates, errors.

Precision: float64 (``x64``) for the exactness and rate assertions; float32 for dtype
keeping and the large Newton-CG problem. Complex parameters are refused with a TypeError
(Newton needs a real Hessian; use a real parameterization), which is tested.
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx.second_order import (
    MinimizeResult,
    NewtonCGState,
    NewtonState,
    minimize,
    newton,
    newton_cg,
)


def _update(tx, value_fn, **extra):
    """``tx.update`` with the objective bound, jitted (one compilation per call site)."""
    return jax.jit(lambda g, s, p: tx.update(g, s, p, value_fn=value_fn, **extra))


def _spd(rng, n):
    a = rng.normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def _quadratic(p_mat, q):
    """f = 1/2 x'Px + q'x on the pytree {"u": x[:2], "v": x[2:]}."""

    def f(tree):
        x = jnp.concatenate([tree["u"], tree["v"]])
        return 0.5 * x @ jnp.asarray(p_mat) @ x + jnp.asarray(q) @ x

    return f


def _tree(x):
    return {"u": jnp.asarray(x[:2]), "v": jnp.asarray(x[2:])}


def _flat(tree):
    return np.concatenate([np.asarray(tree["u"]), np.asarray(tree["v"])])


@pytest.mark.parametrize("make", [newton, newton_cg], ids=["newton", "newton_cg"])
def test_one_step_on_a_strictly_convex_quadratic(x64, rng, make):
    p_mat, q = _spd(rng, 5), rng.normal(size=5)
    f = _quadratic(p_mat, q)
    x0 = _tree(rng.normal(size=5))
    tx = make() if make is newton else make(tol=1e-12)
    step = jax.jit(lambda x, s: tx.update(jax.grad(f)(x), s, x, value_fn=f))
    u, state = step(x0, tx.init(x0))
    x1 = _flat(gradtx.apply_updates(x0, u))
    np.testing.assert_allclose(x1, np.linalg.solve(p_mat, -q), atol=1e-6, rtol=0)
    assert np.max(np.abs(x1 - np.linalg.solve(p_mat, -q))) < 1e-12  # measured ~1e-15


def test_damped_step_matches_numpy(x64, rng):
    p_mat, q = _spd(rng, 5), rng.normal(size=5)
    f = _quadratic(p_mat, q)
    x0 = rng.normal(size=5)
    g = p_mat @ x0 + q
    for tx, lr, lam in [(newton(0.5, 2.0), 0.5, 2.0), (newton_cg(0.5, 2.0, tol=1e-13), 0.5, 2.0)]:
        u, _ = _update(tx, f)(_tree(g), tx.init(_tree(x0)), _tree(x0))
        expected = -lr * np.linalg.solve(p_mat + lam * np.eye(5), g)
        np.testing.assert_allclose(_flat(u), expected, rtol=1e-10)


def _logistic_problem(rng, n=60, d=4, l2=0.1):
    x = rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    y = (rng.random(n) < 1 / (1 + np.exp(-x @ w_true))).astype(float)

    def f(w):
        z = jnp.asarray(x) @ w
        return jnp.mean(jnp.logaddexp(0.0, z) - jnp.asarray(y) * z) + 0.5 * l2 * w @ w

    return f, x, y


def test_newton_converges_quadratically_on_logistic_regression(x64, rng):
    f, _, _ = _logistic_problem(rng)
    tx = newton()
    step = jax.jit(lambda w, s: tx.update(jax.grad(f)(w), s, w, value_fn=f))
    w, state, iterates = jnp.zeros(4), tx.init(jnp.zeros(4)), []
    for _ in range(9):
        iterates.append(np.asarray(w))
        u, state = step(w, state)
        w = gradtx.apply_updates(w, u)
    w_star = np.asarray(w)
    errors = np.array([np.linalg.norm(it - w_star) for it in iterates])
    # Measured: [1.3e+00 2.1e-01 1.2e-02 3.6e-05 3.5e-10 6e-17 ...]: the exponent doubles.
    assert errors[0] > 0.5 and errors[5] < 1e-13
    k = errors > 1e-12
    ratios = errors[1:][k[:-1] & k[1:]] / errors[:-1][k[:-1] & k[1:]] ** 2
    assert ratios.size >= 3  # three rate checks at least
    assert np.all(ratios <= 0.5)  # e_{k+1} <= C e_k^2 with C = 0.5 (measured 0.13 to 0.27)


def test_armijo_linesearch_accepts_sufficient_decrease_only(x64):
    rosen = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2  # noqa: E731
    tx = newton(linesearch="armijo")
    step = jax.jit(lambda x, s: tx.update(jax.grad(rosen)(x), s, x, value_fn=rosen))
    x, state = jnp.array([-1.2, 1.0]), tx.init(jnp.array([-1.2, 1.0]))
    sizes = []
    for _ in range(25):
        g = np.asarray(jax.grad(rosen)(x))
        u, state = step(x, state)
        if np.linalg.norm(g) > 1e-6:  # at the minimum no step decreases f: t = 0
            sizes.append(float(state.inner_state.step_size))
        x_new = gradtx.apply_updates(x, u)
        # Armijo with c1 = 1e-4 on every step (u already includes the factor).
        assert rosen(x_new) <= rosen(x) + 1e-4 * g @ np.asarray(u) + 1e-15
        x = x_new
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-10)
    assert min(sizes) < 1.0 and sizes[-1] == 1.0  # some backtracking, then full steps


def test_armijo_falls_back_to_steepest_descent_on_a_non_descent_step(x64):
    f = lambda x: -0.5 * x @ x + 0.25 * x[0] ** 4  # noqa: E731  H = diag(3x0^2 - 1, -1)
    tx = newton(0.5, linesearch="armijo")
    x = jnp.array([0.2, 2.0])
    g = np.asarray(jax.grad(f)(x))
    u, state = _update(tx, f)(jnp.asarray(g), tx.init(x), x)
    np.testing.assert_allclose(u, -0.5 * g, rtol=1e-12)  # f decreases along -g: t = 1
    assert float(state.inner_state.step_size) == 1.0


def test_armijo_never_steps_into_nan(x64):
    f = lambda x: jnp.sum((x - 2.0) ** 2) + jnp.where(x[0] > 1.5, jnp.nan, 0.0)  # noqa: E731
    tx = newton(linesearch="armijo")
    x = jnp.zeros(2)
    u, state = _update(tx, f)(jax.grad(f)(x), tx.init(x), x)
    np.testing.assert_allclose(u, [1.0, 1.0])  # the full step (2, 2) is NaN: t = 1/2
    assert float(state.inner_state.step_size) == 0.5
    # A stationary point: no step decreases f, the factor is 0 and nothing moves.
    x = jnp.array([1.0, 2.0])
    u, state = _update(tx, lambda y: jnp.sum(y * 0.0))(jnp.zeros(2), tx.init(x), x)
    np.testing.assert_array_equal(u, [0.0, 0.0])
    assert float(state.inner_state.step_size) == 0.0


def test_callable_linesearch_and_value(x64):
    seen = {}

    def half(value_fn, params, updates, value, grad):
        seen["value"] = value
        return jnp.asarray(0.5)

    f = lambda x: jnp.sum((x - 1.0) ** 2)  # noqa: E731
    tx = newton(linesearch=half)
    x = jnp.zeros(2)
    u, _ = _update(tx, f, value=jnp.asarray(7.0))(jax.grad(f)(x), tx.init(x), x)
    np.testing.assert_allclose(u, [0.5, 0.5])
    assert float(seen["value"]) == 7.0


def test_newton_cg_negative_curvature(x64):
    # H = diag(2, -1). CG's first direction p0 = g; p0'Hp0 = 2 - 0.01 > 0, then the second
    # direction has negative curvature: CG returns its first iterate alpha0 g.
    h = jnp.diag(jnp.array([2.0, -1.0]))
    f = lambda x: 0.5 * x @ h @ x  # noqa: E731
    tx = newton_cg(maxiter=10, tol=1e-10)
    x = jnp.array([0.5, -0.1])  # g = Hx = (1, 0.1)
    g = np.array([1.0, 0.1])
    u, state = _update(tx, f)(jnp.asarray(g), tx.init(x), x)
    alpha0 = (g @ g) / (g @ np.diag([2.0, -1.0]) @ g)
    np.testing.assert_allclose(u, -alpha0 * g, rtol=1e-12)
    assert int(state.inner_state.num_cg_steps) == 1
    assert bool(state.inner_state.negative_curvature)
    # Negative curvature at once (g along the negative eigenvector): the step is -g.
    u, state = _update(tx, f)(jnp.array([0.0, 0.3]), tx.init(x), x)
    np.testing.assert_allclose(u, [0.0, -0.3])
    assert int(state.inner_state.num_cg_steps) == 0
    assert bool(state.inner_state.negative_curvature)


def test_newton_cg_on_a_million_parameters():
    n = 1_000_000
    key_a, key_b = jax.random.split(jax.random.key(0))
    a = 1.0 + jax.random.uniform(key_a, (n,))
    b = jax.random.normal(key_b, (n,))

    def f(p):  # separable but not quadratic, plus a rank-one coupling
        x = p["x"]
        return jnp.sum(0.5 * a * x**2 + jnp.log(jnp.cosh(x - b))) + 0.5 * jnp.mean(x) ** 2

    params = {"x": jnp.zeros(n)}
    # tol=1e-4: the default forcing term min(0.5, sqrt(|g|)) is 0.5 while |g| ~ 100 here,
    # which gives linear convergence (measured |g| 136, 33, 11, 3.6, ...).
    result = minimize(f, params, newton_cg(maxiter=20, tol=1e-4), max_steps=10, tol=1e-2)
    assert result.params["x"].shape == (n,) and result.params["x"].dtype == jnp.float32
    assert float(result.grad_norm) <= 1e-2 and 2 <= int(result.num_steps) <= 6


def test_hyperparams_in_state_and_state_types():
    tx = newton(0.5, damping=0.25)
    state = tx.init(jnp.zeros(3))
    hps = gradtx.hyperparams(state)
    assert float(hps["learning_rate"]) == 0.5 and float(hps["damping"]) == 0.25
    assert isinstance(state.inner_state, NewtonState)
    f = lambda x: jnp.sum((x - 1.0) ** 2)  # noqa: E731
    state = gradtx.set_hyperparams(state, learning_rate=1.0, damping=0.0)
    u, new = _update(tx, f)(jax.grad(f)(jnp.zeros(3)), state, jnp.zeros(3))
    np.testing.assert_allclose(u, [1.0, 1.0, 1.0], rtol=1e-6)
    assert jax.tree.map(lambda x: (x.shape, x.dtype), new) == jax.tree.map(
        lambda x: (x.shape, x.dtype), state
    )
    cg_state = newton_cg().init({"x": jnp.zeros(2)})
    assert isinstance(cg_state.inner_state, NewtonCGState)
    assert cg_state.inner_state.num_cg_steps.dtype == jnp.int32


def test_updates_keep_gradient_dtype():
    f = lambda p: jnp.sum(p["a"] ** 2) + jnp.sum(p["b"].astype(jnp.float32) ** 4)  # noqa: E731
    params = {"a": jnp.ones(2), "b": jnp.ones(2, jnp.bfloat16)}
    grads = jax.grad(f)(params)
    for tx in (newton(), newton_cg()):
        u, _ = _update(tx, f)(grads, tx.init(params), params)
        assert u["a"].dtype == jnp.float32 and u["b"].dtype == jnp.bfloat16


def test_newton_too_many_params_names_the_size():
    tx = newton(max_params=100)
    with pytest.raises(ValueError, match=r"dense 101 x 101 Hessian.*n=101.*max_params=100"):
        tx.init({"w": jnp.zeros((10, 10)), "b": jnp.zeros(1)})
    with pytest.raises(ValueError, match=r"n=10001 entries > max_params=10000.*newton_cg"):
        newton().init(jnp.zeros(10_001))


@pytest.mark.parametrize("make", [newton, newton_cg], ids=["newton", "newton_cg"])
def test_update_needs_value_fn_and_params(make):
    tx = make()
    x = jnp.zeros(2)
    with pytest.raises(ValueError, match=r"needs the objective.*value_fn=None"):
        tx.update(x, tx.init(x), x)
    with pytest.raises(ValueError, match=r"needs the current parameters"):
        tx.update(x, tx.init(x), None, value_fn=jnp.sum)


@pytest.mark.parametrize("make", [newton, newton_cg], ids=["newton", "newton_cg"])
def test_complex_params_are_refused(make):
    tx = make()
    z = jnp.ones(2, jnp.complex64)
    with pytest.raises(TypeError, match=r"needs real parameters.*complex64"):
        tx.update(z, tx.init(z), z, value_fn=lambda p: jnp.sum(jnp.abs(p) ** 2))


def test_invalid_hyperparameters():
    with pytest.raises(ValueError, match=r"newton\(damping=...\).*damping=-1.0"):
        newton(damping=-1.0)
    with pytest.raises(ValueError, match=r"newton\(learning_rate=...\)"):
        newton(learning_rate=-0.1)
    with pytest.raises(ValueError, match=r"newton\(max_params=...\).*max_params=0"):
        newton(max_params=0)
    with pytest.raises(ValueError, match=r"newton\(linesearch=...\).*'wolfe'"):
        newton(linesearch="wolfe")
    with pytest.raises(ValueError, match=r"newton_cg\(maxiter=...\).*maxiter=0"):
        newton_cg(maxiter=0)
    with pytest.raises(ValueError, match=r"newton_cg\(tol=...\).*tol=-1"):
        newton_cg(tol=-1)
    with pytest.raises(ValueError, match=r"newton_cg\(damping=...\)"):
        newton_cg(damping=-2.0)


def test_minimize_result_and_first_order_solvers(x64):
    f = lambda p: jnp.sum((p["x"] - 3.0) ** 2)  # noqa: E731
    params = {"x": jnp.zeros(3)}
    res = minimize(f, params, gradtx.sgd(0.25), max_steps=200, tol=1e-8)
    assert isinstance(res, MinimizeResult)
    # Gradient descent at lr 1/4 halves the error each step: 3 * 2^-k, gradient 6 * 2^-k.
    k = int(np.ceil(np.log2(6 * np.sqrt(3) / 1e-8)))
    assert int(res.num_steps) == k
    np.testing.assert_allclose(res.params["x"], 3.0, atol=1e-8)
    np.testing.assert_allclose(res.value, f(res.params), rtol=1e-12)
    assert float(res.grad_norm) <= 1e-8
    # A transformation without extra-argument support (an optax-style pair) also runs.
    plain = gradtx.GradientTransformation(
        lambda p: gradtx.EmptyState(), lambda u, s, p=None: (jax.tree.map(lambda g: -0.5 * g, u), s)
    )
    res = minimize(f, params, plain, max_steps=5)
    np.testing.assert_allclose(res.params["x"], 3.0)
    assert int(res.num_steps) == 1
    res = minimize(f, params, newton(), max_steps=0)
    assert int(res.num_steps) == 0 and float(res.value) == 27.0


def test_minimize_invalid_arguments():
    with pytest.raises(ValueError, match=r"minimize\(max_steps=...\).*max_steps=-1"):
        minimize(jnp.sum, jnp.zeros(2), newton(), max_steps=-1)
    with pytest.raises(ValueError, match=r"minimize\(tol=...\)"):
        minimize(jnp.sum, jnp.zeros(2), newton(), tol=-1.0)


def test_minimize_drives_lbfgs_through_value_and_grad_extra_args():
    # L-BFGS's zoom line search reads value=, grad= and value_fn=, which minimize passes.
    rosen = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2  # noqa: E731
    res = minimize(rosen, jnp.array([-1.2, 1.0]), gradtx.second_order.lbfgs(), 200, 1e-5)
    np.testing.assert_allclose(res.params, [1.0, 1.0], atol=1e-4)  # measured 7e-7, 36 steps
    assert float(res.grad_norm) <= 1e-5 and int(res.num_steps) < 100


GUIDE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "guide" / "newton.md"


def test_guide_snippets_print_what_the_page_shows():
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert len(blocks) == 4
    out, namespace = io.StringIO(), {}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(GUIDE), "exec"), namespace)  # noqa: S102 - the page's code
    assert out.getvalue().splitlines() == [
        "[[0.0, 1.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, 12.0]]",
        "{'b': 1.0, 'w': [3.0, 12.0]}",
        "{'b': 0.0, 'w': [3.0, 12.0]}",
        "True",
        "[1.0, 1.0] 21",
        "True",  # the network's loss falls 100-fold in 10 Newton-CG steps (measured 840-fold)
    ]

"""Line searches: the Armijo / strong Wolfe conditions on every accepted step, NaN
regions, failure reports, complex parameters, value_and_grad_from_state, errors."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx.second_order import (
    lbfgs,
    scale_by_backtracking_linesearch,
    scale_by_zoom_linesearch,
    value_and_grad_from_state,
)


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def nan_bowl(x):
    """sum(x^2), NaN (value and gradient) wherever some x < -0.5."""
    return jnp.sum(x**2) + 0.0 * jnp.sum(jnp.sqrt(x + 0.5))


def run(opt, f, x, steps):
    """Jitted loop; returns per-step (x, direction slope, value, new x, new value, state)."""
    vg = value_and_grad_from_state(f)

    @jax.jit
    def step(x, state):
        v, g = vg(x, state=state)
        u, state = opt.update(g, state, x, value=v, grad=g, value_fn=f)
        return v, g, u, gradtx.apply_updates(x, u), state

    state = opt.init(x)
    rows = []
    for _ in range(steps):
        v, g, u, x_new, state = step(x, state)
        rows.append((x, v, g, u, x_new, state[-1]))
        x = x_new
    return rows


def test_backtracking_satisfies_armijo_on_every_step(x64):
    c1 = 1e-3
    opt = gradtx.chain(
        gradtx.sgd(2e-3), scale_by_backtracking_linesearch(40, slope_rtol=c1, store_grad=True)
    )
    rows = run(opt, rosenbrock, jnp.array([-1.2, 1.0, 0.5]), 25)
    shrunk = 0
    for _, v, g, u, x_new, ls in rows:
        t = float(ls.learning_rate)
        d = -np.asarray(g) * 2e-3
        np.testing.assert_allclose(u, t * d, rtol=1e-12)
        assert float(rosenbrock(x_new)) <= float(v) + c1 * t * float(np.dot(g, d)) + 1e-14
        assert int(ls.info.status) == 0 and float(ls.info.decrease_error) == 0.0
        np.testing.assert_allclose(ls.value, rosenbrock(x_new), rtol=1e-14)
        np.testing.assert_allclose(ls.grad, jax.grad(rosenbrock)(x_new), rtol=1e-12)
        shrunk += int(ls.info.num_linesearch_steps) > 1
    assert shrunk >= 3  # the test exercises actual backtracking
    assert float(rosenbrock(rows[-1][4])) < 0.5 * float(rows[0][1])


@pytest.mark.parametrize("approx_dec_rtol", [None, 1e-6])
def test_zoom_satisfies_strong_wolfe_on_every_step(x64, approx_dec_rtol):
    c1, c2 = 1e-4, 0.9
    ls = scale_by_zoom_linesearch(15, approx_dec_rtol=approx_dec_rtol, initial_guess_strategy="one")
    rows = run(lbfgs(linesearch=ls), rosenbrock, jnp.array([-1.2, 1.0, 0.5]), 60)
    dphi = jax.grad(rosenbrock)
    strong = zoomed = 0
    for _, v, g, u, x_new, state in rows:
        if float(jnp.linalg.norm(g)) < 1e-7:
            break
        assert int(state.info.status) == 0, state.info
        t = float(state.learning_rate)
        d = np.asarray(u) / t
        s0 = float(np.dot(g, d))
        s1 = float(np.dot(dphi(x_new), d))
        v1 = float(rosenbrock(x_new))
        assert s0 < 0
        wolfe = v1 <= float(v) + c1 * t * s0 and abs(s1) <= c2 * abs(s0)
        approx = (
            approx_dec_rtol is not None
            and v1 <= float(v) + approx_dec_rtol * abs(float(v))
            and c2 * s0 <= s1 <= (2 * c1 - 1) * s0
        )
        assert wolfe or approx, (t, v1, float(v), s0, s1)
        strong += wolfe
        zoomed += int(state.info.num_linesearch_steps) > 1
        np.testing.assert_allclose(state.value, v1, rtol=1e-10, atol=1e-15)
    assert strong >= 10 and zoomed >= 2
    np.testing.assert_allclose(rows[-1][4], np.ones(3), atol=1e-6)


@pytest.mark.parametrize("which", ["backtracking", "zoom"])
def test_nan_region_is_shrunk_out_of(x64, which):
    if which == "zoom":
        opt = lbfgs(learning_rate=5.0, linesearch=scale_by_zoom_linesearch(25))
    else:
        opt = gradtx.chain(gradtx.sgd(1.0), scale_by_backtracking_linesearch(25, store_grad=True))
    x0 = jnp.array([1.0, 2.0])
    g0 = jax.grad(nan_bowl)(x0)
    first_trial = x0 - (5.0 * g0 / jnp.linalg.norm(g0) if which == "zoom" else g0)
    assert np.isnan(nan_bowl(first_trial))
    rows = run(opt, nan_bowl, x0, 8)
    values = [float(r[1]) for r in rows]
    for _, v, _, u, x_new, state in rows:
        assert np.all(np.isfinite(u)) and np.all(np.isfinite(x_new))
        # (Once at the exact minimum the zoom can only report a collapsed bracket.)
        assert int(state.info.status) == 0 or float(v) < 1e-20
    assert int(rows[0][5].info.num_linesearch_steps) > 1
    assert all(b < a for a, b in zip(values, values[1:], strict=False) if a > 1e-20)
    assert float(nan_bowl(rows[-1][4])) < 1e-5


def test_failures_are_reported_and_steps_stay_finite(x64):
    x = jnp.array([1.0, 2.0])
    v, g = jax.value_and_grad(rosenbrock)(x)
    for ls in (scale_by_backtracking_linesearch(5), scale_by_zoom_linesearch(5)):
        # Ascent direction: zero step, status 2, no evaluation.
        u, s = ls.update(g, ls.init(x), x, value=v, grad=g, value_fn=rosenbrock)
        np.testing.assert_array_equal(u, [0.0, 0.0])
        assert int(s.info.status) == 2 and int(s.info.num_linesearch_steps) == 0
    # A huge step and one trial: the budget runs out, zero step, status 1.
    bt = scale_by_backtracking_linesearch(1)
    u, s = bt.update(-1e3 * g, bt.init(x), x, value=v, grad=g, value_fn=rosenbrock)
    np.testing.assert_array_equal(u, [0.0, 0.0])
    assert int(s.info.status) == 1 and float(s.info.decrease_error) > 0
    np.testing.assert_allclose(s.value, v)
    zoom = scale_by_zoom_linesearch(1)
    u, s = zoom.update(-1e3 * g, zoom.init(x), x, value=v, grad=g, value_fn=rosenbrock)
    assert int(s.info.status) == 1 and np.all(np.isfinite(u))
    assert float(rosenbrock(x + u)) <= float(v)
    # Everything NaN along the ray: the zoom keeps t = 0.
    f = lambda y: rosenbrock(y) + 0.0 * jnp.sqrt(-jnp.sum(y * y) + 5.0 + 0.0 * y[0])  # noqa: E731
    u, s = zoom.update(-10 * g, zoom.init(x), x, value=f(x), grad=g, value_fn=f)
    np.testing.assert_array_equal(u, [0.0, 0.0])
    assert np.isfinite(float(s.value))


def test_complex_convex_problem(x64, rng):
    # f(z) = |A z - b|^2, real-valued in complex z. The line searches take
    # conj(jax.grad(f)), the steepest-ascent direction df/dx + i df/dy, which
    # value_and_grad_from_state returns.
    n = 4
    a = jnp.asarray(rng.normal(size=(6, n)) + 1j * rng.normal(size=(6, n)))
    b = jnp.asarray(rng.normal(size=6) + 1j * rng.normal(size=6))

    def f(z):
        return jnp.sum(jnp.abs(a @ z - b) ** 2)

    z0 = jnp.zeros(n, jnp.complex128)
    vg = value_and_grad_from_state(f)
    _, g = vg(z0, state=lbfgs().init(z0))
    np.testing.assert_allclose(g, jnp.conj(jax.grad(f)(z0)))
    eps = 1e-6  # g is the real gradient: f(z -+ eps g) ~ f(z) -+ eps |g|^2
    central = (f(z0 + eps * g) - f(z0 - eps * g)) / 2
    np.testing.assert_allclose(central, eps * jnp.vdot(g, g).real, rtol=1e-8)
    expected = np.linalg.lstsq(np.asarray(a), np.asarray(b), rcond=None)[0]
    for opt in (
        lbfgs(),
        gradtx.chain(gradtx.sgd(0.05), scale_by_backtracking_linesearch(30, store_grad=True)),
    ):
        rows = run(opt, f, z0, 25 if len(opt) == 3 else 200)
        z = rows[-1][4]
        assert z.dtype == jnp.complex128
        np.testing.assert_allclose(z, expected, atol=1e-6)


def test_value_and_grad_from_state_reuses_the_stored_pair(x64):
    calls = []

    def f(x):
        calls.append(1)
        return jnp.sum((x - 1.0) ** 2)

    opt = lbfgs()
    x = jnp.array([3.0, -1.0])
    state = opt.init(x)
    vg = value_and_grad_from_state(f)
    v, g = vg(x, state=state)  # computed (the stored value is inf)
    u, state = opt.update(g, state, x, value=v, grad=g, value_fn=f)
    x = x + u
    v2, g2 = vg(jnp.zeros(2), state=state)  # stored: does not look at the params
    np.testing.assert_allclose(v2, f(x))
    np.testing.assert_allclose(g2, jax.grad(f)(x))
    with pytest.raises(ValueError, match="store_grad=True"):
        bt = gradtx.chain(gradtx.sgd(1.0), scale_by_backtracking_linesearch(5))
        vg(x, state=bt.init(x))


def test_errors():
    with pytest.raises(ValueError, match=r"scale_by_zoom_linesearch\(max_linesearch_steps"):
        scale_by_zoom_linesearch(0)
    with pytest.raises(ValueError, match=r"scale_by_zoom_linesearch\(curv_rtol=...\)"):
        scale_by_zoom_linesearch(5, curv_rtol=1e-5)
    with pytest.raises(ValueError, match=r"initial_guess_strategy"):
        scale_by_zoom_linesearch(5, initial_guess_strategy="two")
    with pytest.raises(ValueError, match=r"scale_by_backtracking_linesearch\(decrease_factor"):
        scale_by_backtracking_linesearch(5, decrease_factor=1.0)
    with pytest.raises(ValueError, match=r"max_backtracking_steps"):
        scale_by_backtracking_linesearch(2.5)
    ls = scale_by_zoom_linesearch(5)
    with pytest.raises(TypeError, match=r"missing \['value_fn'\]"):
        ls.update(jnp.ones(2), ls.init(jnp.ones(2)), jnp.ones(2), value=1.0, grad=jnp.ones(2))


@pytest.mark.parametrize("dtype", [jnp.bfloat16])
def test_dtypes_are_kept(dtype):
    x = jnp.ones(3, dtype)
    f = lambda y: jnp.sum(y.astype(jnp.float32) ** 2)  # noqa: E731
    spec = lambda s: jax.tree.map(lambda y: (y.shape, y.dtype), s)  # noqa: E731
    for ls in (scale_by_zoom_linesearch(5), scale_by_backtracking_linesearch(5, store_grad=True)):

        def one_step(x, ls=ls):
            s0 = ls.init(x)
            v, g = jax.value_and_grad(f)(x)
            return s0, *ls.update(-g, s0, x, value=v, grad=g, value_fn=f)

        s0, u, s1 = jax.eval_shape(one_step, x)
        assert u.dtype == dtype
        assert spec(s0) == spec(s1)

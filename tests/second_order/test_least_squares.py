"""Gauss-Newton and Levenberg-Marquardt: NumPy references, damping records, errors, jit."""

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
from gradtx.second_order import gauss_newton, levenberg_marquardt


def _rosen(p):
    return jnp.stack([10 * (p[1] - p[0] ** 2), 1 - p[0]])


def _rosen_np(p):
    return np.array([10 * (p[1] - p[0] ** 2), 1 - p[0]])


def _rosen_jac_np(p):
    return np.array([[-20 * p[0], 10.0], [-1.0, 0.0]])


def _inner(state):
    return state.inner_state


# -- Gauss-Newton -----------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["dense", "cg"])
def test_gauss_newton_solves_linear_least_squares_in_one_step(x64, rng, solver):
    a = rng.normal(size=(12, 4))
    y = rng.normal(size=12)
    # A pytree of params: w (3,) and b (scalar) enter the residual as one linear map.
    params = {"w": jnp.zeros(3), "b": jnp.asarray(0.5)}

    def residuals(p):
        return {"r": jnp.asarray(a[:, :3]) @ p["w"] + jnp.asarray(a[:, 3]) * p["b"] - y}

    tx = gauss_newton(residual_fn=residuals, solver=solver, cg_tol=1e-14)
    u, s = jax.jit(tx.update)(params, tx.init(params), params)
    new = gradtx.apply_updates(params, u)
    want = np.linalg.lstsq(a, y, rcond=None)[0]
    got = np.concatenate([np.asarray(new["w"]), np.asarray(new["b"])[None]])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # value is the cost at the params the step was taken from.
    r0 = a @ np.array([0, 0, 0, 0.5]) - y
    np.testing.assert_allclose(_inner(s).value, 0.5 * r0 @ r0, rtol=1e-12)


def test_gauss_newton_matches_numpy_with_damping_and_learning_rate(x64):
    lr, lam = 0.5, 0.3
    tx = gauss_newton(lr, lam, residual_fn=_rosen)
    x = jnp.array([-1.2, 1.0])
    s = tx.init(x)
    xn = np.array([-1.2, 1.0])
    step = jax.jit(tx.update)
    for _ in range(4):
        u, s = step(jnp.zeros(2), s, x)
        x = x + u
        r, jac = _rosen_np(xn), _rosen_jac_np(xn)
        xn = xn - lr * np.linalg.solve(jac.T @ jac + lam * np.eye(2), jac.T @ r)
        np.testing.assert_allclose(x, xn, rtol=1e-10)
    assert gradtx.hyperparams(s) == {"learning_rate": 0.5, "damping": 0.3}


def test_gauss_newton_cg_equals_dense_with_damping(x64):
    x = jnp.array([0.3, -0.4])
    dense = gauss_newton(damping=0.1, residual_fn=_rosen)
    cg = gauss_newton(damping=0.1, residual_fn=_rosen, solver="cg", cg_tol=1e-14)
    u1 = jax.jit(dense.update)(x, dense.init(x), x)[0]
    u2 = jax.jit(cg.update)(x, cg.init(x), x)[0]
    np.testing.assert_allclose(u2, u1, rtol=1e-10)


# -- Levenberg-Marquardt: an independent NumPy re-implementation -------------------------


def _lm_numpy(res, jac_fn, x, mu, steps, *, scaling, rule, accept_ratio=1e-4):
    nu = 2.0
    out = []
    for _ in range(steps):
        r, jac = res(x), jac_fn(x)
        a, g = jac.T @ jac, jac.T @ r
        dvec = np.where(np.diag(a) > 0, np.diag(a), 1.0) if scaling == "marquardt" else 1.0
        d = np.linalg.solve(a + mu * np.diag(np.ones_like(g) * dvec), -g)
        f0, f1 = 0.5 * r @ r, 0.5 * res(x + d) @ res(x + d)
        pred = 0.5 * d @ (mu * dvec * d - g)
        rho = (f0 - f1) / pred
        ok = rho > accept_ratio
        if rule == "nielsen":
            if ok:
                mu, nu = mu * max(1 / 3, 1 - (2 * rho - 1) ** 3), 2.0
            else:
                mu, nu = mu * nu, 2 * nu
        else:
            mu = mu / 10 if ok else mu * 10
        if ok:
            x = x + d
        out.append((x.copy(), mu, ok))
    return out


@pytest.mark.parametrize(("scaling", "rule"), [("marquardt", "nielsen"), ("identity", "classic")])
def test_levenberg_marquardt_matches_numpy_reference(x64, scaling, rule):
    tx = levenberg_marquardt(1e-2, residual_fn=_rosen, scaling=scaling, damping_update=rule)
    step = jax.jit(tx.update)
    x = jnp.array([-1.2, 1.0])
    s = tx.init(x)
    want = _lm_numpy(
        _rosen_np, _rosen_jac_np, np.array([-1.2, 1.0]), 1e-2, 12, scaling=scaling, rule=rule
    )
    for xw, muw, okw in want:
        u, s = step(x, s, x)
        x = x + u
        np.testing.assert_allclose(x, xw, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(_inner(s).damping, muw, rtol=1e-10)
        assert bool(_inner(s).accepted) == okw
    assert not all(ok for _, _, ok in want) and any(ok for _, _, ok in want)


def test_levenberg_marquardt_damping_record_classic(x64):
    """x10 after a rejected step (with a zero update), /10 after an accepted one."""
    tx = levenberg_marquardt(1e-3, residual_fn=_rosen, damping_update="classic")
    step = jax.jit(tx.update)
    x = jnp.array([-1.2, 1.0])
    s = tx.init(x)
    mus, oks, values = [1e-3], [], []
    for _ in range(15):
        u, s = step(x, s, x)
        if not bool(_inner(s).accepted):
            assert np.all(np.asarray(u) == 0)
        else:
            assert np.any(np.asarray(u) != 0)
        x = x + u
        mus.append(float(_inner(s).damping))
        oks.append(bool(_inner(s).accepted))
        values.append(float(_inner(s).value))
    ratios = np.array(mus[1:]) / np.array(mus[:-1])
    np.testing.assert_allclose(ratios, np.where(oks, 0.1, 10.0), rtol=1e-12)
    assert oks[0] is False and sum(oks) >= 5  # the full Gauss-Newton step is rejected first
    assert gradtx.hyperparams(s) == {"accept_ratio": 1e-4}
    assert np.all(np.diff(values) <= 0)  # the kept cost never increases
    np.testing.assert_allclose(values[-1], 0.5 * float(jnp.sum(_rosen(x) ** 2)), rtol=1e-12)


def test_levenberg_marquardt_damping_goes_down_on_easy_steps(x64, rng):
    """A linear problem: every ratio is exactly 1, so Nielsen's rule divides by 3."""
    a = jnp.asarray(rng.normal(size=(6, 3)))
    y = jnp.asarray(rng.normal(size=6))
    tx = levenberg_marquardt(1.0, residual_fn=lambda p: a @ p - y)
    x = jnp.zeros(3)
    s = tx.init(x)
    mus = [1.0]
    step = jax.jit(tx.update)
    for _ in range(5):
        u, s = step(x, s, x)
        x = x + u
        np.testing.assert_allclose(_inner(s).ratio, 1.0, rtol=1e-10)
        mus.append(float(_inner(s).damping))
    np.testing.assert_allclose(np.array(mus[1:]) / np.array(mus[:-1]), 1 / 3, rtol=1e-12)


def test_levenberg_marquardt_at_a_minimum_keeps_still(x64):
    tx = levenberg_marquardt(residual_fn=_rosen)
    x = jnp.array([1.0, 1.0])
    u, s = jax.jit(tx.update)(x, tx.init(x), x)
    np.testing.assert_array_equal(u, 0.0)
    assert float(_inner(s).damping) == 1e-3 and float(_inner(s).value) == 0.0


# -- protocol: jit, while_loop, pytrees, extra args, dtypes ----------------------------


def test_while_loop_pytree_params_and_residual_fn_as_extra_arg(x64):
    def residuals(p):  # Rosenbrock split over a dict of params, residuals as a tuple
        return (10 * (p["y"] - p["x"] ** 2), 1 - p["x"])

    tx = levenberg_marquardt()
    params = {"x": jnp.asarray(-1.2), "y": jnp.asarray(1.0)}

    def body(carry):
        p, s = carry
        u, s = tx.update(p, s, p, residual_fn=residuals, unused_extra=3)
        return gradtx.apply_updates(p, u), s

    def cond(carry):
        return (_inner(carry[1]).value > 1e-20) & (_inner(carry[1]).count < 200)

    p, s = jax.jit(lambda p: jax.lax.while_loop(cond, body, (p, tx.init(p))))(params)
    np.testing.assert_allclose([p["x"], p["y"]], [1.0, 1.0], rtol=1e-10)
    assert int(_inner(s).count) < 200


def test_update_residual_fn_wins_over_construction():
    tx = gauss_newton(residual_fn=lambda p: p - 1.0)
    x = jnp.zeros(2)
    step = jax.jit(lambda x, s: tx.update(x, s, x, residual_fn=lambda p: p - 2.0))
    u = step(x, tx.init(x))[0]
    np.testing.assert_allclose(u, [2.0, 2.0], rtol=1e-6)


@pytest.mark.parametrize("solver", ["dense", "cg"])
def test_bf16_params_none_leaves_and_mixed_dtypes(solver):
    """bf16 parameters are solved in float32; a None gradient leaf stays None."""
    params = {"w": jnp.zeros(3, jnp.bfloat16), "v": jnp.zeros(2)}

    def residuals(p):
        return {"a": p["w"] - 1.0, "b": 2.0 * p["v"] - 1.0}

    tx = gauss_newton(damping=0.1, residual_fn=residuals, solver=solver)
    grads = {"w": None, "v": jnp.ones(2)}
    u, s = jax.jit(tx.update)(grads, tx.init(params), params)
    assert u["w"] is None and u["v"].dtype == jnp.float32
    np.testing.assert_allclose(u["v"], 2.0 / 4.1, rtol=1e-6)  # (4 + 0.1) d = 2
    assert _inner(s).value.dtype == jnp.float32
    u = jax.jit(tx.update)(params, tx.init(params), params)[0]
    assert u["w"].dtype == jnp.bfloat16
    np.testing.assert_allclose(u["w"].astype(np.float32), 1 / 1.1, rtol=1e-2)


def test_dtypes_kept_and_state_fixed_under_cond():
    dtype = jnp.bfloat16
    tx = levenberg_marquardt(residual_fn=lambda p: p.astype(jnp.float32) ** 2 - 2.0)
    x = jnp.ones(3, jnp.float32)
    s0 = tx.init(x)
    g = jnp.ones(3, dtype)
    u, s1 = jax.jit(tx.update)(g, s0, x)
    assert u.dtype == dtype
    # The state keeps its tree, shapes and dtypes: lax.cond accepts both branches.
    jax.lax.cond(True, lambda: s0, lambda: s1)


# -- errors ---------------------------------------------------------------------------


def test_errors():
    x = jnp.zeros(2)
    for tx in (gauss_newton(), levenberg_marquardt()):
        with pytest.raises(ValueError, match="needs the residual function: pass `residual_fn=`"):
            tx.update(x, tx.init(x), x)
    tx = levenberg_marquardt(residual_fn=_rosen)
    with pytest.raises(ValueError, match="`levenberg_marquardt` needs the parameters"):
        tx.update(x, tx.init(x))
    with pytest.raises(ValueError, match=r"2x2 matrix for 2 parameters, more than max_params=1"):
        tx = gauss_newton(residual_fn=_rosen, max_params=1)
        tx.update(x, tx.init(x), x)
    with pytest.raises(ValueError, match="need real floating-point parameters; got complex64"):
        levenberg_marquardt(residual_fn=_rosen).init(jnp.zeros(2, jnp.complex64))
    with pytest.raises(TypeError, match=r"`gauss_newton\(residual_fn=...\)` must be callable"):
        gauss_newton(residual_fn=3.0)
    with pytest.raises(ValueError, match=r"`gauss_newton\(damping=...\)` must lie in \[0, inf\)"):
        gauss_newton(damping=-1.0)
    with pytest.raises(ValueError, match=r"`gauss_newton\(solver=...\)` must be one of"):
        gauss_newton(solver="qr")
    with pytest.raises(ValueError, match=r"`levenberg_marquardt\(damping=...\)` must lie in \(0"):
        levenberg_marquardt(damping=0.0)
    with pytest.raises(ValueError, match=r"`levenberg_marquardt\(accept_ratio=...\)` must lie"):
        levenberg_marquardt(accept_ratio=1.0)
    with pytest.raises(ValueError, match=r"`levenberg_marquardt\(scaling=...\)` must be one of"):
        levenberg_marquardt(scaling="more")
    with pytest.raises(ValueError, match=r"`levenberg_marquardt\(damping_update=...\)` must be"):
        levenberg_marquardt(damping_update="fletcher")


def test_runs_in_the_minimize_driver(x64):
    """With the residuals given at construction, the extra args minimize passes are ignored."""
    from gradtx.second_order import minimize

    res = minimize(
        lambda p: 0.5 * jnp.sum(_rosen(p) ** 2),
        jnp.array([-1.2, 1.0]),
        levenberg_marquardt(residual_fn=_rosen),
        max_steps=200,
        tol=1e-12,
    )
    np.testing.assert_allclose(res.params, [1.0, 1.0], rtol=1e-10)
    assert int(res.num_steps) < 200


def test_guide_page_snippets_run_and_print_what_the_page_shows():
    page = pathlib.Path(__file__).resolve().parents[2] / "docs" / "guide" / "least_squares.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert len(blocks) == 2
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - the page's code
    printed = out.getvalue().splitlines()
    shown = re.search(r"prints\n\n```\n(.*?)```", page.read_text(), flags=re.S)[1].splitlines()
    assert len(printed) == len(shown) + 1 == 10
    for got, want in zip(printed[:8], shown[:8], strict=True):  # the digits may vary by CPU
        g, w = got.split(), want.split()
        assert g[:2] == w[:2]
        np.testing.assert_allclose(float(g[3]), float(w[3]), rtol=0.05)
        assert float(g[2]) <= 10 * float(w[2])
    assert printed[8] == shown[8] == "{'a': 2.5, 'b': 1.3, 'c': 0.5}"
    assert printed[9] == "[ 3. -1.]"


def test_levenberg_marquardt_rejects_a_step_to_nan(x64):
    """sqrt(x) + 1 from x = 1: the Gauss-Newton step lands at x = -3, where r is NaN."""
    tx = levenberg_marquardt(1e-8, residual_fn=lambda p: jnp.sqrt(p) + 1.0)
    step = jax.jit(tx.update)
    x = jnp.ones(1)
    u, s = step(x, tx.init(x), x)
    assert not bool(_inner(s).accepted) and float(u[0]) == 0.0
    assert float(_inner(s).value) == 2.0  # the cost at the kept point
    for _ in range(10):
        u, s = step(x, s, x)
        x = x + u
    assert np.all(np.isfinite(x)) and 0 < float(x[0]) < 1

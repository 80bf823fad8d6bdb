"""Curvature oracles against dense ``jax.hessian`` / ``jax.jacfwd`` and NumPy formulas.

Precision: float64 (the ``x64`` fixture) where a tight tolerance is asserted; one test runs
the oracles in float32 and float64 under ``jax.jit``. Complex parameters are not covered:
the oracles are defined for real parameters (see the module docstring).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from gradtx.second_order import fisher_diag, gnvp, hessian, hessian_diag, hutchinson_diag, hvp


def _objective(p):
    """A non-quadratic objective on a two-leaf pytree with a dense Hessian."""
    z = jnp.tanh(p["w"] @ jnp.array([1.0, -0.5]) + p["b"])  # (3,)
    return jnp.sum(z**2) + jnp.sum(p["w"] ** 4) / 4 + p["b"][0] * p["w"][1, 1]


def _params(rng, dtype=np.float64):
    return {
        "b": jnp.asarray(rng.normal(size=3), dtype),
        "w": jnp.asarray(rng.normal(size=(3, 2)), dtype),
    }


def _dense_from_blocks(blocks, params):
    """Assemble ``jax.hessian``'s tree of trees into one matrix, in ravel_pytree order."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    rows = treedef.flatten_up_to(blocks)
    out = []
    for i, row in enumerate(rows):
        cols = treedef.flatten_up_to(row)
        out.append(
            [np.asarray(c).reshape(leaves[i].size, leaves[j].size) for j, c in enumerate(cols)]
        )
    return np.block(out)


def test_hessian_matches_jax_hessian_blocks(x64, rng):
    params = _params(rng)
    expected = _dense_from_blocks(jax.jit(jax.hessian(_objective))(params), params)
    got = jax.jit(hessian, static_argnums=0)(_objective, params)
    assert got.shape == (9, 9) and got.dtype == jnp.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, got.T, atol=1e-12)


def test_hvp_and_hessian_diag_match_dense(x64, rng):
    params = _params(rng)
    dense = _dense_from_blocks(jax.jit(jax.hessian(_objective))(params), params)
    v = _params(rng)
    got = jax.jit(hvp, static_argnums=0)(_objective, params, v)
    flat_v, unravel = ravel_pytree(v)
    expected = unravel(jnp.asarray(dense @ np.asarray(flat_v)))
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12), got, expected
    )
    diag = jax.jit(hessian_diag, static_argnums=0)(_objective, params)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12),
        diag,
        unravel(jnp.asarray(np.diag(dense))),
    )


def test_oracles_keep_dtype(float_dtype, rng):
    dtype = jnp.dtype(float_dtype)
    params = _params(rng, dtype)

    @jax.jit
    def oracles(p):
        return (
            hvp(_objective, p, p),
            hessian_diag(_objective, p),
            hutchinson_diag(_objective, p, jax.random.key(0), 2),
            hessian(_objective, p),
        )

    *trees, dense = oracles(params)
    for out in trees:
        assert jax.tree.map(lambda x: x.dtype, out) == {"b": dtype, "w": dtype}
    assert dense.dtype == dtype


def test_hutchinson_exact_for_diagonal_hessian(x64):
    a = jnp.array([1.0, -2.0, 3.0, 0.5])
    f = lambda p: jnp.sum(a * jnp.cosh(p["x"])) + jnp.sum(p["y"] ** 3)  # noqa: E731
    params = {"x": jnp.array([0.1, 0.2, -0.3, 0.4]), "y": jnp.array([[1.0, -2.0]])}
    got = jax.jit(hutchinson_diag, static_argnums=(0, 3))(f, params, jax.random.key(3), 3)
    np.testing.assert_allclose(got["x"], a * np.cosh(params["x"]), rtol=1e-13)
    np.testing.assert_allclose(got["y"], 6 * params["y"], rtol=1e-13)


def test_hutchinson_unbiased_within_sampling_error(x64, rng):
    params = _params(rng)
    dense = _dense_from_blocks(jax.jit(jax.hessian(_objective))(params), params)
    samples = 1500
    estimate = jax.jit(hutchinson_diag, static_argnums=(0, 3))
    got = ravel_pytree(estimate(_objective, params, jax.random.key(1), samples))[0]
    # Var of one probe's entry i is sum_{j != i} H_ij^2 (Rademacher z); 5 standard errors.
    off = dense - np.diag(np.diag(dense))
    stderr = np.sqrt((off**2).sum(axis=1) / samples)
    assert np.all(np.abs(np.asarray(got) - np.diag(dense)) <= 5 * stderr + 1e-12)
    # ... and it is a real estimate, not the exact diagonal computed some other way.
    assert np.max(np.abs(np.asarray(got) - np.diag(dense))) > 1e-6


def test_hutchinson_rejects_bad_num_samples():
    with pytest.raises(ValueError, match=r"hutchinson_diag\(num_samples=...\).*num_samples=0"):
        hutchinson_diag(jnp.sum, jnp.ones(2), jax.random.key(0), 0)


def _residual(p):
    x = jnp.array([0.0, 0.5, 1.0, 1.5])
    return {"fit": p["a"] * jnp.exp(p["k"] * x) - jnp.array([1.0, 1.4, 2.1, 2.9]), "reg": p["a"]}


def test_gnvp_matches_dense_jacobian(x64):
    params = {"a": jnp.array(1.3), "k": jnp.array(0.4)}
    v = {"a": jnp.array(0.7), "k": jnp.array(-1.1)}
    flat, unravel = ravel_pytree(params)
    jac = jax.jacfwd(lambda x: ravel_pytree(_residual(unravel(x)))[0])(flat)  # (5, 2)
    expected = np.asarray(jac).T @ np.asarray(jac) @ np.asarray(ravel_pytree(v)[0])
    got = jax.jit(gnvp, static_argnums=0)(_residual, params, v)
    np.testing.assert_allclose(ravel_pytree(got)[0], expected, rtol=1e-12)


def test_gnvp_is_the_hessian_for_affine_residuals(x64, rng):
    a, b = rng.normal(size=(6, 4)), rng.normal(size=6)
    r = lambda x: jnp.asarray(a) @ x - jnp.asarray(b)  # noqa: E731
    x, v = jnp.asarray(rng.normal(size=4)), jnp.asarray(rng.normal(size=4))
    dense = jax.jit(jax.hessian(lambda y: 0.5 * jnp.sum(r(y) ** 2)))(x)
    got = jax.jit(gnvp, static_argnums=0)(r, x, v)
    np.testing.assert_allclose(got, dense @ v, rtol=1e-12)
    np.testing.assert_allclose(got, a.T @ (a @ np.asarray(v)), rtol=1e-12)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_fisher_diag_matches_numpy_per_example_gradients(x64, rng):
    x, y = rng.normal(size=(16, 3)), (rng.random(16) < 0.5).astype(float)
    params = {"w": jnp.asarray(rng.normal(size=3)), "c": jnp.asarray(0.2)}

    def nll(p, ex):
        z = ex["x"] @ p["w"] + p["c"]
        return jnp.logaddexp(0.0, z) - ex["y"] * z

    got = jax.jit(fisher_diag, static_argnums=0)(nll, params, {"x": x, "y": y})
    # NumPy: d nll / dz = sigmoid(z) - y; per-example grads (sigma - y) [x, 1].
    resid = _sigmoid(x @ np.asarray(params["w"]) + 0.2) - y
    np.testing.assert_allclose(got["w"], np.mean((resid[:, None] * x) ** 2, axis=0), rtol=1e-12)
    np.testing.assert_allclose(got["c"], np.mean(resid**2), rtol=1e-12)
    # The empirical Fisher is the diagonal of the mean outer product of per-example grads.
    per = [ravel_pytree(jax.grad(nll)(params, {"x": x[i], "y": y[i]}))[0] for i in range(16)]
    outer = np.mean([np.outer(g, g) for g in per], axis=0)
    np.testing.assert_allclose(ravel_pytree(got)[0], np.diag(outer), rtol=1e-12)


def test_fisher_diag_rejects_mismatched_batch():
    with pytest.raises(ValueError, match=r"fisher_diag\(batch=...\).*leading sizes"):
        fisher_diag(
            lambda p, ex: jnp.sum(p), jnp.ones(2), {"x": jnp.ones((3, 2)), "y": jnp.ones(4)}
        )

"""sam: a NumPy reference of SAM (Foret et al. 2021, arXiv 2010.01412, Algorithm 1),
convergence to a flat minimum, and its errors. Parity with optax.contrib.sam is in
tests/parity/test_optax_catalogue_extra.py."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

A = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]])
C = np.array([1.0, -2.0, 0.5])


def loss(w):
    # A non-quadratic loss: the gradient at the perturbed point differs from a linear
    # extrapolation, so a wrong perturbation cannot pass.
    d = w - C
    return 0.5 * d @ A @ d + 0.25 * jnp.sum(d**4)


def np_grad(w):
    d = w - C
    return A @ d + d**3


def sam_reference(w, rho, lr, steps):
    """Algorithm 1 of the paper with SGD: eps = rho g / ||g||, w -= lr grad(w + eps)."""
    out = []
    for _ in range(steps):
        g = np_grad(w)
        eps = rho * g / np.linalg.norm(g)
        w = w - lr * np_grad(w + eps)
        out.append(w)
    return out


def _sam(lr, rho, **kwargs):
    adv = gradtx.chain(gradtx.normalize(), gradtx.sgd(rho))
    return gradtx.sam(gradtx.sgd(lr), adv, **kwargs)


def test_visible_mode_matches_reference(x64):
    tx = _sam(0.05, 0.2)
    w = jnp.array([0.3, 0.1, -0.4])
    step = jax.jit(tx.update)
    state, true = tx.init(w), []
    for t in range(12):
        u, state = step(jax.grad(loss)(w), state, w)
        w = w + u
        if t % 2 == 1:  # the outer steps; the others visit the adversarial point
            true.append(np.asarray(w))
    want = sam_reference(np.array([0.3, 0.1, -0.4]), 0.2, 0.05, 6)
    np.testing.assert_allclose(np.array(true), np.array(want), rtol=1e-12)


def test_visible_mode_visits_the_adversarial_point(x64):
    tx = _sam(0.05, 0.2)
    w0 = jnp.array([0.3, 0.1, -0.4])
    g = jax.grad(loss)(w0)
    u, state = tx.update(g, tx.init(w0), w0)
    np.testing.assert_allclose(u, 0.2 * g / jnp.linalg.norm(g), rtol=1e-12)
    assert int(state.steps_since_sync) == 1
    np.testing.assert_array_equal(state.cache, w0)


def test_opaque_mode_matches_reference(x64):
    tx = _sam(0.05, 0.2, opaque_mode=True)
    w = jnp.array([0.3, 0.1, -0.4])
    state, got = tx.init(w), []
    calls = []

    def grad_fn(p, i):
        calls.append(i)
        return jax.grad(loss)(p)

    for _ in range(6):
        u, state = tx.update(jax.grad(loss)(w), state, w, grad_fn=grad_fn)
        w = w + u
        got.append(np.asarray(w))
    assert calls == [0] * 6 and state.cache is None
    want = sam_reference(np.array([0.3, 0.1, -0.4]), 0.2, 0.05, 6)
    np.testing.assert_allclose(np.array(got), np.array(want), rtol=1e-12)


def test_sam_with_adam_minimizes_a_quadratic():
    # With a gradtx optimizer inside, SAM finds the minimum of a convex quadratic.
    target = jnp.array([1.0, -2.0, 3.0])

    def quad(w):
        return jnp.sum((w - target) ** 2)

    tx = gradtx.sam(gradtx.adam(0.05), gradtx.chain(gradtx.normalize(), gradtx.sgd(0.01)))
    w = jnp.zeros(3)

    def body(carry, _):
        w, s = carry
        u, s = tx.update(jax.grad(quad)(w), s, w)
        return (w + u, s), None

    (w, state), _ = jax.lax.scan(body, (w, tx.init(w)), length=1000)
    assert int(state.steps_since_sync) == 0
    assert float(quad(state.cache)) < 1e-4
    np.testing.assert_allclose(state.cache, target, atol=5e-3)


def test_sam_reaches_a_flatter_minimum_than_sgd():
    # f(x, y) = (xy - 1)^2 / 2 has a curve of minima xy = 1; the Hessian's largest
    # eigenvalue there is x^2 + y^2, smallest (2) at x = y = 1. From (2, 0.25) SGD
    # stops at the nearby sharp minimum (measured x^2 + y^2 = 4.41); SAM (rho = 0.1)
    # drifts along the curve to the flattest one (measured 2.03, loss 1.1e-5).
    def f(w):
        return 0.5 * (w[0] * w[1] - 1.0) ** 2

    def run(tx, steps=2000):
        def body(carry, _):
            w, s = carry
            u, s = tx.update(jax.grad(f)(w), s, w, grad_fn=lambda p, i: jax.grad(f)(p))
            return (w + u, s), None

        w = jnp.array([2.0, 0.25])
        (w, _), _ = jax.lax.scan(body, (w, tx.init(w)), length=steps)
        return float(f(w)), float(jnp.sum(w**2))

    sgd_loss, sgd_sharpness = run(gradtx.sgd(0.05))
    sam_loss, sam_sharpness = run(_sam(0.05, 0.1, opaque_mode=True))
    assert sgd_loss < 1e-6 and sam_loss < 1e-4
    assert sgd_sharpness > 4.0
    assert sam_sharpness < 2.1


def test_sync_period_one_is_the_outer_optimizer(x64):
    # Every call is an outer step from the given params (optax steps from the previous
    # call's params here; see the docstring).
    w = jnp.array([0.3, 0.1, -0.4])
    tx, plain = _sam(0.05, 0.2, sync_period=1), gradtx.sgd(0.05)
    s1, s2 = tx.init(w), plain.init(w)
    for _ in range(3):
        g = jax.grad(loss)(w)
        u1, s1 = tx.update(g, s1, w)
        u2, s2 = plain.update(g, s2, w)
        np.testing.assert_allclose(u1, u2, rtol=1e-12)
        w = w + u1


def test_reset_keeps_hyperparameters_set_by_hand(x64):
    tx = gradtx.sam(gradtx.sgd(0.1), gradtx.sgd(0.5, momentum=0.9), sync_period=2)
    w = jnp.array([1.0, 2.0])
    state = tx.init(w)
    state = state._replace(adv_state=gradtx.set_hyperparams(state.adv_state, learning_rate=0.25))
    g = jnp.array([1.0, -1.0])
    for _ in range(2):  # one adversarial step, one outer step (which resets adv_state)
        _, state = tx.update(g, state, w)
    assert float(gradtx.hyperparams(state.adv_state)["learning_rate"]) == 0.25
    assert float(jnp.sum(jnp.abs(gradtx.tree.get(state.adv_state, "trace")))) == 0.0
    u, _ = tx.update(g, state, w)
    np.testing.assert_allclose(u, 0.25 * g, rtol=1e-12)


def test_state_is_stable_under_cond():
    tx = gradtx.sam(gradtx.adam(0.1), gradtx.chain(gradtx.normalize(), gradtx.sgd(0.1)))
    w = {"a": jnp.ones(2, jnp.bfloat16), "b": jnp.ones((), jnp.float32)}
    s0 = tx.init(w)
    u, s1 = tx.update(jax.tree.map(jnp.ones_like, w), s0, w)
    jax.lax.cond(True, lambda: s0, lambda: s1)  # same tree, shapes and dtypes
    assert u["a"].dtype == jnp.bfloat16


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: gradtx.sam(gradtx.sgd, gradtx.sgd(0.1)), TypeError, r"`sam\(optimizer=\.\.\.\)`"),
        (lambda: gradtx.sam(gradtx.sgd(0.1), None), TypeError, r"`sam\(adv_optimizer=\.\.\.\)`"),
        (
            lambda: gradtx.sam(gradtx.sgd(0.1), gradtx.sgd(0.1), sync_period=0),
            ValueError,
            r"`sam\(sync_period=\.\.\.\)` must be an integer >= 1; got sync_period=0",
        ),
        (
            lambda: gradtx.sam(gradtx.sgd(0.1), gradtx.sgd(0.1), sync_period=2.0),
            ValueError,
            r"got sync_period=2\.0",
        ),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_update_errors():
    tx = gradtx.sam(gradtx.sgd(0.1), gradtx.sgd(0.1), opaque_mode=True)
    w = jnp.zeros(2)
    with pytest.raises(ValueError, match=r"opaque_mode=True\)` takes the adversarial .*grad_fn"):
        tx.update(w, tx.init(w), w)
    with pytest.raises(ValueError, match=r"`sam` needs the parameters"):
        tx.update(w, tx.init(w), grad_fn=lambda p, i: p)

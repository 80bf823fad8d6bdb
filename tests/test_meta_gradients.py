"""Differentiating through optimizer updates: meta-gradients of a loss after k steps.

``jax.grad`` of the loss after ``K`` steps of an optimizer, taken with respect to its
learning rate (and, for Adam, ``b1``), is compared with a central finite difference in
float64. The hyperparameter enters as a traced value in one of two ways, both tested:
the optimizer is built inside the differentiated function from the tracer (aliases
accept arrays), or it is built from a number and the tracer is set into its state
with :func:`gradtx.set_hyperparams`.

Finite-difference step: the loss is smooth in the hyperparameter here (no ``max`` or
``sign`` switches between ``theta - h`` and ``theta + h``), so the central difference
has a truncation error of about ``h**2 |L'''| / 6`` and a rounding error of about
``eps64 |L| / h``. With ``h = 1e-5 * theta`` (``theta`` ~ 0.1), both are below 1e-9
relative to ``|L'|`` on these problems, four orders under the 1e-6 asserted.

Sign-based updates (``lion``): the update is ``-lr * sign(...)``, whose derivative
with respect to what is inside the ``sign`` is zero almost everywhere. The meta-gradient
with respect to the learning rate is still right (it flows through the factor ``lr`` and
through the parameters into the loss) and matches the finite difference; the one with
respect to ``b1`` or ``b2``, which act only inside the ``sign``, is exactly zero, as is
the finite difference as long as no sign flips within ``h``.

``eps_root``: Adam's denominator ``sqrt(nu_hat + eps_root) + eps``. For a gradient
component that is exactly zero at every step, ``nu`` stays 0, and the derivative of
``sqrt`` at 0 is infinite: reverse mode multiplies it by a zero cotangent path and gets
``inf * 0 = NaN``. With ``eps_root > 0`` the meta-gradient is finite. The NaN with
``eps_root = 0`` is the documented reason ``eps_root`` exists and is what optax does
too (checked below against optax as a black box).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

K = 5  # optimizer steps differentiated through
REL = 1e-6  # asserted relative error against the finite difference

# A small logistic regression: 6 examples, 3 features and a bias (the last column of
# ones), labels in {-1, 1}. The loss is smooth and none of its gradient components
# vanishes along the trajectories below. One parameter array keeps the number of
# distinct primitives (each compiled once, eagerly) small.
_X = np.array(
    [
        [0.5, -1.2, 0.3, 1.0],
        [1.1, 0.4, -0.7, 1.0],
        [-0.3, 0.8, 1.5, 1.0],
        [0.9, -0.2, -1.1, 1.0],
        [-1.4, 0.6, 0.2, 1.0],
        [0.2, 1.3, -0.4, 1.0],
    ]
)
_Y = np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
_W0 = np.array([0.3, -0.2, 0.1, 0.05])


def _loss(w):
    margins = jnp.asarray(_Y) * (jnp.asarray(_X) @ w)
    return jnp.mean(jax.nn.softplus(-margins)) + 0.05 * jnp.sum(w**2)


def _train(tx, state, params, loss=_loss):
    """Loss after K steps of ``tx`` from ``state`` and ``params``.

    Run eagerly, not jitted: every optimizer here is a new program, and compiling each
    (the gradient of K steps and two evaluations) costs more CPU than running its few
    small primitives op by op, which JAX compiles once and reuses across optimizers.
    """
    for _ in range(K):
        grads = jax.grad(loss)(params)
        updates, state = tx.update(grads, state, params)
        params = gradtx.apply_updates(params, updates)
    return loss(params)


def _built_inside(make, name):
    """theta -> loss after K steps of ``make(**{name: theta})``, built from the tracer."""

    def f(theta):
        tx = make(**{name: theta})
        params = jnp.asarray(_W0)
        return _train(tx, tx.init(params), params)

    return f


def _set_in_state(make, name, value):
    """theta -> loss after K steps, theta set with gradtx.set_hyperparams."""

    def f(theta):
        tx = make(**{name: value})
        params = jnp.asarray(_W0)
        state = gradtx.set_hyperparams(tx.init(params), **{name: theta})
        return _train(tx, state, params)

    return f


def _check(f, theta):
    """jax.grad(f)(theta) against the central difference; returns the gradient."""
    h = 1e-5 * theta
    t = jnp.float64(theta)
    grad = float(jax.grad(f)(t))
    fd = (float(f(t + h)) - float(f(t - h))) / (2 * h)
    assert np.isfinite(grad), grad
    assert abs(fd) > 1e-3, f"the meta-gradient is too small to test ({fd})"
    err = abs(grad - fd) / abs(fd)
    assert err < REL, (grad, fd, err)
    return grad


OPTIMIZERS = [
    pytest.param(lambda **kw: gradtx.sgd(**kw), 0.5, id="sgd"),
    pytest.param(lambda **kw: gradtx.sgd(momentum=0.9, **kw), 0.3, id="sgd_momentum"),
    pytest.param(lambda **kw: gradtx.sgd(momentum=0.9, nesterov=True, **kw), 0.3, id="nesterov"),
    pytest.param(lambda **kw: gradtx.rmsprop(**kw), 0.01, id="rmsprop"),
    pytest.param(
        lambda **kw: gradtx.rmsprop(centered=True, momentum=0.5, **kw), 0.01, id="rmsprop_centered"
    ),
    pytest.param(lambda **kw: gradtx.adagrad(**kw), 0.1, id="adagrad"),
    pytest.param(lambda **kw: gradtx.adam(**kw), 0.05, id="adam"),
    pytest.param(lambda **kw: gradtx.adamw(weight_decay=0.1, **kw), 0.05, id="adamw"),
    pytest.param(lambda **kw: gradtx.nadam(**kw), 0.05, id="nadam"),
    pytest.param(lambda **kw: gradtx.amsgrad(**kw), 0.05, id="amsgrad"),
    pytest.param(lambda **kw: gradtx.adamax(**kw), 0.05, id="adamax"),
    pytest.param(lambda **kw: gradtx.adadelta(**kw), 1.0, id="adadelta"),
    pytest.param(lambda **kw: gradtx.lamb(**kw), 0.05, id="lamb"),
    pytest.param(lambda **kw: gradtx.lion(**kw), 0.01, id="lion"),
]


@pytest.mark.parametrize(("make", "lr"), OPTIMIZERS)
def test_learning_rate_meta_gradient_matches_finite_differences(make, lr, x64):
    _check(_built_inside(make, "learning_rate"), lr)


@pytest.mark.parametrize("name", ["learning_rate", "b1"])
def test_adam_meta_gradients_through_set_hyperparams_and_built_inside(name, x64):
    theta = {"learning_rate": 0.05, "b1": 0.8}[name]
    inside = _built_inside(lambda **kw: gradtx.adam(**{"learning_rate": 0.05, **kw}), name)
    in_state = _set_in_state(lambda **kw: gradtx.adam(**{"learning_rate": 0.05, **kw}), name, 0.5)
    # both paths compute the same function of theta, and its derivative
    np.testing.assert_allclose(_check(in_state, theta), _check(inside, theta), rtol=1e-12)


def test_lion_meta_gradient_in_b1_is_zero_almost_everywhere(x64):
    # b1 acts only inside the sign; its derivative is zero wherever no sign flips.
    f = _built_inside(lambda **kw: gradtx.lion(learning_rate=0.01, **kw), "b1")
    t, h = jnp.float64(0.9), 1e-5
    assert float(jax.grad(f)(t)) == 0.0
    assert float(f(t + h)) == float(f(t - h))


def _quadratic(w):
    # the second coordinate starts at its minimum: its gradient is 0 at every step
    return 0.5 * jnp.sum(
        jnp.array([2.0, 1.0, 0.5, 1.0]) * (w - jnp.array([1.0, 0.0, -1.0, 0.5])) ** 2
    )


def _adam_zero_component(adam, eps_root):
    def f(lr):
        tx = adam(learning_rate=lr, eps_root=eps_root)
        params = jnp.zeros(4)
        return _train(tx, tx.init(params), params, loss=_quadratic)

    return f


def test_eps_root_keeps_meta_gradients_finite_at_a_zero_gradient(x64):
    import optax  # a black-box reference: the same NaN without eps_root

    _check(_adam_zero_component(gradtx.adam, 1e-12), 0.1)  # finite and right
    lr = jnp.float64(0.1)
    # without eps_root: d sqrt(nu)/d nu = inf at nu = 0, times a zero cotangent
    assert np.isnan(jax.grad(_adam_zero_component(gradtx.adam, 0.0))(lr))
    assert np.isnan(jax.grad(_adam_zero_component(optax.adam, 0.0))(lr))

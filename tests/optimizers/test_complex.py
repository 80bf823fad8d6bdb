"""Complex parameters: the classic optimizers minimize |z - z*|^2 over complex z."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

TARGET = jnp.array([1.0 + 2.0j, -0.5 - 1.0j, 3.0j])


def _loss(z):
    d = z - TARGET
    return jnp.sum(jnp.real(d * jnp.conj(d)))


@pytest.mark.parametrize(
    "tx",
    [
        gradtx.sgd(0.1, momentum=0.5),
        gradtx.adam(0.1),
        gradtx.adamw(0.1, weight_decay=0.0),
        gradtx.rmsprop(0.05),
        gradtx.adagrad(0.5),
        gradtx.nadam(0.1),
        gradtx.radam(0.1),
        gradtx.amsgrad(0.1),
    ],
    ids=["sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam", "radam", "amsgrad"],
)
def test_complex_params_converge_and_keep_dtype(tx):
    z = jnp.zeros(3, jnp.complex64)
    state = tx.init(z)

    def body(carry, _):
        z, s = carry
        # JAX's gradient of a real loss of complex z is conj(dL/dz*); descend on its conj.
        g = jnp.conj(jax.grad(_loss)(z))
        u, s = tx.update(g, s, z)
        return (gradtx.apply_updates(z, u), s), None

    (z, state), _ = jax.lax.scan(body, (z, state), None, length=300)
    assert z.dtype == jnp.complex64
    assert float(_loss(z)) < 1e-3 * float(_loss(jnp.zeros(3, jnp.complex64)))
    np.testing.assert_allclose(np.asarray(z), np.asarray(TARGET), atol=0.05)
    # second moments of complex gradients are real, |g|^2, never complex squares g^2
    for name in ("nu", "sum_of_squares"):
        for _, value in gradtx.tree.get_all_with_path(state, name):
            assert value.dtype == jnp.float32 and bool(jnp.all(value >= 0))

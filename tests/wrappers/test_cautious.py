"""cautious: NumPy references of C-AdamW and C-Lion (Liang et al. 2024, arXiv 2411.16085).

The reference applies Algorithm 1 of the paper to the whole update of the inner
optimizer, written as the step to subtract: ``mask = (u * g > 0)``,
``theta -= u * mask / (mask.mean() + eps)``, the mean taken per leaf.
"""

from __future__ import annotations

import _reference as ref
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

STEPS = 6
RTOL = {"float32": 1e-5, "float64": 1e-9}


class CAdamW(ref.Transform):
    """C-AdamW: AdamW's step u (Adam's direction plus decay), masked where it does not
    agree in sign with the gradient, rescaled by the fraction kept."""

    def __init__(self, lr, b1, b2, eps, wd, normalize=True, xi=1e-8):
        self.lr, self.b1, self.b2, self.eps, self.wd = lr, b1, b2, eps, wd
        self.normalize, self.xi = normalize, xi

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        out = []
        for i, (g, p) in enumerate(zip(grads, params, strict=True)):
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * g * g
            m_hat = self.m[i] / (1 - self.b1**self.t)
            v_hat = self.v[i] / (1 - self.b2**self.t)
            u = self.lr * (m_hat / (np.sqrt(v_hat) + self.eps) + self.wd * p)  # to subtract
            mask = (u * g > 0).astype(np.float64)
            scale = 1.0 / (mask.mean() + self.xi) if self.normalize else 1.0
            out.append(-u * mask * scale)
        return out


class CLion(ref.Transform):
    """C-Lion: Lion's step (sign of the interpolated momentum plus decay), masked."""

    def __init__(self, lr, b1, b2, wd, xi=1e-8):
        self.lr, self.b1, self.b2, self.wd, self.xi = lr, b1, b2, wd, xi

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        out = []
        for i, (g, p) in enumerate(zip(grads, params, strict=True)):
            u = self.lr * (np.sign(self.b1 * self.m[i] + (1 - self.b1) * g) + self.wd * p)
            self.m[i] = self.b2 * self.m[i] + (1 - self.b2) * g
            mask = (u * g > 0).astype(np.float64)
            out.append(-u * mask / (mask.mean() + self.xi))
        return out


def _stream(rng, params):
    # Gradients that change sign often, so the masks drop a good part of each update.
    return gradient_stream(rng, params, STEPS)


@pytest.mark.parametrize("normalize", [True, False], ids=["normalized", "mask-only"])
def test_cautious_adamw_matches_reference(normalize, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = _stream(rng, params)
    tx = gradtx.cautious(gradtx.adamw(0.1, b1=0.9, b2=0.99, weight_decay=0.05), normalize=normalize)
    got = run_gradtx(tx, params, grads)
    f = ref.f32
    reference = CAdamW(f(0.1), f(0.9), f(0.99), f(1e-8), f(0.05), normalize=normalize)
    want = ref.run(reference, leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])
    # The mask is not trivial: some steps drop components, and what remains is rescaled.
    zeros = sum(int(np.sum(x == 0)) for w in want for x in w)
    assert zeros > 5


def test_cautious_lion_matches_reference(float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = _stream(rng, params)
    got = run_gradtx(gradtx.cautious(gradtx.lion(0.1, weight_decay=0.5)), params, grads)
    f = ref.f32
    reference = CLion(f(0.1), f(0.9), f(0.99), f(0.5))
    want = ref.run(reference, leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_cautious_adam_is_paper_c_adamw_without_decay(rng, x64):
    # Masking Adam's direction (the primitive, after its learning rate) or the alias.
    params = nested_params(rng, np.float64)
    grads = _stream(rng, params)
    want = ref.run(CAdamW(0.1, 0.9, 0.99, 1e-8, 0.0), leaves(params), [leaves(g) for g in grads])
    primitive = gradtx.chain(gradtx.scale_by_adam(0.9, 0.99), gradtx.scale_by_learning_rate(0.1))
    for tx in (gradtx.cautious(primitive), gradtx.cautious(gradtx.adam(0.1, 0.9, 0.99))):
        assert_close_to_reference(run_gradtx(tx, params, grads), want, rtol=1e-9)


def test_hyperparams_readable_and_settable():
    p = {"w": jnp.zeros(3)}
    tx = gradtx.cautious(gradtx.adamw(1e-3, weight_decay=0.0))
    state = tx.init(p)
    assert isinstance(state, gradtx.CautiousState)
    assert float(gradtx.hyperparams(state)["learning_rate"]) == pytest.approx(1e-3)
    state = gradtx.set_hyperparams(state, learning_rate=0.5)
    g = {"w": jnp.array([1.0, -2.0, 0.0])}
    u, state = tx.update(g, state, p)
    # First Adam step is the sign; the zero-gradient entry is masked; 2 of 3 kept.
    np.testing.assert_allclose(u["w"], -0.5 * np.array([1.0, -1.0, 0.0]) / (2 / 3 + 1e-8))
    assert isinstance(state.inner_state, gradtx.OptimizerState)


def test_none_leaves_and_complex():
    tx = gradtx.cautious(gradtx.sgd(1.0), normalize=False)
    g = {"a": jnp.array([1.0 + 1.0j, -1.0j]), "b": None}
    u, _ = tx.update(g, tx.init({"a": jnp.zeros(2, jnp.complex64), "b": None}))
    assert u["b"] is None and u["a"].dtype == jnp.complex64
    np.testing.assert_allclose(u["a"], -np.array([1.0 + 1.0j, -1.0j]))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: gradtx.cautious(gradtx.adamw),
            TypeError,
            r"`cautious\(inner=\.\.\.\)` must be a gradient transformation",
        ),
        (lambda: gradtx.cautious(3.0), TypeError, r"got float 3\.0"),
        (
            lambda: gradtx.cautious(gradtx.sgd(0.1), eps=-1.0),
            ValueError,
            r"`cautious\(eps=\.\.\.\)` must lie in \[0, inf\); got eps=-1\.0",
        ),
        (
            lambda: gradtx.cautious(gradtx.sgd(0.1), normalize="yes"),
            TypeError,
            r"`cautious\(normalize=\.\.\.\)` must be a bool",
        ),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()

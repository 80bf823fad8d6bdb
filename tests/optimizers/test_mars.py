"""mars and scale_by_mars against a NumPy reference written from the paper.

Yuan et al. 2024 (arXiv 2411.10438), Algorithm 1 (MARS-AdamW): the corrected gradient
:math:`c_t = g_t + \\gamma\\frac{\\beta_1}{1-\\beta_1}(g_t - \\tilde g_{t-1})`, clipped to
norm 1 (per weight tensor, as the authors' release does), then AdamW on it. In
MARS-approx :math:`\\tilde g_{t-1}` is the previous step's gradient (none at the first
step: :math:`c_1 = g_1`); in exact MARS it is the gradient at the previous parameters
on the current batch, passed as ``previous_grads``.
"""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params

import gradtx

STEPS = 8
RTOL = {"float32": 2e-5, "float64": 1e-12}
# Leaves of nested_params in tree order: b[0] (3,), b[1][0] (), w (2, 3).
MASK_TREE = {"w": True, "b": [False, (True, None)]}
MASK_LEAVES = [False, True, True]


class Mars(ref.Transform):
    """Algorithm 1 of the paper, up to the bias-corrected Adam direction."""

    def __init__(self, b1=0.95, b2=0.99, eps=1e-8, gamma=0.025, exact=None):
        self.b1, self.b2, self.eps, self.gamma = b1, b2, eps, gamma
        self.exact = exact  # a list (per step) of "previous" gradients, or None

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.prev = None

    def _update(self, grads, params):
        if self.exact is not None:
            prev = self.exact[self.t - 1]
        else:
            prev = grads if self.prev is None else self.prev
        self.prev = grads
        k = self.gamma * self.b1 / (1 - self.b1)
        out = []
        for i, (g, p) in enumerate(zip(grads, prev, strict=True)):
            c = g + k * (g - p)
            norm = np.sqrt(np.sum(c * c))
            if norm > 1:
                c = c / norm
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * c
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * c * c
            m_hat = self.m[i] / (1 - self.b1**self.t)
            v_hat = self.v[i] / (1 - self.b2**self.t)
            out.append(m_hat / (np.sqrt(v_hat) + self.eps))
        return out


def ref_mars(learning_rate, b1=0.95, b2=0.99, eps=1e-8, weight_decay=0.0, mask=None, gamma=0.025):
    mask = MASK_LEAVES if mask is not None else None  # the only mask used here
    return ref.Chain(
        Mars(b1, b2, eps, gamma),
        ref.AddDecayedWeights(weight_decay, mask),
        ref.ScaleByLearningRate(learning_rate),
    )


def run_gradtx(tx, params, grads, **extra_args):
    """The updates of every step, with the update jitted once (eager steps are slow)."""
    update, state, out = jax.jit(tx.update), tx.init(params), []
    for g in grads:
        u, state = update(g, state, params, **extra_args)
        for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True):
            assert a.dtype == b.dtype
        params = gradtx.apply_updates(params, u)
        out.append(u)
    return out


def _schedule(count):
    return 0.1 * 0.9**count


CASES = [
    pytest.param({"learning_rate": 0.1}, id="defaults"),
    pytest.param(
        {
            "learning_rate": _schedule,
            "b1": 0.8,
            "b2": 0.9,
            "eps": 1e-3,
            "gamma": 0.5,
            "weight_decay": 0.25,
            "mask": MASK_TREE,
        },
        id="args-mask",
    ),
]


def _stream(rng, dtype):
    params = nested_params(rng, dtype)
    # Scales from 0.1 to 3: some corrected gradients are clipped, some are not.
    return params, gradient_stream(rng, params, STEPS)


@pytest.mark.parametrize("kwargs", CASES)
def test_matches_reference(kwargs, float_dtype, rng):
    params, grads = _stream(rng, float_dtype)
    got = run_gradtx(gradtx.mars(**kwargs), params, grads)
    stored = ref.as_stored(gradtx.mars, ref_mars, kwargs)
    want = ref.run(ref_mars(**stored), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_clipping_both_binds_and_not(rng):
    # The stream above really exercises both branches of the clip.
    params, grads = _stream(rng, np.float64)
    k = 0.025 * 0.95 / 0.05
    norms = [
        np.linalg.norm(g + k * (g - p))
        for g0, g1 in zip(grads, grads[1:], strict=False)
        for g, p in zip(leaves(g1), leaves(g0), strict=True)
    ]
    assert min(norms) < 1 < max(norms)


def test_exact_variant_with_previous_grads(rng, x64):
    # Exact MARS: the caller passes grad f(x_{t-1}, xi_t) at every step.
    params, grads = _stream(rng, np.float64)
    previous = gradient_stream(rng, params, STEPS)
    tx = gradtx.scale_by_mars(b1=0.9, gamma=0.5)
    state, got, update = tx.init(params), [], jax.jit(tx.update)
    for g, p in zip(grads, previous, strict=True):
        u, state = update(g, state, previous_grads=p)
        got.append(u)
    reference = Mars(0.9, 0.99, 1e-8, 0.5, exact=[leaves(p) for p in previous])
    want = ref.run(reference, leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=1e-12)
    # The state keeps this step's gradient in either mode.
    for a, b in zip(jax.tree.leaves(state.prev_grads), jax.tree.leaves(grads[-1]), strict=True):
        np.testing.assert_array_equal(a, b)


def test_primitive_first_step_has_no_correction(x64):
    # c_1 = g_1 (no previous gradient), then c_2 = g_2 + gamma b1/(1-b1) (g_2 - g_1).
    tx = gradtx.scale_by_mars(b1=0.5, b2=0.5, eps=0.0, gamma=1.0)
    s, update = tx.init(jnp.zeros(2)), jax.jit(tx.update)
    g1, g2 = jnp.array([0.3, 0.4]), jnp.array([0.2, 0.1])
    u, s = update(g1, s)
    np.testing.assert_allclose(u, np.sign(g1), rtol=1e-12)
    np.testing.assert_allclose(s.mu, 0.5 * g1, rtol=1e-12)
    u, s = update(g2, s)
    c2 = 2 * g2 - g1  # = [0.1, -0.2], norm < 1: not clipped
    np.testing.assert_allclose(s.mu, 0.25 * g1 + 0.5 * c2, rtol=1e-12, atol=1e-15)


def test_mu_dtype_and_complex(rng):
    params = nested_params(rng, np.float32)
    tx = gradtx.mars(0.1, mu_dtype=jnp.bfloat16)
    state = tx.init(params)
    u, state = jax.jit(tx.update)(gradient_stream(rng, params, 1)[0], state, params)
    assert {x.dtype for x in jax.tree.leaves(gradtx.tree.get(state, "mu"))} == {
        jnp.dtype(jnp.bfloat16)
    }
    assert {x.dtype for x in jax.tree.leaves(u)} == {jnp.dtype(jnp.float32)}
    # Complex: the norm and second moment use |c|^2; the first step is -lr c/|c| per entry.
    z = jnp.zeros(2, jnp.complex64)
    g = jnp.array([0.3 + 0.4j, -0.6j], jnp.complex64)
    tx = gradtx.mars(0.1)
    u, _ = jax.jit(tx.update)(g, tx.init(z), z)
    assert u.dtype == jnp.complex64
    np.testing.assert_allclose(u, -0.1 * np.array([0.6 + 0.8j, -1j]), rtol=1e-4)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gradtx.mars(-0.1), r"`mars\(learning_rate=.*got learning_rate=-0\.1"),
        (
            lambda: gradtx.mars(0.1, b1=1.0),
            r"`mars\(b1=\.\.\.\)` must lie in \[0, 1\); got b1=1\.0",
        ),
        (
            lambda: gradtx.mars(0.1, b2=1.5),
            r"`mars\(b2=\.\.\.\)` must lie in \[0, 1\]; got b2=1\.5",
        ),
        (lambda: gradtx.mars(0.1, eps=-1.0), r"`mars\(eps=\.\.\.\)`.*got eps=-1\.0"),
        (lambda: gradtx.mars(0.1, gamma=-0.1), r"`mars\(gamma=\.\.\.\)`.*got gamma=-0\.1"),
        (lambda: gradtx.mars(0.1, weight_decay=-1.0), r"`mars\(weight_decay=.*got weight_decay"),
        (lambda: gradtx.scale_by_mars(b1=-0.5), r"`scale_by_mars\(b1=\.\.\.\)`.*got b1=-0\.5"),
        (lambda: gradtx.scale_by_mars(gamma=-1.0), r"`scale_by_mars\(gamma=.*got gamma=-1\.0"),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_hyperparams_are_in_the_state():
    tx = gradtx.mars(0.5, b1=0.75, b2=0.875, eps=0.25, weight_decay=0.125, gamma=0.0625)
    state = tx.init({"w": jnp.zeros(3), "frozen": None})
    assert {k: float(v) for k, v in gradtx.hyperparams(state).items()} == {
        "learning_rate": 0.5,
        "b1": 0.75,
        "b2": 0.875,
        "eps": 0.25,
        "weight_decay": 0.125,
        "gamma": 0.0625,
    }


def test_alias_forwards_previous_grads(rng, x64):
    # previous_grads = g_t cancels the correction: the same steps as gamma = 0.
    params, grads = _stream(rng, np.float64)
    tx = gradtx.mars(0.1, gamma=0.5)
    state, update, got, p = tx.init(params), jax.jit(tx.update), [], params
    for g in grads:
        u, state = update(g, state, p, previous_grads=g)
        got.append(u)
        p = gradtx.apply_updates(p, u)
    want = run_gradtx(gradtx.mars(0.1, gamma=0.0), params, grads)
    assert_close_to_reference(got, [leaves(w) for w in want], rtol=1e-12)

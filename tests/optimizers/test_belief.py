"""adabelief, yogi, novograd and adan (and their primitives) against NumPy and optax.

The NumPy references below are written from the papers' algorithms (AdaBelief:
Zhuang et al. 2020, arXiv 2010.07468, Algorithm 2; Yogi: Zaheer et al. 2018, NeurIPS,
Algorithm 2; NovoGrad: Ginsburg et al. 2019, arXiv 1905.11286, Algorithm 1; Adan: Xie
et al. 2022, arXiv 2208.06677, Algorithm 1, with the authors' b = 1 - beta convention),
with the initialisation and bias correction that gradtx's docstrings state where the
papers leave them open (Yogi's moments start at ``initial_accumulator_value`` and are
bias-corrected, as optax does).
"""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx
from parity._sequences import (
    EXACT,
    assert_trajectories_close,
    sequence_error,
    standard_data,
    step_sequence,
    x64,
)
from parity._sequences import run_optax_like as run_like

import gradtx

STEPS = 8
RTOL = {"float32": 1e-5, "float64": 1e-9}
# Leaves of nested_params in tree order: b[0] (3,), b[1][0] (), w (2, 3).
MASK_TREE = {"w": True, "b": [False, (True, None)]}
MASK_LEAVES = [False, True, True]


# --------------------------------------------------------------------------------------
# NumPy references (float64, one list of leaves)


class Belief(ref.Transform):
    """AdaBelief: s_t = b2 s + (1-b2)(g - m_t)^2 + eps_root; u = m_hat/(sqrt(s_hat)+eps)."""

    def __init__(self, b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16, nesterov=False):
        self.b1, self.b2, self.eps, self.eps_root, self.nesterov = b1, b2, eps, eps_root, nesterov

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.s = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        b1, b2, t = self.b1, self.b2, self.t
        self.m = [b1 * m + (1 - b1) * g for m, g in zip(self.m, grads, strict=True)]
        self.s = [
            b2 * s + (1 - b2) * (g - m) ** 2 + self.eps_root
            for s, g, m in zip(self.s, grads, self.m, strict=True)
        ]
        out = []
        for g, m, s in zip(grads, self.m, self.s, strict=True):
            if self.nesterov:
                m_hat = b1 * m / (1 - b1 ** (t + 1)) + (1 - b1) * g / (1 - b1**t)
            else:
                m_hat = m / (1 - b1**t)
            out.append(m_hat / (np.sqrt(s / (1 - b2**t)) + self.eps))
        return out


class Yogi(ref.Transform):
    """Yogi: v_t = v - (1-b2) sign(v - g^2) g^2; m_0 = v_0 = initial value; debiased."""

    def __init__(self, b1=0.9, b2=0.999, eps=1e-3, eps_root=0.0, initial_accumulator_value=1e-6):
        self.b1, self.b2, self.eps, self.eps_root = b1, b2, eps, eps_root
        self.v0 = initial_accumulator_value

    def _init(self, params):
        self.m = [np.full_like(p, self.v0) for p in params]
        self.v = [np.full_like(p, self.v0) for p in params]

    def _update(self, grads, params):
        b1, b2, t = self.b1, self.b2, self.t
        self.m = [b1 * m + (1 - b1) * g for m, g in zip(self.m, grads, strict=True)]
        self.v = [
            v - (1 - b2) * np.sign(v - g**2) * g**2 for v, g in zip(self.v, grads, strict=True)
        ]
        return [
            m / (1 - b1**t) / (np.sqrt(v / (1 - b2**t) + self.eps_root) + self.eps)
            for m, v in zip(self.m, self.v, strict=True)
        ]


class Novograd(ref.Transform):
    """NovoGrad: per leaf v_1 = |g|^2, v_t = b2 v + (1-b2)|g|^2;
    m_t = b1 m + g/(sqrt(v + eps_root) + eps) + wd * w."""

    def __init__(self, b1=0.9, b2=0.25, eps=1e-8, eps_root=0.0, weight_decay=0.0):
        self.b1, self.b2, self.eps, self.eps_root, self.wd = b1, b2, eps, eps_root, weight_decay

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [0.0 for _ in params]

    def _update(self, grads, params):
        out = []
        for i, (g, w) in enumerate(zip(grads, params, strict=True)):
            sq = float(np.sum(g**2))
            self.v[i] = sq if self.t == 1 else self.b2 * self.v[i] + (1 - self.b2) * sq
            d = g / (np.sqrt(self.v[i] + self.eps_root) + self.eps) + self.wd * w
            self.m[i] = self.b1 * self.m[i] + d
            out.append(self.m[i])
        return out


class Adan(ref.Transform):
    """Adan, Algorithm 1 with b = 1 - beta: d_t = g_t - g_{t-1} (0 at t=1),
    u = (m_hat + b2 v_hat) / (sqrt(n_hat + eps_root) + eps), n from (g + b2 d)^2."""

    def __init__(self, b1=0.98, b2=0.92, b3=0.99, eps=1e-8, eps_root=0.0):
        self.b1, self.b2, self.b3, self.eps, self.eps_root = b1, b2, b3, eps, eps_root

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.n = [np.zeros_like(p) for p in params]
        self.prev = None

    def _update(self, grads, params):
        b1, b2, b3, t = self.b1, self.b2, self.b3, self.t
        prev = grads if self.prev is None else self.prev
        out = []
        for i, (g, gp) in enumerate(zip(grads, prev, strict=True)):
            d = g - gp
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
            self.v[i] = b2 * self.v[i] + (1 - b2) * d
            self.n[i] = b3 * self.n[i] + (1 - b3) * (g + b2 * d) ** 2
            num = self.m[i] / (1 - b1**t) + b2 * self.v[i] / (1 - b2**t)
            out.append(num / (np.sqrt(self.n[i] / (1 - b3**t) + self.eps_root) + self.eps))
        self.prev = grads
        return out


def adabelief(learning_rate, b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16, *, nesterov=False):
    return ref.Chain(
        Belief(b1, b2, eps, eps_root, nesterov), ref.ScaleByLearningRate(learning_rate)
    )


def yogi(learning_rate, b1=0.9, b2=0.999, eps=1e-3):
    return ref.Chain(Yogi(b1, b2, eps), ref.ScaleByLearningRate(learning_rate))


def novograd(learning_rate, b1=0.9, b2=0.25, eps=1e-6, eps_root=0.0, weight_decay=0.0):
    return ref.Chain(
        Novograd(b1, b2, eps, eps_root, weight_decay), ref.ScaleByLearningRate(learning_rate)
    )


def adan(
    learning_rate, b1=0.98, b2=0.92, b3=0.99, eps=1e-8, eps_root=1e-8, weight_decay=0.0, mask=None
):
    return ref.Chain(
        Adan(b1, b2, b3, eps, eps_root),
        ref.AddDecayedWeights(weight_decay, mask),
        ref.ScaleByLearningRate(learning_rate),
    )


# --------------------------------------------------------------------------------------
# (1) Against the NumPy references, float32 and float64, on a tree with a None leaf


def _schedule(count):
    return 0.1 * 0.9**count


CASES = [
    pytest.param(gradtx.adabelief, adabelief, {"learning_rate": 0.1}, id="adabelief"),
    pytest.param(
        gradtx.adabelief,
        adabelief,
        {"learning_rate": 0.05, "b1": 0.5, "b2": 0.9, "eps": 1e-3, "eps_root": 1e-4},
        id="adabelief-args",
    ),
    pytest.param(
        gradtx.adabelief,
        adabelief,
        {"learning_rate": _schedule, "nesterov": True},
        id="adabelief-nesterov-schedule",
    ),
    pytest.param(gradtx.yogi, yogi, {"learning_rate": 0.1}, id="yogi"),
    pytest.param(
        gradtx.yogi,
        yogi,
        {"learning_rate": 0.05, "b1": 0.5, "b2": 0.9, "eps": 1e-2},
        id="yogi-args",
    ),
    pytest.param(gradtx.novograd, novograd, {"learning_rate": 0.1}, id="novograd"),
    pytest.param(
        gradtx.novograd,
        novograd,
        {"learning_rate": _schedule, "b1": 0.5, "b2": 0.9, "eps_root": 1e-2, "weight_decay": 0.1},
        id="novograd-args-wd",
    ),
    pytest.param(gradtx.adan, adan, {"learning_rate": 0.1}, id="adan"),
    pytest.param(
        gradtx.adan,
        adan,
        {"learning_rate": _schedule, "b1": 0.9, "b2": 0.8, "b3": 0.95, "weight_decay": 0.1},
        id="adan-args-wd",
    ),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs"), CASES)
def test_matches_reference(factory, reference, kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    stored = ref.as_stored(factory, reference, kwargs)
    want = ref.run(reference(**stored), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


PRIMITIVES = [
    pytest.param(gradtx.scale_by_belief, Belief, {"b2": 0.9, "eps_root": 1e-3}, id="belief"),
    pytest.param(
        gradtx.scale_by_yogi,
        Yogi,
        {"b2": 0.9, "eps_root": 1e-3, "initial_accumulator_value": 0.5},
        id="yogi",
    ),
    pytest.param(
        gradtx.scale_by_novograd, Novograd, {"eps": 1e-3, "weight_decay": 0.2}, id="novograd"
    ),
    pytest.param(gradtx.scale_by_adan, Adan, {"b2": 0.7, "eps_root": 1e-3}, id="adan"),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs"), PRIMITIVES)
def test_primitive_matches_reference(factory, reference, kwargs, float_dtype, rng):
    # Primitives take their numbers as given (no float32 storage).
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    want = ref.run(reference(**kwargs), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


@pytest.mark.parametrize("mask", [MASK_TREE, lambda p: jax.tree.map(lambda x: x.ndim != 1, p)])
def test_adan_weight_decay_mask(mask, rng):
    params = nested_params(rng, np.float32)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(gradtx.adan(0.1, weight_decay=0.5, mask=mask), params, grads)
    stored = ref.as_stored(gradtx.adan, adan, {"learning_rate": 0.1, "weight_decay": 0.5})
    want = ref.run(adan(**stored, mask=MASK_LEAVES), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=1e-5)


def test_novograd_needs_params_only_with_weight_decay():
    g = jnp.array([3.0, -4.0])
    tx = gradtx.scale_by_novograd()
    tx.update(g, tx.init(g))  # no params: fine without decay
    tx = gradtx.scale_by_novograd(weight_decay=0.1)
    with pytest.raises(ValueError, match=r"`scale_by_novograd` needs the parameters"):
        tx.update(g, tx.init(g))


def test_complex_params(x64):
    # A complex leaf whose imaginary part is zero behaves as the real leaf, and the
    # second moments are real.
    g_re = [jnp.asarray([0.5, -2.0, 1.5]), jnp.asarray([1.0, 0.25, -3.0])]
    for tx in (
        gradtx.adabelief(0.1),
        gradtx.yogi(0.1),
        gradtx.novograd(0.1),
        gradtx.adan(0.1, weight_decay=0.1),
    ):
        p = jnp.ones(3)
        s_re, s_c = tx.init(p), tx.init(p.astype(jnp.complex128))
        for g in g_re:
            u_re, s_re = tx.update(g, s_re, p)
            u_c, s_c = tx.update(g.astype(jnp.complex128), s_c, p.astype(jnp.complex128))
            assert u_c.dtype == jnp.complex128
            np.testing.assert_allclose(np.asarray(u_c), np.asarray(u_re), rtol=1e-12)
        reals = [x for x in jax.tree.leaves(s_c) if jnp.issubdtype(x.dtype, jnp.floating)]
        assert reals, "the second moment of a complex leaf is real"


# --------------------------------------------------------------------------------------
# (2) Against optax in float64, over the shared sequence of 10 varying gradients

optax = pytest.importorskip("optax")
RTOL_OPTAX = 1e-10
MASK = {"w": True, "b": False, "s": True}


def sched(count):
    return 0.1 / (1.0 + 0.25 * count)


E = EXACT
OPTAX_CASES = [
    ("adabelief", lambda m: m.adabelief(0.1)),
    ("adabelief-args", lambda m: m.adabelief(0.05, b1=0.8, b2=0.99, eps=1e-8, eps_root=1e-12)),
    ("adabelief-nesterov", lambda m: m.adabelief(0.1, nesterov=True)),
    ("adabelief-schedule", lambda m: m.adabelief(sched)),
    ("adabelief-exact", lambda m: m.adabelief(E["lr"], E["b1"], E["b2"], E["eps"], 2.0**-40)),
    ("yogi", lambda m: m.yogi(0.1)),
    ("yogi-args", lambda m: m.yogi(0.05, b1=0.8, b2=0.99, eps=1e-4)),
    ("yogi-schedule", lambda m: m.yogi(sched)),
    ("yogi-exact", lambda m: m.yogi(E["lr"], E["b1"], E["b2"], E["eps"])),
    (
        "scale_by_yogi",
        lambda m: m.scale_by_yogi(eps_root=1e-3, initial_accumulator_value=0.5),
    ),
    ("novograd", lambda m: m.novograd(0.1)),
    ("novograd-args", lambda m: m.novograd(0.05, b1=0.8, b2=0.5, eps=1e-3, eps_root=1e-4)),
    ("novograd-wd", lambda m: m.novograd(0.1, weight_decay=0.1)),
    ("novograd-schedule", lambda m: m.novograd(sched, weight_decay=1e-2)),
    (
        "novograd-exact",
        lambda m: m.novograd(E["lr"], E["b1"], 0.25, E["eps"], weight_decay=E["wd"]),
    ),
    # optax weights Adan's difference term by 1 - b2 (see test_adan_differs_from_optax);
    # at b2 = 0.5 that equals the paper's b2, and the formulas agree.
    ("adan-b2-half", lambda m: m.adan(0.1, b2=0.5)),
    ("adan-b2-half-args", lambda m: m.adan(0.05, b1=0.9, b2=0.5, b3=0.95, eps=1e-6, eps_root=0)),
    ("adan-b2-half-wd-mask", lambda m: m.adan(0.1, b2=0.5, weight_decay=0.1, mask=MASK)),
    ("adan-b2-half-schedule-wd", lambda m: m.adan(sched, b2=0.5, weight_decay=0.05)),
    ("adan-b2-half-exact", lambda m: m.adan(E["lr"], E["b1"], 0.5, E["b2"], E["eps"], E["eps"])),
]


@pytest.mark.parametrize("name, build", OPTAX_CASES, ids=[c[0] for c in OPTAX_CASES])
def test_matches_optax(name, build):
    with x64():
        params, grads = standard_data()
        got = run_like(build(gradtx), params, grads, what=f"gradtx {name}")
        want = run_like(build(optax), params, grads, what=f"optax {name}")
        assert_trajectories_close(got, want, RTOL_OPTAX)


def test_adan_differs_from_optax():
    """optax 0.2.8's ``scale_by_adan`` weights the gradient difference by ``1 - b2`` where
    the paper has ``b2`` (optax pull request #1715): the first steps agree (the difference
    is 0), the later ones do not; gradtx follows the paper (the NumPy reference above)."""
    with x64():
        params, grads = standard_data()
        got = step_sequence(run_like(gradtx.adan(0.1), params, grads))
        want = step_sequence(run_like(optax.adan(0.1), params, grads))
    assert sequence_error(got[:1], want[:1]) < RTOL_OPTAX
    assert sequence_error(got[1:], want[1:]) > 1e-2


# --------------------------------------------------------------------------------------
# (3) Invalid hyperparameters


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.adabelief(-1e-3),
            r"`adabelief\(learning_rate=\.\.\.\)` must lie in \[0, inf\); "
            r"got learning_rate=-0\.001",
        ),
        (
            lambda: gradtx.adabelief(1e-3, b1=1.5),
            r"`adabelief\(b1=\.\.\.\)` must lie in \[0, 1\]; got b1=1\.5",
        ),
        (lambda: gradtx.adabelief(1e-3, b2=-0.1), r"got b2=-0\.1"),
        (lambda: gradtx.adabelief(1e-3, eps=-1.0), r"belief\(eps=\.\.\.\)` .*got eps=-1\.0"),
        (lambda: gradtx.adabelief(1e-3, eps_root=-1.0), r"got eps_root=-1\.0"),
        (lambda: gradtx.yogi(-1.0), r"`yogi\(learning_rate=.*got learning_rate=-1\.0"),
        (lambda: gradtx.yogi(1e-3, b2=2.0), r"`yogi\(b2=\.\.\.\)` .*got b2=2\.0"),
        (lambda: gradtx.yogi(1e-3, eps=-1e-3), r"got eps=-0\.001"),
        (
            lambda: gradtx.scale_by_yogi(initial_accumulator_value=-1.0),
            r"`scale_by_yogi\(initial_accumulator_value=\.\.\.\)` must lie in \[0, inf\)",
        ),
        (lambda: gradtx.novograd(-1.0), r"`novograd\(learning_rate=.*got learning_rate=-1\.0"),
        (
            lambda: gradtx.novograd(1e-3, weight_decay=-0.1),
            r"`novograd\(weight_decay=\.\.\.\)` must lie in \[0, inf\); got weight_decay=-0\.1",
        ),
        (lambda: gradtx.novograd(1e-3, b1=-1.0), r"`novograd\(b1=.*got b1=-1\.0"),
        (lambda: gradtx.scale_by_novograd(eps_root=-1.0), r"got eps_root=-1\.0"),
        (lambda: gradtx.adan(-1.0), r"`adan\(learning_rate=.*got learning_rate=-1\.0"),
        (lambda: gradtx.adan(1e-3, b3=1.5), r"`adan\(b3=\.\.\.\)` .*got b3=1\.5"),
        (lambda: gradtx.adan(1e-3, eps=-1.0), r"got eps=-1\.0"),
        (
            lambda: gradtx.adan(1e-3, weight_decay=-1.0),
            r"`adan\(weight_decay=\.\.\.\)` .*got weight_decay=-1\.0",
        ),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------------------
# (4) Hyperparameters in the state


@pytest.mark.parametrize(
    ("tx", "want"),
    [
        (
            gradtx.adabelief(0.1),
            {"learning_rate": 0.1, "b1": 0.9, "b2": 0.999, "eps": 1e-16, "eps_root": 1e-16},
        ),
        (gradtx.yogi(0.1, b2=0.99), {"learning_rate": 0.1, "b1": 0.9, "b2": 0.99, "eps": 1e-3}),
        (
            gradtx.novograd(0.1),
            {"learning_rate": 0.1, "b1": 0.9, "b2": 0.25, "eps": 1e-6, "eps_root": 0.0},
        ),
        (
            gradtx.novograd(0.1, weight_decay=0.01),
            {
                "learning_rate": 0.1,
                "b1": 0.9,
                "b2": 0.25,
                "eps": 1e-6,
                "eps_root": 0.0,
                "weight_decay": 0.01,
            },
        ),
        (
            gradtx.adan(0.1, weight_decay=0.01),
            {
                "learning_rate": 0.1,
                "b1": 0.98,
                "b2": 0.92,
                "b3": 0.99,
                "eps": 1e-8,
                "eps_root": 1e-8,
                "weight_decay": 0.01,
            },
        ),
    ],
    ids=["adabelief", "yogi", "novograd", "novograd-wd", "adan-wd"],
)
def test_hyperparams_in_state(tx, want):
    hps = gradtx.hyperparams(tx.init({"w": jnp.zeros(2)}))
    assert sorted(hps) == sorted(want)
    for k, v in want.items():
        assert hps[k].dtype == jnp.float32 and float(hps[k]) == float(np.float32(v)), k


def test_set_hyperparams_changes_adan_weight_decay():
    tx = gradtx.adan(0.1, weight_decay=0.1)
    p = jnp.ones(2)
    state = gradtx.set_hyperparams(tx.init(p), weight_decay=0.0)
    u, _ = tx.update(jnp.array([0.5, -2.0]), state, p)
    np.testing.assert_allclose(np.asarray(u), [-0.1, 0.1], rtol=1e-6)

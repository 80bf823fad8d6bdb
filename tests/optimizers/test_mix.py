"""ademamix, simplified_ademamix, madgrad and acprop (and primitives) against NumPy and optax.

The NumPy references are written from the papers (AdEMAMix: Pagliardini et al. 2024,
arXiv 2409.03137, Algorithm 1; Simplified-AdEMAMix: Morwani et al. 2025, arXiv
2502.02431; MADGRAD: Defazio & Jelassi 2021, arXiv 2101.11075, Algorithm 1, with the
authors' lr + eps; ACProp: Zhuang et al. 2021, arXiv 2110.05454) and the update rules in
gradtx's docstrings.
"""

from __future__ import annotations

import _reference as ref
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx
from parity._sequences import assert_trajectories_close, standard_data, x64
from parity._sequences import run_optax_like as run_like

import gradtx

STEPS = 8
RTOL = {"float32": 1e-5, "float64": 1e-9}


def _at(v, count):
    return v(count) if callable(v) else v


class Ademamix(ref.Transform):
    def __init__(self, b1=0.9, b2=0.999, b3=0.9999, alpha=6.0, eps=1e-8, eps_root=0.0):
        self.b1, self.b2, self.b3, self.alpha, self.eps, self.eps_root = (
            b1,
            b2,
            b3,
            alpha,
            eps,
            eps_root,
        )

    def _init(self, params):
        self.m1 = [np.zeros_like(p) for p in params]
        self.m2 = [np.zeros_like(p) for p in params]
        self.nu = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        t, b1, b2 = self.t, self.b1, self.b2
        b3, a = _at(self.b3, t - 1), _at(self.alpha, t - 1)
        out = []
        for i, g in enumerate(grads):
            self.m1[i] = b1 * self.m1[i] + (1 - b1) * g
            self.m2[i] = b3 * self.m2[i] + (1 - b3) * g
            self.nu[i] = b2 * self.nu[i] + (1 - b2) * g * g
            num = self.m1[i] / (1 - b1**t) + a * self.m2[i]
            out.append(num / (np.sqrt(self.nu[i] / (1 - b2**t) + self.eps_root) + self.eps))
        return out


class Simplified(ref.Transform):
    def __init__(self, b1=0.99, b2=0.95, alpha=0.0, eps=1e-8, eps_root=0.0):
        self.b1, self.b2, self.alpha, self.eps, self.eps_root = b1, b2, alpha, eps, eps_root

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.nu = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        t, a = self.t, _at(self.alpha, self.t - 1)
        out = []
        for i, g in enumerate(grads):
            self.m[i] = self.b1 * self.m[i] + g
            self.nu[i] = self.b2 * self.nu[i] + (1 - self.b2) * g * g
            den = np.sqrt(self.nu[i] / (1 - self.b2**t) + self.eps_root) + self.eps
            out.append((self.m[i] + a * g) / den)
        return out


class Madgrad(ref.Transform):
    def __init__(self, learning_rate, momentum=0.9, eps=1e-6, weight_decay=0.0):
        self.lr, self.mom, self.eps, self.wd = learning_rate, momentum, eps, weight_decay

    def _init(self, params):
        self.x0 = [p.copy() for p in params]
        self.s = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        k = self.t - 1
        lam = (_at(self.lr, k) + self.eps) * np.sqrt(k + 1)
        out = []
        for i, (g, x) in enumerate(zip(grads, params, strict=True)):
            g = g + self.wd * x
            self.s[i] = self.s[i] + lam * g
            self.v[i] = self.v[i] + lam * g * g
            z = self.x0[i] - self.s[i] / (np.cbrt(self.v[i]) + self.eps)
            out.append((1 - self.mom) * (z - x))
        return out


class Acprop(ref.Transform):
    def __init__(self, b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16):
        self.b1, self.b2, self.eps, self.eps_root = b1, b2, eps, eps_root

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.s = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        t, b1, b2 = self.t, self.b1, self.b2
        out = []
        for i, g in enumerate(grads):
            s_hat = 1.0 if t == 1 else self.s[i] / (1 - b2 ** (t - 1))
            out.append(g / (np.sqrt(s_hat) + self.eps))
            self.s[i] = b2 * self.s[i] + (1 - b2) * (g - self.m[i]) ** 2 + self.eps_root
            self.m[i] = b1 * self.m[i] + (1 - b1) * g
        return out


def ademamix(
    learning_rate, b1=0.9, b2=0.999, b3=0.9999, alpha=5.0, eps=1e-8, eps_root=0.0, weight_decay=0.0
):
    return ref.Chain(
        Ademamix(b1, b2, b3, alpha, eps, eps_root),
        ref.AddDecayedWeights(weight_decay),
        ref.ScaleByLearningRate(learning_rate),
    )


def simplified_ademamix(
    learning_rate, b1=0.99, b2=0.95, alpha=0.0, eps=1e-8, eps_root=0.0, weight_decay=0.0
):
    return ref.Chain(
        Simplified(b1, b2, alpha, eps, eps_root),
        ref.AddDecayedWeights(weight_decay),
        ref.ScaleByLearningRate(learning_rate),
    )


def madgrad(learning_rate, momentum=0.9, weight_decay=0.0, eps=1e-6):
    return Madgrad(learning_rate, momentum, eps, weight_decay)


def acprop(learning_rate, b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16, weight_decay=0.0):
    return ref.Chain(
        Acprop(b1, b2, eps, eps_root),
        ref.AddDecayedWeights(weight_decay),
        ref.ScaleByLearningRate(learning_rate),
    )


def _schedule(count):
    return 0.1 * 0.9**count


def _alpha(count):
    return 1.0 + 0.5 * count


CASES = [
    pytest.param(gradtx.ademamix, ademamix, {"learning_rate": 0.1}, id="ademamix"),
    pytest.param(
        gradtx.ademamix,
        ademamix,
        {
            "learning_rate": _schedule,
            "b3": 0.99,
            "alpha": _alpha,
            "eps_root": 1e-3,
            "weight_decay": 0.1,
        },
        id="ademamix-args",
    ),
    pytest.param(
        gradtx.simplified_ademamix, simplified_ademamix, {"learning_rate": 0.01}, id="simplified"
    ),
    pytest.param(
        gradtx.simplified_ademamix,
        simplified_ademamix,
        {"learning_rate": _schedule, "b1": 0.9, "alpha": _alpha, "weight_decay": 0.1},
        id="simplified-args",
    ),
    pytest.param(gradtx.madgrad, madgrad, {"learning_rate": 0.1}, id="madgrad"),
    pytest.param(
        gradtx.madgrad,
        madgrad,
        {"learning_rate": _schedule, "momentum": 0.5, "weight_decay": 0.1, "eps": 1e-3},
        id="madgrad-args",
    ),
    pytest.param(gradtx.acprop, acprop, {"learning_rate": 0.1}, id="acprop"),
    pytest.param(
        gradtx.acprop,
        acprop,
        {
            "learning_rate": _schedule,
            "b1": 0.5,
            "b2": 0.9,
            "eps": 1e-3,
            "eps_root": 1e-3,
            "weight_decay": 0.1,
        },
        id="acprop-args",
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
    pytest.param(gradtx.scale_by_ademamix, Ademamix, {"b3": 0.9, "eps_root": 1e-3}, id="ademamix"),
    pytest.param(gradtx.scale_by_simplified_ademamix, Simplified, {"alpha": 2.0}, id="simplified"),
    pytest.param(gradtx.scale_by_madgrad, Madgrad, {"learning_rate": 0.1}, id="madgrad"),
    pytest.param(gradtx.scale_by_acprop, Acprop, {"eps": 1e-3}, id="acprop"),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs"), PRIMITIVES)
def test_primitive_matches_reference(factory, reference, kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    want = ref.run(reference(**kwargs), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


# --------------------------------------------------------------------------------------
# Against optax.contrib in float64

optax = pytest.importorskip("optax")
RTOL_OPTAX = 1e-10
# optax computes MADGRAD's step weight (lr + eps) sqrt(k + 1) in float32 even under x64
# (observed as a black box: its steps match a float32 weight to 3e-16); gradtx computes it
# at full precision, so the two differ at that rounding (measured 2.1e-8 relative on the
# CPU; a GPU's float32 sqrt may round optax's weight an ulp further, so 1e-6).
RTOL_OPTAX_MADGRAD = 1e-6
MASK = {"w": True, "b": False, "s": True}


def sched(count):
    return 0.1 / (1.0 + 0.25 * count)


OPTAX_CASES = [
    ("ademamix", lambda m: m.ademamix(0.1), RTOL_OPTAX),
    (
        "ademamix-args",
        lambda m: m.ademamix(sched, b1=0.8, b2=0.99, b3=0.95, alpha=2.0, eps=1e-6, eps_root=1e-8),
        RTOL_OPTAX,
    ),
    (
        "ademamix-sched-wd-mask",
        lambda m: m.ademamix(
            0.1, b3=lambda c: 0.9 + 0.005 * c, alpha=lambda c: 0.5 * c, weight_decay=0.1, mask=MASK
        ),
        RTOL_OPTAX,
    ),
    ("scale_by_ademamix", lambda m: m.scale_by_ademamix(b3=0.99), RTOL_OPTAX),
    ("simplified", lambda m: m.simplified_ademamix(0.01), RTOL_OPTAX),
    (
        "simplified-args",
        lambda m: m.simplified_ademamix(
            sched, b1=0.9, b2=0.99, alpha=lambda c: 1.0 + c, weight_decay=0.1, mask=MASK
        ),
        RTOL_OPTAX,
    ),
    (
        "scale_by_simplified",
        lambda m: m.scale_by_simplified_ademamix(alpha=3.0, eps_root=1e-6),
        RTOL_OPTAX,
    ),
    ("madgrad", lambda m: m.madgrad(0.1), RTOL_OPTAX_MADGRAD),
    (
        "madgrad-args",
        lambda m: m.madgrad(sched, momentum=0.5, weight_decay=0.1, eps=1e-3),
        RTOL_OPTAX_MADGRAD,
    ),
    ("scale_by_madgrad", lambda m: m.scale_by_madgrad(0.1, momentum=0.0), RTOL_OPTAX_MADGRAD),
    ("acprop", lambda m: m.acprop(0.1), RTOL_OPTAX),
    (
        "acprop-args",
        lambda m: m.acprop(
            sched, b1=0.5, b2=0.9, eps=0.3, eps_root=0.2, weight_decay=0.1, mask=MASK
        ),
        RTOL_OPTAX,
    ),
    ("scale_by_acprop", lambda m: m.scale_by_acprop(eps=1e-3), RTOL_OPTAX),
]


@pytest.mark.parametrize("name, build, rtol", OPTAX_CASES, ids=[c[0] for c in OPTAX_CASES])
def test_matches_optax(name, build, rtol):
    with x64():
        params, grads = standard_data()
        got = run_like(build(gradtx), params, grads, what=f"gradtx {name}")
        want = run_like(build(optax.contrib), params, grads, what=f"optax {name}")
        assert_trajectories_close(got, want, rtol)


# --------------------------------------------------------------------------------------
# Invalid hyperparameters and visible hyperparameters


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.ademamix(-1.0),
            r"`ademamix\(learning_rate=\.\.\.\)` .*got learning_rate=-1\.0",
        ),
        (
            lambda: gradtx.ademamix(0.1, b3=1.5),
            r"`ademamix\(b3=\.\.\.\)` must lie in \[0, 1\]; got b3=1\.5",
        ),
        (lambda: gradtx.ademamix(0.1, alpha=-1.0), r"`ademamix\(alpha=.*got alpha=-1\.0"),
        (
            lambda: gradtx.ademamix(0.1, weight_decay=-1.0),
            r"`ademamix\(weight_decay=.*got weight_decay=-1\.0",
        ),
        (
            lambda: gradtx.simplified_ademamix(0.1, b1=2.0),
            r"`simplified_ademamix\(b1=.*got b1=2\.0",
        ),
        (lambda: gradtx.simplified_ademamix(0.1, eps=-1.0), r"got eps=-1\.0"),
        (
            lambda: gradtx.madgrad(0.1, momentum=1.5),
            r"`madgrad\(momentum=.*got momentum=1\.5",
        ),
        (lambda: gradtx.madgrad(-0.1), r"`madgrad\(learning_rate=.*got learning_rate=-0\.1"),
        (lambda: gradtx.madgrad(0.1, eps=-1.0), r"`madgrad\(eps=.*got eps=-1\.0"),
        (lambda: gradtx.acprop(0.1, b2=-0.5), r"`acprop\(b2=.*got b2=-0\.5"),
        (lambda: gradtx.acprop(0.1, eps_root=-1.0), r"got eps_root=-1\.0"),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_madgrad_needs_params():
    tx = gradtx.scale_by_madgrad(0.1)
    g = np.ones(2, np.float32)
    with pytest.raises(ValueError, match=r"`scale_by_madgrad` needs the parameters"):
        tx.update(g, tx.init(g))


@pytest.mark.parametrize(
    ("tx", "names"),
    [
        (
            gradtx.ademamix(0.1, weight_decay=0.1),
            ["alpha", "b1", "b2", "b3", "eps", "eps_root", "learning_rate", "weight_decay"],
        ),
        (
            gradtx.simplified_ademamix(0.1),
            ["alpha", "b1", "b2", "eps", "eps_root", "learning_rate"],
        ),
        (
            gradtx.madgrad(0.1, weight_decay=0.1),
            ["eps", "learning_rate", "momentum", "weight_decay"],
        ),
        (gradtx.acprop(0.1), ["b1", "b2", "eps", "eps_root", "learning_rate"]),
    ],
)
def test_hyperparams_visible(tx, names):
    hps = gradtx.hyperparams(tx.init({"w": np.zeros(2, np.float32)}))
    assert sorted(hps) == names
    assert float(hps["learning_rate"]) == pytest.approx(0.1)

"""prodigy, dadapt_adamw, dog, dowg and cocob against NumPy and against optax.contrib."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx
from _reference import f32

import gradtx

STEPS = 8
# The step sizes are tree-wide reductions (norms, dot products) fed back into every
# coordinate, so float32 rounding compounds a little faster than in Adam.
RTOL = {"float32": 1e-4, "float64": 1e-9}

Leaves = list[np.ndarray]
Step = Callable[[dict, Leaves, Leaves], Leaves]


# --------------------------------------------------------------------------------------
# NumPy references, written from the papers (the authors' code for the Adam forms).


def _sq(xs: Leaves) -> float:
    return float(sum(np.sum(x * x) for x in xs))


def _dot(a: Leaves, b: Leaves) -> float:
    return float(sum(np.sum(x * y) for x, y in zip(a, b, strict=True)))


def ref_cocob(learning_rate=1.0, alpha=100.0, eps=1e-8, weight_decay=0.0) -> Step:
    """Orabona & Tommasi 2017, Algorithm 2, on g + weight_decay * x, times the rate."""

    def step(st, g, p):
        if not st:
            st.update(
                w1=[x.copy() for x in p],
                theta=[0 * x for x in p],
                lip=[np.full_like(x, eps) for x in p],
                big_g=[0 * x for x in p],
                reward=[0 * x for x in p],
            )
        out = []
        for i, (gi, pi) in enumerate(zip(g, p, strict=True)):
            neg = -(gi + weight_decay * pi)
            lip = np.maximum(st["lip"][i], np.abs(neg))
            big_g = st["big_g"][i] + np.abs(neg)
            reward = np.maximum(st["reward"][i] + (pi - st["w1"][i]) * neg, 0.0)
            theta = st["theta"][i] + neg
            w = st["w1"][i] + theta / (lip * np.maximum(big_g + lip, alpha * lip)) * (lip + reward)
            st["lip"][i], st["big_g"][i], st["reward"][i], st["theta"][i] = (
                lip,
                big_g,
                reward,
                theta,
            )
            out.append(learning_rate * (w - pi))
        return out

    return step


def ref_dog(learning_rate=1.0, init_step=("heuristic", 1e-6), eps=1e-8, weight_decay=0.0) -> Step:
    """Ivgi et al. 2023, eq. 1: eta_t = max_i ||x_i - x_0|| / sqrt(sum_i ||g_i||^2)."""
    kind, value = init_step

    def step(st, g, p):
        if not st:
            r = {"heuristic": value * (1 + np.sqrt(_sq(p))), "distance": value}.get(kind, 0.0)
            st.update(x0=[x.copy() for x in p], r=r, sum_sq=0.0, first=True)
        g = [gi + weight_decay * pi for gi, pi in zip(g, p, strict=True)]
        st["r"] = max(st["r"], np.sqrt(_sq([a - b for a, b in zip(p, st["x0"], strict=True)])))
        st["sum_sq"] += _sq(g)
        eta = st["r"] / np.sqrt(st["sum_sq"] + eps)
        if kind == "learning_rate" and st["first"]:
            eta = value
        st["first"] = False
        return [-learning_rate * eta * gi for gi in g]

    return step


def ref_dowg(learning_rate=1.0, init_estim_sq_dist=None, eps=1e-4, weight_decay=0.0) -> Step:
    """Khaled et al. 2023, Algorithm 1: eta_t = r_t^2 / sqrt(sum_i r_i^2 ||g_i||^2)."""

    def step(st, g, p):
        if not st:
            r2 = eps if init_estim_sq_dist is None else init_estim_sq_dist
            st.update(x0=[x.copy() for x in p], r2=r2, v=0.0)
        g = [gi + weight_decay * pi for gi, pi in zip(g, p, strict=True)]
        st["r2"] = max(st["r2"], _sq([a - b for a, b in zip(p, st["x0"], strict=True)]))
        st["v"] += st["r2"] * _sq(g)
        eta = st["r2"] / (np.sqrt(st["v"]) + eps)
        return [-learning_rate * eta * gi for gi in g]

    return step


def _bias_correction(b1: float, b2: float, k: int) -> float:
    return np.sqrt(1 - b2**k) / (1 - b1**k)


def ref_prodigy(
    learning_rate=1.0,
    b1=0.9,
    b2=0.999,
    beta3=None,
    eps=1e-8,
    estim_lr0=1e-6,
    estim_lr_coef=1.0,
    weight_decay=0.0,
    safeguard_warmup=False,
) -> Step:
    """Mishchenko & Defazio 2023, Prodigy with Adam, as in the authors' code."""
    b3 = np.sqrt(b2) if beta3 is None else beta3

    def step(st, g, p):
        if not st:
            st.update(
                m=[0 * x for x in p],
                v=[0 * x for x in p],
                s=[0 * x for x in p],
                x0=[x.copy() for x in p],
                d=estim_lr0,
                r=0.0,
                k=0,
            )
        st["k"] += 1
        d = st["d"]
        dlr = d * learning_rate * _bias_correction(b1, b2, st["k"])
        ratio = d / estim_lr0
        shift = [a - b for a, b in zip(st["x0"], p, strict=True)]
        st["r"] = b3 * st["r"] + ratio * dlr * _dot(g, shift)
        st["m"] = [b1 * m + (1 - b1) * d * gi for m, gi in zip(st["m"], g, strict=True)]
        st["v"] = [b2 * v + (1 - b2) * d * d * gi * gi for v, gi in zip(st["v"], g, strict=True)]
        w = ratio * (d if safeguard_warmup else dlr)
        st["s"] = [b3 * s + w * gi for s, gi in zip(st["s"], g, strict=True)]
        st["d"] = max(d, estim_lr_coef * st["r"] / sum(np.sum(np.abs(s)) for s in st["s"]))
        return [
            -dlr * (m / (np.sqrt(v) + st["d"] * eps) + weight_decay * x)
            for m, v, x in zip(st["m"], st["v"], p, strict=True)
        ]

    return step


def ref_dadapt_adamw(
    learning_rate=1.0, b1=0.9, b2=0.999, eps=1e-8, estim_lr0=1e-6, weight_decay=0.0
) -> Step:
    """Defazio & Mishchenko 2023, D-Adapt Adam, as in the authors' code."""
    sb2 = np.sqrt(b2)

    def step(st, g, p):
        if not st:
            st.update(m=[0 * x for x in p], v=[0 * x for x in p], s=[0 * x for x in p], d=estim_lr0)
            st.update(r=0.0, k=0)
        st["k"] += 1
        d = st["d"]
        dlr = d * learning_rate * _bias_correction(b1, b2, st["k"])
        scaled = [s / (np.sqrt(v) + eps) for s, v in zip(st["s"], st["v"], strict=True)]
        st["r"] = sb2 * st["r"] + (1 - sb2) * dlr * _dot(g, scaled)
        st["m"] = [b1 * m + (1 - b1) * dlr * gi for m, gi in zip(st["m"], g, strict=True)]
        st["v"] = [b2 * v + (1 - b2) * gi * gi for v, gi in zip(st["v"], g, strict=True)]
        st["s"] = [sb2 * s + (1 - sb2) * dlr * gi for s, gi in zip(st["s"], g, strict=True)]
        l1 = sum(np.sum(np.abs(s)) for s in st["s"])
        st["d"] = max(d, st["r"] / ((1 - sb2) * l1))
        return [
            -m / (np.sqrt(v) + eps) - weight_decay * dlr * x
            for m, v, x in zip(st["m"], st["v"], p, strict=True)
        ]

    return step


def ref_mechanize(learning_rate=0.1, weight_decay=0.01, eps=1e-8, s_init=1e-6, num_betas=6) -> Step:
    """Cutkosky et al. 2023, Algorithm 1 around SGD(learning_rate), with the reward
    clipped by the running maximum and the eps safeguards (see gradtx.mechanize)."""
    n = num_betas
    betas = 1 - 10.0 ** -np.arange(1, n + 1)

    def step(st, g, p):
        if not st:
            st.update(x0=[x.copy() for x in p], m=np.zeros(n), v=np.zeros(n), r=np.zeros(n))
            st["s"] = np.full(n, s_init)
        total = np.sum(st["s"])
        delta = [(x - x0) / (total + eps) for x, x0 in zip(p, st["x0"], strict=True)]
        decay = weight_decay * total * np.sqrt(_sq(g)) / (np.sqrt(_sq(p)) + eps)
        h = _dot(delta, [gi + decay * x for gi, x in zip(g, p, strict=True)])
        st["r"] = betas * st["r"] - st["s"] * np.clip(h, -st["m"], st["m"])
        st["m"] = np.maximum(betas * st["m"], abs(h) + eps)
        st["v"] = betas**2 * st["v"] + h * h
        wealth = s_init / n * st["m"] + np.maximum(st["r"], 0.0)
        st["s"] = wealth / (np.sqrt(st["v"]) + eps)
        total = np.sum(st["s"])
        return [
            x0 + total * (d - learning_rate * gi) - x
            for x0, d, gi, x in zip(st["x0"], delta, g, p, strict=True)
        ]

    return step


def _mechanize_sgd(learning_rate=0.1, **kwargs):
    return gradtx.mechanize(gradtx.sgd(learning_rate), **kwargs)


def run_reference(
    step: Step, params: Leaves, grads: list[Leaves], dtype: Any = np.float64
) -> list[Leaves]:
    """Run ``step``; the params are rounded to ``dtype`` after each update, as gradtx's
    are (DoG and friends measure ``x_t - x_0``, which float32 params round)."""
    st: dict = {}
    params = [np.asarray(x, np.float64) for x in params]
    out = []
    for g in grads:
        u = step(st, g, params)
        params = [np.float64(dtype(x + y)) for x, y in zip(params, u, strict=True)]
        out.append(u)
    return out


def _stored(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The hyperparameters as gradtx stores them (float32 unless x64), betas split."""
    out: dict[str, Any] = {}
    for k, v in kwargs.items():
        if k == "betas":
            out["b1"], out["b2"] = f32(v[0]), f32(v[1])
        elif k == "init_step":
            out[k] = (v[0], f32(v[1]))
        elif isinstance(v, float):
            out[k] = f32(v)
        else:
            out[k] = v
    return out


# float64 defaults that are not exact in float32 must be rounded for the reference too.
DEFAULTS = {
    "prodigy": {"betas": (0.9, 0.999), "eps": 1e-8, "estim_lr0": 1e-6},
    "dadapt_adamw": {"betas": (0.9, 0.999), "eps": 1e-8, "estim_lr0": 1e-6},
    "dog": {"init_step": ("heuristic", 1e-6), "eps": 1e-8},
    "dowg": {"eps": 1e-4},
    "cocob": {"eps": 1e-8},
    "_mechanize_sgd": {"learning_rate": 0.1, "weight_decay": 0.01, "eps": 1e-8, "s_init": 1e-6},
}

CASES = [
    pytest.param(gradtx.prodigy, ref_prodigy, {}, id="prodigy"),
    pytest.param(
        gradtx.prodigy,
        ref_prodigy,
        {"learning_rate": 0.5, "betas": (0.8, 0.99), "estim_lr0": 1e-3, "estim_lr_coef": 0.7},
        id="prodigy-args",
    ),
    pytest.param(
        gradtx.prodigy,
        ref_prodigy,
        {"estim_lr0": 1e-2, "beta3": 0.9, "weight_decay": 0.1, "safeguard_warmup": True},
        id="prodigy-wd-safeguard",
    ),
    pytest.param(gradtx.dadapt_adamw, ref_dadapt_adamw, {}, id="dadapt_adamw"),
    pytest.param(
        gradtx.dadapt_adamw,
        ref_dadapt_adamw,
        {"learning_rate": 0.5, "betas": (0.8, 0.99), "estim_lr0": 1e-2, "weight_decay": 0.1},
        id="dadapt_adamw-args",
    ),
    pytest.param(gradtx.dog, ref_dog, {}, id="dog"),
    pytest.param(
        gradtx.dog,
        ref_dog,
        {"learning_rate": 0.5, "init_step": ("distance", 1e-2), "weight_decay": 0.1},
        id="dog-distance-wd",
    ),
    pytest.param(gradtx.dog, ref_dog, {"init_step": ("learning_rate", 0.1)}, id="dog-lr"),
    pytest.param(gradtx.dowg, ref_dowg, {}, id="dowg"),
    pytest.param(
        gradtx.dowg,
        ref_dowg,
        {"learning_rate": 0.5, "init_estim_sq_dist": 1e-2, "weight_decay": 0.1},
        id="dowg-args",
    ),
    pytest.param(gradtx.cocob, ref_cocob, {}, id="cocob"),
    pytest.param(
        gradtx.cocob,
        ref_cocob,
        {"learning_rate": 0.5, "alpha": 10.0, "weight_decay": 0.1},
        id="cocob-args",
    ),
    pytest.param(_mechanize_sgd, ref_mechanize, {}, id="mechanize"),
    pytest.param(
        _mechanize_sgd,
        ref_mechanize,
        {"learning_rate": 0.5, "weight_decay": 0.1, "eps": 1e-3, "s_init": 1e-2, "num_betas": 3},
        id="mechanize-args",
    ),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs"), CASES)
def test_matches_reference(factory, reference, kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    stored = _stored({**DEFAULTS[factory.__name__], **kwargs})
    want = run_reference(
        reference(**stored), leaves(params), [leaves(g) for g in grads], float_dtype.type
    )
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_scale_by_cocob_matches_reference(float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(gradtx.scale_by_cocob(alpha=20.0), params, grads)
    want = run_reference(
        ref_cocob(alpha=20.0, eps=f32(1e-8) if float_dtype == np.float32 else 1e-8),
        leaves(params),
        [leaves(g) for g in grads],
        float_dtype.type,
    )
    # scale_by_cocob's eps is not a stored hyperparameter: it is rounded to the params'
    # dtype where it seeds the scale
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


# --------------------------------------------------------------------------------------
# optax.contrib, same names, float64


def _varying_gradients(n: int = 12, seed: int = 0):
    r = np.random.default_rng(seed)
    params = {"a": r.normal(size=3), "b": [r.normal(size=(2, 2)), r.normal(size=())]}
    scales = r.uniform(0.05, 4.0, size=n)
    grads = [jax.tree.map(lambda x, s=s: s * r.normal(size=np.shape(x)), params) for s in scales]
    return params, grads


def _run(tx, params, grads):
    params = jax.tree.map(jnp.asarray, params)
    state, out = tx.init(params), []
    for g in grads:
        u, state = tx.update(jax.tree.map(jnp.asarray, g), state, params)
        params = jax.tree.map(lambda p, x: p + x, params, u)
        out.append(np.concatenate([np.ravel(x) for x in jax.tree.leaves(u)]))
    return np.stack(out)


PARITY = [
    ("prodigy", {}),
    (
        "prodigy",
        {"learning_rate": 0.5, "betas": (0.8, 0.99), "eps": 1e-6, "estim_lr0": 1e-3},
    ),
    ("prodigy", {"estim_lr0": 1e-2, "estim_lr_coef": 0.7, "beta3": 0.9, "weight_decay": 0.1}),
    ("prodigy", {"estim_lr0": 1e-2, "safeguard_warmup": True}),
    ("dadapt_adamw", {}),
    ("dadapt_adamw", {"learning_rate": 0.5, "betas": (0.8, 0.99), "estim_lr0": 1e-2}),
    ("dadapt_adamw", {"estim_lr0": 1e-2, "weight_decay": 0.1}),
    ("dog", {}),
    ("dog", {"learning_rate": 0.7, "init_step": ("distance", 1e-3), "weight_decay": 0.1}),
    ("dog", {"init_step": ("learning_rate", 1e-2), "eps": 1e-6}),
    ("dowg", {}),
    ("dowg", {"learning_rate": 0.7, "init_estim_sq_dist": 1e-2, "eps": 1e-3}),
    ("dowg", {"weight_decay": 0.1}),
    ("cocob", {}),
    ("cocob", {"alpha": 10.0, "eps": 1e-4, "weight_decay": 0.1}),
    ("scale_by_cocob", {"alpha": 20.0}),
    ("mechanize", {"base_optimizer": "adam"}),
    (
        "mechanize",
        {"base_optimizer": "sgd", "weight_decay": 0.1, "eps": 1e-3, "s_init": 1e-2, "num_betas": 3},
    ),
    ("mechanize", {"base_optimizer": "adam", "weight_decay": 0.5, "s_init": 1.0}),
]


@pytest.mark.parametrize(
    ("name", "kwargs"), PARITY, ids=[f"{n}-{i}" for i, (n, _) in enumerate(PARITY)]
)
def test_matches_optax_contrib(name, kwargs, x64):
    optax = pytest.importorskip("optax")
    params, grads = _varying_gradients()
    ours, theirs = dict(kwargs), dict(kwargs)
    if "base_optimizer" in kwargs:  # the same base optimizer from each library
        ours["base_optimizer"] = getattr(gradtx, kwargs["base_optimizer"])(0.1)
        theirs["base_optimizer"] = getattr(optax, kwargs["base_optimizer"])(0.1)
    got = _run(getattr(gradtx, name)(**ours), params, grads)
    want = _run(getattr(optax.contrib, name)(**theirs), params, grads)
    atol = 1e-10 * np.max(np.abs(want))
    if name == "mechanize":
        # Mechanic's steps are differences of positions, x_ref + S (delta + u) - x; optax's
        # rounding of that sum is ulp(x), far above the 1e-7 steps (measured 1.1e-16
        # absolute against gradtx's, which forms x - x_ref first). Allow 4 ulp of x.
        scale = max(float(np.max(np.abs(x))) for x in jax.tree.leaves(params))
        atol = max(atol, 4 * np.finfo(np.float64).eps * scale)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=atol)
    # the estimates move: the steps are not all the same size
    assert np.ptp(np.max(np.abs(want), axis=1)) > 0


def test_cocob_learning_rate_scales_the_step(x64):
    """optax's cocob leaves its learning_rate unused; gradtx scales the move by it."""
    params, grads = _varying_gradients(n=1)
    one = _run(gradtx.cocob(1.0), params, grads)
    half = _run(gradtx.cocob(0.5), params, grads)
    np.testing.assert_allclose(half, 0.5 * one, rtol=1e-15)


@pytest.mark.parametrize(
    "name", ["prodigy", "dadapt_adamw", "dog", "dowg", "cocob", "mechanize", "scale_by_cocob"]
)
def test_signature_matches_optax(name):
    import inspect

    optax = pytest.importorskip("optax")
    ours = dict(inspect.signature(getattr(gradtx, name)).parameters)
    theirs = inspect.signature(getattr(optax.contrib, name)).parameters
    # gradtx adds keyword-only state dtypes (see the state-precision guide), nothing else
    extra = [k for k in ours if k not in theirs]
    assert all(k.endswith("_dtype") and ours[k].kind is ours[k].KEYWORD_ONLY for k in extra)
    ours = {k: p for k, p in ours.items() if k in theirs}
    assert list(ours) == list(theirs)
    assert [p.default for p in ours.values()] == [p.default for p in theirs.values()]


# --------------------------------------------------------------------------------------
# Errors and hyperparameters


ERRORS = [
    (lambda: gradtx.prodigy(learning_rate=-1.0), r"`prodigy\(learning_rate=...\)`"),
    (lambda: gradtx.prodigy(betas=(1.0, 0.9)), r"`scale_by_prodigy\(betas\[0\]=...\)`"),
    (lambda: gradtx.prodigy(beta3=1.5), r"beta3=1.5"),
    (lambda: gradtx.prodigy(estim_lr0=0.0), r"estim_lr0=0.0"),
    (lambda: gradtx.prodigy(estim_lr_coef=-1.0), r"estim_lr_coef=-1.0"),
    (lambda: gradtx.prodigy(weight_decay=-1.0), r"weight_decay=-1.0"),
    (lambda: gradtx.dadapt_adamw(betas=(0.9, -0.1)), r"betas\[1\]=-0.1"),
    (lambda: gradtx.dadapt_adamw(eps=-1.0), r"eps=-1.0"),
    (lambda: gradtx.dadapt_adamw(weight_decay=-1.0), r"weight_decay=-1.0"),
    (lambda: gradtx.dog(init_step=("far", 1.0)), r"`scale_by_dog\(init_step=...\)`.*'far'"),
    (lambda: gradtx.dog(init_step=1e-6), r"must be a pair"),
    (lambda: gradtx.dog(init_step=("distance", 0.0)), r"init_step\[1\]=0.0"),
    (lambda: gradtx.dog(weight_decay=-1.0), r"`dog\(weight_decay=...\)`"),
    (lambda: gradtx.dowg(init_estim_sq_dist=0.0), r"init_estim_sq_dist=0.0"),
    (lambda: gradtx.dowg(eps=-1.0), r"`dowg\(eps=...\)`"),
    (lambda: gradtx.cocob(alpha=0.0), r"`cocob\(alpha=...\)`"),
    (lambda: gradtx.cocob(eps=0.0), r"eps=0.0"),
    (lambda: gradtx.cocob(learning_rate=-1.0), r"`cocob\(learning_rate=...\)`"),
    (lambda: gradtx.mechanize(gradtx.sgd(0.1), weight_decay=-1.0), r"weight_decay=-1.0"),
    (lambda: gradtx.mechanize(gradtx.sgd(0.1), eps=0.0), r"`mechanize\(eps=...\)`"),
    (lambda: gradtx.mechanize(gradtx.sgd(0.1), s_init=-1.0), r"s_init=-1.0"),
    (lambda: gradtx.mechanize(gradtx.sgd(0.1), num_betas=0), r"num_betas=0"),
    (lambda: gradtx.mechanize(gradtx.sgd(0.1), num_betas=2.0), r"positive integer"),
]


@pytest.mark.parametrize(("make", "match"), ERRORS)
def test_invalid_hyperparameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    "tx",
    [
        gradtx.scale_by_cocob(),
        gradtx.scale_by_dog(),
        gradtx.dowg(),
        gradtx.prodigy(),
        gradtx.mechanize(gradtx.sgd(0.1)),
    ],
)
def test_update_needs_params(tx):
    with pytest.raises(ValueError, match="needs the parameters"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


HYPERPARAMS = [
    (
        gradtx.prodigy(weight_decay=0.1, beta3=0.5),
        {
            "learning_rate": 1.0,
            "b1": 0.9,
            "b2": 0.999,
            "beta3": 0.5,
            "eps": 1e-8,
            "estim_lr_coef": 1.0,
            "weight_decay": 0.1,
        },
    ),
    (
        gradtx.dadapt_adamw(0.5),
        {
            "learning_rate": 0.5,
            "b1": 0.9,
            "b2": 0.999,
            "eps": 1e-8,
            "weight_decay": 0.0,
        },
    ),
    (gradtx.dog(weight_decay=0.1), {"learning_rate": 1.0, "eps": 1e-8, "weight_decay": 0.1}),
    (
        gradtx.dowg(init_estim_sq_dist=0.5),
        {"learning_rate": 1.0, "eps": 1e-4, "init_estim_sq_dist": 0.5},
    ),
    (
        gradtx.cocob(),
        {"learning_rate": 1.0, "alpha": 100.0, "weight_decay": 0.0},
    ),
    (
        gradtx.mechanize(gradtx.sgd(0.1), s_init=1e-3),
        {"learning_rate": 0.1, "weight_decay": 0.01, "eps": 1e-8, "s_init": 1e-3},
    ),
]


@pytest.mark.parametrize(("tx", "want"), HYPERPARAMS)
def test_hyperparams_in_state(tx, want):
    hps = gradtx.hyperparams(tx.init({"w": jnp.zeros(3)}))
    assert sorted(hps) == sorted(want)
    for k, v in want.items():
        assert hps[k].dtype == jnp.float32, k
        assert float(hps[k]) == float(np.float32(v)), k


def test_set_hyperparams_changes_the_estimate():
    """The learning rate enters Prodigy's distance estimate, read from the state."""
    params = {"w": jnp.asarray([1.0, -2.0, 0.5])}
    grads = [{"w": jnp.asarray([0.3, -0.1, 0.2]) * (k + 1)} for k in range(4)]
    tx = gradtx.prodigy(estim_lr0=1e-2)
    state = gradtx.set_hyperparams(tx.init(params), learning_rate=0.25)
    want_tx = gradtx.prodigy(0.25, estim_lr0=1e-2)
    want_state, p = want_tx.init(params), params
    for g in grads:
        u, state = tx.update(g, state, p)
        v, want_state = want_tx.update(g, want_state, p)
        np.testing.assert_array_equal(u["w"], v["w"])
        p = gradtx.apply_updates(p, u)


@pytest.mark.parametrize("name", ["dog", "dowg"])
def test_complex_params_match_their_real_embedding(name, rng):
    """DoG's and DoWG's norms are those of (Re, Im), so a complex leaf behaves as that
    pair. (Prodigy's and D-Adaptation's Adam moments are per complex entry, |g|^2, as
    Adam's: those do not reduce to the real pair.)"""
    z = rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3))
    grads = [rng.normal(size=(2, 3)) + 1j * rng.normal(size=(2, 3)) for _ in range(5)]
    as_real = lambda c: jnp.asarray(np.stack([c.real, c.imag]), jnp.float32)  # noqa: E731
    got = run_gradtx(
        getattr(gradtx, name)(),
        jnp.asarray(z, jnp.complex64),
        [jnp.asarray(g, jnp.complex64) for g in grads],
    )
    want = run_gradtx(getattr(gradtx, name)(), as_real(z), [as_real(g) for g in grads])
    for u, w in zip(got, want, strict=True):
        np.testing.assert_allclose(
            as_real(np.asarray(u)), w, rtol=1e-4, atol=1e-6 * np.abs(w).max()
        )


def test_init_only_values_are_static_not_settable():
    # estim_lr0 and cocob's eps only seed the state at init, so setting them by hand
    # would silently do nothing: they are not recorded, and setting them raises
    for tx, name in [
        (gradtx.prodigy(), "estim_lr0"),
        (gradtx.dadapt_adamw(), "estim_lr0"),
        (gradtx.cocob(), "eps"),
    ]:
        state = tx.init(jnp.zeros(2))
        with pytest.raises(ValueError, match=f"no hyperparameter {name!r}"):
            gradtx.set_hyperparams(state, **{name: 0.5})

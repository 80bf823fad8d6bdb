"""Schedule-free SGD/AdamW and ADOPT: NumPy references, optax parity, errors, hyperparams."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

STEPS = 12


# --------------------------------------------------------------------------------------
# NumPy references, written from the papers' formulas


def _np_schedule_free(y0, grads, lr, b1, power=2.0, wd=0.0, warmup=None, adam=None):
    """Defazio et al. 2024 with y, z and x kept explicitly; returns the y iterates.

    ``adam=(b2, eps)`` divides by the bias-corrected RMS (no first moment).
    """
    y, z, x = y0.copy(), y0.copy(), y0.copy()
    max_lr, weight_sum, v, ys, xs = 0.0, 0.0, np.zeros_like(y0), [], []
    for t, g in enumerate(grads):
        gamma = lr * (min((t + 1) / warmup, 1.0) if warmup else 1.0)
        d = g
        if adam is not None:
            b2, eps = adam
            v = b2 * v + (1 - b2) * g * g
            d = g / (np.sqrt(v / (1 - b2 ** (t + 1))) + eps)
        d = d + wd * y
        max_lr = max(max_lr, gamma)
        weight_sum += max_lr**power
        c = max_lr**power / weight_sum
        z = z - gamma * d
        x = (1 - c) * x + c * z
        y = (1 - b1) * z + b1 * x
        ys.append(y.copy())
        xs.append(x.copy())
    return np.array(ys), np.array(xs)


def _np_adopt(grads, b1, b2, eps, clip=True, nesterov=False):
    """Taniguchi et al. 2024, Algorithm 2 (with clipping at t**0.25)."""
    m, v, out = np.zeros_like(grads[0]), None, []
    for t, g in enumerate(grads):
        if t == 0:
            v = g * g
            out.append(np.zeros_like(g))
            continue
        n = g / np.maximum(np.sqrt(v), eps)
        if clip:
            n = np.clip(n, -(t**0.25), t**0.25)
        m = b1 * m + (1 - b1) * n
        out.append(b1 * m + (1 - b1) * n if nesterov else m.copy())
        v = b2 * v + (1 - b2) * g * g
    return np.array(out)


def _grads(rng, n=4, steps=STEPS):
    return [rng.normal(size=n) * (1.0 + 0.5 * t) for t in range(steps)]


def _run(tx, y0, grads, dtype, tree=True):
    """Run ``tx`` on ``{"a": y, "skip": None}`` (or a bare array); y after each step."""
    wrap = (lambda a: {"a": a, "skip": None}) if tree else (lambda a: a)
    y = wrap(jnp.asarray(y0, dtype))
    state, ys = tx.init(y), []
    for g in grads:
        u, state = tx.update(wrap(jnp.asarray(g, dtype)), state, y)
        y = gradtx.apply_updates(y, u)
        if tree:
            assert u["skip"] is None and y["skip"] is None
        ys.append(np.asarray(y["a"] if tree else y, np.float64))
    return np.array(ys), state, y


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    ("kwargs", "ref_kwargs"),
    [
        ({"b1": 0.8}, {"b1": 0.8}),
        (
            {"b1": 0.7, "warmup_steps": 5, "weight_decay": 0.1, "weight_lr_power": 1.0},
            {"b1": 0.7, "warmup": 5, "wd": 0.1, "power": 1.0},
        ),
    ],
    ids=["plain", "warmup-wd"],
)
def test_schedule_free_sgd_matches_reference(float_dtype, rng, kwargs, ref_kwargs):
    y0, grads = rng.normal(size=4), _grads(rng)
    ys, state, y = _run(gradtx.schedule_free_sgd(0.2, **kwargs), y0, grads, float_dtype)
    want_y, want_x = _np_schedule_free(y0, grads, 0.2, **ref_kwargs)
    np.testing.assert_allclose(ys, want_y, **_tol(float_dtype))
    x = gradtx.schedule_free_eval_params(state, y)
    assert x["skip"] is None and x["a"].dtype == float_dtype
    np.testing.assert_allclose(x["a"], want_x[-1], **_tol(float_dtype))


@pytest.mark.parametrize("warmup", [None, 4])
def test_schedule_free_adamw_matches_reference(float_dtype, rng, warmup):
    y0, grads = rng.normal(size=4), _grads(rng)
    tx = gradtx.schedule_free_adamw(
        0.05, warmup_steps=warmup, b1=0.8, b2=0.9, eps=0.3, weight_decay=0.05
    )
    ys, _, _ = _run(tx, y0, grads, float_dtype)
    want, _ = _np_schedule_free(y0, grads, 0.05, b1=0.8, wd=0.05, warmup=warmup, adam=(0.9, 0.3))
    np.testing.assert_allclose(ys, want, **_tol(float_dtype))


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"use_clipping": False}, {"nesterov": True}],
    ids=["clip", "noclip", "nesterov"],
)
def test_adopt_matches_reference(float_dtype, rng, kwargs):
    # Small gradients after a large first one, so that the t**0.25 clip is active.
    grads = [g * (5.0 if t == 0 else 1.0) for t, g in enumerate(_grads(rng))]
    grads[3] = grads[3] * 40.0
    tx = gradtx.scale_by_adopt(b1=0.8, b2=0.9, eps=0.2, **kwargs)
    params = {"a": jnp.zeros(4, float_dtype), "skip": None}
    state, out = tx.init(params), []
    for g in grads:
        u, state = tx.update({"a": jnp.asarray(g, float_dtype), "skip": None}, state)
        assert u["skip"] is None and u["a"].dtype == float_dtype
        out.append(np.asarray(u["a"], np.float64))
    want = _np_adopt(
        grads,
        0.8,
        0.9,
        0.2,
        clip=kwargs.get("use_clipping", True),
        nesterov=kwargs.get("nesterov", False),
    )
    if kwargs.get("use_clipping", True):
        assert np.any(np.abs(want[4]) < np.abs(_np_adopt(grads, 0.8, 0.9, 0.2, clip=False)[4]))
    np.testing.assert_allclose(np.array(out), want, **_tol(float_dtype))


def test_adopt_first_step_leaves_params(rng):
    tx = gradtx.adopt(0.1)
    p = jnp.asarray(rng.normal(size=3), jnp.float32)
    u, _ = tx.update(jnp.ones(3), tx.init(p), p)
    np.testing.assert_array_equal(u, np.zeros(3))


def test_schedule_free_wrapper_is_the_sgd_alias(rng):
    y0, grads = rng.normal(size=4), _grads(rng)
    wrapped = gradtx.schedule_free(gradtx.sgd(0.2), 0.2, b1=0.6)
    a, _, _ = _run(wrapped, y0, grads, np.float32)
    b, _, _ = _run(gradtx.schedule_free_sgd(0.2, b1=0.6), y0, grads, np.float32)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_state_dtype_and_b1_one(rng):
    tx = gradtx.schedule_free_sgd(0.1, b1=1.0, state_dtype=jnp.bfloat16)
    y = jnp.asarray(rng.normal(size=3), jnp.float32)
    state = tx.init(y)
    u, state = tx.update(jnp.ones(3), state, y)
    assert u.dtype == jnp.float32
    sf = gradtx.tree.get(state, "z")
    assert sf.dtype == jnp.bfloat16
    # b1 = 1 is primal averaging: the gradient point is the average, x = y.
    y = y + u
    np.testing.assert_array_equal(gradtx.schedule_free_eval_params(state, y), y)


# --------------------------------------------------------------------------------------
# Parity with optax.contrib (float64, >= 10 varying gradients, rtol 1e-10)


def _parity(ours, theirs, y0, grads, eval_params=False):
    optax = pytest.importorskip("optax")
    a, sa, ya = _run(ours, y0, grads, np.float64, tree=False)
    b, sb, yb = _run(theirs, y0, grads, np.float64, tree=False)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if eval_params:
        np.testing.assert_allclose(
            gradtx.schedule_free_eval_params(sa, ya),
            optax.contrib.schedule_free_eval_params(sb, yb),
            rtol=1e-10,
            atol=1e-12,
        )


def test_parity_schedule_free_with_optax(x64, rng):
    optax = pytest.importorskip("optax")
    y0, grads = rng.normal(size=5), _grads(rng, 5)
    oc = optax.contrib
    _parity(
        gradtx.schedule_free_sgd(0.3, b1=0.8, weight_decay=0.1, weight_lr_power=1.5),
        oc.schedule_free_sgd(0.3, b1=0.8, weight_decay=0.1, weight_lr_power=1.5),
        y0,
        grads,
        eval_params=True,
    )
    _parity(
        gradtx.schedule_free_adamw(0.1, b1=0.7, b2=0.9, eps=0.3, weight_decay=0.1),
        oc.schedule_free_adamw(0.1, b1=0.7, b2=0.9, eps=0.3, weight_decay=0.1),
        y0,
        grads,
        eval_params=True,
    )
    _parity(
        gradtx.schedule_free(gradtx.adam(0.1, b1=0.0), 0.1, b1=0.5),
        oc.schedule_free(optax.adam(0.1, b1=0.0), 0.1, b1=0.5),
        y0,
        grads,
        eval_params=True,
    )


@pytest.mark.parametrize(
    "kwargs", [{}, {"use_clipping": False}, {"nesterov": True}], ids=["clip", "noclip", "nest"]
)
def test_parity_adopt_with_optax(x64, rng, kwargs):
    optax = pytest.importorskip("optax")
    y0, grads = rng.normal(size=5), _grads(rng, 5)
    grads[2] = grads[2] * 30.0
    hp = dict(b1=0.8, b2=0.9, eps=0.2, **kwargs)
    _parity(gradtx.adopt(0.1, **hp), optax.contrib.adopt(0.1, **hp), y0, grads)


# --------------------------------------------------------------------------------------
# Errors and hyperparameters


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: gradtx.schedule_free_sgd(-1.0), r"`schedule_free_sgd\(learning_rate=...\)`"),
        (lambda: gradtx.schedule_free_sgd(b1=1.5), r"`schedule_free_sgd\(b1=...\)`"),
        (lambda: gradtx.schedule_free_sgd(warmup_steps=-1), r"warmup_steps=-1"),
        (lambda: gradtx.schedule_free_sgd(warmup_steps=2.5), r"warmup_steps=2.5"),
        (lambda: gradtx.schedule_free_sgd(weight_decay=-1.0), r"\(weight_decay=...\)"),
        (lambda: gradtx.schedule_free_adamw(b2=2.0), r"`schedule_free_adamw\(b2=...\)`"),
        (lambda: gradtx.schedule_free_adamw(eps=-1.0), r"`schedule_free_adamw\(eps=...\)`"),
        (
            lambda: gradtx.schedule_free_adamw(weight_lr_power=-1.0),
            r"`schedule_free_adamw\(weight_lr_power=...\)`",
        ),
        (
            lambda: gradtx.schedule_free(gradtx.sgd(0.1), 0.1, b1=-0.1),
            r"`schedule_free\(b1=...\)`",
        ),
        (lambda: gradtx.adopt(0.1, b1=1.1), r"`adopt\(b1=...\)`"),
        (lambda: gradtx.adopt(0.1, b2=-0.1), r"`adopt\(b2=...\)`"),
        (lambda: gradtx.scale_by_adopt(eps=-1.0), r"`scale_by_adopt\(eps=...\)`"),
    ],
)
def test_invalid_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_update_needs_params_and_eval_needs_state():
    tx = gradtx.schedule_free_sgd(0.1)
    with pytest.raises(ValueError, match="needs the parameters"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))
    with pytest.raises(ValueError, match="exactly one ScheduleFreeState"):
        gradtx.schedule_free_eval_params(gradtx.adam(0.1).init(jnp.ones(2)), jnp.ones(2))


def test_hyperparams_in_state():
    p = {"w": jnp.zeros(2)}
    hps = gradtx.hyperparams(gradtx.schedule_free_adamw(1e-3, weight_decay=0.1).init(p))
    assert sorted(hps) == ["b1", "b2", "eps", "learning_rate", "weight_decay", "weight_lr_power"]
    assert float(hps["weight_decay"]) == pytest.approx(0.1)
    hps = gradtx.hyperparams(gradtx.schedule_free_sgd(0.5).init(p))
    assert sorted(hps) == ["b1", "learning_rate", "weight_lr_power"]
    hps = gradtx.hyperparams(gradtx.adopt(0.1).init(p))
    assert sorted(hps) == ["b1", "b2", "eps", "learning_rate"]
    assert float(hps["b2"]) == pytest.approx(0.9999)


def test_set_b1_reaches_eval_params(rng):
    tx = gradtx.schedule_free_sgd(0.1, b1=0.9)
    y = jnp.asarray(rng.normal(size=3), jnp.float32)
    state = gradtx.set_hyperparams(tx.init(y), b1=0.5)
    _, state = jax.jit(tx.update)(jnp.ones(3), state, y)
    sf = [s for s in jax.tree.leaves(state, is_leaf=lambda s: hasattr(s, "max_lr"))]
    assert any(float(getattr(s, "b1", 0.0)) == 0.5 for s in sf)

"""State precision: ``mu_dtype``/``nu_dtype``/``accumulator_dtype`` on optimizers with moments.

Moments may be stored narrower (bfloat16) or wider (float32) than the parameters; the
arithmetic always runs in at least float32 and only the stored value is rounded.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import gradtx

BF16 = jnp.bfloat16
SHAPES = {"w": (3, 4), "b": (4,)}
# (factory, kwargs, dtype arguments, param-shaped float leaves those arguments leave alone:
# adan's previous gradient; the second moments and previous gradients of the optimizers that
# take only ``mu_dtype``)
ENTRIES = [
    pytest.param(gradtx.adam, dict(learning_rate=0.1), ("mu_dtype", "nu_dtype"), 0, id="adam"),
    pytest.param(
        gradtx.adamw,
        dict(learning_rate=0.1, weight_decay=0.01),
        ("mu_dtype", "nu_dtype"),
        0,
        id="adamw",
    ),
    pytest.param(gradtx.nadam, dict(learning_rate=0.1), ("mu_dtype", "nu_dtype"), 0, id="nadam"),
    pytest.param(
        gradtx.nadam,
        dict(learning_rate=0.1, momentum_decay=4e-3),
        ("mu_dtype", "nu_dtype"),
        0,
        id="nadam-torch",
    ),
    pytest.param(
        gradtx.amsgrad, dict(learning_rate=0.1), ("mu_dtype", "nu_dtype"), 0, id="amsgrad"
    ),
    pytest.param(gradtx.adamax, dict(learning_rate=0.1), ("mu_dtype", "nu_dtype"), 0, id="adamax"),
    pytest.param(gradtx.radam, dict(learning_rate=0.1), ("mu_dtype", "nu_dtype"), 0, id="radam"),
    pytest.param(
        gradtx.adabelief, dict(learning_rate=0.1), ("mu_dtype", "nu_dtype"), 0, id="adabelief"
    ),
    # adan keeps the previous gradient ``g`` in the gradients' dtype.
    pytest.param(gradtx.adan, dict(learning_rate=0.1), ("mu_dtype", "nu_dtype"), 2, id="adan"),
    pytest.param(gradtx.yogi, dict(learning_rate=0.1), ("mu_dtype", "nu_dtype"), 0, id="yogi"),
    pytest.param(
        gradtx.lamb,
        dict(learning_rate=0.05, weight_decay=0.01),
        ("mu_dtype", "nu_dtype"),
        0,
        id="lamb",
    ),
    pytest.param(gradtx.rmsprop, dict(learning_rate=0.05), ("nu_dtype",), 0, id="rmsprop"),
    pytest.param(
        gradtx.rmsprop,
        dict(learning_rate=0.01, centered=True, momentum=0.9),
        ("mu_dtype", "nu_dtype"),
        0,
        id="rmsprop-centered-momentum",
    ),
    pytest.param(gradtx.lion, dict(learning_rate=0.01), ("mu_dtype",), 0, id="lion"),
    pytest.param(gradtx.adopt, dict(learning_rate=0.1), ("mu_dtype",), 2, id="adopt"),
    pytest.param(gradtx.ademamix, dict(learning_rate=0.1), ("mu_dtype",), 2, id="ademamix"),
    pytest.param(gradtx.mars, dict(learning_rate=0.1), ("mu_dtype",), 4, id="mars"),
    pytest.param(
        gradtx.optimistic_adam, dict(learning_rate=0.1), ("mu_dtype",), 4, id="optimistic_adam"
    ),
    pytest.param(gradtx.adam_mini, dict(learning_rate=0.1), ("mu_dtype",), 1, id="adam_mini"),
    pytest.param(
        gradtx.sgd, dict(learning_rate=0.05, momentum=0.9), ("accumulator_dtype",), 0, id="sgd"
    ),
    pytest.param(gradtx.signum, dict(learning_rate=0.01), ("accumulator_dtype",), 0, id="signum"),
]

# Same transforms as adamax and nadam above: only the threading of the arguments is checked.
THREADED = [
    pytest.param(gradtx.adamaxw, dict(learning_rate=0.1), id="adamaxw"),
    pytest.param(gradtx.nadamw, dict(learning_rate=0.1), id="nadamw"),
    pytest.param(gradtx.nadamw, dict(learning_rate=0.1, momentum_decay=4e-3), id="nadamw-torch"),
]

A = np.array([1.0, 2.0, 0.5, 1.5], np.float32)


def _grad(p):
    """Gradient of the separable quadratic 0.5 * sum(A * (p - 1)**2), in the params' dtype."""
    return {"w": A[None, :] * (p["w"] - 1), "b": A * (p["b"] - 1)}


def _params(dtype):
    x = np.linspace(-1.0, 2.0, 12, dtype=np.float32).reshape(3, 4)
    return {"w": jnp.asarray(x, dtype), "b": jnp.asarray(x[0] * 0.5 - 0.25, dtype)}


def _moment_leaves(state):
    shapes = set(SHAPES.values())
    return [
        leaf
        for leaf in jax.tree.leaves(state)
        if jnp.shape(leaf) in shapes and jnp.issubdtype(leaf.dtype, jnp.floating)
    ]


def _run(tx, params, steps):
    """``steps`` jitted steps; each update goes through ``lax.cond`` (state types fixed)."""

    @jax.jit
    def step(p, s):
        g = jax.tree.map(lambda x, y: x.astype(y.dtype), _grad(p), p)

        def take(s):
            return tx.update(g, s, p)

        def skip(s):
            return jax.tree.map(jnp.zeros_like, g), s

        u, s = jax.lax.cond(jnp.asarray(True), take, skip, s)
        return gradtx.apply_updates(p, u), s, u

    s = tx.init(params)
    updates = []
    for _ in range(steps):
        params, s, u = step(params, s)
        updates.append(u)
    return params, s, updates


def _rel_distance(p, q, start):
    """Largest distance between two runs, relative to how far the reference moved."""
    num = max(float(jnp.max(jnp.abs(p[k].astype(float) - q[k].astype(float)))) for k in p)
    den = max(float(jnp.max(jnp.abs(q[k].astype(float) - start[k].astype(float)))) for k in q)
    return num / den


@pytest.mark.parametrize(("factory", "kwargs", "dtype_args", "untouched"), ENTRIES)
def test_state_precision(factory, kwargs, dtype_args, untouched):
    start = _params(jnp.float32)
    p32, _, _ = _run(factory(**kwargs), start, 3)

    # bfloat16 moments, float32 params: float32 updates, within bf16 rounding of float32.
    narrow = factory(**kwargs, **{a: BF16 for a in dtype_args})
    state = narrow.init(start)
    dtypes = [leaf.dtype for leaf in _moment_leaves(state)]
    assert dtypes.count(jnp.dtype(BF16)) == len(dtypes) - untouched >= 2, dtypes
    p16, s16, updates = _run(narrow, start, 3)
    assert all(u.dtype == jnp.float32 for u in jax.tree.leaves(updates))
    assert jax.tree.map(lambda x: x.dtype, s16) == jax.tree.map(lambda x: x.dtype, state)
    assert _rel_distance(p16, p32, start) < 1e-2

    # float32 moments, bfloat16 params: bf16 updates and params; the difference from the
    # float32 run is the params' own rounding (half a bf16 ulp, <= 2**-8 here, per step;
    # measured at most 1.05e-2 after 3 steps, nadam-torch; the bound has a factor 2 margin).
    wide = factory(**kwargs, **{a: jnp.float32 for a in dtype_args})
    start16 = _params(BF16)
    state = wide.init(start16)
    dtypes = [leaf.dtype for leaf in _moment_leaves(state)]
    assert dtypes.count(jnp.dtype(jnp.float32)) == len(dtypes) - untouched >= 2, dtypes
    q16, s16, updates = _run(wide, start16, 3)
    assert all(u.dtype == BF16 for u in jax.tree.leaves(updates + [q16]))
    assert jax.tree.map(lambda x: x.dtype, s16) == jax.tree.map(lambda x: x.dtype, state)
    for k in p32:
        err = np.abs(np.asarray(q16[k], np.float32) - np.asarray(p32[k]))
        assert err.max() <= 3 * 2.0**-8 * 2.0, k


@pytest.mark.parametrize(("factory", "kwargs"), THREADED)
def test_dtype_arguments_reach_the_state(factory, kwargs):
    for dtype in (BF16, jnp.float16):
        state = factory(**kwargs, mu_dtype=dtype, nu_dtype=jnp.float32).init(_params(BF16))
        dtypes = [leaf.dtype for leaf in _moment_leaves(state)]
        assert sorted(map(str, dtypes)) == sorted([jnp.dtype(dtype).name] * 2 + ["float32"] * 2)


def _numpy_adam_bf16(grads, b1, b2, eps, lr, round_moments=True):
    """Adam in float64 with the moments rounded to bfloat16 after every step."""

    def store(x):
        return x.astype(ml_dtypes.bfloat16).astype(np.float64) if round_moments else x

    m = np.zeros_like(grads[0], np.float64)
    v = np.zeros_like(grads[0], np.float64)
    out = []
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        m_new = b1 * m + (1 - b1) * g
        v_new = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m_new / (1 - b1**t), v_new / (1 - b2**t)
        out.append(-lr * m_hat / (np.sqrt(v_hat) + eps))
        m, v = store(m_new), store(v_new)
    return out, m, v


def test_adam_bf16_moments_match_numpy_float32_maths(rng):
    grads = [rng.normal(size=7).astype(np.float32) * 10.0**k for k in (0, -1, 1, 0, -2, 0)]
    # Betas exact in float32 (the optimizer keeps its hyperparameters in float32).
    b1, b2, eps, lr = 0.875, 1 - 2.0**-7, 1e-8, 0.1
    tx = gradtx.adam(lr, b1, b2, eps, mu_dtype=BF16, nu_dtype=BF16)
    step = jax.jit(tx.update)
    state = tx.init(jnp.zeros(7))
    got = []
    for g in grads:
        u, state = step(jnp.asarray(g), state)
        got.append(np.asarray(u))
    inner = state.inner_state[0]
    assert inner.mu.dtype == BF16 and inner.nu.dtype == BF16
    want, m, v = _numpy_adam_bf16(grads, b1, b2, eps, lr)
    for u, w in zip(got, want, strict=True):
        np.testing.assert_allclose(u, w, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(np.asarray(inner.mu, np.float64), m)
    np.testing.assert_array_equal(np.asarray(inner.nu, np.float64), v)
    # The rounding is visible: the same run without it differs by far more than 1e-6.
    unrounded, _, _ = _numpy_adam_bf16(grads, b1, b2, eps, lr, round_moments=False)
    assert max(np.max(np.abs(u / w - 1)) for u, w in zip(got, unrounded, strict=True)) > 1e-4


def test_guide_page_snippet_runs_and_prints_what_it_says():
    import contextlib
    import io
    import pathlib
    import re

    page = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide" / "state_precision.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert len(blocks) == 1
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], str(page), "exec"), {})  # noqa: S102 - the page's code
    assert out.getvalue().splitlines() == ["bfloat16 bfloat16", "float32"]

"""gradtx.init: fans, gains, the initializers' distributions, init_mlp and signal_propagation.

The distribution checks draw >= 60,000 weights and compare the sample mean and variance with
the formulas of Glorot & Bengio (2010) and He et al. (2015) to 5 standard errors computed
from the sample size: for a sample of n i.i.d. values with variance s^2 and fourth central
moment m4, SE(mean) = s / sqrt(n) and SE(variance) = sqrt((m4 - s^4) / n), with
m4 = 3 s^4 for a normal and m4 = 9/5 s^4 for a uniform. The fans are written out by hand.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradtx.init import (
    SignalPropagation,
    calculate_gain,
    compute_fans,
    init_mlp,
    kaiming_normal,
    kaiming_uniform,
    mlp_forward,
    signal_propagation,
    xavier_normal,
    xavier_uniform,
)

N_SE = 5.0

# (id, shape, layout, fan_in, fan_out), fans by hand.
KERNELS = [
    ("dense-jax", (300, 200), "jax", 300, 200),
    ("dense-torch", (200, 300), "torch", 300, 200),
    ("conv2d-hwio", (3, 3, 48, 64), "jax", 48 * 9, 64 * 9),
    ("conv2d-oihw", (64, 48, 3, 3), "torch", 48 * 9, 64 * 9),
    ("conv1d-wio", (5, 40, 30), "jax", 200, 150),
    ("conv1d-oiw", (30, 40, 5), "torch", 200, 150),
    ("conv3d-dhwio", (2, 3, 4, 20, 10), "jax", 480, 240),
    ("conv3d-oidhw", (10, 20, 2, 3, 4), "torch", 480, 240),
]


@pytest.mark.parametrize(("shape", "layout", "fan_in", "fan_out"), [k[1:] for k in KERNELS],
                         ids=[k[0] for k in KERNELS])  # fmt: skip
def test_compute_fans_dense_and_conv_in_both_layouts(shape, layout, fan_in, fan_out):
    assert compute_fans(shape, layout) == (fan_in, fan_out)


def _draw(init, key, shape):
    """One jitted draw (a single compilation instead of one per eager op)."""
    return jax.jit(init, static_argnums=1)(key, shape)


def _check_moments(w: jax.Array, std: float, distribution: str) -> None:
    x = np.asarray(w, np.float64).ravel()
    n = x.size
    var = std**2
    m4 = 3 * var**2 if distribution == "normal" else 9 / 5 * var**2
    assert abs(x.mean()) < N_SE * std / math.sqrt(n), (x.mean(), std, n)
    se_var = math.sqrt((m4 - var**2) / n)
    assert abs(x.var() - var) < N_SE * se_var, (x.var(), var, se_var)
    if distribution == "uniform":
        bound = math.sqrt(3) * std
        assert np.abs(x).max() <= bound * (1 + 1e-6)
        assert np.abs(x).max() > bound * (1 - 20 / n)  # the max of n uniforms is that close
    else:
        # untruncated, like torch: P(|z| > 2) = 4.55%, a truncated normal at 2 has none.
        p = math.erfc(2 / math.sqrt(2))
        frac = np.mean(np.abs(x) > 2 * std)
        assert abs(frac - p) < N_SE * math.sqrt(p * (1 - p) / n), frac


# (id, factory, kwargs, distribution, std(fan_in, fan_out))
FORMULAS = [
    ("xavier_uniform", xavier_uniform, {}, "uniform", lambda fi, fo: math.sqrt(2 / (fi + fo))),
    (
        "xavier_uniform-gain",
        xavier_uniform,
        {"gain": 5 / 3},
        "uniform",
        lambda fi, fo: 5 / 3 * math.sqrt(2 / (fi + fo)),
    ),
    ("xavier_normal", xavier_normal, {}, "normal", lambda fi, fo: math.sqrt(2 / (fi + fo))),
    (
        "xavier_normal-gain",
        xavier_normal,
        {"gain": 0.5},
        "normal",
        lambda fi, fo: 0.5 * math.sqrt(2 / (fi + fo)),
    ),
    ("kaiming_uniform", kaiming_uniform, {}, "uniform", lambda fi, fo: math.sqrt(2 / fi)),
    (
        "kaiming_uniform-fan_out-a",
        kaiming_uniform,
        {"a": 0.2, "mode": "fan_out"},
        "uniform",
        lambda fi, fo: math.sqrt(2 / (1 + 0.04)) / math.sqrt(fo),
    ),
    ("kaiming_normal", kaiming_normal, {}, "normal", lambda fi, fo: math.sqrt(2 / fi)),
    (
        "kaiming_normal-fan_out-tanh",
        kaiming_normal,
        {"mode": "fan_out", "nonlinearity": "tanh"},
        "normal",
        lambda fi, fo: 5 / 3 / math.sqrt(fo),
    ),
    (
        "kaiming_normal-leaky",
        kaiming_normal,
        {"a": 0.1},
        "normal",
        lambda fi, fo: math.sqrt(2 / 1.01) / math.sqrt(fi),
    ),
]


# Each formula on a different kernel (dense, conv2d, conv1d; both layouts), in turn.
@pytest.mark.parametrize(("factory", "kwargs", "distribution", "std_fn", "kernel"),
                         [(*f[1:], i % 6) for i, f in enumerate(FORMULAS)],
                         ids=[f"{f[0]}-{KERNELS[i % 6][0]}"
                              for i, f in enumerate(FORMULAS)])  # fmt: skip
def test_empirical_moments_match_the_formula(factory, kwargs, distribution, std_fn, kernel):
    _, shape, layout, fan_in, fan_out = KERNELS[kernel]
    w = _draw(factory(**kwargs, layout=layout), jax.random.key(kernel), shape)
    assert w.shape == shape and w.dtype == jnp.float32
    _check_moments(w, std_fn(fan_in, fan_out), distribution)


def test_uniform_bounds_are_the_formulas():
    # a = gain * sqrt(6 / (fan_in + fan_out)) and bound = gain * sqrt(3 / fan): the largest
    # of 60,000 draws lies within 20/n of the bound.
    key = jax.random.key(3)
    w = _draw(xavier_uniform(gain=2.0), key, (300, 200))
    a = 2.0 * math.sqrt(6 / 500)
    assert a * (1 - 1e-3) < float(jnp.max(jnp.abs(w))) <= a
    w = _draw(kaiming_uniform(a=0.5, mode="fan_out", layout="torch"), key, (200, 300))
    b = math.sqrt(2 / 1.25) * math.sqrt(3 / 200)
    assert b * (1 - 1e-3) < float(jnp.max(jnp.abs(w))) <= b


def test_gains():
    for name in ("linear", "conv", "conv1d", "conv2d", "conv3d", "conv_transpose2d", "sigmoid"):
        assert calculate_gain(name) == 1.0
    assert calculate_gain("tanh") == pytest.approx(5 / 3, rel=1e-15)
    assert calculate_gain("relu") == pytest.approx(2**0.5, rel=1e-15)
    assert calculate_gain("selu") == 0.75
    assert calculate_gain("leaky_relu") == pytest.approx((2 / (1 + 1e-4)) ** 0.5, rel=1e-15)
    assert calculate_gain("leaky_relu", 1) == 1.0
    assert calculate_gain("leaky_relu", 0.0) == pytest.approx(2**0.5, rel=1e-15)


def test_dtype_default_is_float32_even_with_x64(x64):
    key = jax.random.key(0)

    def dtype(init, *args):  # traced only, nothing compiled
        return jax.eval_shape(functools.partial(init, key, (4, 5), *args)).dtype

    assert dtype(xavier_normal()) == dtype(kaiming_uniform()) == jnp.float32
    assert dtype(kaiming_uniform(), jnp.float64) == jnp.float64
    assert dtype(kaiming_normal(), jnp.bfloat16) == jnp.bfloat16
    assert xavier_uniform()(key, (4, 5), jnp.float64).dtype == jnp.float64


def test_initializers_work_under_jit_and_are_deterministic():
    init = jax.jit(xavier_uniform(), static_argnums=1)
    a = init(jax.random.key(0), (6, 7))
    np.testing.assert_array_equal(a, xavier_uniform()(jax.random.key(0), (6, 7)))
    assert not np.array_equal(a, init(jax.random.key(1), (6, 7)))


def test_errors():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=r"`calculate_gain\(nonlinearity=\.\.\.\)` must be one"):
        calculate_gain("gelu")
    with pytest.raises(ValueError, match=r"`calculate_gain\('leaky_relu', param=\.\.\.\)`"):
        calculate_gain("leaky_relu", "0.1")
    with pytest.raises(ValueError, match=r"`kaiming_normal`: `calculate_gain\(nonlinearity"):
        kaiming_normal(nonlinearity="swish")
    with pytest.raises(ValueError, match=r"`kaiming_uniform\(mode=\.\.\.\)` must be 'fan_in'"):
        kaiming_uniform(mode="fan_avg")
    with pytest.raises(ValueError, match=r"`kaiming_normal\(a=\.\.\.\)` must be a number"):
        kaiming_normal(a=None)
    with pytest.raises(ValueError, match=r"`xavier_uniform\(layout=\.\.\.\)` must be 'jax'"):
        xavier_uniform(layout="flax")
    with pytest.raises(ValueError, match=r"`kaiming_normal\(layout=\.\.\.\)`.*layout='NCHW'"):
        kaiming_normal(layout="NCHW")
    with pytest.raises(ValueError, match=r"`compute_fans\(layout=\.\.\.\)`"):
        compute_fans((3, 4), "tf")
    with pytest.raises(ValueError, match=r"`xavier_normal\(gain=\.\.\.\)` must be a positive"):
        xavier_normal(gain=-1.0)
    with pytest.raises(ValueError, match=r"`xavier_normal`: fan_in and .* shape=\(7,\)"):
        xavier_normal()(key, (7,))
    with pytest.raises(ValueError, match=r"`compute_fans`: fan_in and fan_out need"):
        compute_fans(())


# ---------------------------------------------------------------- init_mlp / mlp_forward


def test_init_mlp_structure_and_distribution():
    params = jax.jit(init_mlp, static_argnums=1)(jax.random.key(0), (300, 200, 200))
    assert [sorted(p) for p in params] == [["b", "w"], ["b", "w"]]
    assert params[0]["w"].shape == (300, 200) and params[1]["b"].shape == (200,)
    assert all(float(jnp.abs(p["b"]).max()) == 0.0 for p in params)
    # default: Kaiming normal, std sqrt(2 / fan_in), each layer from its own key
    _check_moments(params[0]["w"], math.sqrt(2 / 300), "normal")
    _check_moments(params[1]["w"], math.sqrt(2 / 200), "normal")
    assert not np.array_equal(params[1]["w"][:10, :10], params[0]["w"][:10, :10])
    # the given initializers get (key, (fan_in, fan_out), dtype) and (key, (fan_out,), dtype)
    seen = []

    def init(key, shape, dtype):
        seen.append((shape, dtype))
        return jnp.full(shape, 7.0, dtype)

    small = init_mlp(
        jax.random.key(0), [2, 3, 1], init, bias_init=jax.nn.initializers.ones, dtype=jnp.bfloat16
    )
    assert seen == [((2, 3), jnp.bfloat16), ((3, 1), jnp.bfloat16)]
    np.testing.assert_array_equal(small[0]["w"], np.full((2, 3), 7.0))
    np.testing.assert_array_equal(small[1]["b"], np.ones(1))
    assert small[0]["b"].dtype == jnp.bfloat16


def test_init_mlp_errors():
    with pytest.raises(ValueError, match=r"`init_mlp\(sizes=\.\.\.\)` must list at least two"):
        init_mlp(jax.random.key(0), [5])
    with pytest.raises(ValueError, match=r"positive widths.*sizes=\[3, 0\]"):
        init_mlp(jax.random.key(0), [3, 0])


@functools.partial(jax.jit, static_argnums=(1, 2))
def _mlp_with_biases(key, sizes, bias_std):
    return init_mlp(key, sizes, bias_init=jax.nn.initializers.normal(bias_std))


def _numpy_mlp(params, x):
    hs, h = [], np.asarray(x, np.float64)
    for i, p in enumerate(params):
        h = h @ np.asarray(p["w"], np.float64) + np.asarray(p["b"], np.float64)
        if i < len(params) - 1:
            h = np.maximum(h, 0.0)
        hs.append(h)
    return hs


def test_mlp_forward_matches_numpy(rng):
    params = _mlp_with_biases(jax.random.key(1), (5, 7, 6, 3), 1.0)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    got = jax.jit(mlp_forward)(params, jnp.asarray(x))
    want = _numpy_mlp(params, x)
    pre = x @ np.asarray(params[0]["w"], np.float64) + np.asarray(params[0]["b"], np.float64)
    assert [h.shape for h in got] == [(4, 7), (4, 6), (4, 3)]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)
    tanh = jax.jit(functools.partial(mlp_forward, activation=jnp.tanh))(params, jnp.asarray(x))
    np.testing.assert_allclose(tanh[0], np.tanh(pre), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- signal_propagation


def test_signal_propagation_matches_a_hand_backward_pass(rng):
    # Two layers, h1 = relu(x W1 + b1), h2 = h1 W2 + b2, probe loss sum(h2) / B: with
    # e = ones((B, m)) / B, dW2 = h1^T e, db2 = sum_B e, d1 = (e W2^T) * [h1 > 0],
    # dW1 = x^T d1, db1 = sum_B d1.
    params = _mlp_with_biases(jax.random.key(2), (6, 8, 3), 0.5)
    x = rng.normal(size=(5, 6)).astype(np.float32)
    s = jax.jit(signal_propagation, static_argnums=0)(mlp_forward, params, jnp.asarray(x))
    assert isinstance(s, SignalPropagation)
    w1, b1, w2, b2 = (np.asarray(params[i][k], np.float64) for i in (0, 1) for k in ("w", "b"))
    h1 = np.maximum(x @ w1 + b1, 0)
    h2 = h1 @ w2 + b2
    e = np.ones_like(h2) / 5
    d1 = (e @ w2.T) * (h1 > 0)
    g1 = math.sqrt(np.sum((x.T @ d1) ** 2) + np.sum(d1.sum(0) ** 2))
    g2 = math.sqrt(np.sum((h1.T @ e) ** 2) + np.sum(e.sum(0) ** 2))
    np.testing.assert_allclose(s.gradient_norm, [g1, g2], rtol=1e-5)
    rms = [math.sqrt(np.mean(h1**2)), math.sqrt(np.mean(h2**2))]
    np.testing.assert_allclose(s.activation_rms, rms, rtol=1e-5)
    np.testing.assert_allclose(s.loss, h2.sum() / 5, rtol=1e-5)

    # a custom loss: 0.5 mean ||h2||^2, so the output gradient is h2 / B
    loss_fn = lambda o: 0.5 * jnp.mean(jnp.sum(o**2, 1))  # noqa: E731
    s = jax.jit(lambda p, x: signal_propagation(mlp_forward, p, x, loss_fn=loss_fn))(params, x)
    e = h2 / 5
    np.testing.assert_allclose(
        s.gradient_norm[1], math.sqrt(np.sum((h1.T @ e) ** 2) + np.sum(e.sum(0) ** 2)), rtol=1e-5
    )


def test_signal_propagation_shows_the_variance_argument():
    # 30 ReLU layers of width 256: each layer multiplies the mean square by c / 2, so the
    # RMS ratio per layer is sqrt(c/2) (0.707, 1, 1.225). Fitted over layers 2-30 (seed 0,
    # measured): c=1 0.719, c=2 1.017, c=3 1.246; finite width biases it up by ~2%.
    x = jax.random.normal(jax.random.key(1), (256, 256))
    run = jax.jit(lambda p: signal_propagation(mlp_forward, p, x))
    for c in (1.0, 2.0, 3.0):
        init = jax.nn.initializers.variance_scaling(c, "fan_in", "normal")
        s = run(init_mlp(jax.random.key(0), [256] * 32, init))
        log_rms = np.log(np.asarray(s.activation_rms[1:-1], np.float64))
        slope = np.polyfit(np.arange(log_rms.size), log_rms, 1)[0]
        assert math.exp(slope) == pytest.approx(math.sqrt(c / 2), abs=0.04), c


def test_signal_propagation_errors():
    params = init_mlp(jax.random.key(0), [3, 4, 2])
    x = jnp.ones((2, 3))
    with pytest.raises(ValueError, match=r"`signal_propagation\(params=\.\.\.\)` must be a list"):
        signal_propagation(mlp_forward, {"layers": params}, x)
    with pytest.raises(ValueError, match=r"one output per layer; got 1 outputs for 2 entries"):
        # (traced only: the check runs before anything is computed)
        jax.eval_shape(
            lambda p: signal_propagation(lambda p, x: mlp_forward(p, x)[-1:], p, x), params
        )


# ---------------------------------------------------------------- the guide page

GUIDE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide" / "initialization.md"


def test_guide_snippets_print_what_the_page_shows():
    text = GUIDE.read_text()
    code = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    shown = re.findall(r"prints\n\n```\n(.*?)```", text, flags=re.S)
    assert len(code) == len(shown) == 2
    namespace: dict = {}
    for block, expected in zip(code, shown, strict=True):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, str(GUIDE), "exec"), namespace)  # noqa: S102 - the page's code
        assert out.getvalue() == expected

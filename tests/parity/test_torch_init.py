"""gradtx.init against torch.nn.init: the same gains exactly, the same distributions.

torch's initializers are sampled on torch-layout tensors ((out, in), OIHW) and gradtx's with
``layout="torch"`` on the same shapes. Both samples are compared with each other: their
variances agree within 5 standard errors of the difference (SE of a sample variance:
sqrt((m4 - s^4) / n), m4 = 3 s^4 for a normal, 9/5 s^4 for a uniform), their largest
magnitudes (the uniform bound) agree to 20/n, and their fraction beyond two standard
deviations (4.55% for an untruncated normal) agrees within 5 binomial standard errors.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import gradtx.init

torch = pytest.importorskip("torch")

N_SE = 5.0

NONLINEARITIES = [
    ("linear", None),
    ("conv1d", None),
    ("conv2d", None),
    ("conv3d", None),
    ("conv_transpose1d", None),
    ("conv_transpose2d", None),
    ("conv_transpose3d", None),
    ("sigmoid", None),
    ("tanh", None),
    ("relu", None),
    ("leaky_relu", None),
    ("leaky_relu", 0.2),
    ("leaky_relu", 1),
    ("leaky_relu", 0),
    ("selu", None),
]


@pytest.mark.parametrize(("nonlinearity", "param"), NONLINEARITIES)
def test_calculate_gain_is_torchs_exactly(nonlinearity, param):
    want = torch.nn.init.calculate_gain(nonlinearity, param)
    assert gradtx.init.calculate_gain(nonlinearity, param) == want


def test_both_reject_an_unknown_nonlinearity():
    with pytest.raises(ValueError):
        torch.nn.init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="must be one of"):
        gradtx.init.calculate_gain("gelu")


# (id, torch function, its kwargs, gradtx factory, distribution, shape (torch layout))
CASES = [
    ("xavier_uniform", "xavier_uniform_", {}, "xavier_uniform", "uniform", (300, 200)),
    (
        "xavier_uniform-gain-conv",
        "xavier_uniform_",
        {"gain": 5 / 3},
        "xavier_uniform",
        "uniform",
        (64, 48, 3, 3),
    ),
    ("xavier_normal", "xavier_normal_", {"gain": 0.5}, "xavier_normal", "normal", (300, 200)),
    ("kaiming_uniform", "kaiming_uniform_", {}, "kaiming_uniform", "uniform", (64, 48, 3, 3)),
    (
        "kaiming_uniform-fan_out-a",
        "kaiming_uniform_",
        {"a": 0.3, "mode": "fan_out"},
        "kaiming_uniform",
        "uniform",
        (300, 200),
    ),
    ("kaiming_normal", "kaiming_normal_", {}, "kaiming_normal", "normal", (300, 200)),
    (
        "kaiming_normal-fan_out-relu-conv",
        "kaiming_normal_",
        {"mode": "fan_out", "nonlinearity": "relu"},
        "kaiming_normal",
        "normal",
        (64, 48, 3, 3),
    ),
    (
        "kaiming_normal-tanh",
        "kaiming_normal_",
        {"nonlinearity": "tanh"},
        "kaiming_normal",
        "normal",
        (30, 40, 50),
    ),
]


@pytest.mark.parametrize(("torch_fn", "kwargs", "factory", "distribution", "shape"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])  # fmt: skip
def test_same_distribution_as_torch(torch_fn, kwargs, factory, distribution, shape):
    torch.manual_seed(0)
    t = getattr(torch.nn.init, torch_fn)(torch.empty(shape, dtype=torch.float64), **kwargs)
    t = t.numpy().ravel()
    init = getattr(gradtx.init, factory)(**kwargs, layout="torch")
    g = np.asarray(jax.jit(init, static_argnums=1)(jax.random.key(0), shape), np.float64).ravel()
    n = g.size
    var_t, var_g = t.var(), g.var()
    kurt = 3.0 if distribution == "normal" else 9 / 5
    se = math.sqrt(2 * (kurt - 1) * var_t**2 / n)  # SE of the difference of two variances
    assert abs(var_g - var_t) < N_SE * se, (var_g, var_t, se)
    if distribution == "uniform":
        assert abs(np.abs(g).max() - np.abs(t).max()) < 20 / n * np.abs(t).max()
    else:
        std = math.sqrt(var_t)
        p = math.erfc(2 / math.sqrt(2))
        for x in (t, g):
            frac = np.mean(np.abs(x) > 2 * std)
            assert abs(frac - p) < N_SE * math.sqrt(p * (1 - p) / n), frac

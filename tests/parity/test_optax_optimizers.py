"""gradtx's optimizers against optax's same-name optimizers, in float64.

Each case is one line of code run twice, once with ``m = gradtx`` and once with
``m = optax``, on the same parameters and gradient sequence (``_sequences.py``); the
parameter trajectories and the steps must agree at every step to rtol 1e-10. With
``jax_enable_x64`` gradtx stores its hyperparameters in float64, so any difference is
the arithmetic or the formula. Two sets of hyperparameters: ordinary ones (0.9, 0.999,
1e-8, ...) and values exactly representable in float32 (0.125, 0.875, 1 - 2**-10, ...).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import (
    EXACT,
    assert_trajectories_close,
    standard_data,
    x64,
)
from ._sequences import run_optax_like as run

optax = pytest.importorskip("optax")

RTOL = 1e-6
RTOL_EXACT = 1e-10


@pytest.fixture(scope="module", autouse=True)
def _float64():
    with x64():
        yield


@pytest.fixture(scope="module")
def data():
    return standard_data()


def sched(count):
    """A decaying learning rate, the same function handed to both libraries."""
    return 0.1 / (1.0 + 0.25 * count)


MASK = {"w": True, "b": False, "s": True}


def mask_fn(params):
    """Decay only the leaves of rank >= 1."""
    return jax.tree.map(lambda x: jnp.ndim(x) >= 1, params)


# (id, builder) with builder(m) -> transformation, for m in (gradtx, optax).
ORDINARY = [
    # sgd
    ("sgd", lambda m: m.sgd(0.1)),
    ("sgd-momentum", lambda m: m.sgd(0.1, momentum=0.9)),
    ("sgd-nesterov", lambda m: m.sgd(0.1, momentum=0.9, nesterov=True)),
    ("sgd-schedule-momentum", lambda m: m.sgd(sched, momentum=0.9)),
    ("sgd-accumulator-f32", lambda m: m.sgd(0.1, momentum=0.9, accumulator_dtype=jnp.float32)),
    # adam
    ("adam", lambda m: m.adam(0.1)),
    ("adam-betas", lambda m: m.adam(0.05, b1=0.8, b2=0.99, eps=1e-6)),
    ("adam-eps_root", lambda m: m.adam(0.1, eps_root=1e-8)),
    ("adam-mu_dtype-f32", lambda m: m.adam(0.1, mu_dtype=jnp.float32)),
    ("adam-nesterov", lambda m: m.adam(0.1, nesterov=True)),
    ("adam-schedule", lambda m: m.adam(sched)),
    # adamw
    ("adamw", lambda m: m.adamw(0.1)),
    ("adamw-wd-mask", lambda m: m.adamw(0.1, weight_decay=0.1, mask=MASK)),
    ("adamw-wd-mask_fn", lambda m: m.adamw(0.1, weight_decay=0.1, mask=mask_fn)),
    ("adamw-schedule", lambda m: m.adamw(sched, weight_decay=0.05)),
    ("adamw-nesterov", lambda m: m.adamw(0.1, weight_decay=0.05, nesterov=True)),
    # nadam, nadamw
    ("nadam", lambda m: m.nadam(0.1)),
    ("nadam-betas-schedule", lambda m: m.nadam(sched, b1=0.8, b2=0.99)),
    ("nadamw", lambda m: m.nadamw(0.1)),
    ("nadamw-wd-mask", lambda m: m.nadamw(0.1, weight_decay=0.1, mask=MASK)),
    # amsgrad
    ("amsgrad", lambda m: m.amsgrad(0.1)),
    ("amsgrad-betas", lambda m: m.amsgrad(0.05, b1=0.8, b2=0.99, eps=1e-6)),
    (
        "amsgrad-no-bias-correction",
        lambda m: m.amsgrad(0.1, bias_correction_mu=False, bias_correction_nu=False),
    ),
    ("amsgrad-schedule", lambda m: m.amsgrad(sched)),
    # adamax, adamaxw
    ("adamax", lambda m: m.adamax(0.1)),
    ("adamax-betas", lambda m: m.adamax(0.05, b1=0.8, b2=0.99, eps=1e-6)),
    ("adamaxw", lambda m: m.adamaxw(0.1)),
    ("adamaxw-wd-mask", lambda m: m.adamaxw(0.1, weight_decay=0.1, mask=MASK)),
    # rmsprop
    ("rmsprop", lambda m: m.rmsprop(0.01)),
    ("rmsprop-decay-eps", lambda m: m.rmsprop(0.01, decay=0.99, eps=1e-6)),
    ("rmsprop-centered", lambda m: m.rmsprop(0.01, centered=True)),
    ("rmsprop-momentum", lambda m: m.rmsprop(0.01, momentum=0.9)),
    ("rmsprop-nesterov", lambda m: m.rmsprop(0.01, momentum=0.9, nesterov=True)),
    ("rmsprop-eps_outside", lambda m: m.rmsprop(0.01, eps_in_sqrt=False)),
    ("rmsprop-bias_correction", lambda m: m.rmsprop(0.01, bias_correction=True)),
    (
        "rmsprop-centered-initial_scale-momentum",
        lambda m: m.rmsprop(0.01, initial_scale=1.0, centered=True, momentum=0.5),
    ),
    ("rmsprop-schedule-momentum", lambda m: m.rmsprop(sched, momentum=0.9)),
    # adagrad
    ("adagrad", lambda m: m.adagrad(0.1)),
    ("adagrad-init-eps", lambda m: m.adagrad(0.5, initial_accumulator_value=0.0, eps=1e-10)),
    ("adagrad-schedule", lambda m: m.adagrad(sched)),
    # adadelta
    ("adadelta-lr-rho-eps", lambda m: m.adadelta(0.5, rho=0.95, eps=1e-5)),
    ("adadelta-wd-mask", lambda m: m.adadelta(0.5, weight_decay=0.01, weight_decay_mask=MASK)),
    ("adadelta-schedule", lambda m: m.adadelta(lambda count: 10.0 * sched(count))),
    # radam
    ("radam", lambda m: m.radam(0.1)),
    ("radam-threshold", lambda m: m.radam(0.1, threshold=4.5)),
    ("radam-nesterov", lambda m: m.radam(0.1, nesterov=True)),
    ("radam-schedule", lambda m: m.radam(sched)),
    # chains
    (
        "chain-clip_by_global_norm-adamw",
        lambda m: m.chain(m.clip_by_global_norm(1.0), m.adamw(0.1, weight_decay=0.01)),
    ),
    ("chain-clip-sgd", lambda m: m.chain(m.clip(0.5), m.sgd(0.1, momentum=0.9))),
]

E = EXACT
EXACT_CASES = [
    ("sgd-momentum", lambda m: m.sgd(E["lr"], momentum=E["momentum"])),
    ("sgd-nesterov", lambda m: m.sgd(E["lr"], momentum=E["momentum"], nesterov=True)),
    ("adam", lambda m: m.adam(E["lr"], b1=E["b1"], b2=E["b2"], eps=E["eps"])),
    ("adam-nesterov", lambda m: m.adam(E["lr"], E["b1"], E["b2"], E["eps"], nesterov=True)),
    ("adamw", lambda m: m.adamw(E["lr"], E["b1"], E["b2"], E["eps"], weight_decay=E["wd"])),
    ("nadam", lambda m: m.nadam(E["lr"], b1=E["b1"], b2=E["b2"], eps=E["eps"])),
    ("nadamw", lambda m: m.nadamw(E["lr"], E["b1"], E["b2"], E["eps"], weight_decay=E["wd"])),
    ("amsgrad", lambda m: m.amsgrad(E["lr"], b1=E["b1"], b2=E["b2"], eps=E["eps"])),
    ("adamax", lambda m: m.adamax(E["lr"], b1=E["b1"], b2=E["b2"], eps=E["eps"])),
    ("adamaxw", lambda m: m.adamaxw(E["lr"], E["b1"], E["b2"], E["eps"], weight_decay=E["wd"])),
    ("radam", lambda m: m.radam(E["lr"], b1=E["b1"], b2=E["b2"], eps=E["eps"])),
    ("rmsprop", lambda m: m.rmsprop(E["lr"], decay=E["decay"], eps=E["eps"])),
    (
        "rmsprop-centered-momentum",
        lambda m: m.rmsprop(
            E["lr"], decay=E["decay"], eps=E["eps"], centered=True, momentum=E["momentum"]
        ),
    ),
    (
        "rmsprop-bias_correction",
        lambda m: m.rmsprop(E["lr"], decay=E["decay"], eps=E["eps"], bias_correction=True),
    ),
    ("adagrad", lambda m: m.adagrad(E["lr"], initial_accumulator_value=0.125, eps=2.0**-23)),
    ("adadelta", lambda m: m.adadelta(0.5, rho=E["decay"], eps=2.0**-20)),
]


def _ids(cases):
    return [c[0] for c in cases]


def _float32(value):
    return float(np.float32(value))


_GRADTX_TRAJECTORIES = {}


def _gradtx_run(name, build, params, grads):
    """gradtx's trajectory for a case (computed once, shared by two regimes)."""
    if name not in _GRADTX_TRAJECTORIES:
        _GRADTX_TRAJECTORIES[name] = run(build(gradtx), params, grads, what=f"gradtx {name}")
    return _GRADTX_TRAJECTORIES[name]


@pytest.mark.parametrize("name, build", ORDINARY, ids=_ids(ORDINARY))
def test_optimizer_matches_optax(name, build, data):
    params, grads = data
    got = _gradtx_run(name, build, params, grads)
    want = run(build(optax), params, grads, what=f"optax {name}")
    if name.endswith("-f32"):  # a float32 moment: float32 precision, parameters only
        assert_trajectories_close(got, want, RTOL, steps=False)
    else:
        assert_trajectories_close(got, want, RTOL_EXACT)


@pytest.mark.parametrize("name, build", EXACT_CASES, ids=_ids(EXACT_CASES))
def test_optimizer_matches_optax_exact_hyperparams(name, build, data):
    params, grads = data
    got = run(build(gradtx), params, grads, what=f"gradtx {name}")
    want = run(build(optax), params, grads, what=f"optax {name}")
    if name.endswith("-f32"):  # a float32 moment: float32 precision, parameters only
        assert_trajectories_close(got, want, RTOL, steps=False)
    else:
        assert_trajectories_close(got, want, RTOL_EXACT)


def test_gradient_sequence_varies_in_sign_and_scale(data):
    """The premise of the shared inputs: every entry changes sign, and the gradient scale
    of every leaf spans more than two orders of magnitude over the steps."""
    params, grads = data
    assert len(grads) >= 10
    for k in params:
        stacked = np.stack([g[k] for g in grads]).reshape(len(grads), -1)
        assert np.all((stacked > 0).any(axis=0) & (stacked < 0).any(axis=0)), k
        per_step = np.abs(stacked).max(axis=1)
        assert per_step.max() / per_step.min() > 100, k


def test_exact_hyperparams_are_exact_in_float32():
    """The premise of the exact regime: each value survives a float32 round trip."""
    for name, value in EXACT.items():
        assert _float32(value) == value, name
    for value in (0.5, 0.125, 2.0**-23, 2.0**-20):
        assert _float32(value) == value


def test_adadelta_default_learning_rate_descends(data):
    """optax's ``adadelta()`` (learning_rate=None) returns +delta, i.e. it ascends (optax
    0.2.8: ``scale_by_learning_rate(None)`` is the identity, without the sign flip).
    gradtx reads None as 1.0, the paper's and torch's rate, so that it descends: its
    trajectory is optax's ``adadelta(1.0)``, and optax's default is its mirror image."""
    params, grads = data
    got = run(gradtx.adadelta(), params, grads)
    assert_trajectories_close(got, run(optax.adadelta(1.0), params, grads), RTOL)
    ascent = run(optax.adadelta(), params, grads)
    mirrored = [{k: 2 * params[k] - p[k] for k in p} for p in ascent]
    assert_trajectories_close(got, mirrored, RTOL)


def test_radam_threshold_below_4_is_refused_or_finite(data):
    """A documented divergence: with threshold < 4 a step can have threshold < rho_t < 4,
    where RAdam's rectification sqrt((rho_t - 4)(rho_t - 2) ...) is undefined; optax
    0.2.8 accepts the threshold and returns NaN from there on. gradtx must either refuse
    such a threshold when built or stay finite."""
    params, grads = data
    want = run(optax.radam(0.1, threshold=3.0), params, grads)
    assert not all(np.all(np.isfinite(p[k])) for p in want for k in p)
    try:
        tx = gradtx.radam(0.1, threshold=3.0)
    except ValueError as err:
        assert "threshold" in str(err)
        return
    got = run(tx, params, grads)
    assert all(np.all(np.isfinite(p[k])) for p in got for k in p)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_optimizer_matches_optax_under_jit(name, data):
    """The same trajectories when both updates are jitted."""
    params, grads = data
    build = dict(ORDINARY)[name]
    got_tx, want_tx = build(gradtx), build(optax)
    got_tx = got_tx._replace(update=jax.jit(got_tx.update))
    want_tx = want_tx._replace(update=jax.jit(want_tx.update))
    got = run(got_tx, params, grads)
    assert_trajectories_close(got, _gradtx_run(name, build, params, grads), 1e-12)
    assert_trajectories_close(got, run(want_tx, params, grads), RTOL, steps=False)

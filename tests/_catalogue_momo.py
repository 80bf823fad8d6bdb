"""Conformance entries for the momo family (see tests/_catalogue.py).

MoMo needs the loss (``update(..., value=f)``) and Sophia the objective
(``update(..., obj_fn=f)``), which the conformance checks do not pass: the wrappers
below supply them from the problem the parameters belong to (recognised by their
shapes; any other tree gets a stand-in loss, 1 + |params|^2 / 2). Wrapped entries skip
the hyperparameter checks (see tests/test_conformance.py), which
tests/optimizers/test_model_based.py covers instead.

DP-SGD takes per-example gradients (a leading batch axis): :func:`_single_example`
gives it the full gradient as a batch of one, without noise, so the checks run clipped
SGD; the noise and the per-example clipping are tested in test_model_based.py.
"""

from __future__ import annotations

import jax
import pytest
from _conformance_kit import Tuning
from _problems import conformance_loss

import gradtx


def _with_value(tx):
    def update(updates, state, params=None, **extra_args):
        value = conformance_loss(params)(params)
        return tx.update(updates, state, params, value=value, **extra_args)

    return gradtx.GradientTransformationExtraArgs(tx.init, update)


def _with_obj_fn(tx):
    def update(updates, state, params=None, **extra_args):
        return tx.update(updates, state, params, obj_fn=conformance_loss(params), **extra_args)

    return gradtx.GradientTransformationExtraArgs(tx.init, update)


def _single_example(tx):
    def update(updates, state, params=None, **extra_args):
        batch = jax.tree.map(lambda g: g[None], updates)
        return tx.update(batch, state, params, **extra_args)

    return gradtx.GradientTransformationExtraArgs(tx.init, update)


def _momo(learning_rate, **kwargs):
    return _with_value(gradtx.momo(learning_rate, **kwargs))


def _momo_adam(learning_rate, **kwargs):
    return _with_value(gradtx.momo_adam(learning_rate, **kwargs))


def _sophia(learning_rate, **kwargs):
    return _with_obj_fn(gradtx.sophia(learning_rate, **kwargs))


def _dpsgd(learning_rate, **kwargs):
    return _single_example(gradtx.dpsgd(learning_rate, noise_multiplier=0.0, seed=0, **kwargs))


MOMO = Tuning(1.0, 300, 1.0, 20000)
# MoMo*'s estimated bound starts at 0 and lags the loss, so the cap (learning_rate) does
# the work early on: measured 5.7e-3 of the initial loss after 300 steps at rate 10,
# 1.5e-6 after 1000.
MOMO_STAR = Tuning(10.0, 1000, 10.0, 20000)
MOMO_ADAM = Tuning(0.5, 300, 0.05, 20000)
MOMO_ADAM_STAR = Tuning(0.5, 1000, 0.05, 20000)
SOPHIA = Tuning(0.1, 500, 0.02, 20000)
DPSGD = Tuning(0.15, 300, 1e-3, 40000)
# Weight decay 1e-4 pulls the iterate toward 0 along Rosenbrock's flat valley, where the
# curvature is too small to hold it: measured 1.4e-2 (momo) and 1.6e-2 (sophia) from
# (1, 1) after 20000 steps on the CPU; on an H200 momo-wd ended 2.6e-2 away (the flat
# valley amplifies rounding differences), so momo-wd is held to 3e-2 and sophia-wd to 2e-2.
MOMO_WD = MOMO._replace(rosen_dist=3e-2)
SOPHIA_WD = SOPHIA._replace(rosen_dist=2e-2)

ENTRIES = [
    pytest.param(_momo, {}, MOMO, id="momo"),
    pytest.param(_momo, {"weight_decay": 1e-4, "beta": 0.8}, MOMO_WD, id="momo-wd"),
    pytest.param(_momo, {"adapt_lower_bound": True}, MOMO_STAR, id="momo-star"),
    pytest.param(_momo_adam, {}, MOMO_ADAM, id="momo_adam"),
    pytest.param(_momo_adam, {"adapt_lower_bound": True}, MOMO_ADAM_STAR, id="momo_adam-star"),
    # gamma=0.1: with optax's 0.01 nearly every coordinate is clipped (sign descent),
    # which zig-zags on Rosenbrock (measured 2.2e-3 of the quadratic's loss at 500 steps).
    pytest.param(_sophia, {"weight_decay": 0.0, "gamma": 0.1}, SOPHIA, id="sophia"),
    pytest.param(_sophia, {"gamma": 0.1, "update_interval": 1}, SOPHIA_WD, id="sophia-wd"),
    pytest.param(_dpsgd, {"l2_norm_clip": 10.0}, DPSGD, id="dpsgd"),
    pytest.param(_dpsgd, {"l2_norm_clip": 10.0, "momentum": 0.9}, DPSGD, id="dpsgd-momentum"),
]

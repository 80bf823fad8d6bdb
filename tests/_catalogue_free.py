"""Conformance entries for the free family (see tests/_catalogue.py).

Learning-rate-free methods are meant to run at learning_rate=1, which they do on the
quadratic. Rosenbrock's curved valley is harder for their growing step-size estimates;
the numbers below are measured (float32, tests/test_conformance.py's problems).
"""

import jax.numpy as jnp
import pytest
from _conformance_kit import Tuning, _with_lr

import gradtx


def _linear_decay(rate, steps):
    """``rate`` decaying linearly to 0 at ``steps``: the schedule the Prodigy and
    D-Adaptation papers pair their estimates with."""
    return lambda count: rate * jnp.maximum(1.0 - count / steps, 0.0)


# Prodigy at a constant rate keeps bouncing in Rosenbrock's valley (measured 0.6, 0.45,
# 0.31 from the minimum after 2000, 5000, 20000 steps at rate 1); with linear decay to 0
# over 5000 steps it lands on the minimum (measured 0.0; 2.9e-6 over 2000 steps).
PRODIGY = Tuning(1.0, 200, _linear_decay(1.0, 5000), 5000)
# Same for D-Adapt AdamW: measured 0.65 after 20000 steps at rate 1, 0.0 with the decay.
DADAPT = Tuning(1.0, 200, _linear_decay(1.0, 5000), 5000)
# DoG at rate 1: quadratic 1.2e-7 of its initial loss after 500 steps (8.5e-4 after 200);
# Rosenbrock 5.1e-5 from the minimum after 20000 steps (0.21 after 5000).
DOG = Tuning(1.0, 500, 1.0, 20000)
# DoWG at rate 0.5 (measured 4.2e-5 after 20000 steps; 1.7e-3 at rate 1).
DOWG = Tuning(1.0, 200, 0.5, 20000)
# COCOB's bets grow slowly along the valley: measured 4.2e-2, 1.7e-2 and 3.3e-3 from
# Rosenbrock's minimum after 20000, 50000 and 100000 steps (the quadratic: 3e-14 in 200).
COCOB = Tuning(1.0, 200, 1.0, 100000)
# Mechanic around Adam (the rate is Adam's): quadratic 4.7e-11 of its initial loss after
# 300 steps. On Rosenbrock the tuned scale keeps Adam's steps large along the valley:
# measured 0.14, 4.3e-2 and 3.3e-2 from the minimum after 20000, 50000 and 100000 steps
# (with SGD+momentum or a decaying rate it is no better), so it is held to 5e-2.
MECHANIC = Tuning(0.1, 300, 0.1, 100000, rosen_dist=5e-2)


def _scale_by_cocob(learning_rate, **kwargs):
    # scale_by_cocob already outputs the step (a descent direction): no sign flip.
    return gradtx.chain(
        gradtx.scale_by_cocob(**kwargs),
        gradtx.scale_by_learning_rate(learning_rate, flip_sign=False),
    )


def _mechanize_adam(learning_rate, **kwargs):
    return gradtx.mechanize(gradtx.adam(learning_rate), **kwargs)


def _scale_by_mechanic_adam(learning_rate, **kwargs):
    return gradtx.scale_by_mechanic(gradtx.adam(learning_rate), **kwargs)


def _scale_by_prodigy(learning_rate, **kwargs):
    # takes the learning rate itself (it enters the estimate) and outputs the update
    return gradtx.scale_by_prodigy(learning_rate, **kwargs)


def _scale_by_dadapt_adamw(learning_rate, **kwargs):
    return gradtx.scale_by_dadapt_adamw(learning_rate, **kwargs)


ENTRIES = [
    pytest.param(gradtx.prodigy, {}, PRODIGY, id="prodigy"),
    pytest.param(
        gradtx.prodigy,
        {"weight_decay": 1e-4, "safeguard_warmup": True},
        PRODIGY,
        id="prodigy-wd-safeguard",
    ),
    pytest.param(gradtx.dadapt_adamw, {}, DADAPT, id="dadapt_adamw"),
    pytest.param(gradtx.dog, {}, DOG, id="dog"),
    pytest.param(gradtx.dowg, {}, DOWG, id="dowg"),
    pytest.param(gradtx.cocob, {}, COCOB, id="cocob"),
    pytest.param(_mechanize_adam, {}, MECHANIC, id="mechanize-adam"),
    pytest.param(_scale_by_prodigy, {}, PRODIGY, id="scale_by_prodigy"),
    pytest.param(_scale_by_dadapt_adamw, {}, DADAPT, id="scale_by_dadapt_adamw"),
    pytest.param(_with_lr(gradtx.scale_by_dog), {}, DOG, id="scale_by_dog"),
    pytest.param(_with_lr(gradtx.scale_by_dowg), {}, DOWG, id="scale_by_dowg"),
    pytest.param(_scale_by_cocob, {}, COCOB, id="scale_by_cocob"),
    pytest.param(_scale_by_mechanic_adam, {}, MECHANIC, id="scale_by_mechanic-adam"),
]

"""gradtx reproduces torch.optim's numbers in its documented configurations (float64).

torch is driven as a black box: ``p.grad = g`` and ``opt.step()``, with the same
parameters and gradient sequence as gradtx (``_sequences.py``); the parameters must agree
after every step. Three tests per configuration:

* ``test_matches_torch``: the documented gradtx configuration (an alias, or a short chain
  of aliases), ordinary hyperparameters, parameters at rtol 1e-6 (the issue's criterion).
  gradtx keeps its hyperparameters in float32, so ~1e-7 is the expected difference;
* ``test_formula_matches_torch``: the same update rule built from gradtx primitives with
  Python-float hyperparameters (which therefore compute in float64), parameters *and*
  steps at rtol 1e-10. It checks the formulas alone; the few configurations whose formula
  differs from torch's by design carry their measured difference in ``FORMULA_RTOL``;
* ``test_matches_torch_exact_hyperparams``: the documented configuration with
  hyperparameters exactly representable in float32, parameters and steps at rtol 1e-10.
"""

from __future__ import annotations

import pytest

import gradtx

from ._sequences import (
    EXACT,
    assert_trajectories_close,
    run_torch,
    standard_data,
    x64,
)
from ._sequences import run_optax_like as run

torch = pytest.importorskip("torch")

RTOL = 1e-6
RTOL_EXACT = 1e-10

g = gradtx
S = gradtx.schedules


@pytest.fixture(scope="module", autouse=True)
def _float64():
    with x64():
        yield


@pytest.fixture(scope="module")
def data():
    return standard_data()


def lr_(value):
    """The descent step by a Python float (stays float64): ``scale(-value)``."""
    return g.scale(-value)


def amsgrad_raw(**kw):
    return g.scale_by_amsgrad(max_of_raw_moment=True, **kw)


# (id, torch class name, torch kwargs, documented gradtx configuration, the same update
# rule from primitives with Python-float hyperparameters).
CASES = [
    # SGD. torch's first momentum step is undampened (buf = g); gradtx's sgd does that.
    ("SGD", "SGD", dict(lr=0.1), lambda: g.sgd(0.1), lambda: lr_(0.1)),
    (
        "SGD-wd",
        "SGD",
        dict(lr=0.1, weight_decay=0.01),
        lambda: g.sgd(0.1, weight_decay=0.01),
        lambda: g.chain(g.add_decayed_weights(0.01), lr_(0.1)),
    ),
    (
        "SGD-momentum",
        "SGD",
        dict(lr=0.1, momentum=0.9),
        lambda: g.sgd(0.1, momentum=0.9),
        lambda: g.chain(g.trace(0.9), lr_(0.1)),
    ),
    (
        "SGD-momentum-dampening-wd",
        "SGD",
        dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01),
        lambda: g.sgd(0.1, momentum=0.9, dampening=0.3, weight_decay=0.01),
        lambda: g.chain(
            g.add_decayed_weights(0.01),
            g.scale_by_momentum(0.9, dampening=0.3, undampened_first_step=True),
            lr_(0.1),
        ),
    ),
    (
        "SGD-nesterov-wd",
        "SGD",
        dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda: g.sgd(0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda: g.chain(g.add_decayed_weights(0.01), g.trace(0.9, nesterov=True), lr_(0.1)),
    ),
    # Adam, AdamW, AMSGrad.
    (
        "Adam",
        "Adam",
        dict(lr=0.1),
        lambda: g.adam(0.1),
        lambda: g.chain(g.scale_by_adam(), lr_(0.1)),
    ),
    (
        "Adam-betas-eps",
        "Adam",
        dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6),
        lambda: g.adam(0.05, b1=0.8, b2=0.99, eps=1e-6),
        lambda: g.chain(g.scale_by_adam(0.8, 0.99, 1e-6), lr_(0.05)),
    ),
    (
        "Adam-wd",
        "Adam",
        dict(lr=0.1, weight_decay=0.1),
        lambda: g.chain(g.add_decayed_weights(0.1), g.adam(0.1)),
        lambda: g.chain(g.add_decayed_weights(0.1), g.scale_by_adam(), lr_(0.1)),
    ),
    (
        "Adam-amsgrad",
        "Adam",
        dict(lr=0.1, amsgrad=True),
        lambda: g.amsgrad(0.1, max_of_raw_moment=True),
        lambda: g.chain(amsgrad_raw(), lr_(0.1)),
    ),
    (
        "Adam-amsgrad-wd",
        "Adam",
        dict(lr=0.1, amsgrad=True, weight_decay=0.1),
        lambda: g.chain(g.add_decayed_weights(0.1), g.amsgrad(0.1, max_of_raw_moment=True)),
        lambda: g.chain(g.add_decayed_weights(0.1), amsgrad_raw(), lr_(0.1)),
    ),
    (
        "AdamW",
        "AdamW",
        dict(lr=0.1),
        lambda: g.adamw(0.1, weight_decay=1e-2),
        lambda: g.chain(g.scale_by_adam(), g.add_decayed_weights(1e-2), lr_(0.1)),
    ),
    (
        "AdamW-wd",
        "AdamW",
        dict(lr=0.1, weight_decay=0.1, betas=(0.8, 0.99)),
        lambda: g.adamw(0.1, b1=0.8, b2=0.99, weight_decay=0.1),
        lambda: g.chain(g.scale_by_adam(0.8, 0.99), g.add_decayed_weights(0.1), lr_(0.1)),
    ),
    (
        "AdamW-amsgrad",
        "AdamW",
        dict(lr=0.1, weight_decay=0.1, amsgrad=True),
        lambda: g.chain(amsgrad_raw(), g.add_decayed_weights(0.1), g.scale_by_learning_rate(0.1)),
        lambda: g.chain(amsgrad_raw(), g.add_decayed_weights(0.1), lr_(0.1)),
    ),
    # RMSprop: eps outside the root, alpha = decay 0.99; lr outside the momentum buffer,
    # which is the same as gradtx's lr-before-momentum for a constant lr.
    (
        "RMSprop",
        "RMSprop",
        dict(lr=0.01),
        lambda: g.rmsprop(0.01, decay=0.99, eps=1e-8, eps_in_sqrt=False),
        lambda: g.chain(g.scale_by_rms(0.99, 1e-8, eps_in_sqrt=False), lr_(0.01)),
    ),
    (
        "RMSprop-momentum",
        "RMSprop",
        dict(lr=0.01, momentum=0.9),
        lambda: g.rmsprop(0.01, decay=0.99, eps=1e-8, eps_in_sqrt=False, momentum=0.9),
        lambda: g.chain(g.scale_by_rms(0.99, 1e-8, eps_in_sqrt=False), g.trace(0.9), lr_(0.01)),
    ),
    (
        "RMSprop-centered",
        "RMSprop",
        dict(lr=0.01, centered=True),
        lambda: g.rmsprop(0.01, decay=0.99, eps=1e-8, eps_in_sqrt=False, centered=True),
        lambda: g.chain(g.scale_by_stddev(0.99, 1e-8, eps_in_sqrt=False), lr_(0.01)),
    ),
    (
        "RMSprop-centered-momentum-alpha-eps-wd",
        "RMSprop",
        dict(lr=0.01, alpha=0.9, eps=1e-6, momentum=0.5, centered=True, weight_decay=0.01),
        lambda: g.chain(
            g.add_decayed_weights(0.01),
            g.rmsprop(0.01, decay=0.9, eps=1e-6, eps_in_sqrt=False, centered=True, momentum=0.5),
        ),
        lambda: g.chain(
            g.add_decayed_weights(0.01),
            g.scale_by_stddev(0.9, 1e-6, eps_in_sqrt=False),
            g.trace(0.5),
            lr_(0.01),
        ),
    ),
    # Adagrad: accumulator from 0, eps 1e-10 outside the root, lr_decay as inverse time.
    (
        "Adagrad",
        "Adagrad",
        dict(lr=0.1),
        lambda: g.adagrad(0.1, initial_accumulator_value=0.0, eps=1e-10, eps_in_sqrt=False),
        lambda: g.chain(g.scale_by_rss(0.0, 1e-10, eps_in_sqrt=False), lr_(0.1)),
    ),
    (
        "Adagrad-lr_decay",
        "Adagrad",
        dict(lr=0.1, lr_decay=0.05),
        lambda: g.adagrad(
            S.inverse_time_decay(0.1, 0.05),
            initial_accumulator_value=0.0,
            eps=1e-10,
            eps_in_sqrt=False,
        ),
        lambda: g.chain(
            g.scale_by_rss(0.0, 1e-10, eps_in_sqrt=False),
            g.scale_by_schedule(lambda t: -0.1 / (1.0 + 0.05 * t)),
        ),
    ),
    (
        "Adagrad-init-eps-wd",
        "Adagrad",
        dict(lr=0.1, initial_accumulator_value=0.1, eps=1e-6, weight_decay=0.01),
        lambda: g.chain(
            g.add_decayed_weights(0.01),
            g.adagrad(0.1, initial_accumulator_value=0.1, eps=1e-6, eps_in_sqrt=False),
        ),
        lambda: g.chain(
            g.add_decayed_weights(0.01), g.scale_by_rss(0.1, 1e-6, eps_in_sqrt=False), lr_(0.1)
        ),
    ),
    # Adadelta: identical, torch lr 1.0 default.
    (
        "Adadelta",
        "Adadelta",
        dict(),
        lambda: g.adadelta(),
        lambda: g.chain(g.scale_by_adadelta(0.9, 1e-6), lr_(1.0)),
    ),
    (
        "Adadelta-lr-rho-eps-wd",
        "Adadelta",
        dict(lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.01),
        lambda: g.adadelta(0.5, rho=0.95, eps=1e-5, weight_decay=0.01),
        lambda: g.chain(g.add_decayed_weights(0.01), g.scale_by_adadelta(0.95, 1e-5), lr_(0.5)),
    ),
    # Adamax.
    (
        "Adamax",
        "Adamax",
        dict(lr=0.1),
        lambda: g.adamax(0.1),
        lambda: g.chain(g.scale_by_adamax(), lr_(0.1)),
    ),
    (
        "Adamax-betas-eps-wd",
        "Adamax",
        dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        lambda: g.chain(g.add_decayed_weights(0.1), g.adamax(0.1, b1=0.8, b2=0.99, eps=1e-6)),
        lambda: g.chain(g.add_decayed_weights(0.1), g.scale_by_adamax(0.8, 0.99, 1e-6), lr_(0.1)),
    ),
    # RAdam.
    (
        "RAdam",
        "RAdam",
        dict(lr=0.1),
        lambda: g.radam(0.1),
        lambda: g.chain(g.scale_by_radam(), lr_(0.1)),
    ),
    (
        "RAdam-eps0",
        "RAdam",
        dict(lr=0.1, eps=0.0),
        lambda: g.radam(0.1, eps=0.0),
        lambda: g.chain(g.scale_by_radam(eps=0.0), lr_(0.1)),
    ),
    (
        "RAdam-wd",
        "RAdam",
        dict(lr=0.1, eps=0.0, weight_decay=0.1),
        lambda: g.chain(g.add_decayed_weights(0.1), g.radam(0.1, eps=0.0)),
        lambda: g.chain(g.add_decayed_weights(0.1), g.scale_by_radam(eps=0.0), lr_(0.1)),
    ),
    (
        "RAdam-decoupled-wd",
        "RAdam",
        dict(lr=0.1, eps=0.0, weight_decay=0.1, decoupled_weight_decay=True),
        lambda: g.chain(
            g.scale_by_radam(eps=0.0), g.add_decayed_weights(0.1), g.scale_by_learning_rate(0.1)
        ),
        lambda: g.chain(g.scale_by_radam(eps=0.0), g.add_decayed_weights(0.1), lr_(0.1)),
    ),
    # NAdam: Dozat's momentum schedule (momentum_decay), torch default 4e-3.
    (
        "NAdam",
        "NAdam",
        dict(lr=0.1),
        lambda: g.nadam(0.1, momentum_decay=4e-3),
        lambda: g.chain(g.scale_by_nadam(momentum_decay=4e-3), lr_(0.1)),
    ),
    (
        "NAdam-betas-momentum_decay",
        "NAdam",
        dict(lr=0.1, betas=(0.8, 0.99), momentum_decay=1e-2),
        lambda: g.nadam(0.1, b1=0.8, b2=0.99, momentum_decay=1e-2),
        lambda: g.chain(g.scale_by_nadam(0.8, 0.99, momentum_decay=1e-2), lr_(0.1)),
    ),
    (
        "NAdam-wd",
        "NAdam",
        dict(lr=0.1, weight_decay=0.1),
        lambda: g.chain(g.add_decayed_weights(0.1), g.nadam(0.1, momentum_decay=4e-3)),
        lambda: g.chain(
            g.add_decayed_weights(0.1), g.scale_by_nadam(momentum_decay=4e-3), lr_(0.1)
        ),
    ),
    (
        "NAdam-decoupled-wd",
        "NAdam",
        dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True),
        lambda: g.nadamw(0.1, weight_decay=0.1, momentum_decay=4e-3),
        lambda: g.chain(
            g.scale_by_nadam(momentum_decay=4e-3), g.add_decayed_weights(0.1), lr_(0.1)
        ),
    ),
]

# Configurations whose formula differs from torch's by design: measured difference
# (parameters and steps) and the reason. Only the float64 formula test is loosened.
FORMULA_RTOL = {
    # torch divides by (sqrt(v) + eps) / sqrt(1 - b2**t), i.e. its eps is
    # eps / sqrt(1 - b2**t) (~10x eps in the first steps); gradtx (and optax) add eps
    # after the bias correction. No constant eps reproduces that; eps=0 is identical
    # (RAdam-eps0 passes at 1e-10). Measured: 4.0e-7 (parameters and steps).
    "RAdam": 1e-6,
}


def _ids(cases):
    return [c[0] for c in cases]


def _torch_run(cls_name, kwargs, params, grads):
    return run_torch(getattr(torch.optim, cls_name), params, grads, **kwargs)


@pytest.mark.parametrize("name, cls, kwargs, documented, primitives", CASES, ids=_ids(CASES))
def test_matches_torch(name, cls, kwargs, documented, primitives, data):
    params, grads = data
    want = _torch_run(cls, kwargs, params, grads)
    assert_trajectories_close(run(documented(), params, grads), want, RTOL, steps=False)


@pytest.mark.parametrize("name, cls, kwargs, documented, primitives", CASES, ids=_ids(CASES))
def test_formula_matches_torch(name, cls, kwargs, documented, primitives, data):
    params, grads = data
    want = _torch_run(cls, kwargs, params, grads)
    assert_trajectories_close(
        run(primitives(), params, grads), want, FORMULA_RTOL.get(name, RTOL_EXACT)
    )


def test_formula_exceptions_are_real(data):
    """Each loosened formula tolerance is needed: the difference exceeds 1e-10."""
    params, grads = data
    cases = {c[0]: c for c in CASES}
    for name in FORMULA_RTOL:
        _, cls, kwargs, _, primitives = cases[name]
        want = _torch_run(cls, kwargs, params, grads)
        with pytest.raises(AssertionError):
            assert_trajectories_close(run(primitives(), params, grads), want, RTOL_EXACT)


E = EXACT
B = (E["b1"], E["b2"])
EXACT_CASES = [
    (
        "SGD-momentum-dampening-wd",
        "SGD",
        dict(lr=E["lr"], momentum=E["momentum"], dampening=0.25, weight_decay=E["wd"]),
        lambda: g.sgd(E["lr"], momentum=E["momentum"], dampening=0.25, weight_decay=E["wd"]),
    ),
    (
        "SGD-nesterov",
        "SGD",
        dict(lr=E["lr"], momentum=E["momentum"], nesterov=True),
        lambda: g.sgd(E["lr"], momentum=E["momentum"], nesterov=True),
    ),
    (
        "Adam",
        "Adam",
        dict(lr=E["lr"], betas=B, eps=E["eps"]),
        lambda: g.adam(E["lr"], *B, eps=E["eps"]),
    ),
    (
        "Adam-amsgrad",
        "Adam",
        dict(lr=E["lr"], betas=B, eps=E["eps"], amsgrad=True),
        lambda: g.amsgrad(E["lr"], *B, eps=E["eps"], max_of_raw_moment=True),
    ),
    (
        "AdamW",
        "AdamW",
        dict(lr=E["lr"], betas=B, eps=E["eps"], weight_decay=E["wd"]),
        lambda: g.adamw(E["lr"], *B, eps=E["eps"], weight_decay=E["wd"]),
    ),
    (
        "RMSprop-centered-momentum",
        "RMSprop",
        dict(lr=E["lr"], alpha=E["decay"], eps=E["eps"], momentum=E["momentum"], centered=True),
        lambda: g.rmsprop(
            E["lr"],
            decay=E["decay"],
            eps=E["eps"],
            eps_in_sqrt=False,
            centered=True,
            momentum=E["momentum"],
        ),
    ),
    # (lr_decay is left out: lr / (1 + d*t) is not exact in float32 whatever lr and d.)
    (
        "Adagrad",
        "Adagrad",
        dict(lr=E["lr"], initial_accumulator_value=0.125, eps=E["eps"]),
        lambda: g.adagrad(
            E["lr"], initial_accumulator_value=0.125, eps=E["eps"], eps_in_sqrt=False
        ),
    ),
    (
        "Adadelta",
        "Adadelta",
        dict(lr=0.5, rho=E["decay"], eps=2.0**-20),
        lambda: g.adadelta(0.5, rho=E["decay"], eps=2.0**-20),
    ),
    (
        "Adamax",
        "Adamax",
        dict(lr=E["lr"], betas=B, eps=0.0),
        lambda: g.adamax(E["lr"], *B, eps=0.0),
    ),
    ("RAdam", "RAdam", dict(lr=E["lr"], betas=B, eps=0.0), lambda: g.radam(E["lr"], *B, eps=0.0)),
    (
        "NAdam",
        "NAdam",
        dict(lr=E["lr"], betas=B, eps=E["eps"], momentum_decay=2.0**-8),
        lambda: g.nadam(E["lr"], *B, eps=E["eps"], momentum_decay=2.0**-8),
    ),
    (
        "NAdam-decoupled-wd",
        "NAdam",
        dict(
            lr=E["lr"],
            betas=B,
            eps=E["eps"],
            momentum_decay=2.0**-8,
            weight_decay=E["wd"],
            decoupled_weight_decay=True,
        ),
        lambda: g.nadamw(E["lr"], *B, eps=E["eps"], weight_decay=E["wd"], momentum_decay=2.0**-8),
    ),
]


@pytest.mark.parametrize("name, cls, kwargs, documented", EXACT_CASES, ids=_ids(EXACT_CASES))
def test_matches_torch_exact_hyperparams(name, cls, kwargs, documented, data):
    params, grads = data
    want = _torch_run(cls, kwargs, params, grads)
    assert_trajectories_close(run(documented(), params, grads), want, RTOL_EXACT)


def test_nadam_momentum_decay_zero_is_not_constant_b1(data):
    """As the notes say: torch's momentum_decay=0 gives mu_t = b1/2, not b1, and gradtx's
    scale_by_nadam(momentum_decay=0) does the same; optax-style nadam (constant b1) is
    a different trajectory."""
    params, grads = data
    want = _torch_run("NAdam", dict(lr=0.1, momentum_decay=0.0), params, grads)
    same = g.chain(g.scale_by_nadam(momentum_decay=0.0), lr_(0.1))
    assert_trajectories_close(run(same, params, grads), want, RTOL)
    other = g.chain(g.scale_by_adam(nesterov=True), lr_(0.1))
    with pytest.raises(AssertionError):
        assert_trajectories_close(run(other, params, grads), want, 1e-3, steps=False)


def test_sgd_first_momentum_step_is_undampened(data):
    """torch's buf starts at g (no dampening); without that rule the paths differ."""
    params, grads = data
    kwargs = dict(lr=0.1, momentum=0.9, dampening=0.5)
    want = _torch_run("SGD", kwargs, params, grads)
    assert_trajectories_close(
        run(g.sgd(0.1, 0.9, dampening=0.5), params, grads), want, RTOL, steps=False
    )
    dampened = g.chain(g.scale_by_momentum(0.9, dampening=0.5), lr_(0.1))
    with pytest.raises(AssertionError):
        assert_trajectories_close(run(dampened, params, grads), want, 1e-3, steps=False)

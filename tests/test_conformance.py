"""The conformance suite: every optimizer alias and every primitive passes the same checks.

A transformation joins by being registered in ``REGISTRY`` as
``pytest.param(factory, kwargs, tuning, id=...)``: ``factory(learning_rate=..., **kwargs)``
returns the transformation (primitives are chained with a learning rate), and ``tuning``
says how it is expected to converge. Each entry then

- minimizes a convex quadratic (on a tree with a ``None`` leaf, nested in
  ``chain(chain(tx), identity())`` and given unknown extra arguments, which every
  transform must ignore) and the 2-D Rosenbrock function under ``jax.jit`` with
  ``lax.scan`` (whose carry must keep its types: the state cannot change dtype or weak
  type between steps) (``test_minimizes``);
- keeps its state's tree, shapes and dtypes from ``init`` to ``update`` (checked with
  ``lax.cond`` and leaf by leaf), and its updates in the gradients' dtype, for bfloat16
  and float32 parameters (``test_state_and_dtypes_are_stable``);

and each alias also

- shows a float32 ``learning_rate`` in ``gradtx.hyperparams``, and ``set_hyperparams``
  changes the next update exactly, without retracing (``test_set_learning_rate``);
- sweeps four learning rates in one vmapped, jitted program with the same results as four
  separate runs (``test_vmapped_learning_rate_sweep``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _catalogue import CATALOGUE
from _conformance_kit import Tuning, _with_lr
from _problems import ill_conditioned_quadratic, quadratic, rosenbrock, same_structure

import gradtx


def _scale(learning_rate):
    return gradtx.scale(-learning_rate)


def _scale_by_schedule(learning_rate):
    # A slowly decaying schedule, so the schedule's argument matters.
    return gradtx.scale_by_schedule(lambda count: -learning_rate / (1.0 + 1e-4 * count))


def _sign_descent(learning_rate):
    # signSGD takes steps of fixed size: with a constant rate it ends oscillating at
    # distance ~learning_rate, so the rate decays (by 2e4 over 10000 steps).
    return gradtx.chain(
        gradtx.scale_by_sign(),
        gradtx.scale_by_learning_rate(lambda count: learning_rate * 0.999**count),
    )


def _hyperbolic(rate, k):
    """The course notes' decay ``rate / (1 + k t)``."""
    return lambda count: rate / (1.0 + k * count)


# Adadelta's step follows the RMS of its own past steps and does not shrink by itself:
# with a constant rate it wanders along Rosenbrock's curved valley (measured: 0.75 from
# the minimum after 20000 steps, 1.0 after 100000, with the paper's rho=0.95, eps=1e-6).
# With the course notes' hyperbolic decay it converges, and is held to the same 1e-2.
ADADELTA_ROSEN_LR = _hyperbolic(1.0, 1e-2)


GD = Tuning(0.15, 200, 1e-3, 40000)  # plain gradient steps
HEAVY_BALL = Tuning(0.05, 300, 1e-3, 8000)
ADAM = Tuning(0.1, 500, 0.02, 8000)
# NAdam's look-ahead keeps it bouncing in Rosenbrock's valley at rate 0.02 (measured
# 5e-3 from the minimum after 8000 and after 20000 steps); at 5e-3 it settles.
NADAM = Tuning(0.1, 500, 5e-3, 20000)
RMS = Tuning(0.01, 500, 1e-3, 8000)
ADAGRAD = Tuning(0.5, 500, 0.5, 20000)
# AMSGrad keeps the largest second moment seen, here the first step's (|g| ~ 200 at
# Rosenbrock's start), so later steps are ~lr |g| / 200: it needs a large rate.
AMSGRAD = Tuning(0.1, 500, 0.5, 20000)
# RAdam's first steps (rho_t <= 5) are plain momentum steps on raw gradients, which
# Rosenbrock's start (|g| ~ 200) makes explode unless the rate is small.
RADAM = Tuning(0.1, 500, 2e-3, 20000)
ADADELTA = Tuning(1.0, 1500, ADADELTA_ROSEN_LR, 20000)

ALIASES = [
    pytest.param(gradtx.sgd, {}, GD, id="sgd"),
    pytest.param(gradtx.sgd, {"momentum": 0.9, "nesterov": True}, HEAVY_BALL, id="sgd-nesterov"),
    pytest.param(
        gradtx.sgd,
        {"momentum": 0.9, "dampening": 0.5, "weight_decay": 1e-4},
        HEAVY_BALL,
        id="sgd-torch",
    ),
    pytest.param(gradtx.adam, {}, ADAM, id="adam"),
    pytest.param(gradtx.adamw, {}, ADAM, id="adamw"),
    pytest.param(gradtx.nadam, {}, NADAM, id="nadam"),
    pytest.param(gradtx.nadam, {"momentum_decay": 4e-3}, NADAM, id="nadam-dozat"),
    pytest.param(gradtx.nadamw, {}, NADAM, id="nadamw"),
    pytest.param(gradtx.amsgrad, {}, AMSGRAD, id="amsgrad"),
    pytest.param(gradtx.adamax, {}, ADAM, id="adamax"),
    pytest.param(gradtx.adamaxw, {}, ADAM, id="adamaxw"),
    pytest.param(gradtx.radam, {}, RADAM, id="radam"),
    pytest.param(gradtx.rmsprop, {}, RMS, id="rmsprop"),
    pytest.param(
        gradtx.rmsprop, {"centered": True, "momentum": 0.9}, RMS, id="rmsprop-centered-momentum"
    ),
    pytest.param(gradtx.adagrad, {}, ADAGRAD, id="adagrad"),
    pytest.param(gradtx.adadelta, {"rho": 0.95}, ADADELTA, id="adadelta"),
]

PRIMITIVES = [
    pytest.param(_scale, {}, GD, id="scale"),
    pytest.param(gradtx.scale_by_learning_rate, {}, GD, id="scale_by_learning_rate"),
    pytest.param(_scale_by_schedule, {}, GD, id="scale_by_schedule"),
    pytest.param(
        _with_lr(gradtx.scale_by_momentum), {"decay": 0.9}, HEAVY_BALL, id="scale_by_momentum"
    ),
    pytest.param(_with_lr(gradtx.trace), {"decay": 0.9, "nesterov": True}, HEAVY_BALL, id="trace"),
    pytest.param(_with_lr(gradtx.ema), {"decay": 0.9}, GD, id="ema"),
    # Debiasing multiplies the first steps by 1/(1 - 0.5^t) (2, 4/3, ...); Rosenbrock's
    # start tolerates at most about 1e-3 x 1.3 before plain gradient steps diverge.
    pytest.param(
        _with_lr(gradtx.bias_correction),
        {"decay": 0.5},
        Tuning(0.05, 300, 5e-4, 80000),
        id="bias_correction",
    ),
    pytest.param(_with_lr(gradtx.scale_by_rms), {}, RMS, id="scale_by_rms"),
    pytest.param(_with_lr(gradtx.scale_by_stddev), {}, RMS, id="scale_by_stddev"),
    pytest.param(_with_lr(gradtx.scale_by_rss), {}, ADAGRAD, id="scale_by_rss"),
    pytest.param(_with_lr(gradtx.scale_by_adam), {}, ADAM, id="scale_by_adam"),
    pytest.param(_with_lr(gradtx.scale_by_amsgrad), {}, AMSGRAD, id="scale_by_amsgrad"),
    pytest.param(_with_lr(gradtx.scale_by_adamax), {}, ADAM, id="scale_by_adamax"),
    pytest.param(
        _with_lr(gradtx.scale_by_adadelta), {"rho": 0.95}, ADADELTA, id="scale_by_adadelta"
    ),
    pytest.param(_with_lr(gradtx.scale_by_radam), {}, RADAM, id="scale_by_radam"),
    pytest.param(_with_lr(gradtx.scale_by_nadam), {}, NADAM, id="scale_by_nadam"),
    pytest.param(
        _with_lr(gradtx.add_decayed_weights), {"weight_decay": 1e-4}, GD, id="add_decayed_weights"
    ),
    pytest.param(_with_lr(gradtx.clip), {"max_delta": 1.0}, GD, id="clip"),
    pytest.param(
        _with_lr(gradtx.clip_by_global_norm), {"max_norm": 1.0}, GD, id="clip_by_global_norm"
    ),
    pytest.param(
        _with_lr(gradtx.clip_by_block_rms), {"threshold": 1.0}, GD, id="clip_by_block_rms"
    ),
    # The problems' parameters have rank <= 1, which centralize passes unchanged; its
    # rank >= 2 behaviour is tested against the reference in tests/transforms.
    pytest.param(_with_lr(gradtx.centralize), {}, GD, id="centralize"),
    # Even with its decaying rate (see _sign_descent), sign descent zig-zags across
    # Rosenbrock's curved valley in axis-aligned steps: it is held to 2e-2, not 1e-2
    # (measured 9e-3; with a constant rate it stays ~0.2 away).
    pytest.param(
        _sign_descent, {}, Tuning(0.05, 5000, 0.02, 10000, rosen_dist=2e-2), id="scale_by_sign"
    ),
]

REGISTRY = ALIASES + PRIMITIVES + CATALOGUE
# The catalogue's optimizer aliases (not its primitives, nor entries that wrap an alias to
# supply extra arguments) also go through the hyperparameter checks.
CATALOGUE_ALIASES = [
    e
    for e in CATALOGUE
    if getattr(e.values[0], "__module__", "").startswith("gradtx.optimizers")
    and not callable(e.values[2].quad_lr)
    # adafactor adds its weight decay after the learning rate (optax's design), so its
    # update is not linear in the rate, which test_set_learning_rate relies on
    and e.id != "adafactor-factored-momentum"
    # MADGRAD's rate weights its sums, so its first update scales as (lr + eps)^(2/3)
    and e.id != "madgrad"
]
_ARGS = ("factory", "kwargs", "tuning")


def _make(factory, kwargs, learning_rate):
    return factory(learning_rate=learning_rate, **kwargs)


class Counter:
    """Wrap ``fn`` and count how many times it runs (under ``jit``: how often it traces)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.calls = fn, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.fn(*args, **kwargs)


def _descend(tx, loss, params, steps, **extra_args):
    """Run ``steps`` gradient steps of ``tx`` on ``loss`` from ``params`` with ``lax.scan``."""

    def body(carry, _):
        p, s = carry
        u, s = tx.update(jax.grad(loss)(p), s, p, **extra_args)
        return (gradtx.apply_updates(p, u), s), None

    (params, _), _ = jax.lax.scan(body, (params, tx.init(params)), None, length=steps)
    return params


# --------------------------------------------------------------------------------------
# Convergence


@pytest.mark.parametrize(_ARGS, REGISTRY)
def test_minimizes(factory, kwargs, tuning):
    quad, rosen = quadratic(), rosenbrock()
    # A None leaf rides along: the loss ignores it and every transform must pass it.
    quad_init = {**quad.init, "frozen": None}
    # Nested, with extra arguments it does not know: it must ignore them and keep working.
    quad_tx = gradtx.chain(gradtx.chain(_make(factory, kwargs, tuning.quad_lr)), gradtx.identity())
    rosen_tx = _make(factory, kwargs, tuning.rosen_lr)
    unknown = {"foo": 1, "bar": "unused"}

    @jax.jit
    def run():
        p_quad = _descend(quad_tx, quad.loss, quad_init, tuning.quad_steps, **unknown)
        p_rosen = _descend(rosen_tx, rosen.loss, jnp.asarray(rosen.init), tuning.rosen_steps)
        return p_quad, quad.loss(p_quad), p_rosen

    p_quad, quad_loss, p_rosen = run()
    assert p_quad["frozen"] is None
    initial = float(quad.loss(quad.init))
    assert float(quad_loss) < 1e-3 * initial, (float(quad_loss), initial)
    dist = float(np.linalg.norm(np.asarray(p_rosen) - rosen.minimizer))
    assert dist < tuning.rosen_dist, (np.asarray(p_rosen), dist)


# --------------------------------------------------------------------------------------
# State and dtypes


def _tree_params(dtype):
    return {
        "w": jnp.ones((2, 3), dtype),
        "b": [jnp.ones(3, dtype), (jnp.ones([], dtype), None)],
    }


def _avals(tree):
    return jax.tree.map(lambda x: (x.shape, jnp.dtype(x.dtype), x.weak_type), tree)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32], ids=["bfloat16", "float32"])
@pytest.mark.parametrize(_ARGS, REGISTRY)
def test_state_and_dtypes_are_stable(factory, kwargs, tuning, dtype):
    tx = _make(factory, kwargs, tuning.quad_lr)
    params = _tree_params(dtype)
    grads = jax.tree.map(lambda p: 0.5 * p, params)

    def two_states(g, p):
        s0 = tx.init(p)
        u, s1 = tx.update(g, s0, p)
        _, s2 = tx.update(g, s1, p)
        return u, s0, s1, s2

    u, s0, s1, s2 = jax.eval_shape(two_states, grads, params)
    assert same_structure(u, grads)
    assert jax.tree.leaves(_avals(u)) == jax.tree.leaves(_avals(grads)), "updates' dtype"
    assert same_structure(s0, s1) and same_structure(s1, s2)
    assert _avals(s0) == _avals(s1) == _avals(s2)

    # lax.cond insists that both branches return the same tree of the same types.
    def select(pred, a, b):
        return jax.lax.cond(pred, lambda: a, lambda: b)

    jax.eval_shape(select, jax.ShapeDtypeStruct((), bool), s0, s1)


# --------------------------------------------------------------------------------------
# Hyperparameters in the state (aliases)


@pytest.mark.parametrize(_ARGS, ALIASES + CATALOGUE_ALIASES)
def test_set_learning_rate(factory, kwargs, tuning, rng):
    lr, new_lr = 0.01, 0.02
    params = {
        "w": jnp.asarray(rng.normal(size=(2, 3)).astype(np.float32)),
        "b": jnp.asarray(rng.normal(size=3).astype(np.float32)),
    }
    grads = [
        jax.tree.map(lambda p: jnp.asarray(rng.normal(size=p.shape).astype(np.float32)), params)
        for _ in range(4)
    ]
    tx = _make(factory, kwargs, lr)
    state = tx.init(params)

    hps = gradtx.hyperparams(state)
    assert hps["learning_rate"].dtype == jnp.float32 and hps["learning_rate"].shape == ()
    assert float(hps["learning_rate"]) == float(np.float32(lr))

    step = Counter(tx.update)
    jitted = jax.jit(step)

    # From the initial state (all moments zero) every alias is linear in the rate, and
    # doubling is exact in floating point: the update doubles exactly.
    u_lr, _ = jitted(grads[0], state, params)
    u_2lr, s = jitted(grads[0], gradtx.set_hyperparams(state, learning_rate=new_lr), params)
    for a, b in zip(jax.tree.leaves(u_lr), jax.tree.leaves(u_2lr), strict=True):
        np.testing.assert_array_equal(2 * np.asarray(a), np.asarray(b))
    assert float(gradtx.hyperparams(s)["learning_rate"]) == float(np.float32(new_lr))

    # Midway: set the rate before step 3, under jit (no retrace) ...
    state, p = tx.init(params), params
    for t, g in enumerate(grads):
        if t == 2:
            state = gradtx.set_hyperparams(state, learning_rate=new_lr)
        u, state = jitted(g, state, p)
        p = gradtx.apply_updates(p, u)
    assert step.calls == 1, f"set_hyperparams made the step retrace ({step.calls} traces)"
    assert float(gradtx.hyperparams(state)["learning_rate"]) == float(np.float32(new_lr))

    # ... and the run is exactly the one of a schedule switching there (both run eagerly,
    # so each does the same operations; jit may round a few ulp differently).
    def run(tx, set_at=None):
        state, p, out = tx.init(params), params, []
        for t, g in enumerate(grads):
            if t == set_at:
                state = gradtx.set_hyperparams(state, learning_rate=new_lr)
            u, state = tx.update(g, state, p)
            p = gradtx.apply_updates(p, u)
            out.append(u)
        return out

    switched = _make(factory, kwargs, lambda count: jnp.where(count < 2, lr, new_lr))
    for t, (a, b) in enumerate(zip(run(tx, set_at=2), run(switched), strict=True)):
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
            np.testing.assert_array_equal(x, y, err_msg=f"step {t + 1}")


@pytest.mark.parametrize(_ARGS, ALIASES + CATALOGUE_ALIASES)
def test_vmapped_learning_rate_sweep(factory, kwargs, tuning):
    quad = quadratic()
    tx = _make(factory, kwargs, tuning.quad_lr)
    lrs = jnp.asarray([0.25, 0.5, 1.0, 1.5], jnp.float32) * tuning.quad_lr

    def train(lr):
        state = gradtx.set_hyperparams(tx.init(quad.init), learning_rate=lr)

        def body(carry, _):
            p, s = carry
            u, s = tx.update(jax.grad(quad.loss)(p), s, p)
            return (gradtx.apply_updates(p, u), s), None

        (p, s), _ = jax.lax.scan(body, (quad.init, state), None, length=20)
        return p, gradtx.hyperparams(s)["learning_rate"]

    traced = Counter(train)
    swept, swept_lr = jax.jit(jax.vmap(traced))(lrs)
    assert traced.calls == 1
    single = jax.jit(traced)
    runs = [single(lr) for lr in lrs]
    assert traced.calls == 2, "one program for the sweep, one for the four separate runs"
    np.testing.assert_array_equal(swept_lr, lrs)
    for i, (p, lr) in enumerate(runs):
        assert float(lr) == float(lrs[i])
        for a, b in zip(jax.tree.leaves(swept), jax.tree.leaves(p), strict=True):
            np.testing.assert_allclose(a[i], b, rtol=1e-5, atol=1e-7, err_msg=f"lr #{i}")
    # The rates matter: the runs end at different points.
    assert not np.allclose(swept["w"][0], swept["w"][3], rtol=1e-3)


# --------------------------------------------------------------------------------------
# The problem zoo itself


def test_problem_zoo_minimizers():
    for problem in (quadratic(), ill_conditioned_quadratic(), rosenbrock()):
        loss_and_grad = jax.jit(jax.value_and_grad(problem.loss))
        value, grad = loss_and_grad(jax.tree.map(jnp.asarray, problem.minimizer))
        assert float(value) == problem.min_value, problem.name
        assert all(np.all(np.asarray(g) == 0) for g in jax.tree.leaves(grad)), problem.name
        value, grad = loss_and_grad(jax.tree.map(jnp.asarray, problem.init))
        assert float(value) > 1.0 and float(gradtx.tree.norm(grad)) > 1.0, problem.name
    # Moré, Garbow & Hillstrom (1981), problem 1: f(-1.2, 1) = 24.2.
    assert float(rosenbrock().loss(rosenbrock().init)) == pytest.approx(24.2, rel=1e-6)
    # The condition number is the ratio of the extreme curvatures.
    ill = ill_conditioned_quadratic(condition=1e3)
    hess = jax.jit(jax.hessian(ill.loss))({"w": jnp.zeros(6)})["w"]["w"]
    eig = np.linalg.eigvalsh(np.asarray(hess, np.float64))
    assert eig.max() / eig.min() == pytest.approx(1e3, rel=1e-5)

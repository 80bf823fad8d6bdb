"""lookahead against the paper's Algorithm 1 written as a NumPy loop.

Zhang, Lucas, Hinton & Ba 2019, "Lookahead Optimizer: k steps forward, 1 step back",
arXiv 1907.08610: the inner optimizer takes k steps on the fast weights from the slow
weights; then the slow weights move a fraction alpha toward the fast ones, and the
fast weights restart from there.
"""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import leaves, nested_params

import gradtx


def paper_lookahead(inner, params, grad_fn, k, alpha, steps, reset=False):
    """Algorithm 1 with the inner state kept across syncs (or reset); returns (fast, slow)
    after every call."""
    slow = [np.asarray(p, np.float64) for p in params]
    fast = [p.copy() for p in slow]
    inner.init(fast)
    out = []
    for t in range(1, steps + 1):
        u = inner.update(grad_fn(fast), fast)
        fast = [f + x for f, x in zip(fast, u, strict=True)]
        if t % k == 0:
            slow = [s + alpha * (f - s) for s, f in zip(slow, fast, strict=True)]
            fast = [s.copy() for s in slow]
            if reset:
                inner.init(fast)
        out.append(([f.copy() for f in fast], [s.copy() for s in slow]))
    return out


def _quadratic_grad(center):
    """The gradient of 0.5 * sum (x - c)^2 * h on a list of leaves (h = 1..n)."""

    def grad(leaves_):
        return [(i + 1.0) * (x - c) for i, (x, c) in enumerate(zip(leaves_, center, strict=True))]

    return grad


@pytest.mark.parametrize("reset", [False, True], ids=["keep-state", "reset-state"])
def test_matches_paper_algorithm(reset, rng, x64):
    params = nested_params(rng, np.float64)
    center = [rng.normal(size=np.shape(x)) for x in leaves(params)]
    grad_np = _quadratic_grad(center)
    tx = gradtx.lookahead(gradtx.sgd(0.1, momentum=0.9), 3, 0.5, reset_state=reset)
    lp = gradtx.LookaheadParams.init_synced(params)
    state = tx.init(lp)
    treedef = jax.tree.structure(params)
    step = jax.jit(tx.update)
    want = paper_lookahead(ref.SGD(0.1, momentum=0.9), leaves(params), grad_np, 3, 0.5, 8, reset)
    for t in range(8):
        g = jax.tree.unflatten(treedef, [jnp.asarray(x) for x in grad_np(leaves(lp.fast))])
        u, state = step(g, state, lp)
        assert isinstance(u, gradtx.LookaheadParams) and u.fast["b"][1][1] is None
        lp = gradtx.apply_updates(lp, u)
        for got, exp in zip((lp.fast, lp.slow), want[t], strict=True):
            for a, b in zip(leaves(got), exp, strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=f"call {t + 1}")
    assert int(state.steps_since_sync) == 8 % 3


def test_reset_keeps_hyperparams_set_by_hand():
    tx = gradtx.lookahead(gradtx.adam(1e-3), 2, 0.5, reset_state=True)
    lp = gradtx.LookaheadParams.init_synced(jnp.zeros(2))
    state = gradtx.set_hyperparams(tx.init(lp), learning_rate=0.25)
    for _ in range(2):
        u, state = tx.update(jnp.ones(2), state, lp)
        lp = gradtx.apply_updates(lp, u)
    assert float(gradtx.hyperparams(state)["learning_rate"]) == 0.25
    assert int(gradtx.tree.get(state, "count")) == 0  # Adam's count was reset


def test_plain_params_init_and_dtypes():
    tx = gradtx.lookahead(gradtx.adam(1e-2), 2, 0.8)
    p = {"w": jnp.ones(3, jnp.bfloat16)}
    s_plain = tx.init(p)
    lp = gradtx.LookaheadParams.init_synced(p)
    s = tx.init(lp)
    assert jax.tree.structure(s_plain) == jax.tree.structure(s)

    def states(g, lp):
        s0 = tx.init(lp)
        u, s1 = tx.update(g, s0, lp)
        return u, s0, s1

    u, s0, s1 = jax.eval_shape(states, p, lp)
    assert u.fast["w"].dtype == jnp.bfloat16 and u.slow["w"].dtype == jnp.bfloat16
    avals = lambda t: jax.tree.map(lambda x: (x.shape, x.dtype, x.weak_type), t)  # noqa: E731
    assert avals(s0) == avals(s1)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: gradtx.lookahead(gradtx.sgd, 2, 0.5),
            TypeError,
            r"`lookahead\(fast_optimizer=\.\.\.\)` must be a gradient transformation",
        ),
        (
            lambda: gradtx.lookahead(gradtx.sgd(0.1), 0, 0.5),
            ValueError,
            r"`lookahead\(sync_period=\.\.\.\)` must be an integer >= 1; got sync_period=0",
        ),
        (
            lambda: gradtx.lookahead(gradtx.sgd(0.1), 2, 1.5),
            ValueError,
            r"`lookahead\(slow_step_size=\.\.\.\)` must lie in \[0, 1\]; got slow_step_size=1\.5",
        ),
        (
            lambda: gradtx.lookahead(gradtx.sgd(0.1), 2, 0.5, reset_state="no"),
            TypeError,
            r"`lookahead\(reset_state=\.\.\.\)` must be a bool",
        ),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_update_errors():
    tx = gradtx.lookahead(gradtx.sgd(0.1), 2, 0.5)
    lp = gradtx.LookaheadParams.init_synced(jnp.zeros(2))
    s = tx.init(lp)
    with pytest.raises(TypeError, match=r"`lookahead` needs the LookaheadParams.*got params of"):
        tx.update(jnp.ones(2), s, jnp.zeros(2))
    with pytest.raises(TypeError, match=r"takes the gradient at params\.fast"):
        tx.update(lp, s, lp)

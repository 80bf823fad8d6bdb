"""conditionally_transform and conditionally_mask against hand-written loops."""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx


class Conditional(ref.Transform):
    """Run ``inner`` at the calls ``when(t)`` selects (t counts from 0); else pass or zero."""

    def __init__(self, inner, when, mask):
        self.inner, self.when, self.mask = inner, when, mask

    def _init(self, params):
        self.inner.init(params)

    def _update(self, grads, params):
        if self.when(self.t - 1):
            return self.inner.update(grads, params)
        return [np.zeros_like(g) for g in grads] if self.mask else grads


@pytest.mark.parametrize("mask", [False, True], ids=["transform", "mask"])
def test_matches_reference(mask, rng, x64):
    params = nested_params(rng, np.float64)
    grads = gradient_stream(rng, params, 7)

    def when(step):
        return step % 3 != 1

    wrapper = gradtx.conditionally_mask if mask else gradtx.conditionally_transform
    tx = wrapper(gradtx.sgd(0.1, momentum=0.9), when)
    got = run_gradtx(
        gradtx.GradientTransformationExtraArgs(tx.init, jax.jit(tx.update)), params, grads
    )
    reference = Conditional(ref.SGD(0.1, momentum=0.9), when, mask)
    want = ref.run(reference, leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=1e-12)
    state = tx.init(params)
    expected = gradtx.ConditionallyMaskState if mask else gradtx.ConditionallyTransformState
    assert isinstance(state, expected) and state.step.dtype == jnp.int32


def test_extra_args_and_jit():
    def inner_update(updates, state, params=None, *, scale_by):
        return jax.tree.map(lambda u: u * scale_by, updates), state

    inner = gradtx.GradientTransformationExtraArgs(lambda p: gradtx.EmptyState(), inner_update)
    # Without forwarding, the condition sees the step only; the inner gets scale_by.
    tx = gradtx.conditionally_transform(inner, lambda step: step >= 1)
    step = jax.jit(tx.update)
    s = tx.init(jnp.zeros(1))
    u0, s = step(jnp.ones(1), s, None, scale_by=3.0)
    u1, s = step(jnp.ones(1), s, None, scale_by=3.0)
    np.testing.assert_array_equal(u0, [1.0])
    np.testing.assert_array_equal(u1, [3.0])
    # With forwarding, the condition gets the extra arguments too.
    tx = gradtx.conditionally_mask(
        inner, lambda step, scale_by: scale_by > 2.0, forward_extra_args=True
    )
    s = tx.init({"w": jnp.zeros(1), "n": None})
    u, s = tx.update({"w": jnp.ones(1), "n": None}, s, None, scale_by=1.0)
    assert u["n"] is None
    np.testing.assert_array_equal(u["w"], [0.0])
    u, s = tx.update({"w": jnp.ones(1), "n": None}, s, None, scale_by=4.0)
    np.testing.assert_array_equal(u["w"], [4.0])
    assert int(s.step) == 2


def test_state_stable_under_cond():
    params = {"w": jnp.ones(3, jnp.bfloat16), "n": None}
    for wrapper in (gradtx.conditionally_transform, gradtx.conditionally_mask):
        tx = wrapper(gradtx.adam(1e-3), lambda step: step % 2 == 0)

        def states(p, tx=tx):
            s0 = tx.init(p)
            u, s1 = tx.update(p, s0, p)
            return u, s0, s1

        u, s0, s1 = jax.eval_shape(states, params)
        assert u["w"].dtype == jnp.bfloat16
        avals = lambda t: jax.tree.map(lambda x: (x.shape, x.dtype, x.weak_type), t)  # noqa: E731
        assert avals(s0) == avals(s1)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: gradtx.conditionally_transform(gradtx.sgd, lambda s: True),
            TypeError,
            r"`conditionally_transform\(inner=\.\.\.\)` must be a gradient transformation",
        ),
        (
            lambda: gradtx.conditionally_mask(gradtx.sgd(0.1), True),
            TypeError,
            r"`conditionally_mask\(should_transform_fn=\.\.\.\)` must be a function",
        ),
        (
            lambda: gradtx.conditionally_mask(gradtx.sgd(0.1), lambda s: True, 1),
            TypeError,
            r"`conditionally_mask\(forward_extra_args=\.\.\.\)` must be a bool",
        ),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_condition_must_be_scalar():
    tx = gradtx.conditionally_transform(gradtx.sgd(0.1), lambda s: jnp.ones(2, bool))
    with pytest.raises(ValueError, match=r"must return a scalar bool; got shape \(2,\)"):
        tx.update(jnp.ones(1), tx.init(jnp.ones(1)))

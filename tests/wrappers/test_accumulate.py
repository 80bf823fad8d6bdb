"""MultiSteps and apply_every against hand-written loops (NumPy, float64).

The reference for ``MultiSteps(opt, k)`` is the definition of gradient accumulation:
every k-th call steps a NumPy re-implementation of ``opt`` (from its paper, see
``tests/_reference.py``) once on the mean (or sum) of the last k gradients; the other
calls return zeros.
"""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

K = 3
STEPS = 9


class Accumulate(ref.Transform):
    """Gradient accumulation around a NumPy reference ``inner``."""

    def __init__(self, inner: ref.Transform, k, mean: bool = True) -> None:
        self.inner, self.k, self.mean = inner, k, mean

    def _init(self, params):
        self.inner.init(params)
        self.acc = [np.zeros_like(p) for p in params]
        self.n, self.steps = 0, 0

    def _update(self, grads, params):
        self.acc = [a + g for a, g in zip(self.acc, grads, strict=True)]
        self.n += 1
        k = self.k(self.steps) if callable(self.k) else self.k
        if self.n < k:
            return [np.zeros_like(g) for g in grads]
        g = [a / k for a in self.acc] if self.mean else self.acc
        self.acc, self.n, self.steps = [np.zeros_like(a) for a in self.acc], 0, self.steps + 1
        return self.inner.update(g, params)


def jitted(tx):
    """``tx`` with its update jitted (lax.cond retraces at every eager call)."""
    return gradtx.GradientTransformationExtraArgs(tx.init, jax.jit(tx.update))


def _adam_ref():
    return ref.Chain(ref.Adam(0.9, 0.999, 1e-8), ref.ScaleByLearningRate(0.1))


@pytest.mark.parametrize("mean", [True, False], ids=["mean", "sum"])
def test_multisteps_is_one_inner_step_on_the_mean_gradient(mean, rng, x64):
    params = nested_params(rng, np.float64)
    grads = gradient_stream(rng, params, STEPS)
    tx = gradtx.MultiSteps(gradtx.adam(0.1), K, use_grad_mean=mean)
    got = run_gradtx(jitted(tx), params, grads)
    want = ref.run(Accumulate(_adam_ref(), K, mean), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=1e-12)
    # Only every K-th update is non-zero.
    assert [any(np.any(x != 0) for x in leaves(u)) for u in got] == [False, False, True] * 3


def test_multisteps_with_momentum_and_a_schedule(rng, x64):
    # k = 1, then 2, then 3 (a function of the inner steps taken so far).
    def k_of(step):
        return jnp.minimum(step + 1, 3)

    params = nested_params(rng, np.float64)
    grads = gradient_stream(rng, params, 9)
    tx = gradtx.MultiSteps(gradtx.sgd(0.1, momentum=0.9), k_of)
    got = run_gradtx(jitted(tx), params, grads)
    reference = Accumulate(ref.SGD(0.1, momentum=0.9), lambda s: min(s + 1, 3))
    want = ref.run(reference, leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=1e-12)
    emitted = [any(np.any(x != 0) for x in leaves(u)) for u in got]
    assert emitted == [True, False, True, False, False, True, False, False, True]


def test_multisteps_is_a_gradient_transformation(rng):
    ms = gradtx.MultiSteps(gradtx.sgd(0.5), 2)
    assert isinstance(ms, gradtx.GradientTransformationExtraArgs)
    init, update = ms  # an (init, update) pair, like any transformation
    assert init is ms.init and update is ms.update
    plain = ms.gradient_transformation()
    assert type(plain) is gradtx.GradientTransformationExtraArgs and plain.update is ms.update
    assert ms.inner_opt is not None
    # As a pytree it is one static node: jax.tree.map gives it back unchanged.
    assert jax.tree.leaves(ms) == [] and jax.tree.map(lambda x: x, [ms])[0] is ms
    # In a chain, under jit, with has_updated finding its state inside the chain's.
    tx = gradtx.chain(gradtx.clip(10.0), ms)
    params = {"w": jnp.zeros(2), "frozen": None}
    step = jax.jit(tx.update)
    state = tx.init(params)
    flags, outs = [], []
    for g in ([1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]):
        u, state = step({"w": jnp.asarray(g), "frozen": None}, state, params)
        assert u["frozen"] is None
        flags.append(bool(gradtx.MultiSteps.has_updated(state)))
        outs.append(np.asarray(u["w"]))
    assert flags == [False, True, False, True]
    np.testing.assert_array_equal(outs[1], [-1.0, -1.5])
    np.testing.assert_array_equal(outs[3], [-3.0, -3.5])


def test_multisteps_state_has_one_parameter_sized_buffer():
    params = {"w": jnp.zeros((4, 5)), "b": jnp.zeros(5)}
    inner = gradtx.adam(1e-3)
    size = lambda tree: sum(np.size(x) for x in jax.tree.leaves(tree))  # noqa: E731
    state = gradtx.MultiSteps(inner, 4).init(params)
    assert size(state) == size(inner.init(params)) + size(params) + 2
    assert jax.tree.structure(state.acc_grads) == jax.tree.structure(params)


def test_bfloat16_gradients_accumulate_in_float32_under_scan(rng):
    params = {"w": jnp.zeros(64, jnp.bfloat16)}
    # 8 micro-batch gradients whose mean bfloat16 accumulation would round badly:
    # a large value plus many small ones.
    draws = rng.normal(size=(8, 64)).astype(np.float32) * 1e-2
    draws[0] += 3.0
    grads = jnp.asarray(draws, jnp.bfloat16)
    tx = gradtx.MultiSteps(gradtx.sgd(1.0), 8)

    def body(state, g):
        u, state = tx.update({"w": g}, state, params)
        return state, (u["w"], state.acc_grads["w"].dtype == jnp.float32)

    state0 = tx.init(params)
    assert state0.acc_grads["w"].dtype == jnp.float32
    _, (updates, _) = jax.jit(lambda s: jax.lax.scan(body, s, grads))(state0)
    assert updates.dtype == jnp.bfloat16
    got = np.asarray(updates[-1], np.float32)
    want = -np.asarray(grads, np.float32).mean(axis=0)  # the mean of the bf16 inputs
    # float32 accumulation: only the final rounding to bfloat16 (rel. 2**-8) remains.
    np.testing.assert_allclose(got, want, rtol=2**-8, atol=0)
    # A bfloat16 accumulator is measurably worse on the same data.
    acc = jnp.zeros(64, jnp.bfloat16)
    for g in grads:
        acc = acc + g
    bf16_err = np.max(np.abs(np.asarray(acc / 8, np.float32) + want) / np.abs(want))
    assert bf16_err > 2**-8


def test_multisteps_skips_non_finite_micro_batches(x64):
    tx = gradtx.MultiSteps(gradtx.sgd(1.0), 2, should_skip_update_fn=gradtx.skip_not_finite)
    p = jnp.zeros(2)
    state, step = tx.init(p), jax.jit(tx.update)
    assert set(state.skip_state) == {"should_skip", "num_not_finite"}
    outs = []
    for g in ([1.0, 1.0], [np.nan, 1.0], [3.0, np.inf], [3.0, 5.0]):
        u, state = step(jnp.asarray(g), state, p)
        outs.append(np.asarray(u))
        if not np.all(np.isfinite(g)):
            assert bool(state.skip_state["should_skip"]) and int(state.mini_step) == 1
    np.testing.assert_array_equal(outs[1], 0.0)
    np.testing.assert_array_equal(outs[3], [-2.0, -3.0])  # mean of the two finite ones
    assert int(state.gradient_step) == 1 and int(state.skip_state["num_not_finite"]) == 0


def test_multisteps_state_is_stable_under_cond():
    params = {"w": jnp.ones(3, jnp.bfloat16), "n": None}
    tx = gradtx.MultiSteps(gradtx.adamw(1e-3), 2, should_skip_update_fn=gradtx.skip_not_finite)
    grads = {"w": jnp.ones(3, jnp.bfloat16), "n": None}

    def states(g, p):
        s0 = tx.init(p)
        u, s1 = tx.update(g, s0, p)
        _, s2 = tx.update(g, s1, p)
        return u, s0, s1, s2

    u, s0, s1, s2 = jax.eval_shape(states, grads, params)
    assert u["w"].dtype == jnp.bfloat16 and u["n"] is None
    avals = lambda t: jax.tree.map(lambda x: (x.shape, x.dtype, x.weak_type), t)  # noqa: E731
    assert avals(s0) == avals(s1) == avals(s2)
    jax.eval_shape(lambda c: jax.lax.cond(c, lambda: s0, lambda: s2), jnp.asarray(True))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: gradtx.MultiSteps(gradtx.adam, 2),
            TypeError,
            r"`MultiSteps\(opt=\.\.\.\)` must be a gradient transformation",
        ),
        (
            lambda: gradtx.MultiSteps(gradtx.sgd(0.1), 0),
            ValueError,
            r"`MultiSteps\(every_k_schedule=\.\.\.\)` must be an integer >= 1; "
            r"got every_k_schedule=0",
        ),
        (
            lambda: gradtx.MultiSteps(gradtx.sgd(0.1), 2.5),
            ValueError,
            r"every_k_schedule=2\.5",
        ),
        (
            lambda: gradtx.MultiSteps(gradtx.sgd(0.1), 2, use_grad_mean=1),
            TypeError,
            r"`MultiSteps\(use_grad_mean=\.\.\.\)` must be a bool",
        ),
        (
            lambda: gradtx.MultiSteps(gradtx.sgd(0.1), 2, should_skip_update_fn=True),
            TypeError,
            r"`MultiSteps\(should_skip_update_fn=\.\.\.\)` must be a function",
        ),
        (
            lambda: gradtx.MultiSteps(gradtx.sgd(0.1), 2, accumulator_dtype="nope"),
            TypeError,
            r"`MultiSteps\(accumulator_dtype=\.\.\.\)` must be a dtype",
        ),
        (
            lambda: gradtx.apply_every(0),
            ValueError,
            r"`apply_every\(k=\.\.\.\)` must be an integer >= 1; got k=0",
        ),
        (
            lambda: gradtx.MultiSteps.has_updated({"a": 1}),
            ValueError,
            r"needs a MultiStepsState or a state tree holding exactly one; found 0",
        ),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_schedule_must_return_a_scalar():
    tx = gradtx.MultiSteps(gradtx.sgd(0.1), lambda step: jnp.ones(2, jnp.int32))
    with pytest.raises(ValueError, match=r"must return a scalar; got shape \(2,\)"):
        tx.update(jnp.ones(1), tx.init(jnp.ones(1)))


class ApplyEveryRef(ref.Transform):
    """Sum k updates; emit the sum on every k-th call, zeros otherwise."""

    def __init__(self, k):
        self.k = k

    def _init(self, params):
        self.acc = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        fresh = (self.t - 1) % self.k == 0
        self.acc = [(0 if fresh else a) + g for a, g in zip(self.acc, grads, strict=True)]
        if self.t % self.k == 0:
            return list(self.acc)
        return [np.zeros_like(g) for g in grads]


@pytest.mark.parametrize("k", [1, 3])
def test_apply_every_matches_reference(k, rng, x64):
    params = nested_params(rng, np.float64)
    grads = gradient_stream(rng, params, 7)
    tx = gradtx.chain(gradtx.sgd(0.1, momentum=0.9), gradtx.apply_every(k))
    got = run_gradtx(tx, params, grads)
    reference = ref.Chain(ref.SGD(0.1, momentum=0.9), ApplyEveryRef(k))
    want = ref.run(reference, leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=1e-12)
    state = tx.init(params)
    assert isinstance(state[1], gradtx.ApplyEvery) and state[1].count.dtype == jnp.int32


def test_guide_snippets_run_and_print_what_the_page_shows():
    import contextlib
    import io
    import pathlib
    import re

    page = pathlib.Path(__file__).resolve().parents[2] / "docs" / "guide" / "accumulation.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)
    assert len(blocks) == 4
    out, namespace = io.StringIO(), {}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - the page's code
    assert out.getvalue().splitlines() == [
        "1 False",
        "2 False",
        "3 False",
        "0 True",
        "True",
        "[-2. -3.] 0",
        "[1, 0, 0, 1, 0, 0, 1] 6",
        "[-1.] [-1.]",
    ]


def test_multisteps_goes_straight_into_flax():
    nnx = pytest.importorskip("flax.nnx")
    train_state = pytest.importorskip("flax.training.train_state")
    # linen's TrainState keeps tx as a static field: it must hash, and survive jit.
    ts = train_state.TrainState.create(
        apply_fn=None, params={"w": jnp.ones(2)}, tx=gradtx.MultiSteps(gradtx.sgd(0.5), 2)
    )
    step = jax.jit(lambda ts: ts.apply_gradients(grads={"w": jnp.asarray([1.0, 3.0])}))
    ts = step(ts)
    np.testing.assert_array_equal(ts.params["w"], [1.0, 1.0])
    ts = step(ts)
    np.testing.assert_array_equal(ts.params["w"], [0.5, -0.5])
    # nnx.Optimizer takes it as its tx.
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    opt = nnx.Optimizer(model, gradtx.MultiSteps(gradtx.sgd(0.1), 2), wrt=nnx.Param)
    kernel = np.asarray(model.kernel[...])
    grads = nnx.grad(lambda m: jnp.sum(m(jnp.ones((1, 2)))))(model)
    opt.update(model, grads)
    np.testing.assert_array_equal(model.kernel[...], kernel)
    opt.update(model, grads)
    np.testing.assert_allclose(model.kernel[...], kernel - 0.1, rtol=1e-6)


def test_complex_gradients_and_hyperparams_through_the_wrapper():
    tx = gradtx.MultiSteps(gradtx.sgd(1.0), 2)
    state = tx.init(jnp.zeros(2, jnp.complex64))
    assert state.acc_grads.dtype == jnp.complex64  # optax 0.2.8 would keep float32
    state, step = gradtx.set_hyperparams(state, learning_rate=0.5), jax.jit(tx.update)
    u, state = step(jnp.asarray([1 + 1j, 2j], jnp.complex64), state)
    u, state = step(jnp.asarray([1 - 1j, 0], jnp.complex64), state)
    np.testing.assert_array_equal(u, np.asarray([-0.5, -0.5j], np.complex64))
    assert float(gradtx.hyperparams(state)["learning_rate"]) == 0.5

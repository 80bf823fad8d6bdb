"""fuse_leaves: the inner transformation on one buffer per dtype gives the same numbers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

ELEMENTWISE = {
    "adam": lambda: gradtx.adam(0.05),
    "adamw": lambda: gradtx.adamw(0.05, weight_decay=0.1),
    "sgd": lambda: gradtx.sgd(0.1),
    "momentum": lambda: gradtx.sgd(0.1, momentum=0.9, nesterov=True),
    "lion": lambda: gradtx.lion(0.01, weight_decay=0.1),
    "rmsprop": lambda: gradtx.rmsprop(0.01, momentum=0.5),
    "adagrad": lambda: gradtx.adagrad(0.1),
    # a reduction over all leaves: the global norm of the buffers is the tree's
    "clip_by_global_norm+adam": lambda: gradtx.chain(
        gradtx.clip_by_global_norm(0.5), gradtx.adam(0.05)
    ),
}


def _tree(rng, dtype=np.float32):
    return {
        "dense": {
            "w": rng.normal(size=(3, 4)).astype(dtype),
            "b": rng.normal(size=4).astype(dtype),
        },
        "layers": [rng.normal(size=(2, 2, 2)).astype(dtype), rng.normal(size=()).astype(dtype)],
        "frozen": None,
    }


def _run(tx, params, grads_seq, jit=True):
    """Updates and final params of a few steps of ``tx`` (jitted once)."""

    def step(p, s, g):
        u, s = tx.update(g, s, p)
        return gradtx.apply_updates(p, u), s, u

    step = jax.jit(step) if jit else step
    state = tx.init(params)
    outs = []
    for g in grads_seq:
        params, state, u = step(params, state, g)
        outs.append(u)
    return params, state, outs


def _grads(rng, params, n, scale=1.0):
    return [
        jax.tree.map(lambda p: (scale * rng.normal(size=np.shape(p))).astype(p.dtype), params)
        for _ in range(n)
    ]


def _assert_close(a, b, rtol, atol):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_optimizers_match_unfused_float32(name, rng):
    params = _tree(rng)
    grads = _grads(rng, params, 3)
    p_ref, _, u_ref = _run(ELEMENTWISE[name](), params, grads)
    p_fused, _, u_fused = _run(gradtx.fuse_leaves(ELEMENTWISE[name]()), params, grads)
    _assert_close(u_fused, u_ref, rtol=1e-6, atol=1e-7)
    _assert_close(p_fused, p_ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["adam", "rmsprop", "clip_by_global_norm+adam"])
def test_match_unfused_float64(name, rng, x64):
    params = _tree(rng, np.float64)
    grads = _grads(rng, params, 3)
    p_ref, _, u_ref = _run(ELEMENTWISE[name](), params, grads)
    p_fused, _, u_fused = _run(gradtx.fuse_leaves(ELEMENTWISE[name]()), params, grads)
    _assert_close(u_fused, u_ref, rtol=1e-12, atol=1e-14)
    _assert_close(p_fused, p_ref, rtol=1e-12, atol=1e-14)


def test_state_is_one_buffer_per_dtype_and_unfuse_state_reads_it(rng):
    params = _tree(rng)
    grads = _grads(rng, params, 2)
    tx = gradtx.fuse_leaves(gradtx.scale_by_adam())
    _, fused, _ = _run(tx, params, grads)
    _, unfused, _ = _run(gradtx.scale_by_adam(), params, grads)
    n = sum(np.size(x) for x in jax.tree.leaves(params))
    assert isinstance(fused, gradtx.FuseLeavesState)
    assert list(fused.inner_state.mu) == ["float32"]
    assert [b.shape for b in fused.inner_state.mu["float32"]] == [(n,)]
    # the per-leaf view equals the unfused state after the same gradients
    view = gradtx.unfuse_state(fused, params)
    _assert_close(view.mu, unfused.mu, rtol=1e-6, atol=1e-7)
    _assert_close(view.nu, unfused.nu, rtol=1e-6, atol=1e-7)
    assert view.count == unfused.count
    with pytest.raises(TypeError, match=r"`unfuse_state\(state=...\)` must be the state"):
        gradtx.unfuse_state(unfused, params)


def test_buffers_hold_at_most_leaves_per_buffer_and_big_leaves_alone(rng):
    params = {
        "a": rng.normal(size=(3, 2)).astype(np.float32),
        "big": np.zeros(2**16, np.float32),
        "b": rng.normal(size=4).astype(np.float32),
        "c": rng.normal(size=(2, 2)).astype(np.float32),
        "d": rng.normal(size=1).astype(np.float32),
    }
    tx = gradtx.fuse_leaves(gradtx.scale_by_adam(), leaves_per_buffer=2)
    grads = _grads(rng, params, 2)
    _, fused, u_fused = _run(tx, params, grads)
    # tree order a, b, big, c, d: [a, b], [big] alone, [c, d]
    assert [x.shape for x in fused.inner_state.mu["float32"]] == [(10,), (2**16,), (5,)]
    _, _, u_ref = _run(gradtx.scale_by_adam(), params, grads)
    _assert_close(u_fused, u_ref, rtol=1e-6, atol=1e-7)
    view = gradtx.unfuse_state(fused, params, leaves_per_buffer=2)
    assert view.mu["big"].shape == (2**16,) and view.mu["c"].shape == (2, 2)


def test_mixed_dtypes_get_one_buffer_each_and_keep_their_dtype(rng):
    params = {
        "a": rng.normal(size=(3, 2)).astype(np.float32),
        "b": jnp.asarray(rng.normal(size=5), jnp.bfloat16),
        "c": rng.normal(size=4).astype(np.float32),
    }
    grads = _grads(rng, params, 3)
    tx = gradtx.fuse_leaves(gradtx.adam(0.05))
    p_fused, state, u_fused = _run(tx, params, grads)
    mu = state.inner_state.inner_state[0].mu
    assert sorted(mu) == ["bfloat16", "float32"]
    assert [(b.shape, b.dtype) for b in mu["bfloat16"]] == [((5,), jnp.bfloat16)]
    assert [(b.shape, b.dtype) for b in mu["float32"]] == [((10,), jnp.float32)]
    p_ref, _, u_ref = _run(gradtx.adam(0.05), params, grads)
    assert u_fused[-1]["b"].dtype == jnp.bfloat16 and u_fused[-1]["a"].dtype == jnp.float32
    # float32 leaves exactly as unfused; bfloat16 to its own rounding
    _assert_close({k: p_fused[k] for k in "ac"}, {k: p_ref[k] for k in "ac"}, 1e-6, 1e-7)
    np.testing.assert_allclose(
        np.asarray(p_fused["b"], np.float32), np.asarray(p_ref["b"], np.float32), rtol=1e-2
    )


def test_abstract_init_and_eval_shape(rng):
    params = _tree(rng)
    tx = gradtx.fuse_leaves(gradtx.adamw(1e-3))
    abstract = jax.tree.map(lambda p: jax.ShapeDtypeStruct(np.shape(p), p.dtype), params)
    shapes = jax.eval_shape(tx.init, params)
    from_abstract = tx.init(abstract)
    concrete = tx.init(params)
    assert jax.tree.structure(shapes) == jax.tree.structure(concrete)
    for a, b, c in zip(
        jax.tree.leaves(shapes),
        jax.tree.leaves(from_abstract),
        jax.tree.leaves(concrete),
        strict=True,
    ):
        assert a.shape == b.shape == c.shape and a.dtype == b.dtype == c.dtype


def test_hyperparams_visible_and_settable_without_retrace(rng):
    params = _tree(rng)
    grads = _grads(rng, params, 3)
    tx = gradtx.fuse_leaves(gradtx.adam(0.05))
    traces = []

    @jax.jit
    def step(p, s, g):
        traces.append(1)
        u, s = tx.update(g, s, p)
        return gradtx.apply_updates(p, u), s

    state = tx.init(params)
    assert float(gradtx.hyperparams(state)["learning_rate"]) == pytest.approx(0.05)
    params, state = step(params, state, grads[0])
    state = gradtx.set_hyperparams(state, learning_rate=0.0)
    assert float(gradtx.hyperparams(state)["learning_rate"]) == 0.0
    before = params
    params, state = step(params, state, grads[1])
    params, state = step(params, state, grads[2])
    assert len(traces) == 1  # one trace for every step and the hyperparameter change
    _assert_close(params, before, rtol=0, atol=0)  # learning rate 0: nothing moves


def test_extra_args_reach_the_inner(rng):
    params = {"w": jnp.ones(3), "v": jnp.ones((2, 2))}
    seen = {}

    def update(updates, state, params=None, *, value):
        seen["value"] = value
        return updates, state

    inner = gradtx.GradientTransformation(lambda p: gradtx.EmptyState(), update)
    tx = gradtx.fuse_leaves(inner)
    u, _ = tx.update(params, tx.init(params), params, value=3.0, other=1)
    assert seen["value"] == 3.0
    _assert_close(u, params, rtol=0, atol=0)


def test_none_leaves_pass_through_and_empty_tree():
    tx = gradtx.fuse_leaves(gradtx.sgd(1.0))
    params = {"a": jnp.ones(2), "b": None}
    u, _ = tx.update({"a": jnp.ones(2), "b": None}, tx.init(params), params)
    assert u["b"] is None and np.allclose(u["a"], -1.0)
    u, _ = tx.update({}, tx.init({}))
    assert u == {}


def test_errors_name_the_problem():
    tx = gradtx.fuse_leaves(gradtx.adam(1e-3))
    with pytest.raises(ValueError, match=r"floating or complex array; got .*int32.* at \['n'\]"):
        tx.init({"w": jnp.ones(2), "n": jnp.arange(3)})
    params = {"w": jnp.ones(2), "v": jnp.ones(3)}
    with pytest.raises(ValueError, match="same non-None leaves; got 1 parameter leaves and 2"):
        tx.update(params, tx.init(params), {"w": jnp.ones(2), "v": None})
    with pytest.raises(TypeError, match=r"`fuse_leaves\(inner=...\)` must be a gradient"):
        gradtx.fuse_leaves(gradtx.adam)
    for bad in (0, 2.0, True):
        with pytest.raises(ValueError, match=r"leaves_per_buffer=...\)` must be a positive int"):
            gradtx.fuse_leaves(gradtx.adam(1e-3), leaves_per_buffer=bad)

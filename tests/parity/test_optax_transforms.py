"""gradtx's primitives, utilities and ``gradtx.tree`` against optax's, in float64.

Primitives are called with Python-float hyperparameters (no float32 storage), so they
must agree with optax to float64 precision: rtol 1e-10 on the output updates at every
step of the shared gradient sequence (``_sequences.py``). The signature test checks
that every public name both libraries share takes the same parameters, in the same
order, with the same defaults.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import (
    assert_sequences_close,
    assert_trajectories_close,
    complex_gradient_sequence,
    gradient_sequence,
    initial_params,
    run_optax_like,
    run_updates,
    standard_data,
    to_jax,
    x64,
)

optax = pytest.importorskip("optax")

RTOL = 1e-10


@pytest.fixture(scope="module", autouse=True)
def _float64():
    with x64():
        yield


@pytest.fixture(scope="module")
def data():
    return standard_data()


def sched(count):
    return 0.1 / (1.0 + 0.25 * count)


MASK = {"w": True, "b": False, "s": True}


def mask_fn(params):
    return jax.tree.map(lambda x: jnp.ndim(x) >= 1, params)


# (id, builder) with builder(m) -> transformation, for m in (gradtx, optax).
PRIMITIVES = [
    ("scale", lambda m: m.scale(-0.3)),
    ("scale_by_learning_rate", lambda m: m.scale_by_learning_rate(0.1)),
    ("scale_by_learning_rate-no-flip", lambda m: m.scale_by_learning_rate(0.1, flip_sign=False)),
    ("scale_by_learning_rate-schedule", lambda m: m.scale_by_learning_rate(sched)),
    ("scale_by_schedule", lambda m: m.scale_by_schedule(sched)),
    ("trace", lambda m: m.trace(0.9)),
    ("trace-nesterov", lambda m: m.trace(0.9, nesterov=True)),
    ("trace-accumulator-f32", lambda m: m.trace(0.9, accumulator_dtype=jnp.float32)),
    ("ema", lambda m: m.ema(0.9)),
    ("ema-no-debias", lambda m: m.ema(0.8, debias=False)),
    ("scale_by_rms", lambda m: m.scale_by_rms()),
    (
        "scale_by_rms-options",
        lambda m: m.scale_by_rms(
            0.99, 1e-6, initial_scale=0.1, eps_in_sqrt=False, bias_correction=True
        ),
    ),
    ("scale_by_stddev", lambda m: m.scale_by_stddev()),
    (
        "scale_by_stddev-options",
        lambda m: m.scale_by_stddev(
            0.99, 1e-6, initial_scale=1.0, eps_in_sqrt=False, bias_correction=True
        ),
    ),
    ("scale_by_rss", lambda m: m.scale_by_rss()),
    ("scale_by_rss-options", lambda m: m.scale_by_rss(initial_accumulator_value=0.0, eps=1e-10)),
    ("scale_by_adam", lambda m: m.scale_by_adam()),
    ("scale_by_adam-options", lambda m: m.scale_by_adam(0.8, 0.99, 1e-6, eps_root=1e-8)),
    ("scale_by_adam-nesterov", lambda m: m.scale_by_adam(nesterov=True)),
    ("scale_by_amsgrad", lambda m: m.scale_by_amsgrad()),
    (
        "scale_by_amsgrad-no-bias-correction",
        lambda m: m.scale_by_amsgrad(0.8, 0.99, bias_correction_mu=False, bias_correction_nu=False),
    ),
    ("scale_by_adamax", lambda m: m.scale_by_adamax()),
    ("scale_by_adamax-eps0", lambda m: m.scale_by_adamax(0.8, 0.99, eps=0.0)),
    ("scale_by_adamax-eps", lambda m: m.scale_by_adamax(0.8, 0.99, eps=1e-3)),
    ("scale_by_adadelta", lambda m: m.scale_by_adadelta()),
    ("scale_by_adadelta-options", lambda m: m.scale_by_adadelta(rho=0.95, eps=1e-4)),
    ("scale_by_radam", lambda m: m.scale_by_radam()),
    ("scale_by_radam-threshold-nesterov", lambda m: m.scale_by_radam(threshold=4.5, nesterov=True)),
    ("add_decayed_weights", lambda m: m.add_decayed_weights(0.1)),
    ("add_decayed_weights-mask", lambda m: m.add_decayed_weights(0.1, MASK)),
    ("add_decayed_weights-mask_fn", lambda m: m.add_decayed_weights(0.1, mask_fn)),
    ("add_decayed_weights-schedule", lambda m: m.add_decayed_weights(sched)),
    ("clip", lambda m: m.clip(0.5)),
    ("clip_by_global_norm", lambda m: m.clip_by_global_norm(1.0)),
    ("clip_by_block_rms", lambda m: m.clip_by_block_rms(0.5)),
    ("centralize", lambda m: m.centralize()),
    ("scale_by_sign", lambda m: m.scale_by_sign()),
    ("identity", lambda m: m.identity()),
    ("set_to_zero", lambda m: m.set_to_zero()),
    ("masked", lambda m: m.masked(m.scale_by_adam(), MASK)),
    ("masked-mask_fn-chain", lambda m: m.masked(m.chain(m.trace(0.9), m.scale(-0.1)), mask_fn)),
    ("chain", lambda m: m.chain(m.clip_by_global_norm(1.0), m.scale_by_rms(), m.trace(0.5))),
    ("named_chain", lambda m: m.named_chain(("clip", m.clip(1.0)), ("adam", m.scale_by_adam()))),
]


def _ids(cases):
    return [c[0] for c in cases]


@pytest.mark.parametrize("name, build", PRIMITIVES, ids=_ids(PRIMITIVES))
def test_primitive_matches_optax(name, build, data):
    params, grads = data
    got = run_updates(build(gradtx), params, grads)
    want = run_updates(build(optax), params, grads)
    assert_sequences_close(got, want, RTOL)


COMPLEX = [
    c
    for c in PRIMITIVES
    if c[0]
    in ("scale_by_rms", "scale_by_stddev", "scale_by_adam", "scale_by_adamax", "scale_by_rss")
]


def _complex_data():
    params = jax.tree.map(lambda x: x.astype(np.complex128), initial_params())
    return params, complex_gradient_sequence(6)


@pytest.mark.parametrize("name, build", COMPLEX, ids=_ids(COMPLEX))
def test_primitive_matches_optax_complex(name, build):
    """Complex gradients (|g|^2 = g * conj(g) in the second moments)."""
    params, grads = _complex_data()
    got = run_updates(build(gradtx), params, grads)
    want = run_updates(build(optax), params, grads)
    assert_sequences_close(got, want, RTOL)


def test_scale_by_adadelta_complex_keeps_the_phase():
    """A documented divergence: optax 0.2.8's scale_by_adadelta squares complex gradients
    without conjugating (its accumulators become complex, and a gradient of 1j gives an
    update of +0.0032, real). gradtx accumulates |g|^2, so the update is the gradient
    times a positive real factor, as for real parameters."""
    params, grads = _complex_data()
    got = run_updates(gradtx.scale_by_adadelta(), params, grads)
    for u, g in zip(got, grads, strict=True):
        for k in g:
            ratio = np.asarray(u[k]) / np.asarray(g[k])
            np.testing.assert_allclose(ratio.imag, 0.0, atol=1e-12)
            assert np.all(ratio.real > 0)
    optax_state = optax.scale_by_adadelta().init(to_jax(params))
    _, optax_state = optax.scale_by_adadelta().update(to_jax(grads[0]), optax_state)
    assert jnp.iscomplexobj(optax_state.e_g["w"])  # optax's divergence, as measured


def test_set_to_zero_and_identity_are_not_vacuous(data):
    """The comparison above would pass for any two equal outputs; check the outputs."""
    params, grads = data
    zeros = run_updates(gradtx.set_to_zero(), params, grads)
    assert all(np.all(u[k] == 0) for u in zeros for k in u)
    same = run_updates(gradtx.identity(), params, grads)
    assert all(np.array_equal(u[k], g[k]) for u, g in zip(same, grads, strict=True) for k in u)


# --------------------------------------------------------------------------- utilities


def _assert_tree_equal(got, want, rtol=RTOL, check_dtype=True):
    assert jax.tree.structure(got) == jax.tree.structure(want), (got, want)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        if check_dtype:
            assert jnp.result_type(a) == jnp.result_type(b), (
                jnp.result_type(a),
                jnp.result_type(b),
            )
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=rtol, atol=0)


@pytest.fixture()
def trees():
    params, grads = initial_params(), gradient_sequence(3)
    return to_jax(params), to_jax(grads[0]), to_jax(grads[1]), to_jax(grads[2])


def test_apply_updates(trees):
    p, u, _, _ = trees
    _assert_tree_equal(gradtx.apply_updates(p, u), optax.apply_updates(p, u))
    # params keep their dtype when the updates are wider
    p32 = jax.tree.map(lambda x: x.astype(jnp.float32), p)
    _assert_tree_equal(gradtx.apply_updates(p32, u), optax.apply_updates(p32, u), rtol=1e-7)
    assert gradtx.apply_updates(p32, u)["w"].dtype == jnp.float32


def test_incremental_and_periodic_update(trees):
    new, old, _, _ = trees
    for step_size in (0.0, 0.1, 1.0):
        _assert_tree_equal(
            gradtx.incremental_update(new, old, step_size),
            optax.incremental_update(new, old, step_size),
        )
    for steps in range(7):
        got = gradtx.periodic_update(new, old, jnp.asarray(steps), 3)
        want = optax.periodic_update(new, old, jnp.asarray(steps), 3)
        _assert_tree_equal(got, want)


def _norm_and_grad(fn, *args, **kwargs):
    """``fn(x, ...)`` and the gradient of its sum, for a batch of inputs, in one jit."""

    def both(x):
        value = fn(x, *args, **kwargs)
        return value, jax.grad(lambda y: jnp.sum(fn(y, *args, **kwargs)))(x)

    return jax.jit(jax.vmap(both))


@pytest.mark.parametrize("ord, axis", [(None, None), (2, 1), (1, 0), (np.inf, None)])
def test_safe_norm(ord, axis):
    x = np.random.default_rng(0).normal(size=(3, 4))
    small = np.zeros((3, 4))
    small[0, 0] = 1e-3
    batch = jnp.asarray(np.stack([x, small, np.zeros((3, 4))]))
    for min_norm in (0.0, 0.5):
        got = _norm_and_grad(gradtx.safe_norm, min_norm, ord=ord, axis=axis)(batch)
        want = _norm_and_grad(optax.safe_norm, min_norm, ord=ord, axis=axis)(batch)
        _assert_tree_equal(got[0], want[0])
        _assert_tree_equal(got[1], want[1])
        # the point of "safe": a finite gradient, zero where the norm is below min_norm
        assert np.all(np.isfinite(np.asarray(got[1])))
    got = gradtx.safe_norm(batch[0], 0.0, axis=1, keepdims=True)
    _assert_tree_equal(got, optax.safe_norm(batch[0], 0.0, axis=1, keepdims=True))


def test_safe_root_mean_squares_and_global_norm(trees):
    p, u, _, _ = trees
    batch = jnp.stack([p["w"], jnp.zeros((3, 4)), jnp.full((3, 4), 1e-4)])
    for min_rms in (0.0, 0.01):
        got = _norm_and_grad(gradtx.safe_root_mean_squares, min_rms)(batch)
        want = _norm_and_grad(optax.safe_root_mean_squares, min_rms)(batch)
        _assert_tree_equal(got[0], want[0])
        _assert_tree_equal(got[1], want[1])
        assert np.all(np.isfinite(np.asarray(got[1])))
    _assert_tree_equal(gradtx.global_norm(u), optax.global_norm(u))


# --------------------------------------------------------------------------- gradtx.tree


def _complex_tree():
    c = complex_gradient_sequence(2)
    return to_jax(c[0]), to_jax(c[1])


def test_tree_arithmetic(trees):
    x, y, z, _ = trees
    gt, ot = gradtx.tree, optax.tree
    _assert_tree_equal(gt.add(x, y), ot.add(x, y))
    _assert_tree_equal(gt.add(x, y, z), ot.add(x, y, z))
    _assert_tree_equal(gt.sub(x, y), ot.sub(x, y))
    _assert_tree_equal(gt.mul(x, y), ot.mul(x, y))
    _assert_tree_equal(gt.div(x, y), ot.div(x, y))
    _assert_tree_equal(gt.scale(2.5, x), ot.scale(2.5, x))
    _assert_tree_equal(gt.add_scale(x, -0.3, y), ot.add_scale(x, -0.3, y))
    x32 = jax.tree.map(lambda a: a.astype(jnp.float32), x)
    _assert_tree_equal(gt.scale(2.5, x32), ot.scale(2.5, x32), rtol=1e-7)
    _assert_tree_equal(gt.scale(jnp.asarray(2.5), x32), ot.scale(jnp.asarray(2.5), x32), 1e-7)


def test_tree_reductions(trees):
    x, y, _, _ = trees
    gt, ot = gradtx.tree, optax.tree
    _assert_tree_equal(gt.vdot(x, y), ot.vdot(x, y))
    _assert_tree_equal(gt.sum(x), ot.sum(x))
    _assert_tree_equal(gt.max(x), ot.max(x))
    _assert_tree_equal(gt.min(x), ot.min(x))
    assert gt.size(x) == ot.size(x) == 17
    cx, cy = _complex_tree()
    _assert_tree_equal(gt.vdot(cx, cy), ot.vdot(cx, cy))
    _assert_tree_equal(gt.sum(cx), ot.sum(cx))


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf, "inf"])
@pytest.mark.parametrize("squared", [False, True])
def test_tree_norm(trees, ord, squared):
    """Every ord optax accepts (optax's squared=True is the norm squared for any ord)."""
    for x in (trees[0], _complex_tree()[0]):
        want = optax.tree.norm(x, ord=ord, squared=squared)
        _assert_tree_equal(gradtx.tree.norm(x, ord=ord, squared=squared), want)


def test_tree_construction_and_casting(trees):
    x, _, _, _ = trees
    gt, ot = gradtx.tree, optax.tree
    for fn in ("zeros_like", "ones_like"):
        _assert_tree_equal(getattr(gt, fn)(x), getattr(ot, fn)(x))
        _assert_tree_equal(getattr(gt, fn)(x, jnp.float32), getattr(ot, fn)(x, jnp.float32))
    _assert_tree_equal(gt.full_like(x, 0.5), ot.full_like(x, 0.5))
    _assert_tree_equal(gt.full_like(x, 2, dtype=jnp.int32), ot.full_like(x, 2, dtype=jnp.int32))
    floats = {"a": x["w"], "h": x["b"].astype(jnp.float16), "s": x["s"]}
    for dtype in (jnp.float32, jnp.bfloat16, jnp.float64, None):
        _assert_tree_equal(gt.cast(floats, dtype), ot.cast(floats, dtype), rtol=1e-2)
    mixed = dict(floats, n=jnp.arange(3, dtype=jnp.int32))
    like = {
        "a": x["w"].astype(jnp.float32),
        "n": jnp.ones(3, jnp.float32),
        "h": x["b"].astype(jnp.bfloat16),
        "s": jnp.asarray(1, jnp.int32),
    }
    _assert_tree_equal(gt.cast_like(mixed, like), ot.cast_like(mixed, like), rtol=1e-2)


def test_tree_cast_integer_and_bool_leaves():
    """optax 0.2.8's tree.cast casts every leaf, integers and booleans included; gradtx's
    leaves them alone (its docstring says so), which differs for `import gradtx as optax`
    code such as cast(batch, jnp.float32)."""
    tree = {"n": jnp.arange(3, dtype=jnp.int32), "b": jnp.asarray([True, False])}
    _assert_tree_equal(gradtx.tree.cast(tree, jnp.float32), optax.tree.cast(tree, jnp.float32))


def test_tree_dtype():
    same = {"a": jnp.ones(2), "b": jnp.zeros(())}
    assert gradtx.tree.dtype(same) == optax.tree.dtype(same)
    for mixed in (
        {"a": jnp.ones(2, jnp.float32), "b": jnp.ones(2, jnp.bfloat16)},
        {
            "a": jnp.ones(2, jnp.float64),
            "b": jnp.ones(2, jnp.float16),
            "c": jnp.ones(2, jnp.float32),
        },
    ):
        for handler in ("promote", "highest", "lowest"):
            assert gradtx.tree.dtype(mixed, handler) == optax.tree.dtype(mixed, handler)
        for mod in (gradtx, optax):
            with pytest.raises(ValueError):
                mod.tree.dtype(mixed)


def test_tree_dtype_refuses_unordered_dtypes():
    """bfloat16 and float16 have the same size and neither promotes to the other: optax
    refuses to call one the highest (or lowest); gradtx must not pick one silently."""
    mixed = {"a": jnp.ones(2, jnp.bfloat16), "b": jnp.ones(2, jnp.float16)}
    for handler in ("highest", "lowest"):
        with pytest.raises(ValueError):
            optax.tree.dtype(mixed, handler)
        with pytest.raises(ValueError):
            gradtx.tree.dtype(mixed, handler)


def test_tree_where_clip_conj_real(trees):
    x, y, _, _ = trees
    gt, ot = gradtx.tree, optax.tree
    for cond in (jnp.asarray(True), jnp.asarray(False), True):
        _assert_tree_equal(gt.where(cond, x, y), ot.where(cond, x, y))
    cond = x["w"] > 0  # an array condition broadcast against each leaf (here: same shape)
    _assert_tree_equal(
        gt.where(cond, {"w": x["w"]}, {"w": y["w"]}), ot.where(cond, {"w": x["w"]}, {"w": y["w"]})
    )
    for lo, hi in ((-0.5, 0.5), (None, 0.1), (-0.1, None)):
        _assert_tree_equal(gt.clip(x, lo, hi), ot.clip(x, lo, hi))
    cx, _ = _complex_tree()
    _assert_tree_equal(gt.conj(cx), ot.conj(cx))
    _assert_tree_equal(gt.real(cx), ot.real(cx))
    _assert_tree_equal(gt.real(x), ot.real(x))


def test_tree_allclose(trees):
    x, y, _, _ = trees
    near = jax.tree.map(lambda a: a * (1 + 1e-7), x)
    for a, b, kw in ((x, x, {}), (x, y, {}), (x, near, {}), (x, near, dict(rtol=1e-9, atol=0.0))):
        assert gradtx.tree.allclose(a, b, **kw) == bool(optax.tree.allclose(a, b, **kw))
    nan = {"a": jnp.asarray([np.nan, 1.0])}
    for equal_nan in (False, True):
        got = gradtx.tree.allclose(nan, nan, equal_nan=equal_nan)
        assert got == bool(optax.tree.allclose(nan, nan, equal_nan=equal_nan))


@pytest.mark.parametrize("order", [1, 2, 3])
def test_tree_moments(trees, order):
    u, m, v, _ = trees
    v = jax.tree.map(jnp.abs, v)
    gt, ot = gradtx.tree, optax.tree
    _assert_tree_equal(gt.update_moment(u, m, 0.9, order), ot.update_moment(u, m, 0.9, order))
    _assert_tree_equal(
        gt.update_moment_per_elem_norm(u, v, 0.9, order),
        ot.update_moment_per_elem_norm(u, v, 0.9, order),
    )
    cu, _ = _complex_tree()
    _assert_tree_equal(
        gt.update_moment_per_elem_norm(cu, v, 0.9, order),
        ot.update_moment_per_elem_norm(cu, v, 0.9, order),
    )


def test_tree_update_infinity_moment(trees):
    """(updates, moments, decay, eps), eps added to |g| inside the max."""
    u, m, _, _ = trees
    m = jax.tree.map(jnp.abs, m)
    for eps in (0.0, 1e-3):
        _assert_tree_equal(
            gradtx.tree.update_infinity_moment(u, m, 0.9, eps),
            optax.tree.update_infinity_moment(u, m, 0.9, eps),
        )


@pytest.mark.parametrize("count", [1, 2, 7])
def test_tree_bias_correction(trees, count):
    m = trees[0]
    for count_ in (count, jnp.asarray(count, jnp.int32)):
        _assert_tree_equal(
            gradtx.tree.bias_correction(m, 0.9, count_), optax.tree.bias_correction(m, 0.9, count_)
        )


def test_tree_random_like_and_split_key_like(trees):
    x = trees[0]
    key = jax.random.key(3)
    g_keys, o_keys = gradtx.tree.split_key_like(key, x), optax.tree.split_key_like(key, x)
    assert jax.tree.structure(g_keys) == jax.tree.structure(o_keys)
    for a, b in zip(jax.tree.leaves(g_keys), jax.tree.leaves(o_keys), strict=True):
        np.testing.assert_array_equal(jax.random.key_data(a), jax.random.key_data(b))
    _assert_tree_equal(gradtx.tree.random_like(key, x), optax.tree.random_like(key, x))
    _assert_tree_equal(
        gradtx.tree.random_like(key, x, jax.random.uniform, jnp.float32),
        optax.tree.random_like(key, x, jax.random.uniform, jnp.float32),
    )


# -------------------------------------------------------------- state access by name


def _optax_nested_state():
    params = to_jax(initial_params())
    tx = optax.chain(
        optax.clip_by_global_norm(1.0),
        optax.scale_by_adam(),
        optax.trace(0.9),
        optax.ema(0.5),
        optax.masked(optax.scale_by_rms(), MASK),
    )
    state = tx.init(params)
    grads = to_jax(gradient_sequence(2)[0])
    _, state = tx.update(grads, state, params)
    return state


def _names(path):
    """A key path as the names of its entries (DictKey, GetAttrKey and optax's
    NamedTupleKey all carry the field name; sequence keys their index)."""
    out = []
    for entry in path:
        for attr in ("key", "name", "idx"):
            if hasattr(entry, attr):
                out.append(getattr(entry, attr))
                break
        else:
            raise AssertionError(f"unknown key entry {entry!r}")
    return tuple(out)


@pytest.mark.parametrize("key", ["count", "mu", "nu", "trace", "ema", "w", "missing"])
def test_tree_get_all_with_path(key):
    state = _optax_nested_state()
    got = gradtx.tree.get_all_with_path(state, key)
    want = optax.tree.get_all_with_path(state, key)
    assert [_names(p) for p, _ in got] == [_names(p) for p, _ in want]
    for (_, a), (_, b) in zip(got, want, strict=True):
        _assert_tree_equal(a, b)


def test_tree_get_all_with_path_order_on_nested_dicts():
    """Outermost matches first, as optax orders them (and as gradtx's docstring says)."""
    tree = {
        "a": {"x": {"count": 2}, "count": 1},
        "b": {"count": 5},
        "count": 0,
        "z": [{"count": 7}],
    }
    got = [jax.tree_util.keystr(p) for p, _ in gradtx.tree.get_all_with_path(tree, "count")]
    want = [jax.tree_util.keystr(p) for p, _ in optax.tree.get_all_with_path(tree, "count")]
    assert got == want


def test_tree_get_and_filtering():
    state = _optax_nested_state()
    for key in ("mu", "trace", "ema"):
        _assert_tree_equal(gradtx.tree.get(state, key), optax.tree.get(state, key))
    assert gradtx.tree.get(state, "missing", 7) == optax.tree.get(state, "missing", 7) == 7
    for mod in (gradtx, optax):  # ambiguous names raise in both
        for key in ("count", "nu"):
            with pytest.raises(KeyError):
                mod.tree.get(state, key)

    def adam_only(path, value):  # the count of the chain's second member
        return _names(path) == (1, "count")

    got = gradtx.tree.get(state, "count", filtering=adam_only)
    assert int(got) == 1
    _assert_tree_equal(got, optax.tree.get(state, "count", filtering=adam_only))


def test_tree_get_filtering_by_namedtuple_name():
    """optax hands ``filtering`` NamedTupleKey entries carrying ``tuple_name``, so a filter
    can pick a state by its type's name; gradtx's paths must allow the same filter."""
    state = _optax_nested_state()

    def in_adam(path, value):
        return any(getattr(e, "tuple_name", None) == "ScaleByAdamState" for e in path)

    want = optax.tree.get(state, "count", filtering=in_adam)
    _assert_tree_equal(gradtx.tree.get(state, "count", filtering=in_adam), want)


def test_tree_set():
    state = _optax_nested_state()
    ones = to_jax(jax.tree.map(np.ones_like, initial_params()))
    for kwargs in (dict(mu=ones), dict(count=jnp.asarray(5, jnp.int32)), dict(mu=ones, trace=ones)):
        got, want = gradtx.tree.set(state, **kwargs), optax.tree.set(state, **kwargs)
        _assert_tree_equal(got, want)
    got = gradtx.tree.set(
        state, lambda path, v: _names(path)[0] == 1, count=jnp.asarray(9, jnp.int32)
    )
    want = optax.tree.set(
        state, lambda path, v: _names(path)[0] == 1, count=jnp.asarray(9, jnp.int32)
    )
    _assert_tree_equal(got, want)
    for mod in (gradtx, optax):
        with pytest.raises(KeyError):
            mod.tree.set(state, missing=1)


def test_tree_set_replaces_nested_matches_unlike_optax():
    """A documented divergence: on ``inject_hyperparams(adam)``'s state optax 0.2.8's
    ``tree.set(state, count=c)`` replaces only the outer count (and with ``mu=`` given
    too, not ``mu`` either: once a name matches at a level it does not descend further),
    while ``set(state, mu=...)`` alone does reach ``mu``. gradtx replaces every match, as
    its docstring says."""
    params = to_jax(initial_params())
    state = optax.inject_hyperparams(optax.adam)(0.1).init(params)
    c = jnp.asarray(4, jnp.int32)
    got = gradtx.tree.get_all_with_path(gradtx.tree.set(state, count=c), "count")
    assert [int(v) for _, v in got] == [4, 4]
    want = optax.tree.get_all_with_path(optax.tree.set(state, count=c), "count")
    assert [int(v) for _, v in want] == [4, 0]


# ----------------------------------------------------------------- inject_hyperparams


def _hyperparam_history(tx, params, grads):
    state = tx.init(params)
    history = [dict(state.hyperparams)]
    for g in grads:
        _, state = tx.update(g, state, params)
        history.append(dict(state.hyperparams))
    return history


# gradtx's extra keyword-only numeric parameters show up as hyperparameters too.
EXTRA_HYPERPARAMS = {"sgd": {"dampening"}}


@pytest.mark.parametrize(
    "factory, kwargs",
    [
        ("adam", dict(learning_rate=sched, b1=0.8)),
        ("sgd", dict(learning_rate=sched, momentum=0.9)),
        ("adamw", dict(learning_rate=0.1, weight_decay=lambda c: 0.01 * (c + 1))),
    ],
    ids=["adam", "sgd", "adamw-scheduled-wd"],
)
def test_inject_hyperparams_matches_optax(factory, kwargs, data):
    params, grads = data
    g_tx = gradtx.inject_hyperparams(getattr(gradtx, factory))(**kwargs)
    o_tx = optax.inject_hyperparams(getattr(optax, factory))(**kwargs)
    jp, jg = to_jax(params), [to_jax(g) for g in grads]
    got = _hyperparam_history(g_tx, jp, jg)
    want = _hyperparam_history(o_tx, jp, jg)
    for step, (a, b) in enumerate(zip(got, want, strict=True)):
        assert set(a) - set(b) == EXTRA_HYPERPARAMS.get(factory, set()), step
        assert set(b) <= set(a), step
        for k in b:
            # with x64 gradtx stores float64, like optax: the same values exactly
            assert jnp.asarray(a[k]).dtype == jnp.float64, k
            assert float(a[k]) == float(b[k]), (step, k, a[k], b[k])
    traj = run_optax_like(g_tx, params, grads)
    assert_trajectories_close(traj, run_optax_like(o_tx, params, grads), 1e-10)


def test_inject_hyperparams_state_fields():
    params = to_jax(initial_params())
    g_state = gradtx.inject_hyperparams(gradtx.sgd)(0.1).init(params)
    o_state = optax.inject_hyperparams(optax.sgd)(0.1).init(params)
    assert set(o_state._fields) - {"hyperparams_states"} <= set(g_state._fields)
    assert int(g_state.count) == int(o_state.count) == 0


# --------------------------------------------------------------------------- signatures

# Differences from optax's signature that are deliberate, with the reason. Every other
# difference fails (a missing optax parameter breaks code written for optax).
SIGNATURE_EXCEPTIONS = {
    "scale_by_factored_rms": (
        "its default decay_rate_fn is gradtx's own function with the same formula, "
        "1 - t**(-decay_rate); a function default never compares equal to optax's."
    ),
    "bias_correction": (
        "gradtx.bias_correction is the transformation that divides an EMA by 1 - decay**t "
        "(DESIGN.md lists it among the primitives); optax's top-level bias_correction is "
        "its older alias of optax.tree.bias_correction(moment, decay, count), which gradtx "
        "offers as gradtx.tree.bias_correction. `import gradtx as optax` code calling "
        "optax.bias_correction(moment, decay, count) breaks."
    ),
    "lbfgs": (
        "its default linesearch is gradtx's own scale_by_zoom_linesearch(max_linesearch_steps"
        "=15, initial_guess_strategy='one'), the same arguments as optax's default; a "
        "transformation default never compares equal to optax's."
    ),
}

# NamedTuple states to which gradtx adds fields (reading by name still works; building
# one positionally, as optax's own code would, does not).
STATE_FIELD_EXCEPTIONS = {
    "ScaleByRmsState": "gradtx adds `count` (for bias_correction=True), after `nu`.",
    "TraceState": "gradtx adds `count` (for torch's undampened first step), after `trace`.",
    "AddDecayedWeightsState": "gradtx adds `count` (for a scheduled weight_decay).",
    # issue 4: the norm before clipping is kept for logging (optax's state is empty)
    "ClipByGlobalNormState": "gradtx records the pre-clip global `norm`.",
    # issue 5: why a line search stopped, as a number (0 ok, 1 out of steps, 2 not a
    # descent direction, 3 interval too narrow, 4 max_learning_rate reached)
    "ZoomLinesearchInfo": "gradtx adds `status` after optax's fields.",
}


def _shared_public_names():
    names = []
    for name in sorted(set(gradtx.__all__) & set(dir(optax))):
        obj = getattr(gradtx, name)
        if callable(obj) and not isinstance(obj, type) and inspect.isfunction(inspect.unwrap(obj)):
            names.append(("", name))
    for name in sorted(set(gradtx.tree.__all__) & set(dir(optax.tree))):
        names.append(("tree.", name))
    return names


def _sig_rows(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def _defaults_equal(a, b):
    if a is inspect.Parameter.empty or b is inspect.Parameter.empty:
        return a is b
    try:
        return bool(a == b) and type(a) is type(b) or a is b
    except Exception:
        return a is b


def signature_difference(g_fn, o_fn):
    """None if gradtx's signature is optax's, possibly followed by keyword-only extras."""
    g_rows, o_rows = _sig_rows(g_fn), _sig_rows(o_fn)
    for i, (o_name, o_kind, o_default) in enumerate(o_rows):
        if i >= len(g_rows):
            return f"missing parameter {o_name!r} (optax: {inspect.signature(o_fn)})"
        g_name, g_kind, g_default = g_rows[i]
        if (g_name, g_kind) != (o_name, o_kind):
            return (
                f"parameter {i}: gradtx has {g_name!r} ({g_kind.description}), optax "
                f"{o_name!r} ({o_kind.description})"
            )
        if not _defaults_equal(g_default, o_default):
            return f"default of {o_name!r}: gradtx {g_default!r}, optax {o_default!r}"
    for name, kind, default in g_rows[len(o_rows) :]:
        if kind is not inspect.Parameter.KEYWORD_ONLY or default is inspect.Parameter.empty:
            return f"extra parameter {name!r} must be keyword-only with a default"
    return None


@pytest.mark.parametrize(
    "prefix, name", _shared_public_names(), ids=[p + n for p, n in _shared_public_names()]
)
def test_signature_matches_optax(prefix, name):
    owner_g = gradtx.tree if prefix else gradtx
    owner_o = optax.tree if prefix else optax
    diff = signature_difference(getattr(owner_g, name), getattr(owner_o, name))
    if prefix + name in SIGNATURE_EXCEPTIONS:
        assert diff is not None, f"{prefix + name} now matches optax: drop its exception"
        return
    assert diff is None, f"gradtx.{prefix}{name}: {diff}"


def test_signature_checker_catches_differences():
    def ref(a, b=1, *, c=2):
        pass

    def extra_kw(a, b=1, *, c=2, d=3):
        pass

    def missing(a, b=1):
        pass

    def other_default(a, b=2, *, c=2):
        pass

    def extra_positional(a, b=1, e=0, *, c=2):
        pass

    def renamed(x, b=1, *, c=2):
        pass

    assert signature_difference(extra_kw, ref) is None
    for bad in (missing, other_default, extra_positional, renamed):
        assert signature_difference(bad, ref) is not None, bad.__name__


def test_signature_exceptions_are_shared_names():
    shared = {p + n for p, n in _shared_public_names()}
    assert set(SIGNATURE_EXCEPTIONS) <= shared


def _state_classes():
    out = []
    for name in sorted(set(gradtx.__all__) & set(dir(optax))):
        g_obj, o_obj = getattr(gradtx, name), getattr(optax, name)
        if isinstance(g_obj, type) and hasattr(g_obj, "_fields") and hasattr(o_obj, "_fields"):
            out.append(name)
    return out


@pytest.mark.parametrize("name", _state_classes())
def test_state_fields_match_optax(name):
    g_fields, o_fields = getattr(gradtx, name)._fields, getattr(optax, name)._fields
    if name in STATE_FIELD_EXCEPTIONS:
        assert set(o_fields) < set(g_fields), (g_fields, o_fields)
        return
    assert g_fields == o_fields

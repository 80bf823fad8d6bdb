"""The protocol: base transformations, chain, named_chain, apply_updates, numerics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx


def test_identity_and_set_to_zero_keep_structure_and_none():
    g = {"a": jnp.array([1.0, -2.0]), "b": None, "c": [jnp.array(3.0)]}
    out, _ = gradtx.identity().update(g, gradtx.EmptyState())
    assert out["b"] is None and np.array_equal(out["a"], g["a"])
    zero, _ = gradtx.set_to_zero().update({"a": g["a"]}, gradtx.EmptyState())
    np.testing.assert_array_equal(zero["a"], [0.0, 0.0])


def test_stateless_with_tree_map_sees_params_and_skips_none():
    tx = gradtx.stateless_with_tree_map(lambda g, p: g * p)
    g = {"a": jnp.array([2.0]), "b": None}
    p = {"a": jnp.array([3.0]), "b": jnp.array([1.0])}
    out, _ = tx.update(g, tx.init(p), p)
    np.testing.assert_allclose(out["a"], [6.0])
    assert out["b"] is None


def test_with_extra_args_support_wraps_plain_update():
    plain = gradtx.GradientTransformation(lambda p: (), lambda u, s, p=None: (u * 2, s))
    tx = gradtx.with_extra_args_support(plain)
    assert isinstance(tx, gradtx.GradientTransformationExtraArgs)
    assert tx.update(1.0, (), None, value=3.0, other=1)[0] == 2.0
    assert gradtx.with_extra_args_support(tx) is tx
    with pytest.raises(TypeError, match="expects a GradientTransformation"):
        gradtx.with_extra_args_support(3)


def test_chain_applies_in_order_and_forwards_extra_args():
    seen = {}

    def spy_update(u, s, p=None, *, value=None, **kw):
        seen["value"] = value
        return u, s

    spy = gradtx.GradientTransformationExtraArgs(lambda p: gradtx.EmptyState(), spy_update)
    tx = gradtx.chain(gradtx.scale(2.0), gradtx.clip(3.0), spy)
    out, state = tx.update(jnp.array([1.0, 5.0]), tx.init(None), value=7.0)
    np.testing.assert_allclose(out, [2.0, 3.0])  # scale first, then clip
    assert seen["value"] == 7.0
    assert len(state) == 3


def test_chain_errors_name_the_problem():
    with pytest.raises(TypeError, match="argument 1 must be a GradientTransformation"):
        gradtx.chain(gradtx.scale(1.0), "adam")
    tx = gradtx.chain(gradtx.scale(1.0), gradtx.scale(2.0))
    with pytest.raises(ValueError, match="tuple of 2 inner states.*another optimizer"):
        tx.update(jnp.ones(1), (gradtx.EmptyState(),))


def test_named_chain_state_is_keyed_and_validated():
    tx = gradtx.named_chain(("clip", gradtx.clip(1.0)), ("sgd", gradtx.sgd(0.5)))
    state = tx.init(jnp.zeros(2))
    assert list(state) == ["clip", "sgd"]
    out, state = tx.update(jnp.array([4.0, -0.5]), state)
    np.testing.assert_allclose(out, [-0.5, 0.25])
    with pytest.raises(ValueError, match="names must be distinct"):
        gradtx.named_chain(("a", gradtx.identity()), ("a", gradtx.identity()))
    with pytest.raises(ValueError, match="lacks \\['sgd'\\]"):
        tx.update(jnp.ones(2), {"clip": state["clip"], "other": state["sgd"]})


def test_apply_updates_keeps_param_dtype_and_reports_paths():
    params = {"w": jnp.ones(2, jnp.bfloat16), "b": jnp.zeros(1), "frozen": None}
    updates = {"w": jnp.full(2, 0.5, jnp.float32), "b": None, "frozen": None}
    new = gradtx.apply_updates(params, updates)
    assert new["w"].dtype == jnp.bfloat16 and new["frozen"] is None
    np.testing.assert_allclose(new["w"].astype(jnp.float32), [1.5, 1.5])
    np.testing.assert_array_equal(new["b"], [0.0])
    with pytest.raises(ValueError, match=r"only in params: \['x'\]"):
        gradtx.apply_updates({"w": 1.0, "x": 2.0}, {"w": 1.0})


def test_incremental_and_periodic_update():
    new, old = {"a": jnp.array(10.0)}, {"a": jnp.array(0.0)}
    np.testing.assert_allclose(gradtx.incremental_update(new, old, 0.25)["a"], 2.5)
    assert float(gradtx.periodic_update(new, old, jnp.asarray(6), 3)["a"]) == 10.0
    assert float(gradtx.periodic_update(new, old, jnp.asarray(7), 3)["a"]) == 0.0


def test_safe_increment_saturates_for_ints_and_floats():
    top = jnp.asarray(jnp.iinfo(jnp.int32).max, jnp.int32)
    assert int(gradtx.safe_increment(top)) == jnp.iinfo(jnp.int32).max
    assert int(gradtx.safe_increment(jnp.asarray(5, jnp.int32))) == 6
    big = jnp.asarray(jnp.finfo(jnp.float32).max, jnp.float32)
    assert float(gradtx.safe_increment(big)) == float(big)
    with pytest.raises(TypeError, match="integer or float"):
        gradtx.safe_increment(jnp.asarray(True))


def test_safe_norm_value_and_gradient_at_zero():
    x = jnp.array([3.0, 4.0])
    assert float(gradtx.safe_norm(x, 0.0)) == 5.0
    assert float(gradtx.safe_norm(jnp.zeros(2), 0.5)) == 0.5
    g = jax.grad(lambda v: gradtx.safe_norm(v, 1e-6))(jnp.zeros(3))
    np.testing.assert_array_equal(g, np.zeros(3))
    np.testing.assert_allclose(jax.grad(lambda v: gradtx.safe_norm(v, 0.0))(x), [0.6, 0.8])
    rows = gradtx.safe_norm(jnp.array([[3.0, 4.0], [0.0, 0.0]]), 1.0, axis=1)
    np.testing.assert_allclose(rows, [5.0, 1.0])


def test_safe_root_mean_squares():
    np.testing.assert_allclose(
        gradtx.safe_root_mean_squares(jnp.array([1.0, 7.0]), 0.0), np.sqrt(25.0)
    )
    assert float(gradtx.safe_root_mean_squares(jnp.zeros(3), 0.1)) == pytest.approx(0.1)
    g = jax.grad(lambda v: gradtx.safe_root_mean_squares(v, 1e-3))(jnp.zeros(2))
    assert np.all(np.isfinite(g))


def test_global_norm_over_leaves():
    tree = {"a": jnp.array([1.0, 2.0]), "b": [jnp.array([[2.0]])], "c": None}
    assert float(gradtx.global_norm(tree)) == pytest.approx(3.0)


def test_with_extra_args_support_passes_declared_keywords_only():
    seen = {}

    def update(updates, state, params=None, *, value=None):
        seen["value"] = value
        return updates, state

    tx = gradtx.with_extra_args_support(gradtx.GradientTransformation(lambda p: (), update))
    tx.update(1.0, (), None, value=5.0, other="dropped")
    assert seen == {"value": 5.0}
    chained = gradtx.chain(gradtx.GradientTransformation(lambda p: (), update))
    chained.update(1.0, chained.init(None), value=6.0, unrelated=1)
    assert seen == {"value": 6.0}


@pytest.mark.parametrize(
    "make",
    [
        lambda: gradtx.adam(0.1),
        lambda: gradtx.sgd(0.1, momentum=0.9, nesterov=True),
        lambda: gradtx.chain(gradtx.clip_by_global_norm(1.0), gradtx.lion(0.01)),
        lambda: gradtx.apply_if_finite(gradtx.rmsprop(0.1), max_consecutive_errors=2),
    ],
    ids=["adam", "nesterov", "clip-lion", "apply_if_finite-rmsprop"],
)
def test_nested_in_chains_with_unknown_extra_args_the_numbers_are_the_same(make, rng):
    # The conformance suite runs every entry nested and with unknown extra arguments;
    # here, exactly: nesting adds no arithmetic and unknown arguments are ignored.
    tx = make()
    nested = gradtx.chain(gradtx.chain(tx), gradtx.identity())
    params = {"w": jnp.asarray(rng.normal(size=(2, 3)), jnp.float32), "b": None}
    s_plain, s_nested = tx.init(params), nested.init(params)
    for _ in range(3):
        g = {"w": jnp.asarray(rng.normal(size=(2, 3)), jnp.float32), "b": None}
        want, s_plain = tx.update(g, s_plain, params)
        got, s_nested = nested.update(g, s_nested, params, foo=1, bar="unused")
        assert got["b"] is None
        np.testing.assert_array_equal(got["w"], want["w"])
        params = gradtx.apply_updates(params, want)

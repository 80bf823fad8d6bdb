"""gradtx.tree: arithmetic, reductions, moments, casting and access by name."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx import tree as gt

A = {"x": jnp.array([1.0, -2.0]), "y": [jnp.array(3.0)]}
B = {"x": jnp.array([4.0, 0.5]), "y": [jnp.array(-1.0)]}


def _flat(t):
    return np.concatenate([np.ravel(np.asarray(v)) for v in jax.tree.leaves(t)])


def test_elementwise_arithmetic():
    np.testing.assert_allclose(_flat(gt.add(A, B, B)), _flat(A) + 2 * _flat(B))
    np.testing.assert_allclose(_flat(gt.sub(A, B)), _flat(A) - _flat(B))
    np.testing.assert_allclose(_flat(gt.mul(A, B)), _flat(A) * _flat(B))
    np.testing.assert_allclose(_flat(gt.div(A, B)), _flat(A) / _flat(B))
    np.testing.assert_allclose(_flat(gt.scale(3.0, A)), 3 * _flat(A))
    np.testing.assert_allclose(_flat(gt.add_scale(A, 0.5, B)), _flat(A) + 0.5 * _flat(B))
    np.testing.assert_allclose(_flat(gt.clip(A, -1.0, 1.0)), np.clip(_flat(A), -1, 1))


def test_none_leaves_are_kept():
    t = {"a": jnp.ones(2), "b": None}
    assert gt.add(t, t)["b"] is None and gt.scale(2.0, t)["b"] is None
    assert gt.zeros_like(t)["b"] is None


def test_reductions():
    assert float(gt.vdot(A, B)) == pytest.approx(float(np.dot(_flat(A), _flat(B))))
    assert float(gt.sum(A)) == pytest.approx(2.0)
    assert float(gt.max(A)) == 3.0 and float(gt.min(A)) == -2.0
    assert gt.size(A) == 3
    flat = _flat(A)
    assert float(gt.norm(A)) == pytest.approx(np.linalg.norm(flat), rel=1e-6)
    assert float(gt.norm(A, squared=True)) == pytest.approx(np.sum(flat**2), rel=1e-6)
    assert float(gt.norm(A, ord=1)) == pytest.approx(np.sum(np.abs(flat)))
    assert float(gt.norm(A, ord="inf")) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="ord must be 1, 2 or 'inf'"):
        gt.norm(A, ord=3)
    assert float(gt.sum({})) == 0.0
    many = {f"k{i}": jnp.full(2, float(i)) for i in range(7)}
    assert float(gt.sum(many, associative_reduction=True)) == float(gt.sum(many)) == 42.0
    assert float(gt.norm(A, ord=1, squared=True)) == pytest.approx(36.0)


def test_complex_vdot_norm_conj_real():
    z = {"a": jnp.array([1 + 2j, 3 - 1j])}
    assert float(gt.norm(z)) == pytest.approx(np.sqrt(1 + 4 + 9 + 1), rel=1e-6)
    np.testing.assert_allclose(gt.conj(z)["a"], np.conj(np.asarray(z["a"])))
    np.testing.assert_allclose(gt.real(z)["a"], [1.0, 3.0])
    np.testing.assert_allclose(gt.vdot(z, z), 15.0)


def test_construction_and_dtypes():
    t = {"f": jnp.ones((2, 3)), "i": jnp.ones(2, jnp.int32)}
    assert gt.full_like(t, 0.5)["f"].dtype == jnp.float32
    np.testing.assert_array_equal(gt.ones_like(t)["i"], [1, 1])
    cast = gt.cast(t, jnp.bfloat16)
    assert cast["f"].dtype == jnp.bfloat16 and cast["i"].dtype == jnp.bfloat16  # as optax
    assert gt.cast(t, None) is t
    assert gt.cast_like({"f": jnp.ones(1)}, {"f": jnp.ones(1, jnp.float16)})["f"].dtype == (
        jnp.float16
    )
    with pytest.raises(ValueError, match="mixes dtypes"):
        gt.dtype(t)
    assert gt.dtype(t, "promote") == jnp.float32
    with pytest.raises(ValueError, match="have the same size"):
        gt.dtype(t, "lowest")  # float32 and int32: no lowest
    mixed = {"a": jnp.ones(1, jnp.bfloat16), "b": jnp.ones(1)}
    assert gt.dtype(mixed, "lowest") == jnp.bfloat16 and gt.dtype(mixed, "highest") == jnp.float32
    assert gt.dtype({"a": jnp.ones(1, jnp.bfloat16)}) == jnp.bfloat16


def test_where_and_allclose():
    out = gt.where(jnp.array(True), A, B)
    assert gt.allclose(out, A)
    assert not gt.allclose(A, B)
    assert not gt.allclose(A, {"x": A["x"]})
    mask = {"x": jnp.array([True, False]), "y": [jnp.array(False)]}
    np.testing.assert_allclose(_flat(gt.where(mask, A, B)), [1.0, 0.5, -1.0])


def test_moments():
    g = {"a": jnp.array([2.0, -1.0])}
    m = {"a": jnp.array([1.0, 1.0])}
    np.testing.assert_allclose(gt.update_moment(g, m, 0.9, 1)["a"], 0.1 * np.array([2, -1]) + 0.9)
    np.testing.assert_allclose(gt.update_moment(g, m, 0.9, 2)["a"], 0.1 * np.array([4, 1]) + 0.9)
    np.testing.assert_allclose(
        gt.update_moment_per_elem_norm({"a": jnp.array([3j])}, {"a": jnp.zeros(1)}, 0.5, 2)["a"],
        [4.5],
    )
    np.testing.assert_allclose(gt.update_infinity_moment(g, m, 0.5, 0.0)["a"], [2.0, 1.0])
    np.testing.assert_allclose(gt.update_infinity_moment(g, m, 0.5, 0.25)["a"], [2.25, 1.25])
    np.testing.assert_allclose(
        gt.bias_correction({"a": jnp.array(0.19)}, 0.9, jnp.asarray(2))["a"], 1.0, rtol=1e-6
    )


def test_get_set_and_paths_by_name():
    tx = gradtx.chain(gradtx.scale_by_adam(), gradtx.sgd(0.1, momentum=0.9))
    state = tx.init({"w": jnp.zeros(2)})
    assert gt.get(state, "mu")["w"].shape == (2,)
    assert gt.get(state, "nope", default=7) == 7
    assert float(gt.get(state, "learning_rate")) == pytest.approx(0.1)
    with pytest.raises(KeyError, match="2 values are named 'count'"):
        gt.get(state, "count")
    paths = ["".join(map(str, p)) for p, _ in gt.get_all_with_path(state, "count")]
    assert paths == ["[0].count", "[1].inner_state[1].count"]
    only_adam = gt.get(
        state, "count", filtering=lambda p, v: p[-1].tuple_name == "ScaleByAdamState"
    )
    assert int(only_adam) == 0
    nested = {"a": {"x": {"count": 2}, "count": 1}, "count": 0, "z": [{"count": 7}]}
    order = [v for _, v in gt.get_all_with_path(nested, "count")]
    assert order == [0, 1, 2, 7]  # a node's own fields before its children's
    new = gt.set(state, mu={"w": jnp.ones(2)})
    assert int(gt.get(state, "step")) == 0  # the optimizer's own step is not a 'count'
    np.testing.assert_array_equal(gt.get(new, "mu")["w"], [1.0, 1.0])
    with pytest.raises(KeyError, match="nothing in the tree is named 'zz'"):
        gt.set(state, zz=1)


def test_map_params_touches_only_parameter_shaped_state():
    tx = gradtx.adam(1e-3)
    params = {"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)}
    state = tx.init(params)
    mapped = gt.map_params(tx, lambda x: x + 1.0, state)
    np.testing.assert_array_equal(gt.get(mapped, "mu")["w"], np.ones((2, 3)))
    assert int(gt.get(mapped, "count")) == 0  # not parameter-shaped: untouched
    assert float(gt.get(mapped, "learning_rate")) == pytest.approx(1e-3)
    marked = gt.map_params(tx, lambda x: x, state, transform_non_params=lambda x: x * 0 - 1)
    assert int(gt.get(marked, "count")) == -1


def test_random_like_and_split_key_like():
    target = {"a": jnp.zeros((3, 2)), "b": jnp.zeros(4, jnp.bfloat16)}
    r = gt.random_like(jax.random.key(1), target)
    assert r["a"].shape == (3, 2) and r["b"].dtype == jnp.bfloat16
    assert not np.allclose(np.ravel(r["a"])[:2], np.asarray(r["b"][:2], np.float32))
    keys = gt.split_key_like(jax.random.key(0), target)
    assert not np.array_equal(jax.random.key_data(keys["a"]), jax.random.key_data(keys["b"]))
    u = gt.random_like(jax.random.key(0), target, jax.random.uniform, jnp.float32)
    assert float(gt.min(u)) >= 0.0 and float(gt.max(u)) < 1.0

"""masked: applying a transformation to part of a tree."""

import jax.numpy as jnp
import numpy as np
import pytest

import gradtx


def test_masked_applies_inner_only_where_true_and_keeps_no_state_elsewhere():
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    tx = gradtx.masked(gradtx.scale_by_adam(), {"w": True, "b": False})
    state = tx.init(params)
    assert isinstance(state.inner_state.mu["b"], gradtx.MaskedNode)
    g = {"w": jnp.full((2, 2), 0.3), "b": jnp.full(2, 7.0)}
    out, state = tx.update(g, state, params)
    np.testing.assert_allclose(out["w"], np.ones((2, 2)), rtol=1e-5)  # Adam's first step
    np.testing.assert_array_equal(out["b"], g["b"])  # passed through


def test_mask_function_and_prefix_mask():
    params = {"layer": {"kernel": jnp.ones((2, 2)), "bias": jnp.ones(2)}, "head": jnp.ones(3)}
    by_rank = gradtx.masked(
        gradtx.scale(0.0), lambda p: {"layer": {"kernel": True, "bias": False}, "head": False}
    )
    out, _ = by_rank.update(params, by_rank.init(params), params)
    assert float(out["layer"]["kernel"].sum()) == 0.0 and float(out["head"].sum()) == 3.0
    prefix = gradtx.masked(gradtx.scale(0.0), {"layer": True, "head": False})
    out, _ = prefix.update(params, prefix.init(params), params)
    assert float(out["layer"]["bias"].sum()) == 0.0 and float(out["head"].sum()) == 3.0


def test_mask_errors_name_the_path():
    params = {"w": jnp.ones(2), "b": jnp.ones(2)}
    with pytest.raises(TypeError, match=r"mask leaves must be booleans; at \['b'\] got int"):
        gradtx.masked(gradtx.identity(), {"w": True, "b": 1}).init(params)
    with pytest.raises(ValueError, match="structure of the parameters"):
        gradtx.masked(gradtx.identity(), {"w": True}).init(params)


def test_adamw_mask_skips_decay_on_masked_out_leaves():
    params = {"w": jnp.full(2, 2.0), "b": jnp.full(2, 2.0)}
    zero = {"w": jnp.zeros(2), "b": jnp.zeros(2)}
    tx = gradtx.adamw(0.1, weight_decay=0.5, mask={"w": True, "b": False})
    out, _ = tx.update(zero, tx.init(params), params)
    np.testing.assert_allclose(out["w"], [-0.1, -0.1], rtol=1e-6)  # -lr * wd * p
    np.testing.assert_array_equal(out["b"], [0.0, 0.0])


def test_mask_compatible_extra_args_are_masked_like_the_updates():
    seen = {}

    def update(u, s, p=None, *, per_param=None, scalar=None, **kw):
        seen.update(per_param=per_param, scalar=scalar)
        return u, s

    spy = gradtx.GradientTransformationExtraArgs(lambda p: gradtx.EmptyState(), update)
    g = {"w": jnp.ones(1), "b": jnp.ones(1)}
    tx = gradtx.masked(spy, {"w": True, "b": False}, mask_compatible_extra_args=True)
    tx.update(g, tx.init(g), per_param={"w": 1.0, "b": 2.0}, scalar=3.0)
    assert seen["per_param"]["w"] == 1.0
    assert isinstance(seen["per_param"]["b"], gradtx.MaskedNode) and seen["scalar"] == 3.0
    plain = gradtx.masked(spy, {"w": True, "b": False})
    plain.update(g, plain.init(g), per_param={"w": 1.0, "b": 2.0})
    assert seen["per_param"] == {"w": 1.0, "b": 2.0}

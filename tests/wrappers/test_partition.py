"""partition (multi_transform), freeze and selective_transform against hand-written loops.

The reference splits the flat list of leaves by label and runs an independent NumPy
optimizer (``_reference``) on each group; frozen leaves get a zero update.
"""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

STEPS = 5
RTOL = {"float32": 1e-5, "float64": 1e-9}
# nested_params: leaves b[0] (3,), b[1][0] (), w (2, 3); b[1][1] is None.
LABELS = {"w": "adam", "b": "sgd"}  # a prefix tree: "sgd" covers all of b
LEAF_LABELS = ["sgd", "sgd", "adam"]


class Partition(ref.Transform):
    """Run each reference on the leaves with its label; the others pass through."""

    def __init__(self, parts, labels):
        self.parts, self.labels = parts, labels

    def _sub(self, xs, key):
        return [x for x, label in zip(xs, self.labels, strict=True) if label == key]

    def _init(self, params):
        for key, part in self.parts.items():
            part.init(self._sub(params, key))

    def _update(self, grads, params):
        out = list(grads)
        for key, part in self.parts.items():
            idx = [i for i, label in enumerate(self.labels) if label == key]
            sub = part.update(self._sub(grads, key), self._sub(params, key))
            for i, u in zip(idx, sub, strict=True):
                out[i] = u
        return out


class Zero(ref.Transform):
    def _update(self, grads, params):
        return [np.zeros_like(g) for g in grads]


def _reference(float_dtype):
    f = ref.f32
    return {
        "adam": ref.adam(f(0.1), f(0.9), f(0.99), f(1e-8)),
        "sgd": ref.sgd(f(0.05), f(0.9)),
    }


def _transforms():
    return {"adam": gradtx.adam(0.1, b2=0.99), "sgd": gradtx.sgd(0.05, momentum=0.9)}


def _run_both(tx, reference, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(tx, params, grads)
    want = ref.run(reference, leaves(params), [leaves(g) for g in grads])
    return got, want


@pytest.mark.parametrize(
    "labels",
    [
        LABELS,
        {"w": "adam", "b": ["sgd", ("sgd", None)]},  # full tree (None param: no label)
        lambda p: {"w": "adam", "b": jax.tree.map(lambda _: "sgd", p["b"])},
        gradtx.labels_by_path({"['w']": "adam"}, default="sgd"),
    ],
    ids=["prefix-tree", "full-tree", "function", "labels_by_path"],
)
def test_partition_matches_reference_per_group(labels, float_dtype, rng):
    tx = gradtx.partition(_transforms(), labels)
    got, want = _run_both(tx, Partition(_reference(float_dtype), LEAF_LABELS), float_dtype, rng)
    assert_close_to_reference(got, want, RTOL[float_dtype.name])
    assert all(u["b"][1][1] is None for u in got)  # the None param passes through


def test_freeze_and_selective_transform_match_reference(float_dtype, rng):
    frozen = {"w": False, "b": True}
    labels = ["freeze", "freeze", "train"]
    f = ref.f32
    adam = lambda: ref.adam(f(0.1), f(0.9), f(0.99), f(1e-8))  # noqa: E731
    want_parts = {"train": adam(), "freeze": Zero()}
    tx = gradtx.selective_transform(gradtx.adam(0.1, b2=0.99), freeze_mask=frozen)
    got, want = _run_both(tx, Partition(want_parts, labels), float_dtype, rng)
    assert_close_to_reference(got, want, RTOL[float_dtype.name])
    # freeze after the optimizer: the optimizer still sees (and keeps state for) every leaf.
    tx = gradtx.chain(gradtx.adam(0.1, b2=0.99), gradtx.freeze(frozen))
    got, want = _run_both(
        tx, ref.Chain(adam(), Partition({"freeze": Zero()}, labels)), float_dtype, rng
    )
    assert_close_to_reference(got, want, RTOL[float_dtype.name])


def test_state_holds_each_group_only_and_keeps_label_order():
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2), "n": None}
    tx = gradtx.partition(
        {"b": gradtx.scale_by_adam(), "a": gradtx.scale_by_adam()}, {"w": "a", "b": "b", "n": "a"}
    )
    state = tx.init(params)
    assert isinstance(state, gradtx.PartitionState) and gradtx.MultiTransformState is type(state)
    assert list(state.inner_states) == ["b", "a"]
    a = state.inner_states["a"].inner_state
    assert a.mu["w"].shape == (2, 2) and isinstance(a.mu["b"], gradtx.MaskedNode)
    assert a.mu["n"] is None  # the labelled None param: None in its own part ...
    assert isinstance(state.inner_states["b"].inner_state.mu["n"], gradtx.MaskedNode)  # ... only
    same = gradtx.multi_transform(
        {"b": gradtx.scale_by_adam(), "a": gradtx.scale_by_adam()}, {"w": "a", "b": "b", "n": "a"}
    )
    assert jax.tree.structure(same.init(params)) == jax.tree.structure(state)


def test_selective_transform_keeps_no_state_for_frozen_leaves():
    params = {"backbone": {"w": jnp.ones((4, 4))}, "head": jnp.ones(2)}
    tx = gradtx.selective_transform(
        gradtx.adam(1e-3), freeze_mask=gradtx.masks.by_path("backbone*")
    )
    state = tx.init(params)
    assert list(state.inner_states) == ["train", "freeze"]
    mu = gradtx.tree.get(state, "mu")
    assert isinstance(mu["backbone"]["w"], gradtx.MaskedNode) and mu["head"].shape == (2,)
    updates, _ = tx.update(params, state, params)
    np.testing.assert_array_equal(updates["backbone"]["w"], 0.0)
    assert isinstance(gradtx.freeze(True).init(params), gradtx.MaskedState)


# --------------------------------------------------------------------------- errors


def test_label_without_transform_lists_both_sides():
    params = {"w": jnp.ones(2), "b": jnp.ones(2), "c": jnp.ones(1)}
    tx = gradtx.partition(
        {"adam": gradtx.adam(1.0), "unused": gradtx.sgd(1.0)},
        {"w": "adam", "b": "sgd", "c": "lion"},
    )
    with pytest.raises(
        ValueError,
        match=r"some parameters have labels with no transform: \['lion', 'sgd'\]\. Labels in "
        r"param_labels: \['adam', 'lion', 'sgd'\]; keys of transforms: \['adam', 'unused'\]\.",
    ):
        tx.init(params)


def test_mismatched_labels_name_the_paths():
    params = {"w": jnp.ones(2), "b": jnp.ones(2)}
    tx = gradtx.partition({"a": gradtx.sgd(1.0)}, {"w": "a", "bias": "a"})
    with pytest.raises(
        ValueError,
        match=r"`partition`: param_labels must have the structure of the parameters \(or a "
        r"prefix of it\); only in param_labels: \['bias'\]; not covered by param_labels: "
        r"\['b'\]\.",
    ):
        tx.init(params)
    with pytest.raises(ValueError, match=r"gives no label \(None\) to the parameters at \['b'\]"):
        gradtx.partition({"a": gradtx.sgd(1.0)}, {"w": "a", "b": None}).init(params)
    with pytest.raises(TypeError, match=r"labels must be hashable .* at \['w'\] got set"):
        gradtx.partition({"a": gradtx.sgd(1.0)}, lambda p: {"w": {"a"}, "b": "a"}).init(params)


def test_argument_errors():
    with pytest.raises(TypeError, match=r"`partition\(transforms=...\)` must be a mapping"):
        gradtx.partition([gradtx.sgd(1.0)], {"w": 0})
    with pytest.raises(TypeError, match=r"`partition\(transforms\['a'\]=...\)` must be a gradient"):
        gradtx.partition({"a": gradtx.sgd}, {"w": "a"})
    with pytest.raises(TypeError, match=r"`selective_transform\(optimizer=...\)` must be a"):
        gradtx.selective_transform(gradtx.adam, freeze_mask={"w": True})
    with pytest.raises(TypeError, match=r"`selective_transform`: mask leaves must be booleans"):
        gradtx.selective_transform(gradtx.sgd(1.0), freeze_mask={"w": "yes"}).init(
            {"w": jnp.ones(1)}
        )
    params = {"w": jnp.ones(1)}
    state = gradtx.partition({"a": gradtx.sgd(1.0)}, {"w": "a"}).init(params)
    other = gradtx.partition({"b": gradtx.sgd(1.0)}, {"w": "b"})
    with pytest.raises(
        ValueError,
        match=r"the state holds the labels \['a'\] but transforms "
        r"has the keys \['b'\]",
    ):
        other.update(params, state)


# --------------------------------------------------------------------------- contract


def test_jit_dtypes_and_state_stable_under_cond():
    params = {"w": jnp.ones((2, 3), jnp.bfloat16), "b": jnp.ones(3, jnp.float32), "n": None}
    tx = gradtx.partition(
        {"a": gradtx.adam(0.1), "s": gradtx.sgd(0.1, momentum=0.9)},
        gradtx.labels_by_path({"*w": "a"}, default="s"),
    )
    state = tx.init(params)

    @jax.jit
    def step(g, state, flag):
        new_u, new_s = tx.update(g, state, params)
        return new_u, jax.lax.cond(flag, lambda: new_s, lambda: state)

    g = jax.tree.map(
        lambda x: None if x is None else jnp.full_like(x, 0.5), params, is_leaf=lambda x: x is None
    )
    updates, new_state = step(g, state, True)
    assert updates["w"].dtype == jnp.bfloat16 and updates["b"].dtype == jnp.float32
    assert updates["n"] is None
    assert jax.tree.structure(new_state) == jax.tree.structure(state)
    for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(state), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape


def test_extra_args_reach_the_inner_transforms_and_can_be_masked():
    seen = []

    def update(u, s, p=None, *, per_param=None, **kw):
        seen.append(per_param)
        return u, s

    spy = gradtx.GradientTransformationExtraArgs(lambda p: gradtx.EmptyState(), update)
    g = {"w": jnp.ones(1), "b": jnp.ones(1)}
    for compatible in (False, True):
        seen.clear()
        tx = gradtx.partition(
            {"x": spy, "y": gradtx.identity()},
            {"w": "x", "b": "y"},
            mask_compatible_extra_args=compatible,
        )
        tx.update(g, tx.init(g), per_param={"w": 1.0, "b": 2.0}, unused=3)
        assert seen[0]["w"] == 1.0
        assert isinstance(seen[0]["b"], gradtx.MaskedNode) == compatible


def test_nested_partitions_and_masks():
    params = {"enc": {"kernel": jnp.ones(2), "bias": jnp.ones(2)}, "dec": {"kernel": jnp.ones(2)}}
    inner = gradtx.partition(
        {"k": gradtx.scale(-2.0), "b": gradtx.scale(-3.0)},
        gradtx.labels_by_path({"*kernel": "k"}, default="b"),
    )
    outer = gradtx.partition(
        {"enc": inner, "dec": gradtx.masked(gradtx.scale(-5.0), gradtx.masks.by_path("*kernel"))},
        gradtx.labels_by_path({"enc*": "enc"}, default="dec"),
    )
    out, _ = jax.jit(outer.update)(params, outer.init(params), params)
    np.testing.assert_array_equal(out["enc"]["kernel"], -2.0)
    np.testing.assert_array_equal(out["enc"]["bias"], -3.0)
    np.testing.assert_array_equal(out["dec"]["kernel"], -5.0)

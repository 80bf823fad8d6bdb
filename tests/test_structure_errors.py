"""Tree mismatches name the first differing paths on both sides, never a treedef dump.

Covered: ``apply_updates``, ``incremental_update``/``periodic_update``, a chain (and so
every alias, which is one) given updates that fit neither its state nor the params, or
leaves of the wrong shape, under ``jit`` as well, and wrappers inside a chain.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import pytest

import gradtx
from gradtx._structure import TreeMismatchError, describe_difference, first_difference

PARAMS = {"w": jnp.zeros(2), "b": {"x": jnp.zeros(3)}}


def test_apply_updates_names_both_sides():
    with pytest.raises(
        ValueError,
        match=r"`apply_updates`: params and updates must have the same tree structure; "
        r"first difference at \['b'\]: params has a dict with keys \['x'\], updates has a "
        r"list of length 1; only in params: \['b'\]\['x'\]; only in updates: \['b'\]\[0\]\.",
    ):
        gradtx.apply_updates(PARAMS, {"w": jnp.zeros(2), "b": [jnp.zeros(3)]})
    with pytest.raises(ValueError, match=r"first difference at the root: new_tensors has a dict"):
        gradtx.incremental_update({"a": 1.0}, {"b": 1.0}, 0.5)
    with pytest.raises(TreeMismatchError, match=r"only in old_tensors: \['b'\]"):
        gradtx.periodic_update({"a": 1.0}, {"a": 1.0, "b": 2.0}, 1, 1)


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_alias_with_updates_that_do_not_fit_its_state(jit):
    tx = gradtx.adam(0.1)
    state = tx.init(PARAMS)
    update = jax.jit(tx.update) if jit else tx.update
    bad = {"w": jnp.zeros(2), "b": {"y": jnp.zeros(3)}}
    with pytest.raises(
        ValueError,
        match=r"`chain.update \(member 0\)`: the state does not fit these updates .*; first "
        r"difference at \.mu\['b'\]: the state has a dict with keys \['x'\], a state for "
        r"these updates has a dict with keys \['y'\]; only in the state: \.mu\['b'\]\['x'\], "
        r"\.nu\['b'\]\['x'\]; only in a state for these updates: \.mu\['b'\]\['y'\]",
    ):
        update(bad, state)
    with pytest.raises(
        TreeMismatchError,
        match=r"first difference at \.mu: the state has a dict with keys \['b', 'w'\]",
    ):
        update({"w": jnp.zeros(2)}, state, PARAMS)


def test_chain_names_params_that_differ_from_updates():
    """The updates fit the state, the params do not: the message says so."""
    tx = gradtx.chain(gradtx.add_decayed_weights(1e-2), gradtx.sgd(0.1))
    state = tx.init(PARAMS)
    with pytest.raises(
        ValueError,
        match=r"`chain.update \(member 0\)`: updates and params must have the same tree "
        r"structure; first difference at \['b'\]: updates has a dict with keys \['x'\], "
        r"params has a leaf float32\[3\]",
    ):
        tx.update(PARAMS, state, {"w": jnp.zeros(2), "b": jnp.zeros(3)})


def test_chain_names_the_leaf_of_the_wrong_shape():
    tx = gradtx.chain(gradtx.clip(1.0), gradtx.sgd(0.1, momentum=0.9))
    state = tx.init(PARAMS)
    bad = {"w": jnp.zeros((2, 2)), "b": {"x": jnp.zeros(3)}}
    with pytest.raises(
        ValueError,
        match=r"`chain.update \(member 1\)`: the state does not fit these updates .*at state "
        r"path .*\.trace\['w'\] the state has a leaf float32\[2\], these updates need a leaf "
        r"float32\[2,2\]\.",
    ):
        tx.update(bad, state)


@pytest.mark.parametrize(
    "wrapper",
    [
        lambda tx: gradtx.masked(tx, True),
        lambda tx: gradtx.partition({"a": tx}, lambda p: jax.tree.map(lambda _: "a", p)),
    ],
    ids=["masked", "partition"],
)
def test_wrappers_inside_a_chain(wrapper):
    tx = gradtx.chain(wrapper(gradtx.adam(0.1)), gradtx.identity())
    state = tx.init(PARAMS)
    with pytest.raises(
        TreeMismatchError,
        match=r"first difference at .*: the state has a dict with keys \['b', 'w'\]",
    ):
        tx.update({"w": jnp.zeros(2)}, state)


def test_other_failures_are_not_disguised():
    """A failure that is not a tree mismatch reaches the user unchanged."""

    def fails(updates, state, params=None):
        raise ValueError("something else")

    tx = gradtx.chain(gradtx.GradientTransformation(lambda p: gradtx.EmptyState(), fails))
    with pytest.raises(ValueError, match="^something else$"):
        tx.update(PARAMS, tx.init(PARAMS), PARAMS)


class A(NamedTuple):
    x: object


class B(NamedTuple):
    x: object


def test_first_difference_by_node_type_and_metadata():
    assert first_difference(PARAMS, PARAMS) is None
    assert first_difference({"a": None}, {"a": jnp.ones(2)}) is None  # None is a leaf
    assert first_difference(A(1), B(1)) == (
        "the root",
        "a A with fields [x]",
        "a B with fields [x]",
    )
    assert first_difference([(1, 2)], [[1, 2]]) == (
        "[0]",
        "a tuple of length 2",
        "a list of length 2",
    )
    text = describe_difference({"a": {"k": 1}}, {"a": {}}, "left", "right")
    assert text == (
        "first difference at ['a']: left has a dict with keys ['k'], right has an empty "
        "dict; only in left: ['a']['k']"
    )
    many = describe_difference({f"k{i}": i for i in range(12)}, {}, "left", "right")
    assert many.endswith(
        "only in left: ['k0'], ['k1'], ['k10'], ['k11'], ['k2'], ['k3'], ['k4'], ['k5'], ..."
    )


@pytest.mark.parametrize(
    "make, fn",
    [
        (lambda: gradtx.masked(gradtx.sgd(0.1), {"a": True, "b": False}), r"masked\.update"),
        (
            lambda: gradtx.partition({"x": gradtx.sgd(0.1)}, {"a": "x", "b": "x"}),
            r"partition\.update",
        ),
    ],
    ids=["masked", "partition"],
)
def test_wrappers_called_directly_name_the_differing_paths(make, fn):
    params = {"a": jnp.ones(2), "b": jnp.ones(3)}
    tx = make()
    state = tx.init(params)
    with pytest.raises(ValueError, match=fn + r".*only in params: \['b'\]"):
        tx.update({"a": jnp.ones(2)}, state, params)

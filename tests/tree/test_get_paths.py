"""gradtx.tree.get: ambiguous names fail with the candidate paths; a "/" path picks one."""

from __future__ import annotations

import jax.numpy as jnp
import optax
import pytest

import gradtx


def _state():
    """count appears three times: in adam's state, in the schedule's, and nested deeper."""
    tx = gradtx.chain(
        gradtx.scale_by_adam(),
        gradtx.scale_by_schedule(lambda c: 2.0),
        gradtx.chain(gradtx.scale_by_schedule(lambda c: 1.0)),
    )
    state = tx.init({"w": jnp.zeros(2)})
    return gradtx.tree.set(
        state,
        lambda path, v: path[0].idx == 1,  # the outer schedule's count
        count=jnp.asarray(5, jnp.int32),
    )


def test_ambiguous_name_lists_the_candidate_paths():
    state = _state()
    with pytest.raises(
        ValueError, match=r"3 values are named 'count': '0/count', '1/count', '2/0/count'; pass one"
    ):
        gradtx.tree.get(state, "count")
    with pytest.raises(KeyError):  # optax raises KeyError here; gradtx's error is both
        gradtx.tree.get(state, "count")
    with pytest.raises(KeyError):
        optax.tree.get(state, "count")


def test_a_path_picks_one():
    state = _state()
    assert int(gradtx.tree.get(state, "1/count")) == 5
    assert int(gradtx.tree.get(state, "2/0/count")) == 0
    assert gradtx.tree.get(state, "0/mu")["w"].shape == (2,)
    assert gradtx.tree.get(state, "0/mu/w").shape == (2,)  # down to a leaf
    assert gradtx.tree.get(state, "7/count", default="absent") == "absent"
    # "0/count" ends both '0/count' and '2/0/count'; a leading "/" anchors at the root.
    with pytest.raises(
        ValueError, match=r"2 values match the path '0/count': '0/count', '2/0/count'"
    ):
        gradtx.tree.get(state, "0/count")
    assert int(gradtx.tree.get(state, "/0/count")) == 0
    # optax reads "1/count" as a name, which nothing has.
    assert optax.tree.get(state, "1/count") is None


def test_paths_through_dicts_and_filtering():
    tx = gradtx.named_chain(
        ("opt", gradtx.adam(0.1)), ("sched", gradtx.scale_by_schedule(lambda c: 1.0))
    )
    state = tx.init({"w": jnp.zeros(2)})
    assert float(gradtx.tree.get(state, "opt/hyperparams/learning_rate")) == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"'opt/inner_state/0/count', 'sched/count'"):
        gradtx.tree.get(state, "count")
    assert int(gradtx.tree.get(state, "sched/count")) == 0
    only_sched = gradtx.tree.get(
        state, "count", filtering=lambda path, v: str(path[0]) == "['sched']"
    )
    assert int(only_sched) == 0


def test_an_exact_name_with_a_slash_wins():
    """Haiku names its modules "mlp/~/linear_0": such a dict key is found by its name."""
    tree = {"mlp/~/linear_0": {"w": 1}, "mlp": {"~": {"linear_0": 2}}}
    assert gradtx.tree.get(tree, "mlp/~/linear_0") == {"w": 1}
    assert gradtx.tree.get(tree, "/mlp/~/linear_0") == 2  # no exact name: read as a path

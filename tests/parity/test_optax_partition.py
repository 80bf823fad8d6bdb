"""partition / multi_transform, freeze, selective_transform and path masks against optax.

float64, the shared gradient sequence (``_sequences.py``), hyperparameters exactly
representable in float32 (``EXACT``), so the output updates must agree to rtol 1e-10 at
every step. The states must have the same layout too: the same paths (field names,
labels), the same ``MaskedNode`` and ``None`` positions, shapes and dtypes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import EXACT, assert_sequences_close, run_updates, standard_data, to_jax, x64

optax = pytest.importorskip("optax")

RTOL = 1e-10
LABELS = {"w": "adam", "b": "sgd", "s": "adam"}
FROZEN = {"w": False, "b": True, "s": False}


@pytest.fixture(scope="module", autouse=True)
def _float64():
    with x64():
        yield


@pytest.fixture(scope="module")
def data():
    return standard_data()


def _adam(m):
    return m.adam(EXACT["lr"], b1=EXACT["b1"], b2=EXACT["b2"], eps=EXACT["eps"])


def _sgd(m):
    return m.sgd(EXACT["lr"], momentum=EXACT["momentum"])


def _by_rank(params):
    return jax.tree.map(lambda x: "adam" if jnp.ndim(x) == 2 else "sgd", params)


CASES = [
    ("partition", lambda m: m.partition({"adam": _adam(m), "sgd": _sgd(m)}, LABELS)),
    (
        "partition-fn-mask_compatible-unused-key",
        lambda m: m.partition(
            {"adam": _adam(m), "sgd": _sgd(m), "unused": m.scale(3.0)},
            _by_rank,
            mask_compatible_extra_args=True,
        ),
    ),
    (
        "multi_transform-primitives",
        lambda m: m.multi_transform(
            {"adam": m.scale_by_adam(0.8, 0.99), "sgd": m.trace(0.9, nesterov=True)}, LABELS
        ),
    ),
    ("freeze", lambda m: m.chain(_sgd(m), m.freeze(FROZEN))),
    ("freeze-fn", lambda m: m.chain(_adam(m), m.freeze(lambda p: {**FROZEN, "s": True}))),
    ("selective_transform", lambda m: m.selective_transform(_adam(m), freeze_mask=FROZEN)),
    ("selective_transform-sgd-prefix", lambda m: m.selective_transform(_sgd(m), freeze_mask=False)),
]


@pytest.mark.parametrize("name, build", CASES, ids=[c[0] for c in CASES])
def test_matches_optax(name, build, data):
    params, grads = data
    got = run_updates(build(gradtx), params, grads)
    want = run_updates(build(optax), params, grads)
    assert_sequences_close(got, want, RTOL)
    moved = [k for k in want[0] if any(np.any(u[k] != 0) for u in want)]
    assert moved, "a comparison of all-zero updates would be vacuous"


def test_selective_transform_calls_a_mask_function_unlike_optax(data):
    # optax 0.2.8 types freeze_mask as a tree; given a function it labels every parameter
    # "freeze" (the function is one truthy leaf). gradtx calls it, as every other mask
    # argument, so by_path works here: the result equals optax given the tree.
    params, grads = data
    frozen_scalar = lambda p: jax.tree.map(lambda x: jnp.ndim(x) == 0, p)  # noqa: E731
    got = run_updates(
        gradtx.selective_transform(_sgd(gradtx), freeze_mask=frozen_scalar), params, grads
    )
    want = run_updates(
        optax.selective_transform(_sgd(optax), freeze_mask={"w": False, "b": False, "s": True}),
        params,
        grads,
    )
    assert_sequences_close(got, want, RTOL)
    assert np.any(got[0]["w"] != 0)
    optax_fn = run_updates(
        optax.selective_transform(_sgd(optax), freeze_mask=frozen_scalar), params, grads
    )
    assert all(not np.any(u[k]) for u in optax_fn for k in u)  # optax froze everything


def _layout(state):
    is_node = lambda x: x is None or type(x).__name__ == "MaskedNode"  # noqa: E731
    flat = jax.tree_util.tree_flatten_with_path(state, is_leaf=is_node)[0]
    return [
        (
            jax.tree_util.keystr(path),
            repr(x) if is_node(x) else (jnp.shape(x), jnp.result_type(x).name),
        )
        for path, x in flat
    ]


@pytest.mark.parametrize(
    "build",
    [
        lambda m: m.partition(
            {"a": m.scale_by_adam(), "t": m.ema(0.9), "z": m.set_to_zero()},
            {"w": "a", "b": "t", "s": "a", "n": "t", "m": None},
        ),
        lambda m: m.selective_transform(
            m.scale_by_adam(), freeze_mask={"w": True, "b": False, "s": True, "n": False, "m": True}
        ),
        lambda m: m.freeze({"w": True, "b": False, "s": True, "n": False, "m": True}),
    ],
    ids=["partition", "selective_transform", "freeze"],
)
def test_state_layout_matches_optax(build, data):
    params = {**to_jax(data[0]), "n": None, "m": None}
    g_state, o_state = build(gradtx).init(params), build(optax).init(params)
    assert type(g_state).__name__ == type(o_state).__name__
    assert _layout(g_state) == _layout(o_state)
    grads = {**to_jax(data[1][0]), "n": None, "m": None}
    g_out, g_state = build(gradtx).update(grads, g_state, params)
    o_out, o_state = build(optax).update(grads, o_state, params)
    assert _layout(g_state) == _layout(o_state)
    assert g_out["n"] is None and o_out["n"] is None
    assert_sequences_close([{k: g_out[k] for k in "wbs"}], [{k: o_out[k] for k in "wbs"}], RTOL)


def test_names_match_optax():
    assert gradtx.PartitionState._fields == optax.PartitionState._fields
    assert gradtx.MultiTransformState is gradtx.PartitionState
    assert optax.multi_transform is optax.partition
    # gradtx's multi_transform is a thin function of its own (so the API reference
    # documents partition under its own name); same signature (checked in
    # test_optax_transforms), same state.
    params = {"w": jnp.ones(1)}
    tx = gradtx.multi_transform({"a": gradtx.sgd(1.0)}, {"w": "a"})
    assert isinstance(tx.init(params), gradtx.PartitionState)


def test_path_masks_and_labels_give_optax_the_same_numbers(data):
    # by_path / labels_by_path against optax given the equivalent hand-written trees, and
    # optax itself given the gradtx mask function (a plain callable, so it interoperates).
    params, grads = data
    got = run_updates(
        gradtx.adamw(EXACT["lr"], weight_decay=EXACT["wd"], mask=gradtx.masks.by_path("*w")),
        params,
        grads,
    )
    want = run_updates(
        optax.adamw(
            EXACT["lr"], weight_decay=EXACT["wd"], mask={"w": True, "b": False, "s": False}
        ),
        params,
        grads,
    )
    also = run_updates(
        optax.adamw(EXACT["lr"], weight_decay=EXACT["wd"], mask=gradtx.masks.by_path("*w")),
        params,
        grads,
    )
    assert_sequences_close(got, want, RTOL)
    assert_sequences_close(also, want, RTOL)
    labels = gradtx.labels_by_path({"['w']": "adam", "*s": "adam"}, default="sgd")
    got = run_updates(
        gradtx.partition({"adam": _adam(gradtx), "sgd": _sgd(gradtx)}, labels), params, grads
    )
    want = run_updates(
        optax.partition({"adam": _adam(optax), "sgd": _sgd(optax)}, LABELS), params, grads
    )
    assert_sequences_close(got, want, RTOL)


def test_interoperates_with_optax_transforms(data):
    params, grads = data
    mixed = gradtx.partition({"adam": _adam(optax), "sgd": _sgd(gradtx)}, LABELS)
    other = optax.partition({"adam": _adam(gradtx), "sgd": _sgd(optax)}, LABELS)
    want = run_updates(
        optax.partition({"adam": _adam(optax), "sgd": _sgd(optax)}, LABELS), params, grads
    )
    assert_sequences_close(run_updates(mixed, params, grads), want, RTOL)
    assert_sequences_close(run_updates(other, params, grads), want, RTOL)

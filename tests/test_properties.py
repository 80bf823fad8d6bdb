"""Property-based tests (hypothesis) over every optimizer and transform of the registry.

The entries are those of the conformance suite (tests/test_conformance.py: the core
aliases, the primitives and every ``tests/_catalogue_*.py`` list, which between them build
every name in ``gradtx.optimizers.__all__``) plus a few tree-shaped wrappers
(``masked``, ``multi_transform``, ``freeze``, ``quantize_state``, ``inject_hyperparams``).
Each property draws the entry itself, so a run of N examples spreads over all of them.

- ``test_trees_trace_under_jit``: on random pytrees (nested dicts, lists and tuples,
  ``None`` leaves, scalars, empty containers, float32 and bfloat16 leaves mixed), init
  and two updates trace under ``jax.jit``; the updates have the gradients' tree, shapes
  and dtypes; the state keeps its tree, shapes, dtypes and weak types (``lax.cond``
  accepts the states before and after an update). Abstract evaluation only: no compile.
- ``test_float64_trees_trace_under_jit``: the same with float64 leaves (x64 enabled).
- ``test_jit_matches_eager``: random finite values and random valid hyperparameters
  (set with ``gradtx.set_hyperparams``, as arrays: one compile serves every draw):
  init and two updates run under ``jit`` and eagerly; the updates are finite, keep the
  gradients' dtype, and both runs agree (updates and states) within a tolerance set
  by the dtype.
- ``test_float64_jit_matches_eager``: the same in float64, at a float64 tolerance.

Profiles (tests/_strategies.py): ``default`` is derandomized (the same examples on every
run) and small, each example drawing its entry; ``HYPOTHESIS_PROFILE=long`` runs every
entry separately (20 + 4 tracing and 4 + 2 numeric examples each, 165 entries) with a
fresh seed.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import conformance_loss, same_structure
from _strategies import (
    PROFILE,
    examples,
    hyperparams_for,
    leaf_specs,
    spec_trees,
    values_like,
)
from hypothesis import assume, given
from hypothesis import strategies as st
from test_conformance import REGISTRY

import gradtx


def _ndim_at_least_2(params: Any) -> Any:
    return jax.tree.map(lambda p: p.ndim >= 2, params)


def _masked_adam(learning_rate):
    return gradtx.masked(gradtx.adam(learning_rate), _ndim_at_least_2)


def _multi_transform(learning_rate):
    labels = lambda params: jax.tree.map(lambda p: "matrix" if p.ndim >= 2 else "other", params)  # noqa: E731
    return gradtx.multi_transform(
        {"matrix": gradtx.adam(learning_rate), "other": gradtx.sgd(learning_rate, momentum=0.9)},
        labels,
    )


def _freeze_then_sgd(learning_rate):
    return gradtx.chain(gradtx.freeze(_ndim_at_least_2), gradtx.sgd(learning_rate))


def _quantized_adam(learning_rate):
    # min_size=1 and block_size=4: every leaf of the small trees is quantized, in blocks.
    return gradtx.quantize_state(gradtx.adam(learning_rate), min_size=1, block_size=4)


def _injected_scale_by_adam(learning_rate):
    return gradtx.chain(
        gradtx.inject_hyperparams(gradtx.scale_by_adam)(b1=0.9, b2=0.99),
        gradtx.scale_by_learning_rate(learning_rate),
    )


EXTRA = [
    pytest.param(_masked_adam, {}, None, id="masked-adam"),
    pytest.param(_multi_transform, {}, None, id="multi_transform-adam-sgd"),
    pytest.param(_freeze_then_sgd, {}, None, id="freeze-sgd"),
    pytest.param(_quantized_adam, {}, None, id="quantize_state-adam"),
    pytest.param(_injected_scale_by_adam, {}, None, id="inject_hyperparams-scale_by_adam"),
]
ENTRIES = {e.id: e for e in [*REGISTRY, *EXTRA]}
ENTRY_IDS = list(ENTRIES)


def _transform(entry_id: str) -> gradtx.GradientTransformation:
    """The entry's transformation, built once per x64 mode (so jit caches its programs).

    Per mode: a factory may make arrays when it is built, float64 ones under x64, which
    a float32 test must not reuse (jnp then warns that float64 is not available).
    """
    return _built(entry_id, bool(jax.config.jax_enable_x64))


@functools.cache
def _built(entry_id: str, x64: bool) -> gradtx.GradientTransformation:
    del x64  # part of the cache key
    factory, kwargs, tuning = ENTRIES[entry_id].values
    return factory(learning_rate=0.1 if tuning is None else tuning.quad_lr, **kwargs)


def _jitted(entry_id: str) -> tuple[Any, Any]:
    return _jitted_in(entry_id, bool(jax.config.jax_enable_x64))


@functools.cache
def _jitted_in(entry_id: str, x64: bool) -> tuple[Any, Any]:
    del x64  # part of the cache key
    tx = _transform(entry_id)
    return jax.jit(tx.init), jax.jit(tx.update)


@contextlib.contextmanager
def _x64():
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


def _avals(tree: Any) -> Any:
    return jax.tree.map(lambda x: (x.shape, jnp.dtype(x.dtype), x.weak_type), tree)


def test_entries_cover_every_optimizer():
    names = set()
    for entry_id, entry in ENTRIES.items():
        names.add(entry_id.split("-")[0])
        names.add(getattr(entry.values[0], "__name__", "").lstrip("_"))
    missing = sorted(set(gradtx.optimizers.__all__) - names)
    assert not missing, f"no registry entry builds {missing}"


# Under the default profile each example draws its entry. Under the long profile every
# entry gets its own run of examples: hypothesis does not draw ``sampled_from`` uniformly
# (it favours the first elements), and 3,600 drawn examples reached only 99 of the 165
# entries. ``fixed`` is then the entry and the drawn one is ignored.
ENTRY_CASES = ENTRY_IDS if PROFILE == "long" else ("drawn",)


def _entry(fixed: str, drawn: str) -> str:
    return drawn if fixed == "drawn" else fixed


# --------------------------------------------------------------------------------------
# Structure and dtypes (abstract evaluation)


def _check_traces(entry_id: str, params: Any) -> None:
    tx = _transform(entry_id)
    grads = params

    def two_steps(g, p):
        s0 = tx.init(p)
        u1, s1 = tx.update(g, s0, p)
        u2, s2 = tx.update(g, s1, p)
        return u1, u2, s0, s1, s2

    u1, u2, s0, s1, s2 = jax.eval_shape(jax.jit(two_steps), grads, params)
    for u in (u1, u2):
        assert same_structure(u, grads), "the updates' tree differs from the gradients'"
        assert _avals(u) == _avals(grads), "the updates' shapes or dtypes differ"
    assert same_structure(s0, s1) and same_structure(s1, s2), "the state's tree changed"
    assert _avals(s0) == _avals(s1) == _avals(s2), "the state's shapes or dtypes changed"

    def select(pred, a, b):
        return jax.lax.cond(pred, lambda: a, lambda: b)

    jax.eval_shape(select, jax.ShapeDtypeStruct((), bool), s0, s2)


@pytest.mark.parametrize("fixed", ENTRY_CASES)
@examples(default=40, long=20)
@given(drawn=st.sampled_from(ENTRY_IDS), params=spec_trees())
def test_trees_trace_under_jit(fixed, drawn, params):
    _check_traces(_entry(fixed, drawn), params)


@pytest.mark.parametrize("fixed", ENTRY_CASES)
@examples(default=10, long=4)
@given(
    drawn=st.sampled_from(ENTRY_IDS),
    params=spec_trees(leaf_specs((jnp.float64, jnp.float32, jnp.bfloat16)), max_leaves=4),
)
def test_float64_trees_trace_under_jit(fixed, drawn, params):
    with _x64():
        _check_traces(_entry(fixed, drawn), params)


# --------------------------------------------------------------------------------------
# Numbers: finite, in the gradients' dtype, the same under jit and eagerly

STEPS = 2
# Relative tolerance between a jitted and an eager run, by dtype: XLA fuses and reorders
# operations under jit, which changes roundings; two steps compound them. Under jit XLA
# also computes bfloat16 arithmetic in float32 without rounding in between
# (``xla_allow_excess_precision``), and global reductions (norms) carry that into every
# leaf: an example with a bfloat16 leaf is held to the bfloat16 tolerance throughout
# (param_ema's float32 average of bfloat16 params differed by 1.9e-3).
RTOL = {
    jnp.dtype(jnp.float64): 1e-9,
    jnp.dtype(jnp.float32): 1e-4,
    jnp.dtype(jnp.bfloat16): 3e-2,
}


def _settable_hyperparams(state: Any) -> list[str]:
    """The names ``gradtx.set_hyperparams`` can set: recorded once, and not scheduled."""
    try:
        names = set(gradtx.hyperparams(state))
    except ValueError:  # no hyperparameters recorded, or a name recorded twice (sam)
        return []
    nodes = jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, gradtx.HyperparamsDict))
    for node in nodes:
        if isinstance(node, gradtx.HyperparamsDict):
            names -= node.scheduled
    return sorted(names)


def _run(init, update, params, grads, hps):
    state = init(params)
    if hps:
        state = gradtx.set_hyperparams(state, **hps)
    updates, visited = [], []
    for g in grads:
        u, state = update(g, state, params)
        updates.append(u)
        visited.append(params)
        params = gradtx.apply_updates(params, u)
    return updates, visited, state


def _assert_close(name: str, got: Any, want: Any, rtol: float, scale: float = 0.0) -> None:
    """``got`` equals ``want`` to ``rtol``, relative to each element (ints exactly).

    The absolute floor is ``rtol`` times the larger of ``want``'s largest element and
    ``scale``: an element that cancels to ~0 keeps the absolute rounding error of its
    inputs (for an update, of the params: schedule-free's update is a difference of
    two points close to the params). Below ``sqrt(tiny)`` of the dtype (1e-19 in
    float32) a square underflows, and XLA may simplify ``sqrt(x * x)`` to ``|x|`` under
    jit but not eagerly: a norm of a 1e-36 gradient is 1e-36 one way and 0 the other.
    """
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
    if not jnp.issubdtype(want.dtype, jnp.inexact):
        np.testing.assert_array_equal(got, want, err_msg=name)
        return
    g64, w64 = got.astype(np.float64), want.astype(np.float64)
    finite = np.isfinite(w64)
    np.testing.assert_array_equal(np.isfinite(g64), finite, err_msg=name)
    np.testing.assert_array_equal(g64[~finite], w64[~finite], err_msg=name)
    scale = max(scale, float(np.max(np.abs(w64[finite]), initial=0.0)))
    atol = max(rtol * scale, float(np.sqrt(jnp.finfo(want.dtype).tiny)))
    np.testing.assert_allclose(g64[finite], w64[finite], rtol=rtol, atol=atol, err_msg=name)


# Entries whose update runs a line search (discrete accept/halve decisions on losses).
LINE_SEARCHES = ("newton", "lbfgs")


def _check_jit_matches_eager(entry_id: str, spec: Any, data: st.DataObject) -> None:
    tx = _transform(entry_id)
    params = data.draw(values_like(spec), label="params")
    grads = [data.draw(values_like(spec), label=f"grads[{t}]") for t in range(STEPS)]
    names = _settable_hyperparams(tx.init(params))
    hp_dtype = jnp.result_type(float)
    hps = data.draw(hyperparams_for(names, hp_dtype), label="hyperparams")
    if "centered" in entry_id and "decay" in hps:
        # Centered RMSProp with decay 0 has a variance of exactly 0 (nu = g^2, mean g):
        # its update is rounding noise over sqrt(eps), which jit (fused multiply-adds)
        # and eager rounding make differently (-37 vs -74 for g = 0.736, found by the
        # long profile). Near 0 the variance d(1 - d) g^2 is still tiny: compare from 0.01.
        assume(float(hps["decay"]) >= 0.01)
    if entry_id.startswith(LINE_SEARCHES):
        # A line search accepts or halves a step on a comparison of two losses; on
        # bfloat16 leaves with 1e-30 gradients the two sides differ by rounding only,
        # and jit and eager sum in different orders (seen: steps 3.8e-6 vs 4.8e-7, three
        # halvings apart). Such entries are compared on float32 and float64 trees.
        assume(all(jnp.dtype(x.dtype) != jnp.bfloat16 for x in jax.tree.leaves(spec)))

    jit_init, jit_update = _jitted(entry_id)
    rtol = max(RTOL[jnp.dtype(x.dtype)] for x in jax.tree.leaves(spec))
    if entry_id.startswith(LINE_SEARCHES):
        # Their step sizes interpolate between losses (zoom) whose differences can be a
        # small fraction of the losses: the losses' float32 rounding, which jit and
        # eager do differently, then moves the step by ~1e-3 (seen: lbfgs 8e-4). A
        # wrong step is off by far more; float64 keeps its tolerance.
        if all(jnp.dtype(x.dtype) != jnp.float64 for x in jax.tree.leaves(spec)):
            rtol = max(rtol, 1e-2)
    want_u, visited, want_s = _run(tx.init, tx.update, params, grads, hps)
    got_u, _, got_s = _run(jit_init, jit_update, params, grads, hps)

    for t, (g, u) in enumerate(zip(grads, want_u, strict=True)):
        assert same_structure(u, g)
        for (path, leaf), gleaf in zip(
            jax.tree_util.tree_leaves_with_path(u), jax.tree.leaves(g), strict=True
        ):
            where = f"update {t + 1} at {jax.tree_util.keystr(path)}"
            assert leaf.dtype == gleaf.dtype, f"{where}: {leaf.dtype} != {gleaf.dtype}"
            assert np.isfinite(np.asarray(leaf, np.float64)).all(), f"{where} is not finite: {leaf}"
    for t, (a, b, p) in enumerate(zip(got_u, want_u, visited, strict=True)):
        for (path, x), y, z in zip(
            jax.tree_util.tree_leaves_with_path(a),
            jax.tree.leaves(b),
            jax.tree.leaves(p),
            strict=True,
        ):
            scale = float(np.max(np.abs(np.asarray(z, np.float64)), initial=0.0))
            _assert_close(f"update {t + 1} at {jax.tree_util.keystr(path)}", x, y, rtol, scale)
    assert same_structure(got_s, want_s)
    loss_scale = 0.0
    if entry_id.startswith(LINE_SEARCHES):
        # A line search's ``info`` holds differences of two losses (decrease_error...):
        # the losses' own rounding (rtol x the loss, seen: 1e-3 of a loss of 15,001) is
        # all such a difference can be trusted to.
        loss_scale = max(abs(float(conformance_loss(p)(p))) for p in visited)
    for (path, x), y in zip(
        jax.tree_util.tree_leaves_with_path(got_s), jax.tree.leaves(want_s), strict=True
    ):
        if jnp.issubdtype(jnp.asarray(x).dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        where = jax.tree_util.keystr(path)
        scale = loss_scale if ".info" in where else 0.0
        _assert_close(f"state at {where}", x, y, rtol, scale)


# A few shapes only: un-jitted code compiles each operation once per shape and dtype, so
# a small pool keeps the eager runs cheap (the abstract properties above draw any shape).
NUMERIC_SHAPES = st.sampled_from([(), (3,), (2, 3)])
NUMERIC_TREES = spec_trees(leaf_specs(leaf_shapes=NUMERIC_SHAPES), max_leaves=4).filter(
    lambda tree: jax.tree.leaves(tree)  # at least one array: an empty tree computes nothing
)


@pytest.mark.parametrize("fixed", ENTRY_CASES)
@examples(default=6, long=4)
@given(drawn=st.sampled_from(ENTRY_IDS), spec=NUMERIC_TREES, data=st.data())
def test_jit_matches_eager(fixed, drawn, spec, data):
    _check_jit_matches_eager(_entry(fixed, drawn), spec, data)


@pytest.mark.parametrize("fixed", ENTRY_CASES)
@examples(default=2, long=2)
@given(
    drawn=st.sampled_from(ENTRY_IDS),
    spec=spec_trees(leaf_specs((jnp.float64,), NUMERIC_SHAPES), max_leaves=3).filter(
        lambda tree: jax.tree.leaves(tree)
    ),
    data=st.data(),
)
def test_float64_jit_matches_eager(fixed, drawn, spec, data):
    with _x64():
        _check_jit_matches_eager(_entry(fixed, drawn), spec, data)


# --------------------------------------------------------------------------------------
# Regressions found by the properties above


def test_quantize_state_keeps_scalar_hyperparams():
    # With a scalar parameter and min_size=1, the hyperparameters (scalars, "the shape
    # of a parameter") were stored as 8-bit QuantizedArrays: hyperparams() returned
    # them and set_hyperparams raised a TypeError from jnp.asarray.
    tx = gradtx.quantize_state(gradtx.adam(0.1), min_size=1, block_size=4)
    params = {"s": jnp.zeros(()), "v": jnp.ones(3)}
    state = tx.init(params)
    hps = gradtx.hyperparams(state)
    assert float(hps["learning_rate"]) == np.float32(0.1)
    assert float(hps["b2"]) == np.float32(0.999)
    state = gradtx.set_hyperparams(state, b1=0.5)
    assert float(gradtx.hyperparams(state)["b1"]) == 0.5
    # the vector's moments are quantized, the scalar's are not
    assert isinstance(state.inner_state.inner_state[0].mu["v"], gradtx.QuantizedArray)
    assert state.inner_state.inner_state[0].mu["s"].dtype == jnp.float32

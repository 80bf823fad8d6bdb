"""gradtx states are plain pytrees to Orbax: they round-trip through ``orbax.checkpoint``.

Optax-style state trees (NamedTuples in tuples, with ``None`` placeholders) and gradtx's
alias states (``OptimizerState`` with its :class:`gradtx.HyperparamsDict` of
hyperparameters, whose record of scheduled names is static pytree data) are saved with
``StandardCheckpointer`` and ``PyTreeCheckpointer`` and restored into an abstract
template; the restored state is the same tree, with the same bits, and training goes
on from it exactly. Orbax needs no registration beyond the pytree one: no change to
gradtx was needed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_checkpoint import _bits, assert_identical

import gradtx

ocp = pytest.importorskip("orbax.checkpoint")


@pytest.fixture(scope="module")
def states():
    params = {"w": jnp.linspace(-1.0, 1.0, 6).reshape(2, 3), "b": jnp.ones(3, jnp.bfloat16)}
    sched = gradtx.schedules.linear_schedule(1e-2, 1e-3, 10)
    txs = {
        # optax-style: a chain of primitives, positional NamedTuple states
        "primitives": gradtx.chain(
            gradtx.clip_by_global_norm(1.0), gradtx.scale_by_adam(), gradtx.scale(-1e-3)
        ),
        # alias states: hyperparameters in a HyperparamsDict, one of them scheduled
        "adamw-schedule": gradtx.adamw(sched, weight_decay=0.05),
        "named": gradtx.named_chain(("clip", gradtx.clip(1.0)), ("opt", gradtx.lion(1e-4))),
        "inject": gradtx.inject_hyperparams(gradtx.sgd)(learning_rate=0.1, momentum=0.9),
    }
    out = {}
    for name, tx in txs.items():
        update = jax.jit(tx.update)
        state, p = tx.init(params), params
        for _ in range(2):
            u, state = update(jax.tree.map(lambda x: x * 0.5, p), state, p)
            p = gradtx.apply_updates(p, u)
        out[name] = (tx, update, p, state, jax.eval_shape(tx.init, params))
    return out


def test_states_round_trip_through_orbax(states, tmp_path):
    for name, (_, update, params, state, abstract) in states.items():
        with ocp.StandardCheckpointer() as ckptr:
            ckptr.save(tmp_path / f"std-{name}", state)
            ckptr.wait_until_finished()
            back = ckptr.restore(tmp_path / f"std-{name}", abstract)
        assert_identical(back, state)
        # the HyperparamsDict and its record of scheduled names survive
        if name == "adamw-schedule":
            assert isinstance(back.hyperparams, gradtx.HyperparamsDict)
            assert back.hyperparams.scheduled == {"learning_rate"}
            assert gradtx.hyperparams(back) == gradtx.hyperparams(state)
        # training goes on from the restored state exactly
        assert_identical(update(params, back, params), update(params, state, params))


def test_pytree_checkpointer_and_gradtx_files_agree(states, tmp_path):
    _, _, _, state, _ = states["adamw-schedule"]
    ckptr = ocp.PyTreeCheckpointer()
    ckptr.save(tmp_path / "orbax", state)
    # the template (here the state itself) gives the structure and where arrays go
    restore_args = ocp.checkpoint_utils.construct_restore_args(state)
    back = ckptr.restore(
        tmp_path / "orbax", args=ocp.args.PyTreeRestore(item=state, restore_args=restore_args)
    )
    assert_identical(back, state)
    # The same state through gradtx.checkpoint: the same leaves under the same path names
    # (gradtx's file keys leaves by jax.tree_util.keystr of their paths).
    gradtx.checkpoint.save(tmp_path / "gradtx.npz", state)
    flat = gradtx.checkpoint.restore(tmp_path / "gradtx.npz")
    named = {jax.tree_util.keystr(p): x for p, x in jax.tree_util.tree_flatten_with_path(back)[0]}
    assert list(flat) == list(named)
    for path, x in named.items():
        np.testing.assert_array_equal(_bits(x), _bits(flat[path]), err_msg=path)

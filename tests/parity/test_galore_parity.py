"""gradtx.contrib.galore / scale_by_galore against optax.contrib's, in float64.

Each case is one line run with ``m = gradtx`` and ``m = optax`` on the same parameters
and gradients: a tall and a wide matrix, a vector, a 3-D weight and a scalar, for 8 steps
with projector refreshes at steps 1, 4 and 7 (``update_proj_gap=3``) or 1, 3, 5, 7
(``update_proj_gap=2``). The trajectories and steps must agree to rtol 1e-10
(measured: <= 3e-15, both libraries take the same float32 SVD, so even the arbitrary
signs of the singular vectors agree; a different SVD routine would change them, and
with Adam's momentum carried across a refresh the signs are not cancelled there).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import assert_trajectories_close, x64

optax = pytest.importorskip("optax")
contrib = pytest.importorskip("optax.contrib")

RTOL = 1e-10
SHAPES = {"tall": (6, 3), "wide": (3, 5), "v": (5,), "t3": (2, 3, 4), "s": ()}
MASK = {"tall": True, "wide": False, "v": False, "t3": True, "s": True}


@pytest.fixture(scope="module", autouse=True)
def _float64():
    with x64():
        yield


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    params = {k: rng.normal(size=s) + 0.5 for k, s in SHAPES.items()}
    grads = [
        {k: rng.normal(size=s) * 10 ** rng.uniform(-1, 1) for k, s in SHAPES.items()}
        for _ in range(8)
    ]
    return params, grads


def _dn(m):
    return m.contrib.GaLoreDimensionNumbers


def _dims_tree(m):
    dn = _dn(m)
    return {"tall": None, "wide": dn(1, 0), "v": None, "t3": dn((2, 0), 1), "s": None}


def _dims_fn(m):
    dn = _dn(m)
    return lambda p: jax.tree.map(lambda x: dn(0, (1, 2)) if x.ndim == 3 else None, p)


def _sched(count):
    return 0.125 / (1.0 + 0.25 * count)


CASES = [
    # rank 128 is clipped to each matrix's smaller side: a full-rank projection.
    ("defaults", lambda m: m.contrib.galore(0.125)),
    ("small-rank", lambda m: m.contrib.galore(0.125, rank=2, update_proj_gap=3)),
    (
        "rank-1-gap-2-scale-decay-mask-schedule",
        lambda m: m.contrib.galore(
            _sched, rank=1, update_proj_gap=2, scale=0.25, weight_decay=2.0**-7, mask=MASK
        ),
    ),
    (
        "dims-tree-base-lion",
        lambda m: m.contrib.galore(
            0.125,
            rank=2,
            update_proj_gap=3,
            base_optimizer=m.scale_by_lion(0.875, 0.9375),
            weight_dimension_numbers=_dims_tree(m),
        ),
    ),
    (
        "scale_by_galore-dims-fn-adam-args",
        lambda m: m.chain(
            m.contrib.scale_by_galore(
                rank=2,
                update_proj_gap=3,
                scale=2.0,
                base_optimizer=m.scale_by_adam(b1=0.5, b2=0.875),
                weight_dimension_numbers=_dims_fn(m),
            ),
            m.scale(-0.125),
        ),
    ),
]


def run(tx, params, grads):
    """The parameters after every step, with the update jitted once (eager SVDs are slow)."""
    p = jax.tree.map(jnp.asarray, params)
    update, state, traj = jax.jit(tx.update), tx.init(p), [params]
    for g in grads:
        u, state = update(jax.tree.map(jnp.asarray, g), state, p)
        p = jax.tree.map(lambda a, b: a + b, p, u)
        traj.append(jax.tree.map(np.asarray, p))
    return traj


@pytest.mark.parametrize("build", [b for _, b in CASES], ids=[i for i, _ in CASES])
def test_galore_matches_optax(build, data):
    params, grads = data
    got = run(build(gradtx), params, grads)
    want = run(build(optax), params, grads)
    assert_trajectories_close(got, want, rtol=RTOL)


def test_state_shapes_match_optax(data):
    # The same projector and base-optimizer state shapes (which side is projected).
    params = jax.tree.map(jnp.asarray, data[0])
    ours = gradtx.contrib.scale_by_galore(rank=2).init(params)
    theirs = contrib.scale_by_galore(rank=2).init(params)
    shapes = lambda t: jax.tree.map(jnp.shape, t)  # noqa: E731
    assert shapes(ours.projector) == shapes(theirs.projector)
    assert shapes(ours.base_optimizer_state.mu) == shapes(theirs.base_optimizer_state.mu)

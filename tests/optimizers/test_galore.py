"""galore and scale_by_galore against a NumPy reference written from the paper.

Zhao et al. 2024 (arXiv 2403.03507), Algorithm 2: every ``update_proj_gap`` steps the
projector :math:`P` is refreshed from an SVD of the gradient (``U[:, :r]``); Adam runs
on :math:`R = P^\\top G` and its normalized step is projected back, :math:`\\alpha P N`.
The reference follows the conventions gradtx documents (those of optax.contrib, see
tests/parity/test_galore_parity.py): the longer side is projected (right singular
vectors, :math:`R = G P`, for wide matrices), the SVD is taken in float32, non-matrix
leaves get plain Adam without ``scale``, and Adam's moments are kept across refreshes.

The SVD itself is a black box here: the reference calls ``jnp.linalg.svd`` on the
float32 matrix, as the documented rule says, so that the arbitrary signs of the singular
vectors are the same as gradtx's (they do not cancel across a refresh, where Adam's
momentum from the old basis meets the new one). ``test_projector_spans_top_subspace``
checks the projector against NumPy's float64 SVD, where only the subspace is defined.
"""

from __future__ import annotations

import contextlib

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, leaves

import gradtx

GDN = gradtx.contrib.GaLoreDimensionNumbers
STEPS = 7
RTOL = {"float32": 2e-5, "float64": 1e-12}
SHAPES = {"tall": (5, 3), "wide": (2, 4), "v": (3,), "t3": (2, 3, 2), "s": ()}
# Leaves in tree order: s, t3, tall, v, wide.


def _svd32(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u, _, vh = jnp.linalg.svd(jnp.asarray(m, jnp.float32), full_matrices=False)
    return np.asarray(u, np.float64), np.asarray(vh, np.float64).T


class GaLoreAdam(ref.Transform):
    """Algorithm 2 of the paper, per leaf; ``dims[i]`` is ``(rows, cols)`` axes or None."""

    def __init__(self, dims, rank, gap, scale=1.0, b1=0.9, b2=0.999, eps=1e-8):
        self.dims, self.rank, self.gap, self.scale = dims, rank, gap, scale
        self.b1, self.b2, self.eps = b1, b2, eps

    def _init(self, params):
        self.m = [None] * len(params)
        self.v = [None] * len(params)
        self.P = [None] * len(params)

    def _update(self, grads, params):
        out = []
        for i, g in enumerate(grads):
            d = self.dims[i]
            if d is not None:
                perm = d[0] + d[1]
                moved = np.transpose(g, perm)
                rows = int(np.prod([g.shape[a] for a in d[0]]))
                mat = moved.reshape(rows, -1)
                left = mat.shape[0] >= mat.shape[1]
                r = min(self.rank, *mat.shape)
                if (self.t - 1) % self.gap == 0:
                    u, v = _svd32(mat)
                    self.P[i] = u[:, :r] if left else v[:, :r]
                p = self.P[i]
                x = p.T @ mat if left else mat @ p
            else:
                x = g
            if self.m[i] is None:
                self.m[i], self.v[i] = np.zeros_like(x), np.zeros_like(x)
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * x
            self.v[i] = self.b2 * self.v[i] + (1 - self.b2) * x**2
            n = (self.m[i] / (1 - self.b1**self.t)) / (
                np.sqrt(self.v[i] / (1 - self.b2**self.t)) + self.eps
            )
            if d is not None:
                back = self.scale * (p @ n if left else n @ p.T)
                n = np.transpose(back.reshape(moved.shape), np.argsort(perm))
            out.append(n)
        return out


def ref_galore(dims, learning_rate, rank, gap, scale=1.0, weight_decay=0.0, mask=None):
    return ref.Chain(
        GaLoreAdam(dims, rank, gap, scale),
        ref.AddDecayedWeights(weight_decay, mask),
        ref.ScaleByLearningRate(learning_rate),
    )


DEFAULT_DIMS = [None, None, ((0,), (1,)), None, ((0,), (1,))]
TREE_DIMS = {"tall": None, "wide": GDN(1, 0), "v": None, "t3": GDN((2, 0), 1), "s": None}
TREE_DIMS_REF = [None, ((2, 0), (1,)), None, None, ((1,), (0,))]
MASK = {"tall": True, "wide": False, "v": True, "t3": False, "s": True}
MASK_REF = [True, False, True, True, False]


def _sched(count):
    return 0.1 / (1.0 + 0.5 * count)


CASES = [
    pytest.param(
        {"learning_rate": 0.1, "rank": 2, "update_proj_gap": 3},
        (DEFAULT_DIMS, 0.1, 2, 3),
        {},
        id="rank-2-gap-3",
    ),
    pytest.param(
        {
            "learning_rate": _sched,
            "rank": 1,
            "update_proj_gap": 2,
            "scale": 0.5,
            "weight_decay": 0.25,
            "mask": MASK,
            "weight_dimension_numbers": TREE_DIMS,
        },
        (TREE_DIMS_REF, _sched, 1, 2),
        {"scale": 0.5, "weight_decay": 0.25, "mask": MASK_REF},
        id="dims-scale-decay-mask",
    ),
]


@contextlib.contextmanager
def x64(enabled: bool):
    previous = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", enabled)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", previous)


def _data(rng, dtype):
    params = {k: jnp.asarray(rng.normal(size=s).astype(dtype)) for k, s in SHAPES.items()}
    grads = [
        {
            k: jnp.asarray((rng.normal(size=s) * rng.uniform(0.1, 3)).astype(dtype))
            for k, s in SHAPES.items()
        }
        for _ in range(STEPS)
    ]
    return params, grads


def _run(tx, params, grads):
    update, state, out = jax.jit(tx.update), tx.init(params), []
    for g in grads:
        u, state = update(g, state, params)
        assert all(
            a.dtype == b.dtype for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True)
        )
        params = gradtx.apply_updates(params, u)
        out.append(u)
    return out


# float32 and float64 for the first case, float64 for the second (SVD compiles are slow).
RUNS = [
    pytest.param(*c.values, dtype, id=f"{c.id}-{dtype}")
    for c, dtypes in zip(CASES, [("float32", "float64"), ("float64",)], strict=True)
    for dtype in dtypes
]


@pytest.mark.parametrize(("kwargs", "ref_args", "ref_kwargs", "dtype"), RUNS)
def test_matches_reference(kwargs, ref_args, ref_kwargs, dtype, rng):
    with x64(dtype == "float64"):
        _check_reference(kwargs, ref_args, ref_kwargs, np.dtype(dtype), rng)


def _check_reference(kwargs, ref_args, ref_kwargs, float_dtype, rng):
    params, grads = _data(rng, float_dtype)
    got = _run(gradtx.contrib.galore(**kwargs), params, grads)
    dims, lr, rank, gap = ref_args
    rate = (lambda c: ref.f32(lr(c))) if callable(lr) else ref.f32(lr)
    extra = {k: ref.f32(v) if isinstance(v, float) else v for k, v in ref_kwargs.items()}
    want = ref.run(
        ref_galore(dims, rate, rank, gap, **extra), leaves(params), [leaves(g) for g in grads]
    )
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_projector_spans_top_subspace(rng, x64):
    # At each refresh (steps 1, 4, 7) P spans the top-r singular subspace of that
    # step's gradient (NumPy's float64 SVD: P P^T is sign-free); in between it is kept.
    tx = gradtx.contrib.scale_by_galore(rank=2, update_proj_gap=3)
    params = {"tall": jnp.zeros((6, 4)), "wide": jnp.zeros((3, 7))}
    state, update = tx.init(params), jax.jit(tx.update)
    previous = None
    for t in range(7):
        g = {k: jnp.asarray(rng.normal(size=p.shape)) for k, p in params.items()}
        _, state = update(g, state)
        for k, side in (("tall", 0), ("wide", 1)):
            p = np.asarray(state.projector[k])
            if t % 3 == 0:
                u, _, vh = np.linalg.svd(np.asarray(g[k]), full_matrices=False)
                basis = u[:, :2] if side == 0 else vh[:2].T
                np.testing.assert_allclose(p @ p.T, basis @ basis.T, atol=1e-5)
                np.testing.assert_allclose(p.T @ p, np.eye(2), atol=1e-6)
            else:
                np.testing.assert_array_equal(p, previous[k])
        previous = {k: np.asarray(v) for k, v in state.projector.items()}


def test_base_optimizer_state_is_rank_sized():
    # The memory GaLore saves: Adam's moments for a projected matrix are rank-sized.
    params = {"tall": jnp.zeros((64, 16)), "wide": jnp.zeros((16, 64)), "b": jnp.zeros(16)}
    state = gradtx.contrib.scale_by_galore(rank=4).init(params)
    adam = state.base_optimizer_state
    for moment in (adam.mu, adam.nu):
        assert moment["tall"].shape == (4, 16) and moment["wide"].shape == (16, 4)
        assert moment["b"].shape == (16,)
    assert state.projector["tall"].shape == (64, 4) and state.projector["wide"].shape == (64, 4)
    assert state.projector["b"].shape == (0, 0)
    full = sum(x.size for x in jax.tree.leaves(gradtx.scale_by_adam().init(params).mu))
    low = sum(x.size for x in jax.tree.leaves(adam.mu))
    assert low == 4 * 16 * 2 + 16 and full == 64 * 16 * 2 + 16
    # The optimizer alias keeps the same state, under its hyperparameters.
    alias = gradtx.contrib.galore(0.1, rank=4).init(params)
    assert gradtx.tree.get(alias, "projector")["tall"].shape == (64, 4)


def test_hyperparams_are_in_the_state():
    tx = gradtx.contrib.galore(0.5, rank=2, scale=0.25, weight_decay=0.125)
    p = {"w": jnp.zeros((3, 2)), "frozen": None}
    state = tx.init(p)
    hps = gradtx.hyperparams(state)
    assert {k: float(v) for k, v in hps.items()} == {
        "learning_rate": 0.5,
        "scale": 0.25,
        "weight_decay": 0.125,
    }
    g = {"w": jnp.ones((3, 2)), "frozen": None}
    update = jax.jit(tx.update)
    u, state = update(g, state, p)
    halved = gradtx.set_hyperparams(state, scale=0.125)
    u1, _ = update(g, state, p)
    u2, _ = update(g, halved, p)
    np.testing.assert_allclose(u2["w"], u1["w"] / 2, rtol=1e-6)
    assert u["frozen"] is None


def test_complex_matrix_is_projected_with_conjugate_transpose(x64):
    # For complex weights R = P^H G; with a full-rank projection and a linear base
    # optimizer (sgd), the update is exactly -lr G (P P^H = I).
    rng = np.random.default_rng(0)
    g = jnp.asarray(rng.normal(size=(4, 3)) + 1j * rng.normal(size=(4, 3)))
    tx = gradtx.contrib.galore(0.5, rank=3, base_optimizer=gradtx.scale(1.0))
    u, _ = jax.jit(tx.update)(g, tx.init(g), g)
    assert u.dtype == jnp.complex128
    np.testing.assert_allclose(u, -0.5 * g, rtol=1e-6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gradtx.contrib.galore(-0.1), r"`galore\(learning_rate=.*got learning_rate=-0\.1"),
        (
            lambda: gradtx.contrib.galore(0.1, rank=0),
            r"`galore\(rank=\.\.\.\)` must be an integer >= 1; got rank=0",
        ),
        (lambda: gradtx.contrib.galore(0.1, rank=2.0), r"`galore\(rank=.*got rank=2\.0"),
        (
            lambda: gradtx.contrib.galore(0.1, update_proj_gap=0),
            r"`galore\(update_proj_gap=\.\.\.\)` must be an integer >= 1",
        ),
        (
            lambda: gradtx.contrib.galore(0.1, weight_decay=-1.0),
            r"`galore\(weight_decay=.*got weight",
        ),
        (
            lambda: gradtx.contrib.scale_by_galore(rank=True),
            r"`scale_by_galore\(rank=.*got rank=True",
        ),
        (
            lambda: gradtx.contrib.scale_by_galore(update_proj_gap=-2),
            r"`scale_by_galore\(update_proj_gap=.*got update_proj_gap=-2",
        ),
        (
            lambda: gradtx.contrib.scale_by_galore(scale=float("nan")),
            r"`scale_by_galore\(scale=\.\.\.\)` must be finite",
        ),
        (
            lambda: gradtx.contrib.scale_by_galore(weight_dimension_numbers=GDN(0, 1)).init(
                {"a": jnp.zeros((2, 3, 4))}
            ),
            r"must name every axis of the weight once.*reduction_axis=0, output_axis=1 "
            r"for the shape \(2, 3, 4\) at \['a'\]",
        ),
        (
            lambda: gradtx.contrib.scale_by_galore(
                weight_dimension_numbers={"a": GDN(0, 1), "b": None}
            ).init({"a": jnp.zeros((2, 3))}),
            r"`scale_by_galore\(weight_dimension_numbers=\.\.\.\)` must be a tree like the params",
        ),
    ],
)
def test_invalid_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_wrong_dimension_numbers_type_raises():
    tx = gradtx.contrib.scale_by_galore(weight_dimension_numbers={"a": (0, 1)})
    with pytest.raises(TypeError, match=r"GaLoreDimensionNumbers or None per leaf; got \(0, 1\)"):
        tx.init({"a": jnp.zeros((2, 3))})


def test_eager_steps_compile_once(count_compiles):
    # The projector refresh's lax.cond branches are module-level functions: further
    # un-jitted steps (refreshes included) reuse the compiled programs.
    params = {"w": jnp.ones((6, 4)), "b": jnp.ones(4)}
    tx = gradtx.galore(0.1, rank=2, update_proj_gap=2)

    def steps(n):
        state = tx.init(params)
        for i in range(n):
            grads = jax.tree.map(lambda p, i=i: jnp.full_like(p, 0.1 * (i + 1)), params)
            _, state = tx.update(grads, state, params)

    steps(2)
    before = count_compiles()
    steps(3)
    assert count_compiles() == before

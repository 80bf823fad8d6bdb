"""shampoo and scale_by_shampoo against a NumPy reference written from the papers.

The reference follows Gupta, Koren & Singer 2018 (arXiv 1802.09568, Algorithm 2: one
statistic per dimension, :math:`G \\times_i L_i^{-1/2r}`) with the scalable variant of
Anil et al. 2020 (arXiv 2002.09018: blocks of at most ``block_size`` along each
dimension, the last one smaller; EMA statistics; roots recomputed every k steps from
``start_preconditioning_step``; the update of each block takes the graft's norm). It
loops over the blocks explicitly, with unequal block sizes (gradtx pads them instead),
and computes each inverse root from ``numpy.linalg.eigh``.
"""

from __future__ import annotations

import itertools

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

# ---------------------------------------------------------------------------------------
# NumPy reference


def np_inverse_root(s: np.ndarray, p: int, eps: float) -> np.ndarray:
    """:math:`(S + \\epsilon \\lambda_{max} I)^{-1/p}` by eigendecomposition."""
    w, v = np.linalg.eigh(s)
    w = np.maximum(w, 0.0)
    top = w.max()
    ridge = eps * top if top > 0 else eps
    return (v * (w + ridge) ** (-1.0 / p)) @ v.T


class Shampoo(ref.Transform):
    """scale_by_shampoo, one leaf at a time, one block at a time."""

    def __init__(
        self,
        b2=0.999,
        matrix_epsilon=1e-6,
        diagonal_epsilon=1e-10,
        block_size=1024,
        preconditioning_compute_steps=1,
        start_preconditioning_step=5,
        graft_type="rmsprop",
        exponent_override=0,
        skip_preconditioning_dim_size_gt=4096,
        skip_preconditioning_rank_lt=1,
    ):
        self.b2, self.eps, self.deps = b2, matrix_epsilon, diagonal_epsilon
        self.bs, self.k, self.start = (
            block_size,
            preconditioning_compute_steps,
            start_preconditioning_step,
        )
        self.graft, self.p_override = graft_type, exponent_override
        self.skip_gt, self.skip_rank = (
            skip_preconditioning_dim_size_gt,
            skip_preconditioning_rank_lt,
        )

    def _leaf_plan(self, shape):
        dims = []
        if len(shape) >= max(self.skip_rank, 1):
            dims = [i for i, d in enumerate(shape) if 2 <= d <= self.skip_gt]
        cuts = [
            [slice(s, min(s + self.bs, d)) for s in range(0, d, self.bs)]
            if i in dims
            else [slice(0, d)]
            for i, d in enumerate(shape)
        ]
        return dims, list(itertools.product(*cuts))

    def _init(self, params):
        self.leaves = []
        for p in params:
            dims, blocks = self._leaf_plan(p.shape)
            stats, roots = {}, {}
            for j, b in enumerate(blocks):
                for i in dims:
                    n = b[i].stop - b[i].start
                    stats[j, i], roots[j, i] = np.zeros((n, n)), np.eye(n)
            self.leaves.append((dims, blocks, stats, roots, np.zeros_like(p)))

    def _graft(self, g, acc):
        if self.graft in ("sgd", "none"):
            return g
        if self.graft == "adagrad":
            acc += g * g
            return g / (np.sqrt(acc) + self.deps)
        w = 1.0 if self.b2 == 1 else 1 - self.b2
        acc *= self.b2
        acc += w * g * g
        debias = 1.0 if self.b2 == 1 else 1 - self.b2**self.t
        return g / (np.sqrt(acc / debias) + self.deps)

    def _update(self, grads, params):
        t, out = self.t, []
        due = t >= self.start and (t - self.start) % self.k == 0
        w = 1.0 if self.b2 == 1 else 1 - self.b2
        for g, (dims, blocks, stats, roots, acc) in zip(grads, self.leaves, strict=True):
            d = self._graft(g, acc)
            if not dims:
                out.append(d)
                continue
            p = self.p_override or 2 * len(dims)
            u = np.zeros_like(g)
            for j, b in enumerate(blocks):
                gb = g[b]
                pb = gb
                for i in dims:
                    unfolded = np.moveaxis(gb, i, 0).reshape(gb.shape[i], -1)
                    stats[j, i] = self.b2 * stats[j, i] + w * unfolded @ unfolded.T
                    if due:
                        roots[j, i] = np_inverse_root(stats[j, i], p, self.eps)
                    pb = np.moveaxis(np.tensordot(roots[j, i], pb, axes=([1], [i])), 0, i)
                if self.graft != "none":
                    pn = np.linalg.norm(pb)
                    pb = pb * (np.linalg.norm(d[b]) / pn if pn > 0 else 0.0)
                u[b] = pb
            out.append(u if t >= self.start else d)
        return out


def ref_shampoo(
    learning_rate,
    b1=0.9,
    b2=0.999,
    weight_decay=0.0,
    mask=None,
    nesterov=True,
    moving_average_for_momentum=False,
    **kwargs,
):
    return ref.Chain(
        Shampoo(b2=b2, **kwargs),
        ref.Momentum(b1, nesterov=nesterov, dampening=b1 if moving_average_for_momentum else 0.0),
        ref.AddDecayedWeights(weight_decay, mask),
        ref.ScaleByLearningRate(learning_rate),
    )


# ---------------------------------------------------------------------------------------
# Data: a matrix, a 3-D tensor, a blocked matrix, a vector, a scalar and a None


def _params(rng, dtype):
    def arr(*shape):
        return jnp.asarray(rng.normal(size=shape).astype(dtype))

    return {
        "matrix": arr(4, 3),
        "tensor": arr(2, 3, 4),
        "blocked": arr(5, 3),
        "vector": arr(5),
        "scalar": arr(),
        "frozen": None,
    }


def _grads(rng, params, steps):
    out = []
    for _ in range(steps):
        scale = rng.uniform(0.2, 3.0)
        out.append(
            jax.tree.map(
                lambda p, scale=scale: jnp.asarray(
                    (scale * rng.normal(size=p.shape)).astype(p.dtype)
                ),
                params,
            )
        )
    return out


def _run(tx, params, grads):
    # Eagerly: scale_by_shampoo's step is one jitted program, cached across tests by
    # configuration and shapes, so tests that share a configuration compile it once.
    update = tx.update
    state, out = tx.init(params), []
    for g in grads:
        u, state = update(g, state, params)
        assert u["frozen"] is None
        out.append(u)
        params = gradtx.apply_updates(params, u)
    return out, state


def _leaves(tree):
    return [np.asarray(x, np.float64) for x in jax.tree.leaves(tree)]


def _assert_close(got, want, rtol):
    atol = rtol * max(float(np.max(np.abs(x))) for w in want for x in w)
    for t, (g, w) in enumerate(zip(got, want, strict=True)):
        for i, (x, y) in enumerate(zip(_leaves(g), w, strict=True)):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {t + 1} leaf {i}")


STEPS = 8
# start 2, roots every 3 steps: recomputed at steps 2, 5 and 8, held in between.
LAZY = {"start_preconditioning_step": 2, "preconditioning_compute_steps": 3}
BLOCKS_LAZY = {"block_size": 2, **LAZY}
ADAGRAD = {"graft_type": "adagrad", "b2": 1.0, "exponent_override": 2, **BLOCKS_LAZY}
PRIMITIVE_CASES = [
    pytest.param(BLOCKS_LAZY, id="rmsprop-blocks-lazy"),
    pytest.param(ADAGRAD, id="adagrad-sum-override-blocks-lazy"),
    pytest.param(
        {"graft_type": "sgd", "b2": 0.9, "block_size": 3, "skip_preconditioning_dim_size_gt": 4},
        id="sgd-ema-skip-dim",
    ),
    pytest.param(
        {
            "graft_type": "none",
            "b2": 1.0,
            "start_preconditioning_step": 1,
            "matrix_epsilon": 1e-3,
            "skip_preconditioning_rank_lt": 2,
        },
        id="none-original-skip-rank",
    ),
]


@pytest.mark.parametrize("kwargs", PRIMITIVE_CASES)
def test_scale_by_shampoo_matches_reference(kwargs, rng, x64):
    params = _params(rng, np.float64)
    grads = _grads(rng, params, STEPS)
    got, _ = _run(gradtx.scale_by_shampoo(**kwargs), params, grads)
    want = ref.run(Shampoo(**kwargs), _leaves(params), [_leaves(g) for g in grads])
    _assert_close(got, want, rtol=1e-10)


def test_scale_by_shampoo_float32_near_float64_reference(rng):
    params = _params(rng, np.float32)
    grads = _grads(rng, params, STEPS)
    got, _ = _run(gradtx.scale_by_shampoo(**BLOCKS_LAZY), params, grads)
    want = ref.run(Shampoo(**BLOCKS_LAZY), _leaves(params), [_leaves(g) for g in grads])
    _assert_close(got, want, rtol=3e-5)  # measured 3e-6 of the largest entry
    assert {x.dtype for x in jax.tree.leaves(got)} == {jnp.dtype(jnp.float32)}


ALIAS_CASES = [
    pytest.param({"learning_rate": 0.1, **BLOCKS_LAZY}, id="defaults-blocks-lazy"),
    pytest.param(
        {
            "learning_rate": 0.05,
            "b1": 0.5,
            "b2": 0.9,
            "weight_decay": 0.1,
            "nesterov": False,
            "moving_average_for_momentum": True,
            "graft_type": "adagrad",
            "start_preconditioning_step": 3,
        },
        id="args",
    ),
]


@pytest.mark.parametrize("kwargs", ALIAS_CASES)
def test_shampoo_matches_reference(kwargs, rng, x64):
    params = _params(rng, np.float64)
    grads = _grads(rng, params, STEPS)
    got, _ = _run(gradtx.shampoo(**kwargs), params, grads)
    want = ref.run(
        ref_shampoo(**ref.as_stored(gradtx.shampoo, ref_shampoo, kwargs)),
        _leaves(params),
        [_leaves(g) for g in grads],
    )
    _assert_close(got, want, rtol=1e-10)


# Leaves in tree order: blocked, matrix, scalar, tensor, vector ("frozen" is None).
MASK_TREE = {
    "matrix": True,
    "tensor": False,
    "blocked": True,
    "vector": False,
    "scalar": True,
    "frozen": None,
}
MASK_LEAVES = [True, True, True, False, False]


@pytest.mark.parametrize(
    "mask", [MASK_TREE, lambda p: jax.tree.map(lambda x: x.ndim == 2, p)], ids=["tree", "fn"]
)
def test_shampoo_weight_decay_mask(mask, rng, x64):
    kwargs = {**ALIAS_CASES[1].values[0], "weight_decay": 0.5}
    params = _params(rng, np.float64)
    grads = _grads(rng, params, 4)
    got, _ = _run(gradtx.shampoo(**kwargs, mask=mask), params, grads)
    leaves_mask = MASK_LEAVES if isinstance(mask, dict) else [True, True, False, False, False]
    stored = ref.as_stored(gradtx.shampoo, ref_shampoo, kwargs)
    want = ref.run(
        ref_shampoo(**stored, mask=leaves_mask), _leaves(params), [_leaves(g) for g in grads]
    )
    _assert_close(got, want, rtol=1e-10)
    # The mask matters: without it the masked-out leaves move differently.
    unmasked = ref.run(ref_shampoo(**stored), _leaves(params), [_leaves(g) for g in grads])
    assert not np.allclose(_leaves(got[-1])[3], unmasked[-1][3], rtol=1e-3)


# ---------------------------------------------------------------------------------------
# Lazy roots, grafting norms, blocks


def test_roots_are_recomputed_only_every_k_steps(rng):
    params = _params(rng, np.float32)
    grads = _grads(rng, params, STEPS)
    tx = gradtx.scale_by_shampoo(**BLOCKS_LAZY)  # the float32 test's program
    state = tx.init(params)
    for t, g in enumerate(grads, start=1):
        u, new = tx.update(g, state, params)
        if t == 1:  # before start_preconditioning_step: debiased RMSProp's g / |g|
            for x, y in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True):
                np.testing.assert_allclose(x, np.sign(y), rtol=1e-6)
        old_p, new_p = jax.tree.leaves(state.preconditioners), jax.tree.leaves(new.preconditioners)
        old_s, new_s = jax.tree.leaves(state.stats), jax.tree.leaves(new.stats)
        assert len(new_p) == 8  # 2 + 3 + 2 factors, 1 for the vector, 0 for the scalar
        changed = [not np.array_equal(a, b) for a, b in zip(old_p, new_p, strict=True)]
        assert all(changed) if t in (2, 5, 8) else not any(changed), (t, changed)
        assert all(not np.array_equal(a, b) for a, b in zip(old_s, new_s, strict=True))
        state = new
    assert int(state.count) == STEPS


def test_graft_sets_each_block_norm(rng, x64):
    # The "blocked" (5, 3) leaf in blocks of 2: 3 x 2 blocks, each with the norm of
    # Adagrad's step (the adagrad reference case's program, compiled once).
    params = _params(rng, np.float64)
    grads = _grads(rng, params, 4)
    tx = gradtx.scale_by_shampoo(**ADAGRAD)
    state, acc = tx.init(params), np.zeros((5, 3))
    rows, cols = [slice(0, 2), slice(2, 4), slice(4, 5)], [slice(0, 2), slice(2, 3)]
    for t, g in enumerate(grads, start=1):
        u, state = tx.update(g, state, params)
        gb, ub = np.asarray(g["blocked"]), np.asarray(u["blocked"])
        acc += gb**2
        d = gb / (np.sqrt(acc) + 1e-10)
        if t == 1:  # before start_preconditioning_step: Adagrad's step itself
            np.testing.assert_allclose(ub, d, rtol=1e-12)
            continue
        for b in itertools.product(rows, cols):
            np.testing.assert_allclose(np.linalg.norm(ub[b]), np.linalg.norm(d[b]), rtol=1e-12)
        # ... in Shampoo's direction, not Adagrad's.
        assert not np.allclose(ub, d, rtol=1e-2)
    assert [s.shape for s in state.stats["blocked"]] == [(6, 2, 2), (6, 2, 2)]


def test_bfloat16_params_keep_float32_statistics(rng):
    params = {
        "w": jnp.asarray(rng.normal(size=(3, 4)), jnp.bfloat16),
        "s": jnp.ones((), jnp.bfloat16),
    }
    tx = gradtx.shampoo(0.1, start_preconditioning_step=1)
    state = tx.init(params)
    g = jax.tree.map(lambda p: 0.5 * p, params)
    u, state = tx.update(g, state, params)
    inner = gradtx.tree.get(state, "stats")
    assert {x.dtype for x in jax.tree.leaves(inner)} == {jnp.dtype(jnp.float32)}
    assert {x.dtype for x in jax.tree.leaves(u)} == {jnp.dtype(jnp.bfloat16)}
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(u))


def test_complex_is_rejected_naming_the_leaf():
    with pytest.raises(TypeError, match=r"complex parameters at \['z'\]"):
        gradtx.scale_by_shampoo().init({"z": jnp.zeros((2, 2), jnp.complex64)})


# ---------------------------------------------------------------------------------------
# An ill-conditioned matrix least-squares problem: Shampoo beats AdamW


def _least_squares():
    """:math:`\\tfrac12\\lVert A X B - C\\rVert_F^2` with ill-conditioned A (8x8), B (6x6).

    The Hessian is :math:`(B B^\\top) \\otimes (A^\\top A)`, a Kronecker product with
    condition number 1e4 x 1e2 = 1e6, the structure Shampoo's two factors capture.
    """
    rng = np.random.default_rng(0)
    qa, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    qb, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    a = qa @ np.diag(np.logspace(0, 2, 8)) @ qa.T
    b = qb @ np.diag(np.logspace(0, 1, 6)) @ qb.T
    x_star = rng.normal(size=(8, 6))
    a, b, c = (jnp.asarray(m, jnp.float32) for m in (a, b, a @ x_star @ b))

    def loss(x):
        return 0.5 * jnp.sum((a @ x @ b - c) ** 2)

    return loss, jnp.zeros((8, 6), jnp.float32)


def _final_loss(tx, loss, x0, steps):
    def body(carry, _):
        x, s = carry
        u, s = tx.update(jax.grad(loss)(x), s, x)
        return (gradtx.apply_updates(x, u), s), None

    (x, _), _ = jax.lax.scan(body, (x0, tx.init(x0)), None, length=steps)
    return loss(x)


def test_beats_adamw_on_ill_conditioned_least_squares():
    loss, x0 = _least_squares()
    initial = float(loss(x0))  # 4.2e5
    # Each learning rate is the best of {1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1, 3} after 200
    # steps (both at 0.3). Measured: Shampoo (defaults, RMSProp graft) 1.03, AdamW 167.
    shampoo = gradtx.shampoo(0.3)
    adamw = gradtx.adamw(0.3, weight_decay=0.0)
    run = jax.jit(lambda: (_final_loss(shampoo, loss, x0, 200), _final_loss(adamw, loss, x0, 200)))
    s_loss, a_loss = (float(v) for v in run())
    assert s_loss < 5.0 and a_loss > 100.0, (s_loss, a_loss, initial)
    assert s_loss < 1e-2 * a_loss, (s_loss, a_loss)


# ---------------------------------------------------------------------------------------
# Hyperparameters in state and invalid arguments


def test_hyperparams_are_in_the_state():
    tx = gradtx.shampoo(0.5, b1=0.25, b2=0.75, weight_decay=0.125, matrix_epsilon=1e-4)
    state = tx.init({"w": jnp.zeros((2, 3)), "frozen": None})
    hps = {k: float(v) for k, v in gradtx.hyperparams(state).items()}
    assert hps == {
        "learning_rate": 0.5,
        "b1": 0.25,
        "b2": 0.75,
        "weight_decay": 0.125,
        "matrix_epsilon": float(np.float32(1e-4)),
        "diagonal_epsilon": float(np.float32(1e-10)),
    }


@pytest.mark.parametrize("fn", ["shampoo", "scale_by_shampoo"])
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"b2": 1.5}, r"\(b2=\.\.\.\)` must lie in \[0, 1\]; got b2=1\.5"),
        ({"matrix_epsilon": 0.0}, r"\(matrix_epsilon=\.\.\.\)` must lie in \(0, inf\)"),
        ({"diagonal_epsilon": -1.0}, r"\(diagonal_epsilon=\.\.\.\)` must lie in \(0, inf\)"),
        ({"block_size": 0}, r"\(block_size=\.\.\.\)` must be an integer >= 1; got block_size=0"),
        ({"block_size": 2.5}, r".*must be an integer >= 1; got block_size=2\.5"),
        (
            {"preconditioning_compute_steps": 0},
            r"\(preconditioning_compute_steps=\.\.\.\)` must be an integer >= 1",
        ),
        ({"start_preconditioning_step": 0}, r"\(start_preconditioning_step=\.\.\.\)` must be an"),
        ({"exponent_override": -1}, r"\(exponent_override=\.\.\.\)` must be an integer >= 0"),
        ({"skip_preconditioning_dim_size_gt": -1}, r".*skip_preconditioning_dim_size_gt=-1"),
        ({"skip_preconditioning_rank_lt": True}, r".*skip_preconditioning_rank_lt=True"),
        ({"graft_type": "adam"}, r"\(graft_type=\.\.\.\)` must be one of .*got graft_type='adam'"),
    ],
)
def test_invalid_arguments_raise(fn, kwargs, match):
    factory = getattr(gradtx, fn)
    args = (0.1,) if fn == "shampoo" else ()
    with pytest.raises(ValueError, match=rf"`{fn}" + match):
        factory(*args, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"learning_rate": -1.0}, r"`shampoo\(learning_rate=.*got learning_rate=-1\.0"),
        ({"learning_rate": 0.1, "b1": -0.1}, r"`shampoo\(b1=\.\.\.\)` must lie in \[0, 1\]"),
        ({"learning_rate": 0.1, "weight_decay": -1.0}, r"`shampoo\(weight_decay=.*got weight"),
    ],
)
def test_invalid_alias_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        gradtx.shampoo(**kwargs)

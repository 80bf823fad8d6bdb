"""adafactor and sm3 (and their primitives) against NumPy references and optax."""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx
from parity._sequences import (
    assert_sequences_close,
    assert_trajectories_close,
    gradient_sequence,
    initial_params,
    run_optax_like,
    run_updates,
    x64,
)

import gradtx

STEPS = 8
RTOL = {"float32": 1e-5, "float64": 1e-9}

# ---------------------------------------------------------------------------------------
# NumPy references, written from the papers' algorithms (Shazeer & Stern 2018, algorithms
# 4-5 and section 8; Anil et al. 2019, SM3-II). Leaves are float64 (or complex128).


def _axes_but(ndim: int, axis: int) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i != axis)


class FactoredRms(ref.Transform):
    """:math:`U_t = G_t/\\sqrt{\\hat V_t}`, :math:`\\hat V = R C / 1^\\top R` (with sums)."""

    def __init__(self, factored=True, decay_rate=0.8, step_offset=0, min_dim=128, eps=1e-30):
        self.factored, self.c, self.offset, self.min_dim, self.eps = (
            factored,
            decay_rate,
            step_offset,
            min_dim,
            eps,
        )

    def _dims(self, shape):
        if not self.factored or len(shape) < 2:
            return None
        order = sorted(range(len(shape)), key=lambda i: (shape[i], i))
        d0, d1 = order[-2], order[-1]
        return (d0, d1) if shape[d0] >= self.min_dim else None

    def _init(self, params):
        self.stats = []
        for p in params:
            d = self._dims(p.shape)
            if d is None:
                self.stats.append(np.zeros(p.shape))
            else:
                # Row sums R (over the largest axis d1) and column sums C (over d0).
                self.stats.append(
                    (np.zeros(np.delete(p.shape, d[1])), np.zeros(np.delete(p.shape, d[0])))
                )

    def _update(self, grads, params):
        t = max(self.t - self.offset, 1)
        beta = 1.0 - t ** (-self.c)
        out = []
        for i, g in enumerate(grads):
            g2 = np.abs(g) ** 2 + self.eps
            d = self._dims(g.shape)
            if d is None:
                self.stats[i] = beta * self.stats[i] + (1 - beta) * g2
                out.append(g / np.sqrt(self.stats[i]))
                continue
            d0, d1 = d
            r, c = self.stats[i]
            r = beta * r + (1 - beta) * g2.sum(axis=d1)
            c = beta * c + (1 - beta) * g2.sum(axis=d0)
            self.stats[i] = (r, c)
            total = np.expand_dims(np.expand_dims(r.sum(axis=d0 if d0 < d1 else d0 - 1), d0), d1)
            v = np.expand_dims(r, d1) * np.expand_dims(c, d0) / total
            out.append(g / np.sqrt(v))
        return out


class ClipByBlockRms(ref.Transform):
    """:math:`\\hat U = U / \\max(1, \\mathrm{rms}(U)/d)`."""

    def __init__(self, d):
        self.d = d

    def _update(self, grads, params):
        return [g / max(1.0, np.sqrt(np.mean(np.abs(g) ** 2)) / self.d) for g in grads]


class ParamBlockScale(ref.Transform):
    """:math:`u \\cdot \\max(\\mathrm{rms}(\\theta), s)` (or the norm)."""

    def __init__(self, min_scale=1e-3, norm=False):
        self.s, self.norm = min_scale, norm

    def _update(self, grads, params):
        def size(p):
            sq = np.abs(p) ** 2
            return np.sqrt(sq.sum() if self.norm else sq.mean())

        return [g * max(size(p), self.s) for g, p in zip(grads, params, strict=True)]


class Adafactor(ref.Transform):
    """Algorithm 4/5 with the relative step, update clipping, momentum and decay."""

    def __init__(
        self,
        learning_rate=None,
        min_dim_size_to_factor=128,
        decay_rate=0.8,
        decay_offset=0,
        multiply_by_parameter_scale=True,
        clipping_threshold=1.0,
        momentum=None,
        weight_decay_rate=None,
        eps=1e-30,
        factored=True,
        mask=None,
    ):
        self.rms = FactoredRms(factored, decay_rate, decay_offset, min_dim_size_to_factor, eps)
        self.clip = None if clipping_threshold is None else ClipByBlockRms(clipping_threshold)
        self.lr, self.scale = learning_rate, multiply_by_parameter_scale
        self.b1, self.wd, self.mask = momentum, weight_decay_rate, mask

    def _init(self, params):
        self.rms.init(params)
        if self.clip is not None:
            self.clip.init(params)
        self.m = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        u = self.rms.update(grads)
        if self.clip is not None:
            u = self.clip.update(u)
        if self.lr is not None:
            u = [ref._value(self.lr, self.t - 1) * x for x in u]
        if self.scale:
            u = [x * max(np.sqrt(np.mean(p**2)), 1e-3) for x, p in zip(u, params, strict=True)]
        if self.b1 is not None:
            self.m = [self.b1 * m + (1 - self.b1) * x for m, x in zip(self.m, u, strict=True)]
            u = list(self.m)
        if self.wd is not None:
            mask = self.mask or [True] * len(u)
            wd = ref._value(self.wd, self.t - 1)
            u = [x + wd * p if k else x for x, p, k in zip(u, params, mask, strict=True)]
        return [-x for x in u]


class SM3(ref.Transform):
    """SM3-II over the cover by axis slices, then momentum on the preconditioned step."""

    def __init__(self, b1=0.9, b2=1.0, eps=1e-8):
        self.b1, self.b2, self.eps = b1, b2, eps

    def _init(self, params):
        self.mu = [[np.zeros(n) for n in p.shape] or [np.zeros(())] for p in params]
        self.m = [np.zeros_like(p) for p in params]

    def _update(self, grads, params):
        kappa = 1.0 if self.b2 == 1.0 else 1.0 - self.b2
        out = []
        for i, g in enumerate(grads):
            nd = g.ndim
            if nd == 0:
                smallest = self.mu[i][0]
            else:
                grids = np.meshgrid(*[np.arange(n) for n in g.shape], indexing="ij")
                smallest = np.min([self.mu[i][a][grids[a]] for a in range(nd)], axis=0)
            nu = self.b2 * smallest + kappa * np.abs(g) ** 2
            pre = np.where(nu > 0, g / np.sqrt(nu + self.eps), 0.0)
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * pre
            if nd == 0:
                self.mu[i] = [nu]
            else:
                self.mu[i] = [nu.max(axis=_axes_but(nd, a)) for a in range(nd)]
            out.append(self.m[i])
        return out


def adafactor_ref(**kwargs):
    return Adafactor(**kwargs)


def sm3_ref(learning_rate, momentum=0.9):
    return ref.Chain(SM3(b1=momentum), ref.ScaleByLearningRate(learning_rate))


# ---------------------------------------------------------------------------------------
# (1) against the references, float32 and float64, on a nested tree with None leaves

# nested_params' leaves: b[0] (3,), b[1][0] (), w (2, 3); b[1][1] is None.
MASK_TREE = {"w": True, "b": [False, (True, None)]}
MASK_LEAVES = [False, True, True]


def _schedule(count):
    return 0.1 / (1.0 + 0.5 * count)


ALIAS_CASES = [
    pytest.param(gradtx.adafactor, adafactor_ref, {}, id="adafactor-defaults"),
    pytest.param(
        gradtx.adafactor,
        adafactor_ref,
        {"learning_rate": 0.1, "min_dim_size_to_factor": 2},
        id="adafactor-factored",
    ),
    pytest.param(
        gradtx.adafactor,
        adafactor_ref,
        {
            "learning_rate": _schedule,
            "min_dim_size_to_factor": 2,
            "decay_rate": 0.5,
            "clipping_threshold": 0.5,
            "momentum": 0.8,
            "weight_decay_rate": 0.05,
            "eps": 1e-20,
        },
        id="adafactor-all",
    ),
    pytest.param(
        gradtx.adafactor,
        adafactor_ref,
        {
            "learning_rate": 0.05,
            "multiply_by_parameter_scale": False,
            "clipping_threshold": None,
            "factored": False,
            "decay_offset": 2,
        },
        id="adafactor-plain-offset",
    ),
    pytest.param(gradtx.sm3, sm3_ref, {"learning_rate": 0.1}, id="sm3"),
    pytest.param(gradtx.sm3, sm3_ref, {"learning_rate": _schedule, "momentum": 0.5}, id="sm3-args"),
]


def _stored(kwargs):
    """The values an alias stores (float32 unless x64), with the reference's names."""
    out = {}
    for k, v in kwargs.items():
        if callable(v):
            out[k] = lambda c, v=v: ref.f32(v(c))
        elif isinstance(v, float):
            out[k] = ref.f32(v)
        else:
            out[k] = v
    return out


@pytest.mark.parametrize(("factory", "reference", "kwargs"), ALIAS_CASES)
def test_alias_matches_reference(factory, reference, kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    # The momentum in the run's precision (optax's default dtype_momentum is float32).
    extra = (
        {"dtype_momentum": float_dtype}
        if "momentum" in kwargs and factory is gradtx.adafactor
        else {}
    )
    got = run_gradtx(factory(**kwargs, **extra), params, grads)
    defaults = {"decay_rate": 0.8} if factory is gradtx.adafactor else {"momentum": 0.9}
    want = ref.run(
        reference(**_stored({**defaults, **kwargs})), leaves(params), [leaves(g) for g in grads]
    )
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_adafactor_weight_decay_mask(rng):
    params = nested_params(rng, np.float32)
    grads = gradient_stream(rng, params, STEPS)
    tx = gradtx.adafactor(0.1, weight_decay_rate=0.5, weight_decay_mask=MASK_TREE)
    want = ref.run(
        Adafactor(0.1, decay_rate=ref.f32(0.8), weight_decay_rate=0.5, mask=MASK_LEAVES),
        leaves(params),
        [leaves(g) for g in grads],
    )
    assert_close_to_reference(run_gradtx(tx, params, grads), want, rtol=1e-5)


PRIMITIVE_CASES = [
    pytest.param(
        gradtx.scale_by_factored_rms,
        FactoredRms,
        {"min_dim_size_to_factor": 2},
        {"min_dim": 2},
        id="factored_rms",
    ),
    pytest.param(
        gradtx.scale_by_factored_rms,
        FactoredRms,
        {"factored": False, "decay_rate": 0.5, "step_offset": 3, "epsilon": 1e-12},
        {"factored": False, "decay_rate": 0.5, "step_offset": 3, "eps": 1e-12},
        id="factored_rms-unfactored-offset",
    ),
    pytest.param(gradtx.scale_by_param_block_rms, ParamBlockScale, {}, {}, id="param_block_rms"),
    pytest.param(
        gradtx.scale_by_param_block_norm,
        ParamBlockScale,
        {"min_scale": 0.5},
        {"min_scale": 0.5, "norm": True},
        id="param_block_norm",
    ),
    pytest.param(gradtx.scale_by_sm3, SM3, {}, {}, id="sm3"),
    pytest.param(gradtx.scale_by_sm3, SM3, {"b1": 0.5, "b2": 0.9, "eps": 1e-3}, {}, id="sm3-ema"),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs", "ref_kwargs"), PRIMITIVE_CASES)
def test_primitive_matches_reference(factory, reference, kwargs, ref_kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    ref_kwargs = ref_kwargs or kwargs
    want = ref.run(reference(**ref_kwargs), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


@pytest.mark.parametrize(
    ("tx", "reference"),
    [
        (gradtx.scale_by_factored_rms(min_dim_size_to_factor=2), FactoredRms(min_dim=2)),
        (gradtx.scale_by_sm3(b1=0.5), SM3(b1=0.5)),
        (gradtx.scale_by_param_block_norm(), ParamBlockScale(norm=True)),
    ],
    ids=["factored_rms", "sm3", "param_block_norm"],
)
def test_complex_and_higher_rank(tx, reference, x64, rng):
    """Complex leaves use |g|^2; a rank-3 leaf factors over its two largest axes
    (the third is a batch axis), and a square leaf's tie is broken the same way."""
    shapes = {"t": (3, 2, 4), "q": (3, 3), "c": (2, 3)}

    def draw(shape):
        return rng.normal(size=shape) + 1j * rng.normal(size=shape)

    params = {k: jnp.asarray(draw(s)) for k, s in shapes.items()}
    grads = [
        {k: jnp.asarray(draw(s) * rng.uniform(0.1, 3)) for k, s in shapes.items()} for _ in range(5)
    ]
    got = run_gradtx(tx, params, grads)
    flat = [np.asarray(x) for x in jax.tree.leaves(params)]
    # Transform.update casts to float64; the complex reference runs on _update directly.
    reference.t = 0
    reference._init(flat)
    for t, (g, u) in enumerate(zip(grads, got, strict=True)):
        p_now = [np.asarray(x) for x in jax.tree.leaves(params)]
        reference.t += 1
        want = reference._update([np.asarray(x) for x in jax.tree.leaves(g)], p_now)
        for x, y in zip(jax.tree.leaves(u), want, strict=True):
            assert x.dtype == jnp.complex128
            np.testing.assert_allclose(
                np.asarray(x), y, rtol=1e-12, atol=1e-12, err_msg=f"step {t}"
            )
        params = gradtx.apply_updates(params, u)


def test_state_shapes_and_shape_dtype_struct_init():
    params = {
        "big": jax.ShapeDtypeStruct((256, 128), jnp.bfloat16),
        "small": jax.ShapeDtypeStruct((64, 512), jnp.float32),
        "batched": jax.ShapeDtypeStruct((4, 130, 200), jnp.float32),
        "vec": jax.ShapeDtypeStruct((300,), jnp.float32),
        "none": None,
    }
    state = gradtx.scale_by_factored_rms().init(params)
    shapes = {
        k: (state.v_row[k].shape, state.v_col[k].shape, state.v[k].shape)
        for k in params
        if k != "none"
    }
    assert shapes == {
        "big": ((128,), (256,), (1,)),  # v_row lacks the largest axis
        "small": ((1,), (1,), (64, 512)),
        "batched": ((4, 130), (4, 200), (1,)),
        "vec": ((1,), (1,), (300,)),
    }
    assert state.v_row["big"].dtype == jnp.bfloat16 and state.v["none"] is None
    sm3_state = gradtx.scale_by_sm3().init(params)
    assert [a.shape for a in sm3_state.mu["batched"]] == [(4,), (130,), (200,)]
    # The whole optimizers too, with a fixed-shape state across a lax.cond.
    for tx in (gradtx.adafactor(0.1, momentum=0.9), gradtx.sm3(0.1)):
        s0 = tx.init(params)
        grads = jax.tree.map(lambda p: jnp.ones(p.shape, p.dtype), params)
        values = jax.tree.map(lambda p: jnp.ones(p.shape, p.dtype), params)
        s1 = jax.eval_shape(lambda g, s, p, tx=tx: tx.update(g, s, p)[1], grads, s0, values)
        jax.eval_shape(
            lambda c, a, b: jax.lax.cond(c, lambda: a, lambda: b),
            jax.ShapeDtypeStruct((), bool),
            jax.eval_shape(tx.init, params),
            s1,
        )


def test_decay_offset_restarts_the_schedule(rng):
    """Before the offset the second moment is the current |g|^2 (beta = 0): no NaN."""
    params = {"w": jnp.ones(3)}
    tx = gradtx.scale_by_factored_rms(step_offset=5)
    state = tx.init(params)
    for _ in range(3):
        g = {"w": jnp.asarray(rng.normal(size=3).astype(np.float32))}
        u, state = tx.update(g, state)
        np.testing.assert_allclose(u["w"], np.sign(g["w"]), rtol=1e-6)


# ---------------------------------------------------------------------------------------
# (2) optax parity, float64, over >= 10 gradients that vary in sign and scale

optax = pytest.importorskip("optax")
RTOL_EXACT = 1e-10
D = np.float64(0.8)  # optax rounds a Python-float decay_rate to float32; see below
NO_SCALAR = ("w", "b")  # optax 0.2.8's sm3 fails on scalar leaves


def _sched(count):
    return 0.1 / (1.0 + 0.25 * count)


def _data(keys=("w", "b", "s")):
    params, grads = initial_params(), gradient_sequence(12)
    return {k: params[k] for k in keys}, [{k: g[k] for k in keys} for g in grads]


PARITY = [
    ("adafactor-factored", lambda m: m.adafactor(0.1, min_dim_size_to_factor=3, decay_rate=D)),
    ("adafactor-lr-none", lambda m: m.adafactor(decay_rate=D)),
    (
        "adafactor-all",
        lambda m: m.adafactor(
            _sched,
            min_dim_size_to_factor=3,
            decay_rate=D,
            clipping_threshold=0.5,
            momentum=0.9,
            dtype_momentum=jnp.float64,
            weight_decay_rate=0.01,
            weight_decay_mask={"w": True, "b": False, "s": True},
        ),
    ),
    (
        "adafactor-plain",
        lambda m: m.adafactor(
            0.05,
            decay_rate=np.float64(0.5),
            multiply_by_parameter_scale=False,
            clipping_threshold=None,
            factored=False,
            eps=1e-20,
        ),
    ),
    ("sm3", lambda m: m.sm3(0.1)),
    ("sm3-momentum", lambda m: m.sm3(0.5, momentum=0.5)),
]


@pytest.mark.parametrize("name, build", PARITY, ids=[c[0] for c in PARITY])
def test_matches_optax(name, build):
    with x64():
        params, grads = _data(NO_SCALAR if name.startswith("sm3") else ("w", "b", "s"))
        got = run_optax_like(build(gradtx), params, grads)
        want = run_optax_like(build(optax), params, grads)
        assert_trajectories_close(got, want, RTOL_EXACT)


def test_matches_optax_default_decay_rate():
    """optax computes the decay 1 - t^-0.8 in float32 when decay_rate is a Python float
    (measured in optax 0.2.8 under x64); gradtx in float64. The trajectories then agree
    to float32 precision; with a float64 decay_rate exactly (test_matches_optax)."""
    with x64():
        params, grads = _data()
        got = run_optax_like(gradtx.adafactor(0.1, min_dim_size_to_factor=3), params, grads)
        want = run_optax_like(optax.adafactor(0.1, min_dim_size_to_factor=3), params, grads)
        assert_trajectories_close(got, want, 1e-6, steps=False)


PRIMITIVE_PARITY = [
    ("factored_rms", lambda m: m.scale_by_factored_rms(decay_rate=D, min_dim_size_to_factor=3)),
    ("param_block_rms", lambda m: m.scale_by_param_block_rms(min_scale=0.5)),
    ("param_block_norm", lambda m: m.scale_by_param_block_norm()),
    ("sm3", lambda m: m.scale_by_sm3(b1=0.5, b2=0.9, eps=1e-6)),
]


@pytest.mark.parametrize("name, build", PRIMITIVE_PARITY, ids=[c[0] for c in PRIMITIVE_PARITY])
def test_primitive_matches_optax(name, build):
    with x64():
        params, grads = _data(NO_SCALAR if name == "sm3" else ("w", "b", "s"))
        params["t"] = np.linspace(-1.0, 1.0, 24).reshape(2, 3, 4)
        for i, g in enumerate(grads):
            g["t"] = np.cos(np.arange(24.0) * (i + 1)).reshape(2, 3, 4) * 10.0 ** (i % 3 - 1)
        got = run_updates(build(gradtx), params, grads)
        want = run_updates(build(optax), params, grads)
        assert_sequences_close(got, want, RTOL_EXACT)


def test_step_offset_matches_optax_after_the_offset():
    """optax 0.2.8 gives NaN before the offset; from a count past it both agree."""
    with x64():
        params, grads = _data()
        txs = [
            m.scale_by_factored_rms(decay_rate=D, step_offset=3, min_dim_size_to_factor=3)
            for m in (gradtx, optax)
        ]
        outs, jparams = [], jax.tree.map(jnp.asarray, params)
        for tx in txs:
            state = tx.init(jax.tree.map(jnp.asarray, params))._replace(
                count=jnp.asarray(5, jnp.int32)
            )
            out = []
            for g in grads:
                u, state = tx.update(jax.tree.map(jnp.asarray, g), state, jparams)
                out.append(jax.tree.map(np.asarray, u))
            outs.append(out)
        assert_sequences_close(outs[0], outs[1], RTOL_EXACT)


def test_signatures_match_optax():
    import inspect

    for name in (
        "adafactor",
        "sm3",
        "scale_by_factored_rms",
        "scale_by_param_block_rms",
        "scale_by_param_block_norm",
        "scale_by_sm3",
    ):
        ours = dict(inspect.signature(getattr(gradtx, name)).parameters)
        theirs = inspect.signature(getattr(optax, name)).parameters
        # gradtx adds keyword-only state dtypes (the state-precision guide), nothing else
        extra = [k for k in ours if k not in theirs]
        assert all(k.endswith("_dtype") and ours[k].kind is ours[k].KEYWORD_ONLY for k in extra)
        ours = {k: p for k, p in ours.items() if k in theirs}
        assert list(ours) == list(theirs), name
        for k in theirs:
            if k != "decay_rate_fn":  # a function: each library has its own
                assert ours[k].default == theirs[k].default, (name, k)
    assert gradtx.FactoredState._fields == optax.FactoredState._fields
    assert gradtx.ScaleBySM3State._fields == optax.ScaleBySM3State._fields


# ---------------------------------------------------------------------------------------
# (3) invalid hyperparameters


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.adafactor(-0.1),
            r"adafactor\(learning_rate=\.\.\.\)` must lie in \[0, inf\); got learning_rate=-0\.1",
        ),
        (
            lambda: gradtx.adafactor(decay_rate=-0.8),
            r"adafactor\(decay_rate=\.\.\.\)` must lie in \[0, inf\); "
            r"got decay_rate=-0\.8",
        ),
        (lambda: gradtx.adafactor(decay_offset=-1), r"got step_offset=-1"),
        (lambda: gradtx.adafactor(eps=-1.0), r"got eps=-1\.0"),
        (
            lambda: gradtx.adafactor(clipping_threshold=0.0),
            r"adafactor\(clipping_threshold=\.\.\.\)` must lie in \(0, inf\); "
            r"got clipping_threshold=0\.0",
        ),
        (
            lambda: gradtx.adafactor(momentum=1.5),
            r"adafactor\(momentum=\.\.\.\)` must lie in \[0, 1\]; got momentum=1\.5",
        ),
        (lambda: gradtx.adafactor(weight_decay_rate=-1e-3), r"got weight_decay_rate=-0\.001"),
        (
            lambda: gradtx.adafactor(min_dim_size_to_factor=1.5),
            r"min_dim_size_to_factor=\.\.\.\)` must be an integer >= 0"
            r".*got min_dim_size_to_factor=1\.5",
        ),
        (
            lambda: gradtx.scale_by_factored_rms(min_dim_size_to_factor=-2),
            r"got min_dim_size_to_factor=-2",
        ),
        (
            lambda: gradtx.scale_by_param_block_rms(-1.0),
            r"scale_by_param_block_rms\(min_scale=\.\.\.\)` must lie in \[0, inf\); "
            r"got min_scale=-1\.0",
        ),
        (
            lambda: gradtx.scale_by_param_block_norm(-1.0),
            r"scale_by_param_block_norm\(min_scale=.*got min_scale=-1\.0",
        ),
        (
            lambda: gradtx.sm3(-1.0),
            r"sm3\(learning_rate=\.\.\.\)` must lie in \[0, inf\); got learning_rate=-1\.0",
        ),
        (
            lambda: gradtx.sm3(0.1, momentum=2.0),
            r"sm3\(momentum=\.\.\.\)` must lie in \[0, 1\]; got momentum=2\.0",
        ),
        (lambda: gradtx.scale_by_sm3(b1=-0.1), r"scale_by_sm3\(b1=.*got b1=-0\.1"),
        (lambda: gradtx.scale_by_sm3(b2=1.1), r"scale_by_sm3\(b2=.*got b2=1\.1"),
        (lambda: gradtx.scale_by_sm3(eps=-1e-8), r"scale_by_sm3\(eps=.*got eps=-1e-08"),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_param_block_scales_need_params():
    tx = gradtx.scale_by_param_block_rms()
    with pytest.raises(ValueError, match=r"`scale_by_param_block_rms` needs the parameters"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


# ---------------------------------------------------------------------------------------
# (4) hyperparameters in the state


def test_hyperparams_in_state():
    p = {"w": jnp.zeros((2, 3))}
    state = gradtx.adafactor(0.01, decay_rate=0.5, momentum=0.9, weight_decay_rate=1e-3).init(p)
    hps = {k: float(v) for k, v in gradtx.hyperparams(state).items()}
    assert hps == pytest.approx(
        {
            "clipping_threshold": 1.0,
            "decay_offset": 0.0,
            "decay_rate": 0.5,
            "eps": 1e-30,
            "learning_rate": 0.01,
            "momentum": 0.9,
            "weight_decay_rate": 1e-3,
        },
        rel=1e-7,
    )
    assert all(v.dtype == jnp.float32 for v in gradtx.hyperparams(state).values())
    # None leaves nothing to record.
    assert sorted(gradtx.hyperparams(gradtx.adafactor(clipping_threshold=None).init(p))) == [
        "decay_offset",
        "decay_rate",
        "eps",
    ]
    state = gradtx.sm3(0.1, momentum=0.5).init(p)
    assert {k: float(v) for k, v in gradtx.hyperparams(state).items()} == {
        "learning_rate": pytest.approx(0.1),
        "momentum": 0.5,
    }


def test_set_hyperparams_changes_adafactor_without_retracing(rng):
    params = {"w": jnp.asarray(rng.normal(size=(4, 5)).astype(np.float32))}
    g = {"w": jnp.asarray(rng.normal(size=(4, 5)).astype(np.float32))}
    tx = gradtx.adafactor(0.1, min_dim_size_to_factor=2, decay_rate=0.8)
    calls = []

    @jax.jit
    def step(g, s, p):
        calls.append(1)
        return tx.update(g, s, p)

    state = tx.init(params)
    _, s = step(g, state, params)
    u_half, _ = step(g, gradtx.set_hyperparams(s, learning_rate=0.05), params)
    u_full, _ = step(g, s, params)
    np.testing.assert_allclose(u_half["w"], 0.5 * u_full["w"], rtol=1e-6)
    # A different decay exponent changes the second step's moments.
    # (not 2 g: clipping would undo a uniform change of scale)
    g2 = {"w": jnp.asarray(rng.normal(size=(4, 5)).astype(np.float32))}
    a, _ = step(g2, s, params)
    b, _ = step(g2, gradtx.set_hyperparams(s, decay_rate=0.3), params)
    assert not np.allclose(a["w"], b["w"])
    assert len(calls) == 1

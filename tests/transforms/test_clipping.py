"""clip, clip_by_global_norm and clip_by_block_rms against NumPy."""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves, nested_params, run_gradtx

import gradtx

STEPS = 6
RTOL = {"float32": 1e-6, "float64": 1e-12}

CASES = [
    pytest.param(gradtx.clip, ref.Clip, {"max_delta": 0.5}, id="clip"),
    pytest.param(gradtx.clip, ref.Clip, {"max_delta": 100.0}, id="clip-inactive"),
    pytest.param(
        gradtx.clip_by_global_norm, ref.ClipByGlobalNorm, {"max_norm": 1.0}, id="global_norm"
    ),
    pytest.param(
        gradtx.clip_by_global_norm,
        ref.ClipByGlobalNorm,
        {"max_norm": 8.0},
        id="global_norm-sometimes",
    ),
    pytest.param(gradtx.clip_by_block_rms, ref.ClipByBlockRms, {"threshold": 0.5}, id="block_rms"),
    pytest.param(
        gradtx.clip_by_block_rms, ref.ClipByBlockRms, {"threshold": 2.0}, id="block_rms-sometimes"
    ),
]


@pytest.mark.parametrize(("factory", "reference", "kwargs"), CASES)
def test_matches_reference(factory, reference, kwargs, float_dtype, rng):
    params = nested_params(rng, float_dtype)
    grads = gradient_stream(rng, params, STEPS)
    got = run_gradtx(factory(**kwargs), params, grads)
    want = ref.run(reference(**kwargs), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[float_dtype.name])


def test_global_norm_clip_reaches_exactly_max_norm(rng):
    g = {"a": jnp.asarray(rng.normal(size=4).astype(np.float32) * 10), "b": jnp.array(7.0)}
    tx = gradtx.clip_by_global_norm(2.0)
    u, _ = tx.update(g, tx.init(None))
    assert float(gradtx.global_norm(u)) == pytest.approx(2.0, rel=1e-6)
    np.testing.assert_allclose(u["a"] / g["a"], float(u["b"] / g["b"]), rtol=1e-6)


@pytest.mark.parametrize(
    "tx",
    [gradtx.clip_by_global_norm(1.0), gradtx.clip_by_block_rms(1.0)],
    ids=["global_norm", "block_rms"],
)
def test_zero_updates_stay_zero(tx):
    g = {"a": jnp.zeros(3), "b": jnp.zeros([])}
    u, _ = tx.update(g, tx.init(None))
    np.testing.assert_array_equal(u["a"], 0.0)
    np.testing.assert_array_equal(u["b"], 0.0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: gradtx.clip(-1.0),
            r"clip\(max_delta=\.\.\.\)` must lie in \[0, inf\); got "
            r"max_delta=-1\.0",
        ),
        (
            lambda: gradtx.clip_by_global_norm(0.0),
            r"clip_by_global_norm\(max_norm=\.\.\.\)` must "
            r"lie in \(0, inf\); got max_norm=0\.0",
        ),
        (
            lambda: gradtx.clip_by_block_rms(-2.0),
            r"clip_by_block_rms\(threshold=.*got "
            r"threshold=-2\.0",
        ),
    ],
)
def test_invalid_hyperparameters_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------- the recorded norm, AGC and per-example clipping


def test_clip_by_global_norm_records_the_norm_before_clipping(rng):
    tx = gradtx.clip_by_global_norm(1.0)
    s0 = tx.init({"a": jnp.zeros(4)})
    assert isinstance(s0, gradtx.ClipByGlobalNormState) and float(s0.norm) == 0.0
    g = {"a": jnp.asarray(rng.normal(size=4).astype(np.float32) * 5), "n": None}
    u, s1 = jax.jit(tx.update)(g, s0)
    want = float(np.linalg.norm(np.asarray(g["a"], np.float64)))
    assert float(gradtx.tree.get(s1, "norm")) == pytest.approx(want, rel=1e-6)
    assert u["n"] is None
    assert s1.norm.dtype == s0.norm.dtype == jnp.float32
    bf = {"a": jnp.ones(3, jnp.bfloat16)}
    u, s2 = tx.update(bf, s0)
    assert u["a"].dtype == jnp.bfloat16 and s2.norm.dtype == jnp.float32
    jax.lax.cond(True, lambda: s0, lambda: s2)


def _agc_reference(g, p, clipping, eps, axes):
    """Brock et al. (2021), eq. 3, unit by unit, in float64."""
    g, p = np.asarray(g, np.float64), np.asarray(p, np.float64)
    gn = np.sqrt(np.sum(g**2, axis=axes, keepdims=True))
    pn = np.maximum(np.sqrt(np.sum(p**2, axis=axes, keepdims=True)), eps)
    return np.where(gn / pn > clipping, clipping * pn / np.where(gn > 0, gn, 1.0) * g, g)


AGC_SHAPES = {
    "s": ((), None),
    "b": ((4,), None),
    "w": ((5, 4), (0,)),
    "c": ((3, 3, 2, 4), (0, 1, 2)),
}


@pytest.mark.parametrize("kwargs", [{"clipping": 0.05}, {"clipping": 0.5, "eps": 0.1}])
def test_adaptive_grad_clip_against_the_paper(kwargs, rng):
    params = {k: jnp.asarray(rng.normal(size=s), jnp.float32) for k, (s, _) in AGC_SHAPES.items()}
    params["b"] = jnp.zeros(4)  # eps matters for zero-initialised biases
    tx = gradtx.chain(gradtx.adaptive_grad_clip(**kwargs), gradtx.sgd(0.5))
    agc = gradtx.adaptive_grad_clip(**kwargs)
    state, step, agc_update = tx.init(params), jax.jit(tx.update), jax.jit(agc.update)
    clipped_some = False
    for _ in range(3):
        g = {
            k: jnp.asarray(rng.normal(size=s) * 0.3, jnp.float32)
            for k, (s, _) in AGC_SHAPES.items()
        }
        got = agc_update(g, agc.init(params), params)[0]
        for k, (_, axes) in AGC_SHAPES.items():
            want = _agc_reference(
                g[k], params[k], kwargs["clipping"], kwargs.get("eps", 1e-3), axes
            )
            np.testing.assert_allclose(got[k], want, rtol=2e-6, atol=1e-8)
            clipped_some |= not np.allclose(want, g[k])
        u, state = step(g, state, params)
        params = gradtx.apply_updates(params, u)
    assert clipped_some


def test_adaptive_grad_clip_axis_and_errors():
    p, g = jnp.ones((2, 3)), jnp.full((2, 3), 10.0)
    u, _ = gradtx.adaptive_grad_clip(0.1, axis=1).update(g, gradtx.EmptyState(), p)
    np.testing.assert_allclose(u, 0.1, rtol=1e-6)  # each row: norm sqrt(3) * 0.1 / (10 sqrt(3))
    tx = gradtx.adaptive_grad_clip(0.1)
    big = {"deep": jnp.ones((1,) * 6)}
    with pytest.raises(ValueError, match=r"parameter at \['deep'\] has rank 6; .*Pass axis="):
        tx.update(big, tx.init(big), big)
    with pytest.raises(ValueError, match=r"adaptive_grad_clip` needs the parameters"):
        tx.update(big, tx.init(big))
    with pytest.raises(
        ValueError, match=r"adaptive_grad_clip\(clipping=\.\.\.\)` must lie in \(0, inf\)"
    ):
        gradtx.adaptive_grad_clip(0.0)
    with pytest.raises(
        ValueError, match=r"adaptive_grad_clip\(eps=\.\.\.\)` must lie in \[0, inf\)"
    ):
        gradtx.adaptive_grad_clip(0.1, eps=-1.0)


def _per_example_reference(leaves, clips):
    """Sum over examples of each example's rows scaled by min(1, c / norm), float64."""
    leaves = [np.asarray(x, np.float64) for x in leaves]
    n = leaves[0].shape[0]
    sums, counts = [], []
    for group, c in clips:
        norms = np.sqrt(sum(np.sum(leaves[i].reshape(n, -1) ** 2, axis=1) for i in group))
        f = np.where(norms > c, c / np.where(norms > 0, norms, 1.0), 1.0)
        for i in group:
            sums.append((i, np.tensordot(f, leaves[i], axes=1)))
        counts.append(int(np.sum(norms > c)))
    return [s for _, s in sorted(sums, key=lambda t: t[0])], counts


def test_per_example_clipping_against_numpy(rng):
    leaves = [
        jnp.asarray(rng.normal(size=(6, 3, 2)), jnp.float32),
        jnp.asarray(rng.normal(size=(6, 5)), jnp.float32),
        jnp.asarray(rng.normal(size=(6,)), jnp.float32),
    ]
    c = 3.5  # the examples' norms are about 3.5: some are clipped, some not
    got, count = gradtx.per_example_global_norm_clip(leaves, c)
    want, want_count = _per_example_reference(leaves, [((0, 1, 2), c)])
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5)
    assert int(count) == want_count[0] and 0 < want_count[0] < 6
    for uniform in (True, False):
        sizes = np.array([6, 5, 1])
        cs = c / np.sqrt(3) * np.ones(3) if uniform else c * np.sqrt(sizes / sizes.sum())
        got, counts = gradtx.per_example_layer_norm_clip(leaves, c, uniform=uniform)
        want, want_counts = _per_example_reference(leaves, [((i,), cs[i]) for i in range(3)])
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5)
        assert [int(x) for x in counts] == want_counts


def test_per_example_clipping_errors():
    with pytest.raises(
        ValueError, match=r"per_example_global_norm_clip\(grads=\.\.\.\)`: every array must"
    ):
        gradtx.per_example_global_norm_clip([jnp.ones((3, 2)), jnp.ones((4,))], 1.0)
    with pytest.raises(
        ValueError, match=r"per_example_layer_norm_clip\(global_l2_norm_clip=\.\.\.\)"
    ):
        gradtx.per_example_layer_norm_clip([jnp.ones((3, 2))], -1.0)
    with pytest.raises(ValueError, match=r"must hold at least one array"):
        gradtx.per_example_global_norm_clip([], 1.0)

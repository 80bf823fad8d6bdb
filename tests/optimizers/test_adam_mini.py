"""adam_mini, scale_by_adam_mini and adam_mini_blocks against a NumPy reference.

Zhang et al. 2024 (arXiv 2406.16793), Algorithm 1: Adam's first moment per parameter,
but one second moment per block, the EMA of the block's mean squared gradient. The
reference takes the blocks as the axes each leaf keeps (one block per index along them),
which is how gradtx's ``block_axes`` defines them.
"""

from __future__ import annotations

import _reference as ref
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _problems import assert_close_to_reference, gradient_stream, leaves

import gradtx

STEPS = 8
RTOL = {"float32": 2e-5, "float64": 1e-12}


class AdamMini(ref.Transform):
    """Algorithm 1 of the paper; ``kept[i]`` are the axes that index leaf i's blocks."""

    def __init__(self, kept, b1=0.9, b2=0.999, eps=1e-8):
        self.kept, self.b1, self.b2, self.eps = kept, b1, b2, eps

    def _init(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [None] * len(params)

    def _update(self, grads, params):
        out = []
        for i, g in enumerate(grads):
            other = tuple(a for a in range(g.ndim) if a not in self.kept[i])
            block_mean = np.mean(g * g, axis=other, keepdims=True)
            v = 0.0 if self.v[i] is None else self.v[i]
            self.v[i] = self.b2 * v + (1 - self.b2) * block_mean
            self.m[i] = self.b1 * self.m[i] + (1 - self.b1) * g
            m_hat = self.m[i] / (1 - self.b1**self.t)
            v_hat = self.v[i] / (1 - self.b2**self.t)
            out.append(m_hat / (np.sqrt(v_hat) + self.eps))
        return out


def ref_adam_mini(kept, learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4):
    return ref.Chain(
        AdamMini(kept, b1, b2, eps),
        ref.AddDecayedWeights(weight_decay),
        ref.ScaleByLearningRate(learning_rate),
    )


def _params(rng, dtype):
    """A kernel (in, out), an embedding (vocab, d), a 3-D attention kernel, a bias, a scalar."""
    shapes = {"dense": (4, 3), "embed": (5, 2), "qkv": (2, 3, 2), "bias": (3,), "s": ()}
    return {k: jnp.asarray(rng.normal(size=s).astype(dtype)) for k, s in shapes.items()}


# Leaves in tree order: bias, dense, embed, qkv, s.
DEFAULT_KEPT = [(), (1,), (1,), (2,), ()]
PAPER_LIKE = {"bias": "leaf", "dense": "default", "embed": 0, "qkv": 1, "s": ()}
PAPER_LIKE_KEPT = [(), (1,), (0,), (1,), ()]


def _schedule(count):
    return 0.1 * 0.9**count


CASES = [
    pytest.param({"learning_rate": 0.1}, DEFAULT_KEPT, id="defaults"),
    pytest.param(
        {
            "learning_rate": _schedule,
            "b1": 0.5,
            "b2": 0.875,
            "eps": 1e-3,
            "weight_decay": 0.25,
            "block_axes": PAPER_LIKE,
        },
        PAPER_LIKE_KEPT,
        id="args-tree",
    ),
    pytest.param(
        {
            "learning_rate": 0.1,
            "block_axes": lambda p: jax.tree.map(lambda x: (0, -1)[: x.ndim], p),
        },
        [(0,), (0, 1), (0, 1), (0, 2), ()],
        id="function-two-axes",
    ),
    pytest.param({"learning_rate": 0.1, "block_axes": "leaf"}, [()] * 5, id="leaf"),
]


def run_gradtx(tx, params, grads):
    """The updates of every step, with the update jitted once (eager steps are slow)."""
    update, state, out = jax.jit(tx.update), tx.init(params), []
    for g in grads:
        u, state = update(g, state, params)
        for a, b in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True):
            assert a.dtype == b.dtype
        params = gradtx.apply_updates(params, u)
        out.append(u)
    return out, state


def _check(kwargs, kept, dtype, rng):
    params = _params(rng, dtype)
    grads = gradient_stream(rng, params, STEPS)
    got, _ = run_gradtx(gradtx.adam_mini(**kwargs), params, grads)
    numeric = {k: v for k, v in kwargs.items() if k != "block_axes"}
    stored = ref.as_stored(gradtx.adam_mini, ref_adam_mini, numeric)
    want = ref.run(ref_adam_mini(kept, **stored), leaves(params), [leaves(g) for g in grads])
    assert_close_to_reference(got, want, rtol=RTOL[np.dtype(dtype).name])


@pytest.mark.parametrize(("kwargs", "kept"), CASES[:2])
def test_matches_reference(kwargs, kept, float_dtype, rng):
    _check(kwargs, kept, float_dtype, rng)


@pytest.mark.parametrize(("kwargs", "kept"), CASES[2:])
def test_other_block_specs_match_reference(kwargs, kept, rng, x64):
    _check(kwargs, kept, np.float64, rng)


def test_second_moment_is_one_scalar_per_block(rng):
    # The memory the paper saves: nu holds one number per block, mu one per parameter.
    params = {"dense": jnp.zeros((64, 32)), "embed": jnp.zeros((100, 16)), "bias": jnp.zeros(32)}
    tx = gradtx.scale_by_adam_mini(block_axes={"dense": "default", "embed": 0, "bias": "leaf"})
    state = tx.init(params)
    assert {k: v.shape for k, v in state.nu.items()} == {
        "dense": (32,),  # one per output neuron
        "embed": (100,),  # one per token
        "bias": (),  # one for the whole vector
    }
    n_params = sum(x.size for x in jax.tree.leaves(params))
    assert sum(x.size for x in jax.tree.leaves(state.mu)) == n_params
    assert sum(x.size for x in jax.tree.leaves(state.nu)) == 32 + 100 + 1
    # The sizes stay the same after an update, and the alias keeps the same state.
    grads = jax.tree.map(lambda p: jnp.ones_like(p), params)
    _, state = jax.jit(tx.update)(grads, state)
    assert {k: v.shape for k, v in state.nu.items()} == {
        "dense": (32,),
        "embed": (100,),
        "bias": (),
    }
    alias = gradtx.adam_mini(0.1).init(params)
    assert gradtx.tree.get(alias, "nu")["dense"].shape == (32,)


def test_every_axis_kept_is_adam(rng, x64):
    # A block per element: Adam-mini is Adam (the paper's starting point).
    params = _params(rng, np.float64)
    grads = gradient_stream(rng, params, STEPS)
    every = lambda p: jax.tree.map(lambda x: tuple(range(x.ndim)), p)  # noqa: E731
    got, _ = run_gradtx(gradtx.scale_by_adam_mini(block_axes=every), params, grads)
    want, _ = run_gradtx(gradtx.scale_by_adam(), params, grads)
    assert_close_to_reference(got, [leaves(w) for w in want], rtol=1e-12)


def test_blocks_helper_and_none_leaves():
    p = {"a": jnp.zeros((2, 3, 4)), "b": jnp.zeros(3), "n": None}
    assert gradtx.adam_mini_blocks(None, p) == {"a": (2,), "b": (), "n": None}
    assert gradtx.adam_mini_blocks(0, {"a": p["a"]}) == {"a": (0,)}
    assert gradtx.adam_mini_blocks((-1, 0), {"a": p["a"]}) == {"a": (0, 2)}
    tx = gradtx.adam_mini(0.1)
    u, _ = jax.jit(tx.update)(
        {"a": jnp.ones((2, 3, 4)), "b": jnp.ones(3), "n": None}, tx.init(p), p
    )
    assert u["n"] is None


def test_complex_block_mean_uses_modulus(x64):
    # v = mean |g|^2 over the block: for a complex vector, the first step is g / rms|g|.
    g = jnp.array([3.0 + 4.0j, 0.0 + 5.0j])
    tx = gradtx.scale_by_adam_mini(eps=0.0)
    u, s = jax.jit(tx.update)(g, tx.init(jnp.zeros(2, jnp.complex128)))
    assert s.nu.dtype == jnp.float64 and s.nu.shape == ()
    np.testing.assert_allclose(u, g / 5.0, rtol=1e-12)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: gradtx.adam_mini(-0.1), r"`adam_mini\(learning_rate=.*got learning_rate=-0\.1"),
        (lambda: gradtx.adam_mini(0.1, b1=1.5), r"`adam_mini\(b1=\.\.\.\)` must lie in \[0, 1\]"),
        (lambda: gradtx.adam_mini(0.1, b2=-0.5), r"`adam_mini\(b2=\.\.\.\)`.*got b2=-0\.5"),
        (lambda: gradtx.adam_mini(0.1, eps=-1.0), r"`adam_mini\(eps=\.\.\.\)`.*got eps=-1\.0"),
        (lambda: gradtx.adam_mini(0.1, weight_decay=-1.0), r"`adam_mini\(weight_decay="),
        (lambda: gradtx.scale_by_adam_mini(b1=2.0), r"`scale_by_adam_mini\(b1=.*got b1=2\.0"),
        (
            lambda: gradtx.scale_by_adam_mini(block_axes=2).init({"w": jnp.zeros((2, 2))}),
            r"`scale_by_adam_mini\(block_axes=\.\.\.\)` names an axis out of range for the "
            r"shape \(2, 2\) at \['w'\]; got 2",
        ),
        (
            lambda: gradtx.scale_by_adam_mini(block_axes=(0, -2)).init({"w": jnp.zeros((2, 2))}),
            r"repeats an axis at \['w'\]",
        ),
        (
            lambda: gradtx.scale_by_adam_mini(block_axes={"w": "rows"}).init(
                {"w": jnp.zeros((2, 2))}
            ),
            r'must give an axis, a tuple of axes, "leaf" or "default" per leaf; got \'rows\'',
        ),
        (
            lambda: gradtx.scale_by_adam_mini(block_axes={"v": 0}).init({"w": jnp.zeros(2)}),
            r"`scale_by_adam_mini\(block_axes=\.\.\.\)` must be a spec or a tree like the params",
        ),
    ],
)
def test_invalid_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_hyperparams_are_in_the_state():
    tx = gradtx.adam_mini(0.5, b1=0.75, b2=0.875, eps=0.25, weight_decay=0.125)
    state = tx.init({"w": jnp.zeros((2, 3)), "frozen": None})
    assert {k: float(v) for k, v in gradtx.hyperparams(state).items()} == {
        "learning_rate": 0.5,
        "b1": 0.75,
        "b2": 0.875,
        "eps": 0.25,
        "weight_decay": 0.125,
    }


def test_tuple_spec_for_tuple_params_is_refused_as_ambiguous():
    # (0, 1) for a pair of leaves could be "axes (0, 1) of every leaf" or "axis 0 of the
    # first, axis 1 of the second": refused, with both unambiguous spellings.
    params = (jnp.zeros((3, 4)), jnp.zeros((5, 6)))
    with pytest.raises(
        ValueError, match=r"block_axes=\(0, 1\)\)` is ambiguous.*\(\(0,\), \(1,\)\)"
    ):
        gradtx.adam_mini_blocks((0, 1), params)
    with pytest.raises(ValueError, match="ambiguous"):
        gradtx.adam_mini(0.1, block_axes=lambda p: (0, 1)).init(params)
    assert gradtx.adam_mini_blocks(((0,), (1,)), params) == ((0,), (1,))
    shared = jax.tree.map(lambda _: (0, 1), params)
    assert gradtx.adam_mini_blocks(shared, params) == ((0, 1), (0, 1))
    # Where the tree is not shaped like the spec, a tuple is one spec for every leaf.
    assert gradtx.adam_mini_blocks((0, 1), {"a": jnp.zeros((2, 3))}) == {"a": (0, 1)}

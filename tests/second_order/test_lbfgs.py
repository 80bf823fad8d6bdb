"""scale_by_lbfgs and lbfgs: the two-loop recursion against a NumPy reference built
from the explicit BFGS inverse update (Nocedal & Wright eq. 7.19), pytrees, complex
parameters, skipped pairs, errors, and optax's documented loop."""

from __future__ import annotations

import contextlib
import io
import pathlib
import re
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx.second_order import lbfgs, scale_by_lbfgs, value_and_grad_from_state


def np_lbfgs_direction(g, pairs, scale_init_precond, first):
    """H_k g with H_k from m explicit BFGS updates of H0 = gamma I (N&W eq. 7.19)."""
    n = g.size
    if first:
        gamma = min(1.0, 1.0 / np.linalg.norm(g)) if scale_init_precond else 1.0
        return gamma * g
    s, y = pairs[-1]
    gamma = (s @ y) / (y @ y) if scale_init_precond else 1.0
    h = gamma * np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (s @ y)
        v = np.eye(n) - rho * np.outer(y, s)
        h = v.T @ h @ v + rho * np.outer(s, s)
    return h @ g


def _quadratic(n, rng):
    m = rng.normal(size=(n, n))
    return m @ m.T + n * np.eye(n), rng.normal(size=n)


@pytest.mark.parametrize("memory_size, scale_init_precond", [(10, True), (3, True), (2, False)])
def test_two_loop_matches_numpy_bfgs_reference(x64, rng, memory_size, scale_init_precond):
    n = 5
    a, b = _quadratic(n, rng)
    tx = scale_by_lbfgs(memory_size, scale_init_precond)
    update = jax.jit(tx.update)
    x = rng.normal(size=n)
    state = tx.init(jnp.asarray(x))
    pairs, prev = [], None
    for k in range(8):
        g = a @ x - b
        if prev is not None:
            pairs = ([*pairs, (x - prev[0], g - prev[1])])[-memory_size:]
        d, state = update(jnp.asarray(g), state, jnp.asarray(x))
        ref = np_lbfgs_direction(g, pairs, scale_init_precond, k == 0)
        np.testing.assert_allclose(np.asarray(d), ref, rtol=1e-9, atol=1e-12)
        prev = (x, g)
        x = x - 0.1 * np.asarray(d) - 0.01 * rng.normal(size=n) * (k % 2)
    assert int(state.count) == 8


def test_pytree_and_complex_equal_the_raveled_real_problem(x64, rng):
    n = 4
    a, b = _quadratic(2 * n, rng)
    tx = scale_by_lbfgs(memory_size=3)
    xs = rng.normal(size=(6, 2 * n))
    real_state = tx.init(jnp.zeros(2 * n))
    tree_state = tx.init({"a": jnp.zeros(n), "b": jnp.zeros((2, n // 2))})
    cplx_state = tx.init(jnp.zeros(n, jnp.complex128))
    update = jax.jit(tx.update)
    for x in xs:
        g = a @ x - b
        d, real_state = update(jnp.asarray(g), real_state, jnp.asarray(x))
        tree = lambda v: {"a": jnp.asarray(v[:n]), "b": jnp.asarray(v[n:]).reshape(2, n // 2)}  # noqa: E731
        dt, tree_state = update(tree(g), tree_state, tree(x))
        cx = lambda v: jnp.asarray(v[:n] + 1j * v[n:])  # noqa: E731
        dc, cplx_state = update(cx(g), cplx_state, cx(x))
        np.testing.assert_allclose(np.concatenate([dt["a"], dt["b"].ravel()]), d, rtol=1e-12)
        np.testing.assert_allclose(np.concatenate([dc.real, dc.imag]), d, rtol=1e-12)
        assert dc.dtype == jnp.complex128
    assert cplx_state.weights_memory.dtype == jnp.float64


def test_pairs_without_positive_curvature_are_skipped(x64):
    tx = scale_by_lbfgs()
    s = tx.init(jnp.zeros(2))
    _, s = tx.update(jnp.array([1.0, 0.0]), s, jnp.zeros(2))
    # s = (1, 0), y = (-2, 1): <s, y> < 0, so the pair is dropped and H = I.
    d, s = tx.update(jnp.array([-1.0, 1.0]), s, jnp.array([1.0, 0.0]))
    assert float(s.weights_memory[0]) == 0.0
    np.testing.assert_allclose(d, [-1.0, 1.0])


def test_state_keeps_structure_and_dtypes():
    tx = lbfgs(linesearch=None, learning_rate=0.1)
    params = {"w": jnp.ones(3, jnp.float32), "c": jnp.ones(2, jnp.complex64)}
    s0, s1 = jax.eval_shape(lambda p: (tx.init(p), tx.update(p, tx.init(p), p)[1]), params)
    spec = lambda s: jax.tree.map(lambda x: (x.shape, x.dtype), s)  # noqa: E731
    assert spec(s0) == spec(s1)
    assert s1[0].count.dtype == jnp.int32
    assert [type(s).__name__ for s in lbfgs().init(params)] == [
        "ScaleByLBFGSState",
        "EmptyState",
        "ScaleByZoomLinesearchState",
    ]


def test_optax_documented_loop_runs_unchanged(x64):
    # optax's documented L-BFGS loop, with the gradtx names in place of optax's.
    optax = types.SimpleNamespace(
        lbfgs=lbfgs,
        value_and_grad_from_state=value_and_grad_from_state,
        apply_updates=gradtx.apply_updates,
        tree=gradtx.tree,
    )

    def f(x):
        return jnp.sum(jnp.arange(1.0, 4.0) * (x - 1.0) ** 2) + 0.25 * jnp.sum(x**4)

    solver = optax.lbfgs()
    params = jnp.array([1.0, 2.0, 3.0])
    opt_state = solver.init(params)
    value_and_grad = optax.value_and_grad_from_state(f)

    @jax.jit
    def step(params, opt_state):
        value, grad = value_and_grad(params, state=opt_state)
        updates, opt_state = solver.update(
            grad, opt_state, params, value=value, grad=grad, value_fn=f
        )
        return optax.apply_updates(params, updates), opt_state

    for _ in range(15):
        params, opt_state = step(params, opt_state)
    grad = optax.tree.get(opt_state, "grad")
    assert float(jnp.linalg.norm(grad)) < 1e-9
    np.testing.assert_allclose(optax.tree.get(opt_state, "value"), f(params), rtol=1e-14)


def test_errors():
    with pytest.raises(ValueError, match=r"scale_by_lbfgs\(memory_size=...\)"):
        scale_by_lbfgs(memory_size=0)
    with pytest.raises(ValueError, match=r"lbfgs\(memory_size=...\)"):
        lbfgs(memory_size=2.5)
    with pytest.raises(ValueError, match=r"lbfgs\(learning_rate=...\)"):
        lbfgs(learning_rate=-1.0)
    tx = scale_by_lbfgs()
    with pytest.raises(ValueError, match="scale_by_lbfgs"):
        tx.update(jnp.ones(2), tx.init(jnp.ones(2)))


def test_guide_page_snippets_run_and_print_what_the_page_says():
    page = pathlib.Path(__file__).resolve().parents[2] / "docs" / "guide" / "lbfgs.md"
    text = page.read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2
    out, namespace = io.StringIO(), {}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - the page's code
    printed = out.getvalue().splitlines()
    assert printed == ["[1. 1.]", "0 2 True"]
    assert "prints `[1. 1.]`" in text and "prints `0 2 True`" in text

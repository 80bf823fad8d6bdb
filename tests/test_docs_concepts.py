"""docs/concepts.md runs, and prints exactly what its ``text`` blocks show.

Each python block on the page that prints is followed by a ```` ```text ```` block with its
output; the test runs the blocks with the shared runner and compares the printed lines with
those blocks, then checks the claims behind them on the objects left in the namespace.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
from _guides import DOCS, run_page

import gradtx

PAGE = DOCS / "concepts.md"


def _shown_output() -> list[str]:
    """The lines of the page's ``text`` blocks, less the first (the protocol's signatures)."""
    blocks = re.findall(r"```text\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert blocks[0].startswith("init(params) -> state")
    return [line for block in blocks[1:] for line in block.splitlines()]


def test_concepts_page_prints_what_it_shows_and_its_claims_hold():
    printed, ns = run_page(PAGE, expected_blocks=13)
    shown = _shown_output()
    assert len(printed) == len(shown) == 24
    sweep = shown.index("['13', '0.057', '0.00042', '0.0017']")
    for i, (got, want) in enumerate(zip(printed, shown, strict=True)):
        if i != sweep:  # the sweep's small losses are checked with a tolerance below
            assert got == want, (i, got, want)

    # The vmapped sweep: the same numbers as separate runs (`tx` is an adam(1e-2) again
    # at the end of the page), and 0.3 wins.
    losses = np.asarray(ns["losses"])
    np.testing.assert_allclose(losses[:2], [12.607, 0.057], rtol=1e-3)
    assert np.argmin(losses) == 2 and losses[2] < 1e-3 and losses[3] < 5e-3
    separate = [float(ns["final_loss"](jnp.float32(r))) for r in (0.01, 0.3)]
    np.testing.assert_allclose(separate, losses[[0, 2]], rtol=1e-4, atol=1e-6)

    # update is pure: the same state twice gives the same updates twice, and is not changed.
    alias, params, grads = ns["alias"], ns["params"], ns["grads"]
    state = alias.init(params)
    before = jax.tree.map(np.asarray, state)
    u1, _ = alias.update(grads, state, params)
    u2, _ = alias.update(grads, state, params)
    assert jax.tree.all(jax.tree.map(np.array_equal, u1, u2))
    assert jax.tree.all(jax.tree.map(np.array_equal, before, jax.tree.map(np.asarray, state)))

    # set_hyperparams three times after the first call, and still one trace.
    assert ns["traces"] == [1]

    # The hand-built chain and the alias agree to float32 rounding, not bit for bit (the
    # alias keeps b2 as a float32 array; the primitive uses the Python float 0.999).
    a, b = ns["a"], ns["b"]
    rel = max(
        float(jnp.max(jnp.abs(x - y) / jnp.abs(y)))
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )
    assert rel < 1e-5

    # The errors are the library's ValueError subclasses, raised at trace time.
    tx = gradtx.adam(learning_rate=1e-2)
    state = tx.init({"w": jnp.ones(2)})
    traced = []

    def update(u, s):
        traced.append(1)
        return tx.update(u, s)

    try:
        jax.jit(update)({"v": jnp.ones(2)}, state)
    except ValueError as e:
        assert "first difference at .mu" in str(e)
    else:
        raise AssertionError("a mismatched state was accepted")
    assert traced == [1]

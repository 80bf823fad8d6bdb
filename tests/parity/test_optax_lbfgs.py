"""gradtx's L-BFGS pieces against optax 0.2.8, float64.

* ``scale_by_lbfgs`` (through ``lbfgs(learning_rate, linesearch=None)``) and
  ``scale_by_backtracking_linesearch`` are the same algorithms: iterates agree to
  rtol 1e-10 over 12 steps, with equal step sizes and evaluation counts.
* ``scale_by_zoom_linesearch`` follows Nocedal & Wright's bracketing/zoom with a
  safeguarded cubic; optax picks its trial steps differently in some brackets (it
  evaluates more points on Rosenbrock), so once a zoom is needed the iterates part
  ways. Where the first trial (t = 1) is accepted at every step the iterates agree to
  1e-10; otherwise the solutions are compared (1e-7).
* Names, signatures' argument names and defaults, and the state fields are optax's;
  the line-search ``info`` adds a ``status`` field at the end.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx
from gradtx import second_order as gso

optax = pytest.importorskip("optax")

RTOL = 1e-10
NAMES = [
    "lbfgs",
    "scale_by_lbfgs",
    "scale_by_zoom_linesearch",
    "scale_by_backtracking_linesearch",
    "value_and_grad_from_state",
]


def quartic(x):
    a = jnp.array([[3.0, 1.0, 0.0], [1.0, 2.0, 0.5], [0.0, 0.5, 1.0]])
    return 0.5 * x @ a @ x - jnp.array([1.0, -2.0, 0.5]) @ x + 0.1 * jnp.sum(x**4)


def rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def trajectory(mod, opt, f, x, steps, with_linesearch=True):
    vg = mod.value_and_grad_from_state(f) if with_linesearch else None

    @jax.jit
    def step(x, state):
        if with_linesearch:
            v, g = vg(x, state=state)
            u, state = opt.update(g, state, x, value=v, grad=g, value_fn=f)
        else:
            u, state = opt.update(jax.grad(f)(x), state, x)
        return x + u, state

    state, out = opt.init(x), []
    for _ in range(steps):
        x, state = step(x, state)
        row = [np.asarray(x)]
        if with_linesearch:
            row += [np.asarray(state[-1].learning_rate), state[-1].info.num_linesearch_steps]
        out.append(row)
    return out


def test_names_signatures_and_state_fields():
    for name in NAMES:
        ours = inspect.signature(getattr(gso, name)).parameters
        theirs = inspect.signature(getattr(optax, name)).parameters
        assert list(ours) == list(theirs), name
        for k, p in theirs.items():
            if k != "linesearch" and p.default is not inspect.Parameter.empty:
                assert ours[k].default == p.default, (name, k)
    for name in ["ScaleByLBFGSState", "ScaleByZoomLinesearchState"]:
        assert getattr(gso, name)._fields == getattr(optax, name)._fields
    assert gso.ScaleByBacktrackingLinesearchState._fields == (
        optax.ScaleByBacktrackingLinesearchState._fields
    )
    assert gso.ZoomLinesearchInfo._fields == (*optax.ZoomLinesearchInfo._fields, "status")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(learning_rate=0.3),
        dict(learning_rate=0.3, memory_size=2, scale_init_precond=False),
    ],
    ids=["defaults", "memory2-noscale"],
)
def test_scale_by_lbfgs_iterates(x64, kwargs):
    x0 = jnp.array([1.0, 1.0, 1.0])
    ours = trajectory(gso, gso.lbfgs(linesearch=None, **kwargs), quartic, x0, 12, False)
    theirs = trajectory(optax, optax.lbfgs(linesearch=None, **kwargs), quartic, x0, 12, False)
    np.testing.assert_allclose([o[0] for o in ours], [t[0] for t in theirs], rtol=RTOL)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(slope_rtol=1e-2, decrease_factor=0.5, increase_factor=2.0, max_learning_rate=2.0),
    ],
    ids=["defaults", "custom"],
)
def test_backtracking_iterates(x64, kwargs):
    x0 = jnp.array([-1.2, 1.0, 0.5])

    def make(mod):
        sgd = (gradtx if mod is gso else optax).sgd(4e-3)
        return (gradtx if mod is gso else optax).chain(
            sgd, mod.scale_by_backtracking_linesearch(30, store_grad=True, **kwargs)
        )

    ours = trajectory(gso, make(gso), rosenbrock, x0, 12)
    theirs = trajectory(optax, make(optax), rosenbrock, x0, 12)
    for o, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(o[0], t[0], rtol=RTOL)
        np.testing.assert_allclose(o[1], t[1], rtol=RTOL)
        assert int(o[2]) == int(t[2])
    assert max(int(t[2]) for t in theirs) > 1  # some steps did backtrack


def test_lbfgs_zoom_iterates_where_the_unit_step_is_accepted(x64):
    x0 = jnp.array([1.0, 1.0, 1.0])
    ours = trajectory(gso, gso.lbfgs(), quartic, x0, 10)
    theirs = trajectory(optax, optax.lbfgs(), quartic, x0, 10)
    assert all(int(t[2]) == 1 for t in theirs)
    np.testing.assert_allclose([o[0] for o in ours], [t[0] for t in theirs], rtol=RTOL)


@pytest.mark.parametrize("f, x0, steps", [(rosenbrock, [-1.2, 1.0, 0.5], 60)], ids=["rosen"])
def test_lbfgs_zoom_solutions(x64, f, x0, steps):
    x0 = jnp.asarray(x0)
    ours = trajectory(gso, gso.lbfgs(memory_size=5), f, x0, steps)[-1][0]
    theirs = trajectory(optax, optax.lbfgs(memory_size=5), f, x0, steps)[-1][0]
    np.testing.assert_allclose(ours, theirs, rtol=1e-7)
    np.testing.assert_allclose(ours, np.ones(3), rtol=1e-7)

"""Shared inputs and comparison helpers for the parity tests.

Every parity test feeds the same deterministic gradient sequence to gradtx and to a
reference library (optax or torch.optim) and compares the parameter trajectories step by
step, in float64. The inputs are plain NumPy float64 arrays, so that they are converted to
JAX arrays only once float64 is enabled (see :func:`x64`).

Two error measures, both relative and per leaf (a matrix, a vector and a scalar):

* :func:`params_error`: the parameters after every step, relative to the leaf's largest
  value along the trajectory (the ``rtol`` of ``assert_allclose`` on the parameters,
  without the blow-up of a parameter that passes near zero). This is the issue's
  criterion, used at rtol 1e-6;
* the steps ``theta_t - theta_{t-1}``, each relative to its own largest entry
  (:func:`sequence_error` of :func:`step_sequence`). The steps are far smaller than the
  parameters, so this catches any formula difference; used with the 1e-10 regimes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

N_STEPS = 10
SHAPES = {"w": (3, 4), "b": (4,), "s": ()}

# Hyperparameters that are exactly representable in float32, so that gradtx's float32
# storage of hyperparameters loses nothing and any remaining difference is a formula or
# precision difference.
EXACT = {
    "lr": 0.125,
    "b1": 0.875,
    "b2": 0.9990234375,  # 1 - 2**-10
    "eps": 2.0**-27,  # ~7.45e-9
    "decay": 0.875,
    "momentum": 0.875,
    "wd": 2.0**-7,
}


@contextlib.contextmanager
def x64() -> Iterator[None]:
    """Enable float64 in JAX for the duration, restoring the previous setting."""
    old = bool(jax.config.read("jax_enable_x64"))
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", old)


class Data(tuple):
    """``(params, grads)`` with a short repr (pytest prints test arguments on failure)."""

    def __repr__(self) -> str:
        return f"Data(params with leaves {list(self[0])}, {len(self[1])} gradient steps)"


def standard_data(n_steps: int = N_STEPS) -> Data:
    """The standard inputs: :func:`initial_params` and :func:`gradient_sequence`."""
    return Data((initial_params(), gradient_sequence(n_steps)))


def initial_params(seed: int = 0) -> dict[str, np.ndarray]:
    """A small parameter tree: a matrix, a vector and a scalar, all O(1), float64."""
    rng = np.random.default_rng(seed)
    return {k: np.asarray(rng.normal(size=shape) + 0.5, np.float64) for k, shape in SHAPES.items()}


def gradient_sequence(n_steps: int = N_STEPS, seed: int = 1) -> list[dict[str, np.ndarray]]:
    """``n_steps`` gradient trees that vary in sign and scale (1e-2 .. 1e1), float64.

    Each step has its own overall scale, and each leaf its own extra factor, so that
    gradients grow and shrink over time and between leaves (which exercises the running
    maxima of AMSGrad and Adamax and the rectification switch of RAdam). Signs are
    random, so every entry changes sign during the sequence.
    """
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_steps):
        step_scale = 10.0 ** rng.uniform(-2.0, 1.0)
        step = {}
        for k, shape in SHAPES.items():
            leaf_scale = 10.0 ** rng.uniform(-0.5, 0.5)
            step[k] = np.asarray(rng.normal(size=shape) * step_scale * leaf_scale, np.float64)
        out.append(step)
    return out


def complex_gradient_sequence(n_steps: int = N_STEPS, seed: int = 2) -> list[dict[str, np.ndarray]]:
    """Like :func:`gradient_sequence`, with complex128 leaves."""
    re, im = gradient_sequence(n_steps, seed), gradient_sequence(n_steps, seed + 100)
    pairs = zip(re, im, strict=True)
    return [{k: (r[k] + 1j * i[k]).astype(np.complex128) for k in r} for r, i in pairs]


def to_jax(tree: Any) -> Any:
    """NumPy leaves to JAX arrays (call inside :func:`x64` to keep float64)."""
    return jax.tree.map(jnp.asarray, tree)


def to_numpy(tree: Any) -> Any:
    return jax.tree.map(lambda x: np.array(x, copy=True), tree)


def _check_update_dtypes(updates: Any, grads: Any, what: str) -> None:
    for u, g in zip(jax.tree.leaves(updates), jax.tree.leaves(grads), strict=True):
        assert jnp.result_type(u) == jnp.result_type(g), (
            f"{what}: the update has dtype {jnp.result_type(u)}, the gradient "
            f"{jnp.result_type(g)}; updates must keep the gradients' dtype"
        )


def run_optax_like(
    tx: Any,
    params: dict[str, np.ndarray],
    grads: Sequence[dict[str, np.ndarray]],
    apply: Callable[[Any, Any], Any] | None = None,
    what: str = "transform",
) -> list[dict[str, np.ndarray]]:
    """Run an ``(init, update)`` transformation; return the parameters after every step.

    ``apply(params, updates)`` defaults to a plain leafwise sum, so that the comparison is
    of the transformations and not of the libraries' ``apply_updates``.
    """
    apply = apply or (lambda p, u: jax.tree.map(lambda a, b: a + b, p, u))
    p = to_jax(params)
    state = tx.init(p)
    traj = [to_numpy(p)]
    for g in grads:
        g = to_jax(g)
        updates, state = tx.update(g, state, p)
        _check_update_dtypes(updates, g, what)
        p = apply(p, updates)
        traj.append(to_numpy(p))
    return traj


def run_updates(
    tx: Any, params: dict[str, np.ndarray], grads: Sequence[dict[str, np.ndarray]]
) -> list[dict[str, np.ndarray]]:
    """Run a transformation with fixed params; return its output updates at every step."""
    p = to_jax(params)
    state = tx.init(p)
    out = []
    for g in grads:
        g = to_jax(g)
        updates, state = tx.update(g, state, p)
        _check_update_dtypes(updates, g, "transform")
        out.append(to_numpy(updates))
    return out


def run_torch(
    optimizer_cls: Any,
    params: dict[str, np.ndarray],
    grads: Sequence[dict[str, np.ndarray]],
    **kwargs: Any,
) -> list[dict[str, np.ndarray]]:
    """Run a torch.optim optimizer in float64; return the parameters after every step.

    torch keeps some scalar state in its default dtype whatever the parameters' dtype
    (NAdam's ``mu_product`` is float32 by default, which moves NAdam's float64 path by
    ~1e-8); the default dtype is float64 during the run so the reference is float64
    throughout.
    """
    import torch

    old_default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        tparams = {
            k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()
        }
        opt = optimizer_cls(list(tparams.values()), **kwargs)
        traj = [{k: v.copy() for k, v in params.items()}]
        for g in grads:
            for k, p in tparams.items():
                p.grad = torch.tensor(g[k], dtype=torch.float64)
            opt.step()
            traj.append({k: p.detach().numpy().copy() for k, p in tparams.items()})
    finally:
        torch.set_default_dtype(old_default)
    return traj


def _rel(got: np.ndarray, want: np.ndarray, scale: float | None = None) -> float:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    if not (np.all(np.isfinite(got)) and np.all(np.isfinite(want))):
        return float("inf")  # a NaN would otherwise vanish in max()
    diff = float(np.max(np.abs(got - want), initial=0.0))
    if scale is None:
        scale = float(np.max(np.abs(want), initial=0.0))
    if scale == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / scale


def sequence_error(got: Sequence[Any], want: Sequence[Any]) -> float:
    """Largest normwise relative error over the items and leaves of two tree sequences.

    Each tree of ``got`` is compared with the matching one of ``want``, leaf by leaf, as
    ``max|got - want| / max|want|`` (so an item that happens to be tiny counts fully).
    """
    assert len(got) == len(want), (len(got), len(want))
    worst = 0.0
    for g, w in zip(got, want, strict=True):
        assert jax.tree.structure(g) == jax.tree.structure(w)
        for a, b in zip(jax.tree.leaves(g), jax.tree.leaves(w), strict=True):
            worst = max(worst, _rel(a, b))
    return worst


def params_error(got: Sequence[Any], want: Sequence[Any]) -> float:
    """Largest error of the parameters, relative to each leaf's largest value on the path.

    Per leaf, ``max_t max|got_t - want_t| / max_t max|want_t|``: the ``rtol`` of
    ``assert_allclose`` on the parameters, without the blow-up of a parameter that
    happens to pass near zero.
    """
    assert len(got) == len(want), (len(got), len(want))
    worst = 0.0
    for k in want[0]:
        scale = max(float(np.max(np.abs(w[k]), initial=0.0)) for w in want)
        for g, w in zip(got, want, strict=True):
            worst = max(worst, _rel(g[k], w[k], scale))
    return worst


def step_sequence(traj: Sequence[Any]) -> list[Any]:
    """The steps ``theta_t - theta_{t-1}`` of a trajectory."""
    return [jax.tree.map(lambda a, b: b - a, traj[i], traj[i + 1]) for i in range(len(traj) - 1)]


def trajectory_error(got: Sequence[Any], want: Sequence[Any], steps: bool = True) -> float:
    """:func:`params_error`, or (``steps``) the larger of it and the steps' error."""
    err = params_error(got, want)
    if steps:
        err = max(err, sequence_error(step_sequence(got), step_sequence(want)))
    return err


def assert_trajectories_close(
    got: Sequence[Any], want: Sequence[Any], rtol: float, steps: bool = True
) -> float:
    """Assert that two parameter trajectories agree to ``rtol``; return the error.

    With ``steps=False`` only the parameters are compared (the issue's criterion);
    with ``steps=True`` the steps too, which is much stricter.
    """
    __tracebackhide__ = True
    assert len(got) == len(want)
    err = trajectory_error(got, want, steps)
    what = "parameters and steps" if steps else "parameters"
    assert err <= rtol, f"max relative error of the {what} {err:.3e} > rtol {rtol:.0e}"
    # A reference that does not move would make the comparison vacuous.
    for k in want[0]:
        assert np.max(np.abs(want[-1][k] - want[0][k])) > 1e-3, f"leaf {k!r} hardly moves"
    return err


def assert_sequences_close(got: Sequence[Any], want: Sequence[Any], rtol: float) -> float:
    """Assert that two sequences of update trees agree to ``rtol``; return the error."""
    __tracebackhide__ = True
    err = sequence_error(got, want)
    assert err <= rtol, f"max relative error {err:.3e} > rtol {rtol:.0e}"
    return err

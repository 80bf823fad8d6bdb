"""The problem zoo: test functions with known minimizers, each with its source.

Losses are written with ``jax.numpy`` on pytrees of parameters, so they run under
``jax.jit`` and ``jax.grad``; the initial points and minimizers are NumPy trees.

The second half holds what the reference tests run on: a nested pytree of parameters
(dicts, lists, tuples, scalar and ``None`` leaves) with a seeded stream of gradients,
a loop that feeds them to a gradtx transformation, and the comparison with a NumPy
reference (``tests/_reference.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Problem",
    "assert_close_to_reference",
    "gradient_stream",
    "ill_conditioned_quadratic",
    "leaves",
    "nested_params",
    "quadratic",
    "rosenbrock",
    "run_gradtx",
    "same_structure",
]


class Problem(NamedTuple):
    """A test function: ``loss(params)``, where to start, and where its minimum is."""

    name: str
    loss: Callable[[Any], jax.Array]
    init: Any
    minimizer: Any
    min_value: float
    source: str


def _diag_quadratic(
    name: str, curvature: dict[str, np.ndarray], center: dict[str, np.ndarray], source: str
) -> Problem:
    h = {k: np.asarray(v, np.float32) for k, v in curvature.items()}
    c = {k: np.asarray(v, np.float32) for k, v in center.items()}

    def loss(params: dict[str, Any]) -> jax.Array:
        return sum(0.5 * jnp.sum(h[k] * (params[k] - c[k]) ** 2) for k in sorted(h))

    init = {k: np.zeros_like(v) for k, v in c.items()}
    return Problem(name, loss, init, c, 0.0, source)


def quadratic() -> Problem:
    """A convex quadratic :math:`\\tfrac12\\sum_i h_i(\\theta_i - \\theta^*_i)^2` on a tree.

    Parameters ``{"w": (4,), "b": ()}``, curvatures 1 to 10 (condition number 10),
    minimum 0 at ``minimizer``, start at 0. Gradient descent with step :math:`\\alpha <
    2/h_{max}` converges linearly at rate :math:`\\max_i|1-\\alpha h_i|`.

    Source: Nocedal & Wright, "Numerical Optimization", 2nd ed., Springer 2006,
    section 3.3 (convergence of steepest descent on quadratics).
    """
    return _diag_quadratic(
        "quadratic",
        {"w": [1.0, 2.0, 5.0, 10.0], "b": 3.0},
        {"w": [1.0, -2.0, 0.5, 3.0], "b": -1.0},
        "Nocedal & Wright 2006, Numerical Optimization, section 3.3",
    )


def ill_conditioned_quadratic(dim: int = 6, condition: float = 1e3) -> Problem:
    """The quadratic with curvatures spread log-uniformly over ``[1, condition]``.

    Steepest descent at its largest stable step converges at rate
    :math:`(\\kappa-1)/(\\kappa+1)` per step (Nocedal & Wright 2006, theorem 3.3); the
    course notes' lesson, "steep directions need small steps and flat ones large steps",
    is what per-parameter scaling (RMSProp, Adam) fixes here.

    Source: Nocedal & Wright, "Numerical Optimization", 2nd ed., Springer 2006,
    section 3.3, theorem 3.3.
    """
    h = np.logspace(0.0, np.log10(condition), dim)
    center = np.linspace(-1.0, 1.0, dim)
    return _diag_quadratic(
        "ill_conditioned_quadratic",
        {"w": h},
        {"w": center},
        "Nocedal & Wright 2006, Numerical Optimization, section 3.3, theorem 3.3",
    )


def rosenbrock(a: float = 1.0, b: float = 100.0) -> Problem:
    """Rosenbrock's banana valley :math:`(a-x)^2 + b(y-x^2)^2`, minimum 0 at :math:`(a, a^2)`.

    Parameters a ``(2,)`` array started at the classic :math:`(-1.2, 1)`.

    Sources: H. H. Rosenbrock, "An automatic method for finding the greatest or least
    value of a function", The Computer Journal 3(3):175-184, 1960; the starting point is
    problem 1 of J. J. Moré, B. S. Garbow & K. E. Hillstrom, "Testing Unconstrained
    Optimization Software", ACM Transactions on Mathematical Software 7(1):17-41, 1981.
    """

    def loss(p: jax.Array) -> jax.Array:
        return (a - p[0]) ** 2 + b * (p[1] - p[0] ** 2) ** 2

    return Problem(
        "rosenbrock",
        loss,
        np.array([-1.2, 1.0], np.float32),
        np.array([a, a * a], np.float32),
        0.0,
        "Rosenbrock 1960; Moré, Garbow & Hillstrom 1981, problem 1",
    )


# ---------------------------------------------------------------------------------------
# A nested tree of parameters and a stream of gradients for the reference tests.

_is_none = lambda x: x is None  # noqa: E731 - tiny predicate


def conformance_loss(params: Any) -> Callable[[Any], jax.Array]:
    """The loss of the conformance problem that ``params`` belong to, as a function.

    The quadratic's tree (``{"w": (4,), "b": ...}``) and Rosenbrock's (2,) array get
    their problem's loss; any other tree (the property and dtype tests pass any) gets a
    stand-in, ``1 + |params|^2 / 2``, computed in at least float32 (bfloat16 leaves) and
    in float64 for float64 leaves (a float32 loss rounds differently under jit and
    eagerly, and a float64 test would see that float32 noise).
    """
    # Only arrays have a shape to look at: a property test's ``w`` may be a list.
    w = params.get("w") if isinstance(params, dict) else None
    if isinstance(w, jax.Array | np.ndarray) and jnp.shape(w) == (4,) and "b" in params:
        return quadratic().loss
    if isinstance(params, jax.Array | np.ndarray) and jnp.shape(params) == (2,):
        return rosenbrock().loss

    def stand_in(p: Any) -> jax.Array:
        wide = [x.astype(jnp.promote_types(x.dtype, jnp.float32)) for x in jax.tree.leaves(p)]
        return 1.0 + 0.5 * sum(jnp.sum(jnp.square(x)) for x in wide)

    return stand_in


def nested_params(rng: np.random.Generator, dtype: Any) -> dict[str, Any]:
    """Parameters in a dict holding a list holding a tuple, with a scalar and a ``None``.

    Leaves, in ``jax.tree.leaves`` order: ``b[0]`` (3,), ``b[1][0]`` (), ``w`` (2, 3);
    ``b[1][1]`` is ``None``.
    """
    dtype = jnp.dtype(dtype)

    def arr(*shape: int) -> jax.Array:
        return jnp.asarray(rng.normal(size=shape).astype(dtype))

    return {"w": arr(2, 3), "b": [arr(3), (arr(), None)]}


def gradient_stream(rng: np.random.Generator, params: Any, steps: int) -> list[Any]:
    """``steps`` gradient trees shaped like ``params``, ``None`` where it is ``None``.

    Each step is a standard normal draw times a per-step scale in [0.1, 3], so moment
    estimates rise and fall (AMSGrad's and Adamax's maxima are exercised both ways).
    """
    scales = rng.uniform(0.1, 3.0, size=steps)

    def draw(scale: float) -> Any:
        return jax.tree.map(
            lambda p: (
                None
                if p is None
                else jnp.asarray((scale * rng.normal(size=np.shape(p))).astype(p.dtype))
            ),
            params,
            is_leaf=_is_none,
        )

    return [draw(float(s)) for s in scales]


def leaves(tree: Any) -> list[np.ndarray]:
    """The non-``None`` leaves of ``tree`` as float64 NumPy arrays, in tree order."""
    return [np.asarray(x, np.float64) for x in jax.tree.leaves(tree)]


def same_structure(a: Any, b: Any) -> bool:
    """Whether two trees have the same structure, ``None`` leaves included."""
    return jax.tree.structure(a, is_leaf=_is_none) == jax.tree.structure(b, is_leaf=_is_none)


def run_gradtx(tx: Any, params: Any, grads: Sequence[Any], **extra_args: Any) -> list[Any]:
    """Run ``tx`` eagerly over ``grads``, applying each update to the params.

    Checks at every step that the updates keep the gradients' tree (``None`` leaves
    included) and dtypes, then returns the updates.
    """
    import gradtx

    state = tx.init(params)
    out = []
    for g in grads:
        u, state = tx.update(g, state, params, **extra_args)
        assert same_structure(u, g), (jax.tree.structure(u), jax.tree.structure(g))
        for x, y in zip(jax.tree.leaves(u), jax.tree.leaves(g), strict=True):
            assert jnp.result_type(x) == jnp.result_type(y), (x.dtype, y.dtype)
        params = gradtx.apply_updates(params, u)
        out.append(u)
    return out


def assert_close_to_reference(
    got: Sequence[Any], want: Sequence[Sequence[np.ndarray]], rtol: float, atol: float | None = None
) -> None:
    """Compare gradtx's updates (trees) with a reference's (leaf lists), step by step.

    ``atol`` defaults to ``rtol`` times the largest reference value, so entries that
    happen to be near zero are judged on the scale of the update, not their own.
    """
    assert len(got) == len(want)
    if atol is None:
        atol = rtol * max(float(np.max(np.abs(x), initial=0.0)) for w in want for x in w)
    for t, (g, w) in enumerate(zip(got, want, strict=True)):
        g_leaves = leaves(g)
        assert len(g_leaves) == len(w)
        for i, (x, y) in enumerate(zip(g_leaves, w, strict=True)):
            np.testing.assert_allclose(
                x, y, rtol=rtol, atol=atol, err_msg=f"step {t + 1}, leaf {i}"
            )

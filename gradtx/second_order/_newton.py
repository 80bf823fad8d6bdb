"""Newton's method: the exact (dense) step and the Hessian-free Newton-CG step.

Both are gradient transformations whose ``update`` needs the objective as the keyword
extra argument ``value_fn=`` (a function of the parameters alone), and takes ``value=``
(the objective at ``params``) when the caller has it, to save one evaluation in the line
search. The gradient is the ``updates`` argument, as everywhere in gradtx.
Parameters must be real (float32, float64, bfloat16 leaves; the dense solve runs in at
least float32); complex parameters raise ``TypeError``.

Line searches. ``linesearch=None`` takes the step as given (scaled by the learning
rate). ``linesearch="armijo"`` backtracks from the learning rate: it multiplies the step
by the first :math:`t \\in \\{1, \\tfrac12, \\tfrac14, \\dots\\}` (at most 30 halvings) with

.. math::

   f(\\theta + t u) \\le f(\\theta) + 10^{-4}\\, t\\, \\langle \\nabla f(\\theta), u \\rangle,

and takes :math:`t = 0` (no move, recorded in the state) when none qualifies; a trial
value that is NaN never qualifies, so the parameters never become NaN through the line
search. With any line search, a step that is not a descent direction
(:math:`\langle g, u\rangle \ge 0`, from indefinite curvature) is first replaced by
the steepest-descent step :math:`u = -\alpha g`. Any callable
``linesearch(value_fn, params, updates, value, grad) -> t`` (a scalar) may be passed
instead; it is static (part of the program, not of the state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from gradtx._checks import check_nonnegative, check_schedule_or_nonnegative
from gradtx.base import GradientTransformationExtraArgs, Params, ScalarOrSchedule, Updates
from gradtx.optimizers._alias import build_optimizer
from gradtx.second_order._oracles import hessian

__all__ = ["NewtonCGState", "NewtonState", "newton", "newton_cg"]

LineSearch = Callable[..., jax.Array]
ARMIJO_C1 = 1e-4
ARMIJO_FACTOR = 0.5
ARMIJO_MAX_STEPS = 30


class NewtonState(NamedTuple):
    """State of :func:`newton` (inside the optimizer's hyperparameter state).

    Attributes:
      step_size: float32, the factor the line search applied to the last step
        (1 without a line search; 0 when the line search found no acceptable step).
    """

    step_size: jax.Array


class NewtonCGState(NamedTuple):
    """State of :func:`newton_cg` (inside the optimizer's hyperparameter state).

    Attributes:
      step_size: float32, the factor the line search applied to the last step
        (1 without a line search; 0 when it found no acceptable step).
      num_cg_steps: int32, conjugate-gradient iterations the last step took.
      negative_curvature: bool, whether the last CG run stopped at a direction of
        non-positive curvature of :math:`H + \\lambda I`.
    """

    step_size: jax.Array
    num_cg_steps: jax.Array
    negative_curvature: jax.Array


def _vdot(a: Any, b: Any) -> jax.Array:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    parts = [jnp.vdot(x, y).real for x, y in pairs]
    return sum(parts[1:], parts[0]) if parts else jnp.zeros([])


def _axpy(alpha: jax.Array, x: Any, y: Any) -> Any:
    """``alpha * x + y``, leafwise, in the dtype of ``y``."""
    return jax.tree.map(lambda xi, yi: (alpha * xi + yi).astype(yi.dtype), x, y)


def _armijo(value_fn, params, updates, value, grad) -> jax.Array:
    """Backtracking (Armijo) step factor; 0 when none is acceptable (see the module doc)."""
    slope = _vdot(grad, updates)
    value = jnp.asarray(value)

    def accept(t):
        trial = value_fn(_axpy(t, updates, params))
        return trial <= value + ARMIJO_C1 * t * slope  # False for a NaN trial

    def cond(carry):
        _, k, ok = carry
        return (~ok) & (k < ARMIJO_MAX_STEPS)

    def body(carry):
        t, k, _ = carry
        t = t * ARMIJO_FACTOR
        return t, k + 1, accept(t)

    one = jnp.ones([], value.dtype)
    t, _, ok = jax.lax.while_loop(cond, body, (one, jnp.zeros([], jnp.int32), accept(one)))
    return jnp.where(ok & (slope < 0), t, jnp.zeros_like(t))


def _resolve_linesearch(fn: str, linesearch: Any) -> LineSearch | None:
    if linesearch is None or callable(linesearch):
        return linesearch
    if linesearch == "armijo":
        return _armijo
    raise ValueError(
        f"`{fn}(linesearch=...)` must be None, 'armijo' or a callable "
        f"linesearch(value_fn, params, updates, value, grad) -> step factor; got {linesearch!r}."
    )


def _require(fn: str, params: Params | None, value_fn: Any) -> None:
    if value_fn is None or not callable(value_fn):
        raise ValueError(
            f"`{fn}` needs the objective: call update(grads, state, params, value_fn=f) "
            f"with f(params) -> scalar; got value_fn={value_fn!r}."
        )
    if params is None:
        raise ValueError(f"`{fn}` needs the current parameters: update(grads, state, params, ...).")
    complex_leaves = [x for x in jax.tree.leaves(params) if jnp.iscomplexobj(x)]
    if complex_leaves:
        raise TypeError(
            f"`{fn}` needs real parameters (the Hessian of a real objective of complex "
            f"inputs is not complex-linear); got dtype {complex_leaves[0].dtype}. Optimize "
            "the real and imaginary parts as separate real leaves."
        )


def _step(learning_rate, direction, grads, params, value_fn, value, linesearch):
    """``-learning_rate * t * direction`` in the gradients' dtypes, and the factor ``t``."""
    updates = jax.tree.map(lambda d, g: (-learning_rate * d).astype(g.dtype), direction, grads)
    if linesearch is None:
        return updates, jnp.ones([], jnp.float32)
    if value is None:
        value = value_fn(params)
    # Not a descent direction (indefinite curvature): fall back to steepest descent.
    descent = _vdot(grads, updates) < 0
    updates = jax.tree.map(
        lambda u, g: jnp.where(descent, u, (-learning_rate * g).astype(g.dtype)), updates, grads
    )
    t = linesearch(value_fn, params, updates, value, grads)
    updates = jax.tree.map(lambda u: (t * u).astype(u.dtype), updates)
    return updates, jnp.asarray(t, jnp.float32)


def _count(params: Params) -> int:
    return int(sum(np.size(x) for x in jax.tree.leaves(params)))


def _newton_build(learning_rate, damping, *, linesearch, max_params):
    def check_size(params: Params) -> None:
        n = _count(params)
        if n > max_params:
            raise ValueError(
                f"`newton` forms a dense {n} x {n} Hessian, but the parameters have "
                f"n={n} entries > max_params={max_params}. Use "
                "gradtx.second_order.newton_cg (Hessian-free) or raise max_params."
            )

    def init_fn(params: Params) -> NewtonState:
        check_size(params)
        return NewtonState(step_size=jnp.ones([], jnp.float32))

    def update_fn(
        updates: Updates,
        state: NewtonState,
        params: Params | None = None,
        *,
        value_fn: Callable[[Params], jax.Array] | None = None,
        value: jax.Array | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, NewtonState]:
        del extra_args
        _require("newton", params, value_fn)
        check_size(params)
        flat_g, unravel = ravel_pytree(updates)
        h = hessian(value_fn, params)
        h = h.astype(jnp.promote_types(h.dtype, jnp.float32))  # no LU in bfloat16
        eye = jnp.eye(h.shape[0], dtype=h.dtype)
        flat_d = jnp.linalg.solve(h + damping * eye, flat_g.astype(h.dtype))
        direction = unravel(flat_d.astype(flat_g.dtype))
        out, t = _step(learning_rate, direction, updates, params, value_fn, value, linesearch)
        return out, NewtonState(step_size=t)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def newton(
    learning_rate: ScalarOrSchedule = 1.0,
    damping: jax.typing.ArrayLike = 0.0,
    *,
    linesearch: str | LineSearch | None = None,
    max_params: int = 10_000,
) -> GradientTransformationExtraArgs:
    """Newton's method: the step :math:`-(H + \\lambda I)^{-1} g` by a dense solve.

    .. math::

       \\theta_{t+1} = \\theta_t - \\alpha\\, s_t\\,
       (\\nabla^2 f(\\theta_t) + \\lambda I)^{-1} \\nabla f(\\theta_t)

    with :math:`\\alpha` the learning rate and :math:`s_t` the line-search factor (1
    without one). The Hessian of ``value_fn`` is formed densely over the raveled
    parameters (:func:`gradtx.second_order.hessian`) and the system solved by LU, so a
    step costs :math:`O(n^2)` memory and :math:`O(n^3)` time; ``max_params`` guards
    against forming it by accident. On a strictly convex quadratic one step with
    ``learning_rate=1, damping=0`` lands on the minimizer; near a minimizer with a
    positive-definite Lipschitz Hessian, convergence is quadratic. An indefinite or
    singular :math:`H + \\lambda I` gives a non-descent or non-finite step: add
    ``damping`` or use ``linesearch="armijo"`` (which then falls back to steepest
    descent for that step).

    ``update(grads, state, params, *, value_fn, value=None)``: ``value_fn(params)`` is
    the objective (required); ``value`` its value at ``params`` (optional, saves one
    evaluation in the line search). See the module notes for the line searches.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule (1 is Newton's step).
      damping: :math:`\\lambda >= 0`, Levenberg-style damping added to the diagonal.
      linesearch: ``None``, ``"armijo"`` (backtracking from the full step) or a
        callable ``linesearch(value_fn, params, updates, value, grad) -> factor``.
      max_params: the largest parameter count for which the dense Hessian is formed.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate`` and ``damping``;
      its inner :class:`NewtonState` records the line-search factor.

    Reference: Nocedal & Wright 2006, "Numerical Optimization" (2nd ed.), Springer,
    Sections 3.3 (Newton's method, Theorem 3.5) and 3.4 (modified Newton).

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> from gradtx.second_order import newton
      >>> f = lambda x: 0.5 * (3.0 * x[0] ** 2 + x[1] ** 2) - x[0] - x[1]
      >>> x = jnp.zeros(2)
      >>> tx = newton()
      >>> u, state = tx.update(jax.grad(f)(x), tx.init(x), x, value_fn=f)
      >>> gradtx.apply_updates(x, u)  # the minimizer (1/3, 1), in one step
      Array([0.33333334, 1.        ], dtype=float32)
    """
    check_schedule_or_nonnegative("newton", "learning_rate", learning_rate)
    check_nonnegative("newton", "damping", damping)
    if isinstance(max_params, bool) or not isinstance(max_params, int) or max_params < 1:
        raise ValueError(f"`newton(max_params=...)` must be a Python int >= 1; got {max_params=}.")
    return build_optimizer(
        "newton",
        _newton_build,
        dict(learning_rate=learning_rate, damping=damping),
        linesearch=_resolve_linesearch("newton", linesearch),
        max_params=max_params,
    )


def _cg(matvec, g, damping, maxiter, tol):
    """Truncated CG for ``(A + damping I) d = g``; stops at the first ``p'Ap <= 0``."""
    g_norm = jnp.sqrt(_vdot(g, g))
    if tol is None:
        threshold = jnp.minimum(0.5, jnp.sqrt(g_norm)) * g_norm
    else:
        threshold = tol * g_norm
    zero = jnp.zeros([], jnp.int32)
    d0 = jax.tree.map(jnp.zeros_like, g)
    rs0 = _vdot(g, g)

    def cond(carry):
        _, _, _, rs, k, stop, _ = carry
        return (~stop) & (k < maxiter) & (jnp.sqrt(rs) > threshold)

    def body(carry):
        d, r, p, rs, k, _, _ = carry
        ap = _axpy(damping, p, matvec(p))
        curv = _vdot(p, ap)
        negative = ~(curv > 0)  # also catches NaN curvature
        alpha = jnp.where(negative, 0.0, rs / jnp.where(negative, 1.0, curv))
        d_new = _axpy(alpha, p, d)
        r_new = _axpy(-alpha, ap, r)
        rs_new = _vdot(r_new, r_new)
        beta = rs_new / jnp.where(rs > 0, rs, 1.0)
        p_new = _axpy(beta, p, r_new)
        # On negative curvature keep the current iterate (or -g, as d = g, at k = 0).
        d_kept = jax.tree.map(lambda di, gi: jnp.where(k == 0, gi, di), d, g)
        pick = lambda new, old: jax.tree.map(lambda x, y: jnp.where(negative, y, x), new, old)  # noqa: E731
        return (
            pick(d_new, d_kept),
            pick(r_new, r),
            pick(p_new, p),
            jnp.where(negative, rs, rs_new),
            jnp.where(negative, k, k + 1),
            negative,
            negative,
        )

    carry = (d0, g, g, rs0, zero, jnp.zeros([], bool), jnp.zeros([], bool))
    d, _, _, _, k, _, negative = jax.lax.while_loop(cond, body, carry)
    return d, k, negative


def _newton_cg_build(learning_rate, damping, *, maxiter, tol, linesearch):
    def init_fn(params: Params) -> NewtonCGState:
        del params
        return NewtonCGState(
            step_size=jnp.ones([], jnp.float32),
            num_cg_steps=jnp.zeros([], jnp.int32),
            negative_curvature=jnp.zeros([], bool),
        )

    def update_fn(
        updates: Updates,
        state: NewtonCGState,
        params: Params | None = None,
        *,
        value_fn: Callable[[Params], jax.Array] | None = None,
        value: jax.Array | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, NewtonCGState]:
        del extra_args, state
        _require("newton_cg", params, value_fn)
        # Linearize the gradient once; each CG iteration is then one JVP (an HVP).
        _, matvec = jax.linearize(jax.grad(value_fn), params)
        g = jax.tree.map(lambda gi, p: gi.astype(jnp.result_type(p)), updates, params)
        limit = _count(params) if maxiter is None else maxiter
        direction, k, negative = _cg(matvec, g, damping, limit, tol)
        out, t = _step(learning_rate, direction, updates, params, value_fn, value, linesearch)
        return out, NewtonCGState(step_size=t, num_cg_steps=k, negative_curvature=negative)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def newton_cg(
    learning_rate: ScalarOrSchedule = 1.0,
    damping: jax.typing.ArrayLike = 0.0,
    maxiter: int | None = None,
    tol: float | None = None,
    *,
    linesearch: str | LineSearch | None = None,
) -> GradientTransformationExtraArgs:
    """Hessian-free Newton: solve :math:`(H + \\lambda I) d = g` by truncated CG on HVPs.

    .. math::

       \\theta_{t+1} = \\theta_t - \\alpha\\, s_t\\, d_t, \\qquad
       d_t \\approx (\\nabla^2 f(\\theta_t) + \\lambda I)^{-1} \\nabla f(\\theta_t)

    :math:`d_t` comes from conjugate gradients started at 0, each iteration one
    Hessian-vector product (forward-over-reverse, the gradient linearized once per step),
    in a ``lax.while_loop`` over the parameter pytree: memory is a few copies of the
    parameters, so it runs on networks with millions of parameters. CG stops when

    * the residual satisfies :math:`\\lVert r_k\\rVert \\le \\eta \\lVert g\\rVert`, with
      :math:`\\eta` = ``tol``, or, for ``tol=None``, the forcing term
      :math:`\\eta = \\min(0.5, \\sqrt{\\lVert g\\rVert})` (superlinear convergence,
      Nocedal & Wright Algorithm 7.1);
    * ``maxiter`` iterations are done (``None``: the parameter count, where exact CG
      terminates);
    * a search direction :math:`p` has :math:`p^\\top (H + \\lambda I) p \\le 0`: CG
      returns its current iterate, or :math:`g` itself (a steepest-descent step) when
      this happens at the first iteration.

    ``update(grads, state, params, *, value_fn, value=None)`` as for :func:`newton`.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      damping: :math:`\\lambda >= 0`, added to the Hessian's diagonal.
      maxiter: the most CG iterations per step, a Python int >= 1, or ``None``.
      tol: the relative residual tolerance :math:`\\eta > 0`, or ``None`` for the forcing
        term above (static: part of the program, not of the state).
      linesearch: ``None``, ``"armijo"`` or a callable, as for :func:`newton`.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate`` and ``damping``;
      its inner :class:`NewtonCGState` records the CG iterations and the line search.

    Reference: Martens 2010, "Deep learning via Hessian-free optimization", ICML;
    Nocedal & Wright 2006, "Numerical Optimization" (2nd ed.), Section 7.1.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> from gradtx.second_order import newton_cg
      >>> f = lambda p: 0.5 * (3.0 * p["a"] ** 2 + p["b"] ** 2) - p["a"] - p["b"]
      >>> p = {"a": jnp.array(0.0), "b": jnp.array(0.0)}
      >>> tx = newton_cg(tol=1e-6)
      >>> u, state = tx.update(jax.grad(f)(p), tx.init(p), p, value_fn=f)
      >>> gradtx.apply_updates(p, u)
      {'a': Array(0.3333333, dtype=float32), 'b': Array(1., dtype=float32)}
    """
    check_schedule_or_nonnegative("newton_cg", "learning_rate", learning_rate)
    check_nonnegative("newton_cg", "damping", damping)
    if maxiter is not None and (
        isinstance(maxiter, bool) or not isinstance(maxiter, int) or maxiter < 1
    ):
        raise ValueError(
            f"`newton_cg(maxiter=...)` must be None or a Python int >= 1; got {maxiter=}."
        )
    if tol is not None and not (isinstance(tol, (int, float)) and tol > 0):
        raise ValueError(f"`newton_cg(tol=...)` must be None or a number > 0; got {tol=}.")
    return build_optimizer(
        "newton_cg",
        _newton_cg_build,
        dict(learning_rate=learning_rate, damping=damping),
        maxiter=maxiter,
        tol=tol,
        linesearch=_resolve_linesearch("newton_cg", linesearch),
    )

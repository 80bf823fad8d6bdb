"""Nonlinear least squares: Gauss-Newton and Levenberg-Marquardt steps.

Both minimise :math:`f(x) = \\tfrac12 \\lVert r(x) \\rVert^2` for a residual function
:math:`r`. Unlike a first-order transformation they do not use the incoming gradients:
they read the parameters and evaluate the residuals and their Jacobian themselves.

The residual function is given either at construction (``residual_fn=`` of the factory)
or at every step as the keyword-only extra argument ``residual_fn=`` of ``update`` (which
wins when both are given, so a residual closing over a new data batch can be passed at
each step). ``update`` accepts and ignores any other extra arguments, like every gradtx
transformation, and raises a ``ValueError`` naming ``residual_fn=`` when it has none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gradtx._checks import check_nonnegative, check_positive, check_range
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.numerics import safe_increment
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms._common import like, require_params, tmap

__all__ = [
    "GaussNewtonState",
    "LevenbergMarquardtState",
    "gauss_newton",
    "levenberg_marquardt",
]

ResidualFn = Callable[[Params], Any]

_SOLVERS = ("dense", "cg")
_SCALINGS = ("marquardt", "identity")
_DAMPING_UPDATES = ("nielsen", "classic")
# Bounds that keep the adaptive damping finite after many rejections in a row (at a
# minimum every step is rejected: actual and predicted reductions are rounding noise).
_MAX_DAMPING = 1e16
_MIN_DAMPING = 1e-16
_MAX_NU = 2.0**20


class GaussNewtonState(NamedTuple):
    """State of :func:`gauss_newton` (inside its :class:`gradtx.OptimizerState`).

    Attributes:
      count: int32 number of updates so far.
      value: the cost :math:`\\tfrac12\\lVert r(x)\\rVert^2` at the parameters of the last
        update (before its step); ``inf`` before the first update. In the parameters'
        real dtype.
    """

    count: jax.Array
    value: jax.Array


class LevenbergMarquardtState(NamedTuple):
    """State of :func:`levenberg_marquardt` (inside its :class:`gradtx.OptimizerState`).

    Attributes:
      count: int32 number of updates so far (accepted or not).
      damping: the current damping :math:`\\mu`, used by the next update.
      nu: Nielsen's growth factor :math:`\\nu` for the next rejection (2 after an
        accepted step, doubled by each rejection); unused by ``"classic"``.
      value: the cost :math:`\\tfrac12\\lVert r\\rVert^2` at the last accepted point,
        that is at the parameters once this update is applied; ``inf`` before the first
        update.
      accepted: bool, whether the last update's step was accepted (a rejected step is
        returned as a zero update).
      ratio: the gain ratio :math:`\\rho` of the last step (actual over predicted
        reduction of the cost); 0 before the first update.
    """

    count: jax.Array
    damping: jax.Array
    nu: jax.Array
    value: jax.Array
    accepted: jax.Array
    ratio: jax.Array


def _upcast(params: Params) -> Params:
    """The parameters in at least float32: every solve runs in it (bf16 params too)."""
    return tmap(
        lambda p: jnp.asarray(p, jnp.promote_types(jnp.result_type(p), jnp.float32)), params
    )


def _real_dtype(params: Params) -> Any:
    flat = ravel_pytree(params)[0]
    dtype = jnp.result_type(flat) if flat.size else jnp.result_type(float)
    dtype = jnp.promote_types(dtype, jnp.float32)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise ValueError(
            "Gauss-Newton and Levenberg-Marquardt need real floating-point parameters; "
            f"got {dtype}."
        )
    return dtype


def _get_residual_fn(fn: str, built: ResidualFn | None, given: ResidualFn | None) -> ResidualFn:
    residual_fn = built if given is None else given
    if residual_fn is None:
        raise ValueError(
            f"`{fn}` needs the residual function: pass `residual_fn=` to `{fn}(...)` or as "
            "the keyword-only extra argument of update(updates, state, params, residual_fn=...)."
        )
    if not callable(residual_fn):
        raise TypeError(f"`{fn}(residual_fn=...)` must be callable; got {residual_fn!r}.")
    return residual_fn


def _dense_system(fn: str, residual_fn: ResidualFn, params: Params, max_params: int) -> tuple:
    """Raveled ``(x, unravel, r_flat, r, J)``; ``J`` is dense, shape ``(m, n)``."""
    flat, unravel = ravel_pytree(params)
    n = flat.size
    if n > max_params:
        raise ValueError(
            f"`{fn}`: the dense solve builds an {n}x{n} matrix for {n} parameters, more than "
            f"max_params={max_params}; pass solver='cg' (where available) or raise max_params."
        )

    def r_flat(x: jax.Array) -> jax.Array:
        return ravel_pytree(residual_fn(unravel(x)))[0].astype(flat.dtype)

    r, lin = jax.linearize(r_flat, flat)
    jac = jax.vmap(lin, out_axes=1)(jnp.eye(n, dtype=flat.dtype))
    return flat, unravel, r_flat, r, jac


def _out(step: Params, updates: Any, params: Params) -> Any:
    """The step in the gradients' dtypes (the params' where there are no gradients)."""
    ref = params if updates is None else updates
    return tmap(lambda g, d: like(d, g), ref, step)  # None gradients stay None


def _gauss_newton_build(
    learning_rate, damping, *, residual_fn, solver, max_params, cg_maxiter, cg_tol
):
    fn = "gauss_newton"
    residual_fn_built = residual_fn

    def init_fn(params: Params) -> GaussNewtonState:
        dtype = _real_dtype(params)
        return GaussNewtonState(jnp.zeros([], jnp.int32), jnp.asarray(jnp.inf, dtype))

    def update_fn(updates, state, params=None, *, residual_fn=None, **extra_args):
        del extra_args
        require_params(fn, params)
        res = _get_residual_fn(fn, residual_fn_built, residual_fn)
        dtype = state.value.dtype
        work = _upcast(params)
        if solver == "dense":
            _, unravel, _, r, jac = _dense_system(fn, res, work, max_params)
            n = jac.shape[1]
            # min || [J; sqrt(damping) I] d + [r; 0] ||: the normal equations
            # (J^T J + damping I) d = -J^T r, solved without forming J^T J.
            lam = jnp.sqrt(jnp.asarray(damping, dtype))
            a = jnp.concatenate([jac, lam * jnp.eye(n, dtype=jac.dtype)], axis=0)
            b = jnp.concatenate([-r, jnp.zeros(n, r.dtype)])
            d = jnp.linalg.lstsq(a, b)[0]
            step = unravel(learning_rate * d)
        else:
            r_tree, lin = jax.linearize(res, work)
            lin_t = jax.linear_transpose(lin, work)
            r = ravel_pytree(r_tree)[0].astype(dtype)
            grad = lin_t(r_tree)[0]

            def matvec(v: Any) -> Any:
                jtjv = lin_t(lin(v))[0]
                return tmap(lambda a, b: like(a + damping * b, b), jtjv, v)

            d, _ = jax.scipy.sparse.linalg.cg(
                matvec, tmap(jnp.negative, grad), tol=cg_tol, maxiter=cg_maxiter
            )
            step = tmap(lambda x: learning_rate * x, d)
        value = (0.5 * jnp.sum(r * r)).astype(dtype)
        return _out(step, updates, params), GaussNewtonState(safe_increment(state.count), value)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def gauss_newton(
    learning_rate: jax.typing.ArrayLike = 1.0,
    damping: jax.typing.ArrayLike = 0.0,
    *,
    residual_fn: ResidualFn | None = None,
    solver: str = "dense",
    max_params: int = 10_000,
    cg_maxiter: int | None = None,
    cg_tol: float = 1e-8,
) -> GradientTransformationExtraArgs:
    """The Gauss-Newton step for the least-squares cost :math:`\\tfrac12\\lVert r(x)\\rVert^2`.

    With :math:`J` the Jacobian of the residuals at the parameters :math:`x`:

    .. math::

       (J^\\top J + \\lambda I)\\, d = -J^\\top r(x), \\qquad u = \\eta\\, d

    with :math:`\\eta` = ``learning_rate`` and :math:`\\lambda` = ``damping`` (a fixed
    damping; :func:`levenberg_marquardt` adapts it). The incoming gradients are not used
    (only their dtypes and ``None`` leaves): the residuals and :math:`J` are evaluated at
    ``params``, in at least float32 (bf16 parameters are upcast for the solve).

    ``solver="dense"`` builds :math:`J` over the raveled parameters (one forward-mode
    pass per parameter) and solves the equivalent linear least-squares problem
    :math:`\\min_d \\lVert [J; \\sqrt\\lambda I] d + [r; 0] \\rVert` by SVD, so it needs no
    :math:`J^\\top J` and returns the minimum-norm step when :math:`J` is rank-deficient;
    it refuses more than ``max_params`` parameters. ``solver="cg"`` runs conjugate
    gradients on :math:`v \\mapsto J^\\top J v + \\lambda v` (a JVP then a VJP of the
    residuals, never a matrix), for larger problems; with :math:`\\lambda = 0` and a
    rank-deficient :math:`J` give it a small damping.

    The residual function (params pytree to a pytree of residual arrays) is given here
    or as ``update(..., residual_fn=...)`` (which wins; the guide page "Least squares"
    explains both). On a linear least-squares problem one undamped step with
    ``learning_rate=1`` lands on the solution.

    Args:
      learning_rate: :math:`\\eta \\ge 0`, scales the step (1 is the full step).
      damping: :math:`\\lambda \\ge 0`, a fixed Levenberg damping.
      residual_fn: ``params -> residuals``; or pass it to ``update``.
      solver: ``"dense"`` (default) or ``"cg"``.
      max_params: the most parameters ``"dense"`` accepts.
      cg_maxiter: CG iterations (``None``: CG's default, 10 times the size).
      cg_tol: CG's relative tolerance.

    Returns:
      A transformation whose state is a :class:`gradtx.OptimizerState` holding
      ``learning_rate`` and ``damping`` around a :class:`GaussNewtonState`.

    Reference: Nocedal & Wright 2006, "Numerical Optimization" (2nd ed.), section 10.3;
    Gauss 1809, "Theoria motus corporum coelestium".

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> a = jnp.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
      >>> y = jnp.array([1.0, 2.0, 2.0])
      >>> tx = gradtx.second_order.gauss_newton(residual_fn=lambda p: a @ p - y)
      >>> x = jnp.zeros(2)
      >>> u, s = tx.update(jnp.zeros(2), tx.init(x), x)
      >>> (x + u).round(4)  # the linear least-squares solution, in one step
      Array([1.1667, 0.5   ], dtype=float32)
    """
    fn = "gauss_newton"
    check_nonnegative(fn, "learning_rate", learning_rate)
    check_nonnegative(fn, "damping", damping)
    if solver not in _SOLVERS:
        raise ValueError(f"`{fn}(solver=...)` must be one of {list(_SOLVERS)}; got {solver=}.")
    check_positive(fn, "max_params", max_params)
    check_positive(fn, "cg_tol", cg_tol)
    if cg_maxiter is not None:
        check_positive(fn, "cg_maxiter", cg_maxiter)
    if residual_fn is not None and not callable(residual_fn):
        raise TypeError(f"`{fn}(residual_fn=...)` must be callable; got {residual_fn!r}.")
    return build_optimizer(
        fn,
        _gauss_newton_build,
        dict(learning_rate=learning_rate, damping=damping),
        residual_fn=residual_fn,
        solver=solver,
        max_params=max_params,
        cg_maxiter=cg_maxiter,
        cg_tol=cg_tol,
    )


def _levenberg_marquardt_build(
    accept_ratio, *, damping, residual_fn, scaling, damping_update, max_params
):
    fn = "levenberg_marquardt"
    residual_fn_built = residual_fn

    def init_fn(params: Params) -> LevenbergMarquardtState:
        dtype = _real_dtype(params)
        return LevenbergMarquardtState(
            count=jnp.zeros([], jnp.int32),
            damping=jnp.asarray(damping, dtype),
            nu=jnp.asarray(2.0, dtype),
            value=jnp.asarray(jnp.inf, dtype),
            accepted=jnp.asarray(False),
            ratio=jnp.zeros([], dtype),
        )

    def update_fn(updates, state, params=None, *, residual_fn=None, **extra_args):
        del extra_args
        require_params(fn, params)
        res = _get_residual_fn(fn, residual_fn_built, residual_fn)
        x, unravel, r_flat, r, jac = _dense_system(fn, res, _upcast(params), max_params)
        dtype = state.damping.dtype
        mu = state.damping.astype(x.dtype)
        jtj = jac.T @ jac
        g = jac.T @ r
        if scaling == "marquardt":
            diag = jnp.diagonal(jtj)
            # A zero column of J would make the scaled system singular: use 1 there.
            diag = jnp.where(diag > 0, diag, jnp.ones_like(diag))
        else:
            diag = jnp.ones_like(g)
        d = jnp.linalg.solve(jtj + mu * jnp.diag(diag), -g)
        cost = 0.5 * jnp.sum(r * r)
        r_new = r_flat(x + d)
        cost_new = 0.5 * jnp.sum(r_new * r_new)
        # L(0) - L(d) for the model L(d) = ||r + J d||^2 / 2, using (J^T J + mu D) d = -g.
        predicted = 0.5 * jnp.dot(d, mu * diag * d - g)
        actual = cost - cost_new
        progress = predicted > 0  # False at a stationary point (g = 0): nothing to do
        rho = jnp.where(progress, actual / jnp.where(progress, predicted, 1), 0)
        accept = progress & (rho > accept_ratio) & jnp.isfinite(cost_new)
        nu = state.nu.astype(x.dtype)
        if damping_update == "nielsen":
            shrink = jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)
            new_mu = jnp.where(accept, mu * shrink, mu * nu)
            new_nu = jnp.where(accept, 2.0, jnp.minimum(2.0 * nu, _MAX_NU))
        else:
            new_mu = jnp.where(accept, mu / 10.0, mu * 10.0)
            new_nu = nu
        new_mu = jnp.where(progress, jnp.clip(new_mu, _MIN_DAMPING, _MAX_DAMPING), mu)
        new_nu = jnp.where(progress, new_nu, nu)
        step = unravel(jnp.where(accept, d, jnp.zeros_like(d)))
        new_state = LevenbergMarquardtState(
            count=safe_increment(state.count),
            damping=new_mu.astype(dtype),
            nu=new_nu.astype(dtype),
            value=jnp.where(accept, cost_new, cost).astype(dtype),
            accepted=accept,
            ratio=rho.astype(dtype),
        )
        return _out(step, updates, params), new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def levenberg_marquardt(
    damping: jax.typing.ArrayLike = 1e-3,
    accept_ratio: jax.typing.ArrayLike = 1e-4,
    *,
    residual_fn: ResidualFn | None = None,
    scaling: str = "marquardt",
    damping_update: str = "nielsen",
    max_params: int = 10_000,
) -> GradientTransformationExtraArgs:
    """Levenberg-Marquardt: Gauss-Newton with adaptive damping and step rejection.

    With :math:`J` and :math:`r` the Jacobian and residuals at the parameters :math:`x`,
    :math:`g = J^\\top r` and :math:`D` = ``diag(J^T J)`` (``scaling="marquardt"``, a zero
    entry taken as 1) or :math:`I` (``scaling="identity"``, Levenberg's form):

    .. math::

       (J^\\top J + \\mu D)\\, d = -g, \\qquad
       \\rho = \\frac{f(x) - f(x + d)}{\\tfrac12\\, d^\\top(\\mu D d - g)}, \\qquad
       u = \\begin{cases} d & \\rho > \\rho_{\\min} \\\\ 0 & \\text{otherwise} \\end{cases}

    where :math:`f = \\tfrac12\\lVert r\\rVert^2` and the denominator is the reduction the
    Gauss-Newton model predicts. A rejected step (:math:`\\rho \\le \\rho_{\\min}`, which
    includes every step that increases the cost) is returned as a **zero update**, so
    the parameters stay at the last accepted point, whose cost the state keeps in
    ``value``; the next update retries from there with a larger damping. The damping
    :math:`\\mu` (``state.damping``) then follows ``damping_update``:

    - ``"nielsen"`` (default): accepted, :math:`\\mu \\leftarrow \\mu \\max(\\tfrac13,
      1 - (2\\rho - 1)^3)`, :math:`\\nu \\leftarrow 2`; rejected, :math:`\\mu \\leftarrow
      \\mu\\nu`, :math:`\\nu \\leftarrow 2\\nu`.
    - ``"classic"``: accepted, :math:`\\mu \\leftarrow \\mu / 10`; rejected,
      :math:`\\mu \\leftarrow 10 \\mu`.

    :math:`\\mu` is kept in :math:`[10^{-16}, 10^{16}]`. At a stationary point
    (:math:`g = 0`, no predicted reduction) the update is zero and the damping is left
    alone. Each update evaluates the Jacobian at :math:`x` (one forward-mode pass per
    parameter, over the raveled parameters, so at most ``max_params`` of them) and the
    residuals once more at :math:`x + d`, in at least float32. The incoming gradients are
    not used (only their dtypes and ``None`` leaves). The residual function is given
    here or as ``update(..., residual_fn=...)`` (which wins; the guide page "Least
    squares" explains both).

    Args:
      damping: the initial damping :math:`\\mu_0 > 0` (then adapted in the state).
      accept_ratio: :math:`\\rho_{\\min} \\ge 0`, the smallest gain ratio accepted
        (MINPACK uses :math:`10^{-4}`).
      residual_fn: ``params -> residuals`` (a pytree of arrays); or pass it to
        ``update``.
      scaling: ``"marquardt"`` (default) or ``"identity"``.
      damping_update: ``"nielsen"`` (default) or ``"classic"``.
      max_params: the most parameters the dense solve accepts.

    Returns:
      A transformation whose state is a :class:`gradtx.OptimizerState` holding
      ``accept_ratio`` around a :class:`LevenbergMarquardtState`.

    Reference: Levenberg 1944, "A method for the solution of certain non-linear problems
    in least squares"; Marquardt 1963, "An algorithm for least-squares estimation of
    nonlinear parameters" (DOI 10.1137/0111030); Nielsen 1999, "Damping parameter in
    Marquardt's method" (IMM-REP-1999-05); Madsen, Nielsen & Tingleff 2004, "Methods for
    non-linear least squares problems", Algorithm 3.16.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> def residuals(p):  # Rosenbrock as least squares, minimum at (1, 1)
      ...     return jnp.stack([10 * (p[1] - p[0] ** 2), 1 - p[0]])
      >>> tx = gradtx.second_order.levenberg_marquardt(residual_fn=residuals)
      >>> x = jnp.array([-1.2, 1.0])
      >>> s = tx.init(x)
      >>> step = jax.jit(tx.update)
      >>> for _ in range(60):
      ...     u, s = step(x, s, x)
      ...     x = x + u
      >>> print(x)
      [1. 1.]
      >>> bool(s.inner_state.value < 1e-10), bool(s.inner_state.damping < 1e-3)
      (True, True)
    """
    fn = "levenberg_marquardt"
    check_positive(fn, "damping", damping)
    check_nonnegative(fn, "accept_ratio", accept_ratio)
    check_range(fn, "accept_ratio", accept_ratio, 0.0, 1.0, high_open=True)
    if scaling not in _SCALINGS:
        raise ValueError(f"`{fn}(scaling=...)` must be one of {list(_SCALINGS)}; got {scaling=}.")
    if damping_update not in _DAMPING_UPDATES:
        raise ValueError(
            f"`{fn}(damping_update=...)` must be one of {list(_DAMPING_UPDATES)}; "
            f"got {damping_update=}."
        )
    check_positive(fn, "max_params", max_params)
    if residual_fn is not None and not callable(residual_fn):
        raise TypeError(f"`{fn}(residual_fn=...)` must be callable; got {residual_fn!r}.")
    return build_optimizer(
        fn,
        _levenberg_marquardt_build,
        dict(accept_ratio=accept_ratio),
        damping=damping,
        residual_fn=residual_fn,
        scaling=scaling,
        damping_update=damping_update,
        max_params=max_params,
    )

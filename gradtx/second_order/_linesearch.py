"""Line searches with optax's names: Armijo backtracking, strong-Wolfe zoom, and the
helper that reuses the value and gradient a line search already computed.

Conventions shared by both searches. The incoming ``updates`` are a direction
:math:`d` (already signed for descent, e.g. ``-g`` or ``-H g``); ``params`` the
point :math:`x`; ``value`` and ``grad`` the objective and its gradient at
:math:`x`; ``value_fn`` the objective. Along the ray :math:`\\phi(t) = f(x + t d)`
the slope is :math:`\\phi'(t) = \\operatorname{Re}\\langle \\nabla f(x + t d), d\\rangle
= \\operatorname{Re} \\sum \\overline{g} d`. For complex parameters ``grad`` must be
the steepest-ascent direction :math:`\\partial f/\\partial x + i\\, \\partial f/\\partial y`
(``jnp.conj(jax.grad(f)(z))``, since JAX's gradient of a real function of a complex
argument is the conjugate of it); :func:`value_and_grad_from_state` applies that
conjugation for you.

A search that fails (the direction is not one of descent, the step budget ran out,
or the objective is not finite where it looked) says so in ``info.status`` and
returns the best step it found with sufficient decrease, or a zero step: the
parameters never become NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_positive, check_range, concrete
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.transforms._common import tmap

__all__ = [
    "BacktrackingLinesearchInfo",
    "ScaleByBacktrackingLinesearchState",
    "ScaleByZoomLinesearchState",
    "ZoomLinesearchInfo",
    "scale_by_backtracking_linesearch",
    "scale_by_zoom_linesearch",
    "value_and_grad_from_state",
]

#: ``info.status`` codes.
SUCCESS, MAX_STEPS, NOT_DESCENT, PRECISION = 0, 1, 2, 3


class BacktrackingLinesearchInfo(NamedTuple):
    """Diagnostics of :func:`scale_by_backtracking_linesearch` (last step).

    Attributes:
      num_linesearch_steps: int32 number of objective evaluations.
      decrease_error: how far the accepted step is from sufficient decrease (0 when
        it holds).
      status: int32 outcome: 0 success; 1 the step budget ran out; 2 not a descent
        direction (zero step taken). Not in optax.
    """

    num_linesearch_steps: jax.Array
    decrease_error: jax.Array
    status: jax.Array


class ScaleByBacktrackingLinesearchState(NamedTuple):
    """State of :func:`scale_by_backtracking_linesearch`.

    Attributes:
      learning_rate: the accepted step size :math:`t` (1 at init).
      value: the objective at the new parameters (``inf`` at init).
      grad: its gradient when ``store_grad=True``, else ``None``.
      info: a :class:`BacktrackingLinesearchInfo`.
    """

    learning_rate: jax.Array
    value: jax.Array
    grad: Any
    info: BacktrackingLinesearchInfo


class ZoomLinesearchInfo(NamedTuple):
    """Diagnostics of :func:`scale_by_zoom_linesearch` (last step).

    Attributes:
      num_linesearch_steps: int32 number of objective (and gradient) evaluations.
      decrease_error: :math:`\\max(\\phi(t) - \\phi(0) - c_1 t \\phi'(0), 0)` at the
        returned step.
      curvature_error: :math:`\\max(|\\phi'(t)| - c_2 |\\phi'(0)|, 0)` there.
      status: int32 outcome: 0 success; 1 the step budget ran out; 2 not a descent
        direction (zero step taken); 3 the bracket shrank below
        ``stepsize_precision``. Not in optax.
    """

    num_linesearch_steps: jax.Array
    decrease_error: jax.Array
    curvature_error: jax.Array
    status: jax.Array


class ScaleByZoomLinesearchState(NamedTuple):
    """State of :func:`scale_by_zoom_linesearch`.

    Attributes:
      learning_rate: the accepted step size :math:`t` (1 at init).
      value: the objective at the new parameters (``inf`` at init).
      grad: its gradient (steepest-ascent convention), zeros at init.
      info: a :class:`ZoomLinesearchInfo`.
    """

    learning_rate: jax.Array
    value: jax.Array
    grad: Any
    info: ZoomLinesearchInfo


def _real_dtype(params: Any) -> Any:
    leaves = [x for x in jax.tree.leaves(params) if x is not None]
    if not leaves:
        return jnp.float32
    dt = jnp.result_type(*[jnp.asarray(x).dtype for x in leaves])
    return jnp.finfo(dt).dtype if jnp.issubdtype(dt, jnp.inexact) else jnp.float32


def rdot(a: Any, b: Any) -> jax.Array:
    """:math:`\\operatorname{Re}\\sum \\overline{a} b` over two pytrees (None leaves skipped)."""
    parts = jax.tree.leaves(
        tmap(lambda x, y: jnp.sum(jnp.real(jnp.conj(x) * y)), a, b),
    )
    return sum(parts, jnp.zeros([])) if parts else jnp.zeros([])


def _step(params: Any, t: jax.Array, d: Any) -> Any:
    return tmap(lambda p, u: (p + t.astype(jnp.real(u).dtype) * u).astype(p.dtype), params, d)


def _need(fn: str, **extra: Any) -> None:
    missing = [k for k, v in extra.items() if v is None]
    if missing:
        raise TypeError(
            f"`{fn}` needs keyword arguments value=, grad= and value_fn= in `update`; "
            f"missing {missing}. Call `tx.update(updates, state, params, value=value, "
            "grad=grad, value_fn=f)`."
        )


def _grad_fn(value_fn: Callable[..., Any], **fn_kwargs: Any) -> Callable[[Any], Any]:
    """``x -> (f(x), conj(grad f(x)))``: the steepest-ascent gradient for complex ``x``."""
    vg = jax.value_and_grad(lambda x: value_fn(x, **fn_kwargs))

    def fn(x: Any) -> Any:
        v, g = vg(x)
        return v, tmap(jnp.conj, g)

    return fn


def scale_by_backtracking_linesearch(
    max_backtracking_steps: int,
    slope_rtol: jax.typing.ArrayLike = 0.0001,
    decrease_factor: jax.typing.ArrayLike = 0.8,
    increase_factor: jax.typing.ArrayLike = 1.5,
    max_learning_rate: jax.typing.ArrayLike = 1.0,
    atol: jax.typing.ArrayLike = 0.0,
    rtol: jax.typing.ArrayLike = 0.0,
    store_grad: bool = False,
    verbose: bool = False,
) -> GradientTransformationExtraArgs:
    """Scale a descent direction by a step size found by Armijo backtracking.

    Starting from :math:`t = \\min(\\eta\\, t_{\\text{prev}}, t_{\\max})` the step shrinks,
    :math:`t \\leftarrow \\delta t`, until sufficient decrease (Armijo) holds:

    .. math::

       f(x + t d) \\le f(x) + c_1 t \\operatorname{Re}\\langle g, d\\rangle
       + \\epsilon_a + \\epsilon_r |f(x)|

    with :math:`c_1` = ``slope_rtol``, :math:`\\delta` = ``decrease_factor``,
    :math:`\\eta` = ``increase_factor``, :math:`t_{\\max}` = ``max_learning_rate``,
    :math:`\\epsilon_a, \\epsilon_r` = ``atol, rtol``. The update is :math:`t d`.
    A non-finite trial value counts as a failed decrease, so NaN regions are shrunk
    out of. If no step passes in ``max_backtracking_steps`` trials, or :math:`d` is
    not a descent direction, the update is zero and ``info.status`` says why.

    ``update`` needs the keyword arguments ``value`` (:math:`f(x)`), ``grad``
    (:math:`g`) and ``value_fn`` (:math:`f`, called on the parameters alone).

    Args:
      max_backtracking_steps: maximum number of trial steps (> 0).
      slope_rtol: :math:`c_1` in (0, 1).
      decrease_factor: :math:`\\delta` in (0, 1).
      increase_factor: :math:`\\eta \\ge 1`, growth of the first trial over the last
        accepted step.
      max_learning_rate: :math:`t_{\\max} > 0`.
      atol: absolute slack :math:`\\epsilon_a \\ge 0` in the decrease test.
      rtol: relative slack :math:`\\epsilon_r \\ge 0`.
      store_grad: also compute and store the gradient at the new point (for
        :func:`value_and_grad_from_state`).
      verbose: print the status, evaluation count and step of every search.

    Returns:
      A transformation with :class:`ScaleByBacktrackingLinesearchState`.

    Reference: Nocedal & Wright 2006, "Numerical Optimization" (2nd ed.),
    Algorithm 3.1; Armijo 1966, "Minimization of functions having Lipschitz
    continuous first partial derivatives", Pacific J. Math. 16(1).

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 1.0) ** 2)
      >>> tx = gradtx.chain(
      ...     gradtx.sgd(1.0), gradtx.second_order.scale_by_backtracking_linesearch(15)
      ... )
      >>> x = jnp.zeros(2)
      >>> s = tx.init(x)
      >>> v, g = jax.value_and_grad(f)(x)
      >>> u, s = tx.update(g, s, x, value=v, grad=g, value_fn=f)
      >>> u, s[-1].learning_rate
      (Array([1.6, 1.6], dtype=float32), Array(0.8, dtype=float32))
    """
    fn = "scale_by_backtracking_linesearch"
    _check_steps(fn, "max_backtracking_steps", max_backtracking_steps)
    check_range(fn, "slope_rtol", slope_rtol, 0.0, 1.0, low_open=True, high_open=True)
    check_range(fn, "decrease_factor", decrease_factor, 0.0, 1.0, low_open=True, high_open=True)
    check_range(fn, "increase_factor", increase_factor, 1.0)
    check_positive(fn, "max_learning_rate", max_learning_rate)
    check_range(fn, "atol", atol, 0.0)
    check_range(fn, "rtol", rtol, 0.0)

    def init_fn(params: Params) -> ScaleByBacktrackingLinesearchState:
        dt = _real_dtype(params)
        grad = tmap(jnp.zeros_like, params) if store_grad else None
        info = BacktrackingLinesearchInfo(
            jnp.zeros([], jnp.int32), jnp.asarray(jnp.inf, dt), jnp.zeros([], jnp.int32)
        )
        return ScaleByBacktrackingLinesearchState(
            jnp.ones([], dt), jnp.asarray(jnp.inf, dt), grad, info
        )

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del extra
        _need(fn, params=params, value=value, grad=grad, value_fn=value_fn)
        dt = state.learning_rate.dtype
        v0 = jnp.asarray(value, dt)
        slope = rdot(grad, updates).astype(dt)
        descent = slope < 0
        slack = jnp.asarray(atol, dt) + jnp.asarray(rtol, dt) * jnp.abs(v0)
        t0 = jnp.minimum(state.learning_rate * increase_factor, max_learning_rate).astype(dt)

        def err(t: jax.Array) -> tuple[jax.Array, jax.Array]:
            v = jnp.asarray(value_fn(_step(params, t, updates)), dt)
            e = v - v0 - slope_rtol * t * slope
            return v, jnp.where(jnp.isfinite(e), jnp.maximum(e, 0.0), jnp.inf)

        def cond(c):
            t, v, e, k = c
            return descent & (e > slack) & (k < max_backtracking_steps)

        def body(c):
            t, _, _, k = c
            t = jnp.where(k == 0, t, t * decrease_factor)
            v, e = err(t)
            return t, v, e, k + 1

        init = (t0, v0, jnp.asarray(jnp.inf, dt), jnp.zeros([], jnp.int32))
        t, v, e, k = jax.lax.while_loop(cond, body, init)
        ok = descent & (e <= slack)
        status = jnp.where(~descent, NOT_DESCENT, jnp.where(ok, SUCCESS, MAX_STEPS))
        t = jnp.where(ok, t, 0.0)
        new_value = jnp.where(ok, v, v0)
        new_updates = tmap(lambda u: (t.astype(jnp.real(u).dtype) * u).astype(u.dtype), updates)
        new_grad = None
        if store_grad:
            new_params = _step(params, t, updates)
            _, g_new = _grad_fn(value_fn)(new_params)
            new_grad = tmap(lambda a, b: a.astype(b.dtype), g_new, state.grad)
        if verbose:
            jax.debug.print(fn + ": status={s} steps={k} t={t}", s=status, k=k, t=t)
        info = BacktrackingLinesearchInfo(k, e.astype(dt), status.astype(jnp.int32))
        return new_updates, ScaleByBacktrackingLinesearchState(
            jnp.where(ok, t, state.learning_rate).astype(dt), new_value, new_grad, info
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _check_steps(fn: str, name: str, value: Any) -> None:
    v = concrete(value)
    if v is not None and (v < 1 or v != int(v)):
        raise ValueError(f"`{fn}({name}=...)` must be a positive integer; got {name}={value!r}.")


INITIAL_GUESSES = ("keep", "one")


def _cubic_min(ta, va, sa, tb, vb, sb):
    """Minimizer of the cubic through (ta, va, sa), (tb, vb, sb) (N&W eq. 3.59)."""
    d1 = sa + sb - 3.0 * (va - vb) / (ta - tb)
    disc = d1 * d1 - sa * sb
    d2 = jnp.sign(tb - ta) * jnp.sqrt(jnp.maximum(disc, 0.0))
    t = tb - (tb - ta) * (sb + d2 - d1) / (sb - sa + 2.0 * d2)
    return jnp.where(disc >= 0, t, jnp.nan)


def scale_by_zoom_linesearch(
    max_linesearch_steps: int,
    max_learning_rate: jax.typing.ArrayLike | None = None,
    tol: jax.typing.ArrayLike = 0.0,
    increase_factor: jax.typing.ArrayLike = 2.0,
    slope_rtol: jax.typing.ArrayLike = 0.0001,
    curv_rtol: jax.typing.ArrayLike = 0.9,
    approx_dec_rtol: jax.typing.ArrayLike | None = 1e-06,
    stepsize_precision: jax.typing.ArrayLike = 1e-05,
    initial_guess_strategy: str = "keep",
    verbose: bool = False,
) -> GradientTransformationExtraArgs:
    """Scale a descent direction by a step size satisfying the strong Wolfe conditions.

    Along :math:`\\phi(t) = f(x + t d)` a step :math:`t` is accepted when

    .. math::

       \\phi(t) \\le \\phi(0) + c_1 t \\phi'(0) + \\epsilon, \\qquad
       |\\phi'(t)| \\le c_2 |\\phi'(0)| + \\epsilon

    (:math:`c_1` = ``slope_rtol``, :math:`c_2` = ``curv_rtol``, :math:`\\epsilon` =
    ``tol``), or, unless ``approx_dec_rtol`` is ``None``, the approximate Wolfe
    conditions of Hager & Zhang,
    :math:`\\phi(t) \\le \\phi(0) + c_3 |\\phi(0)|` and
    :math:`c_2 \\phi'(0) \\le \\phi'(t) \\le (2 c_1 - 1) \\phi'(0)` with :math:`c_3` =
    ``approx_dec_rtol`` (these tolerate the rounding of :math:`\\phi` near a minimum).
    The search first brackets (Nocedal & Wright Algorithm 3.5: trial steps grow by
    ``increase_factor`` up to ``max_learning_rate``) and then zooms (Algorithm 3.6:
    the minimizer of the cubic through the bracket ends, safeguarded to the middle
    80% of the bracket, else bisection). A non-finite :math:`\\phi(t)` closes the
    bracket, so NaN regions are shrunk out of. Every trial costs one value and
    gradient evaluation; the value and gradient at the accepted point are stored for
    :func:`value_and_grad_from_state`. The update is :math:`t d`.

    On failure the returned step is the best one found with sufficient decrease
    (possibly 0) and ``info.status`` is set:
    1 the step budget ran out; 2 ``updates`` is not a descent direction
    (:math:`\\phi'(0) \\ge 0`; zero step); 3 the bracket shrank below
    ``stepsize_precision`` (absolute, in units of :math:`t`); 4 ``max_learning_rate``
    was reached with the curvature condition unmet (that step is taken).

    Args:
      max_linesearch_steps: maximum number of trial steps (> 0).
      max_learning_rate: upper bound on :math:`t`, or ``None``.
      tol: :math:`\\epsilon \\ge 0`.
      increase_factor: growth of the trial step while bracketing (> 1).
      slope_rtol: :math:`c_1` in (0, 1).
      curv_rtol: :math:`c_2` in (``slope_rtol``, 1]; ``inf`` disables the curvature test.
      approx_dec_rtol: :math:`c_3 \\ge 0`, or ``None`` for the exact conditions only.
      stepsize_precision: smallest bracket width before giving up (> 0).
      initial_guess_strategy: ``"keep"`` starts from the last accepted step,
        ``"one"`` from 1 (the natural step of quasi-Newton directions).
      verbose: print the status, evaluation count and step of every search.

    Returns:
      A transformation with :class:`ScaleByZoomLinesearchState`.

    Reference: Nocedal & Wright 2006, "Numerical Optimization" (2nd ed.),
    Algorithms 3.5 and 3.6; Hager & Zhang 2005, "A new conjugate gradient method
    with guaranteed descent and an efficient line search", SIAM J. Optim. 16(1).

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 1.0) ** 2)
      >>> tx = gradtx.chain(gradtx.sgd(1.0), gradtx.second_order.scale_by_zoom_linesearch(15))
      >>> x = jnp.zeros(2)
      >>> s = tx.init(x)
      >>> v, g = jax.value_and_grad(f)(x)
      >>> u, s = tx.update(g, s, x, value=v, grad=g, value_fn=f)
      >>> u, s[-1].learning_rate, s[-1].info.num_linesearch_steps
      (Array([1., 1.], dtype=float32), Array(0.5, dtype=float32), Array(2, dtype=int32))
    """
    fn = "scale_by_zoom_linesearch"
    _check_steps(fn, "max_linesearch_steps", max_linesearch_steps)
    if max_learning_rate is not None:
        check_positive(fn, "max_learning_rate", max_learning_rate)
    check_range(fn, "tol", tol, 0.0)
    check_range(fn, "increase_factor", increase_factor, 1.0, low_open=True)
    check_range(fn, "slope_rtol", slope_rtol, 0.0, 1.0, low_open=True, high_open=True)
    check_range(fn, "curv_rtol", curv_rtol, concrete(slope_rtol), low_open=True)
    if approx_dec_rtol is not None:
        check_range(fn, "approx_dec_rtol", approx_dec_rtol, 0.0)
    check_positive(fn, "stepsize_precision", stepsize_precision)
    if initial_guess_strategy not in INITIAL_GUESSES:
        raise ValueError(
            f"`{fn}(initial_guess_strategy=...)` must be one of {list(INITIAL_GUESSES)}; "
            f"got {initial_guess_strategy=}."
        )
    t_max = jnp.inf if max_learning_rate is None else max_learning_rate

    def init_fn(params: Params) -> ScaleByZoomLinesearchState:
        dt = _real_dtype(params)
        inf = jnp.asarray(jnp.inf, dt)
        info = ZoomLinesearchInfo(jnp.zeros([], jnp.int32), inf, inf, jnp.zeros([], jnp.int32))
        return ScaleByZoomLinesearchState(jnp.ones([], dt), inf, tmap(jnp.zeros_like, params), info)

    def update_fn(updates, state, params=None, *, value=None, grad=None, value_fn=None, **extra):
        del extra
        _need(fn, params=params, value=value, grad=grad, value_fn=value_fn)
        dt = state.learning_rate.dtype
        f = jnp.asarray
        v0 = f(value, dt)
        grad = tmap(lambda a, b: a.astype(b.dtype), grad, state.grad)
        s0 = rdot(grad, updates).astype(dt)
        descent = s0 < 0
        vg = _grad_fn(value_fn)
        c1, c2, eps = f(slope_rtol, dt), f(curv_rtol, dt), f(tol, dt)
        t0 = jnp.ones([], dt) if initial_guess_strategy == "one" else state.learning_rate
        t0 = jnp.minimum(t0, t_max).astype(dt)

        def errors(t, v, s):
            dec = v - v0 - c1 * t * s0
            dec = jnp.where(jnp.isfinite(dec), jnp.maximum(dec, 0.0), jnp.inf)
            curv = jnp.abs(s) - c2 * jnp.abs(s0)
            curv = jnp.where(jnp.isfinite(s), jnp.maximum(curv, 0.0), jnp.inf)
            return dec, jnp.where(jnp.isnan(curv), 0.0, curv)  # curv_rtol=inf

        def body(c):
            k, done, status, t, lo, hi = c
            (t_lo, v_lo, s_lo, g_lo), (t_hi, v_hi, s_hi, hi_set) = lo, hi
            v, g = vg(_step(params, t, updates))
            v = f(v, dt)
            g = tmap(lambda a, b: a.astype(b.dtype), g, g_lo)
            s = rdot(g, updates).astype(dt)
            dec, curv = errors(t, v, s)
            finite = jnp.isfinite(v) & jnp.isfinite(s)
            high = ~finite | (dec > eps) | (v >= v_lo)
            accept = finite & ~high & (curv <= eps)
            if approx_dec_rtol is not None:
                approx = (v <= v0 + approx_dec_rtol * jnp.abs(v0)) & (c2 * s0 <= s)
                accept |= finite & approx & (s <= (2 * c1 - 1) * s0)
            # Algorithm 3.6's update of the bracket (hi at +inf while bracketing).
            flip = ~high & (s * jnp.where(hi_set, t_hi - t_lo, 1.0) >= 0)
            new_hi = jax.tree.map(
                lambda trial, old_lo, old_hi: jnp.where(
                    high, trial, jnp.where(flip, old_lo, old_hi)
                ),
                (t, v, s, True),
                (t_lo, v_lo, s_lo, True),
                hi,
            )
            take = ~high | accept
            new_lo = jax.tree.map(lambda a, b: jnp.where(take, a, b), (t, v, s, g), lo)
            (t_lo, v_lo, s_lo, _), (t_hi, v_hi, s_hi, hi_set) = new_lo, new_hi
            # Next trial: zoom inside the bracket, or grow the step.
            width = t_hi - t_lo
            cubic = _cubic_min(t_lo, v_lo, s_lo, t_hi, v_hi, s_hi)
            lo_b = jnp.minimum(t_lo, t_hi) + 0.1 * jnp.abs(width)
            hi_b = jnp.maximum(t_lo, t_hi) - 0.1 * jnp.abs(width)
            ok_cubic = jnp.isfinite(cubic) & (cubic >= lo_b) & (cubic <= hi_b)
            t_zoom = jnp.where(ok_cubic, cubic, 0.5 * (t_lo + t_hi))
            t_grow = jnp.minimum(t_lo * increase_factor, t_max).astype(dt)
            capped = ~hi_set & (t_lo >= t_max)
            narrow = hi_set & (jnp.abs(width) <= stepsize_precision)
            k = k + 1
            status = jnp.where(
                accept, SUCCESS, jnp.where(capped, 4, jnp.where(narrow, PRECISION, MAX_STEPS))
            )
            done = accept | capped | narrow
            t_next = jnp.where(hi_set, t_zoom, t_grow).astype(dt)
            return k, done, status.astype(jnp.int32), t_next, new_lo, new_hi

        def cond(c):
            k, done = c[0], c[1]
            return descent & ~done & (k < max_linesearch_steps)

        zero = jnp.zeros([], dt)
        inf = jnp.asarray(jnp.inf, dt)
        lo = (zero, v0, s0, grad)
        hi = (inf, inf, inf, jnp.asarray(False))
        init = (
            jnp.zeros([], jnp.int32),
            jnp.asarray(False),
            jnp.asarray(MAX_STEPS, jnp.int32),
            t0,
            lo,
            hi,
        )
        k, done, status, _, lo, _ = jax.lax.while_loop(cond, body, init)
        t, v, s, g = lo
        status = jnp.where(descent, status, NOT_DESCENT).astype(jnp.int32)
        dec, curv = errors(t, v, s)
        if verbose:
            jax.debug.print(fn + ": status={s} steps={k} t={t}", s=status, k=k, t=t)
        new_updates = tmap(lambda u: (t.astype(jnp.real(u).dtype) * u).astype(u.dtype), updates)
        info = ZoomLinesearchInfo(k, dec, curv, status)
        new_lr = jnp.where(t > 0, t, state.learning_rate).astype(dt)
        return new_updates, ScaleByZoomLinesearchState(new_lr, v, g, info)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def value_and_grad_from_state(
    value_fn: Callable[..., jax.typing.ArrayLike],
) -> Callable[..., tuple[jax.Array, Any]]:
    """Like :func:`jax.value_and_grad`, but reuse the value and gradient a line search stored.

    The returned function ``(params, *fn_args, state, **fn_kwargs) -> (value, grad)``
    reads the fields named ``value`` and ``grad`` in ``state`` (exactly one of each,
    found by :func:`gradtx.tree.get`); when the stored value is finite they are
    returned as they are (they belong to ``params``, the point the line search
    accepted), otherwise (at init) :math:`f` and its gradient are computed. For
    complex parameters the returned gradient is ``conj(jax.grad(f))``, the
    steepest-ascent direction the line searches expect (see the module notes).

    Args:
      value_fn: the objective ``f(params, *fn_args, **fn_kwargs)``, a real scalar.

    Returns:
      The value-and-gradient function.

    Raises:
      ValueError: (when called) if ``state`` holds no ``value``/``grad`` or its
        ``grad`` is ``None`` (use ``store_grad=True`` in
        :func:`scale_by_backtracking_linesearch`).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> opt = gradtx.second_order.lbfgs()
      >>> x = jnp.array([1.0, 2.0])
      >>> state = opt.init(x)
      >>> vg = gradtx.second_order.value_and_grad_from_state(f)
      >>> value, grad = vg(x, state=state)
      >>> value, grad
      (Array(5., dtype=float32), Array([2., 4.], dtype=float32))
      >>> u, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
      >>> x = x + u
      >>> vg(x, state=state)[0]  # stored by the line search, not recomputed
      Array(1.5278641, dtype=float32)
      >>> f(x)
      Array(1.5278641, dtype=float32)
    """
    from gradtx.tree import get

    def fn(params: Any, *fn_args: Any, state: Any, **fn_kwargs: Any) -> tuple[jax.Array, Any]:
        name = "value_and_grad_from_state"
        try:
            value, grad = get(state, "value"), get(state, "grad")
        except ValueError as err:
            raise ValueError(
                f"`{name}`: several `value`/`grad` fields in the state: {err}"
            ) from err
        if value is None or grad is None:
            raise ValueError(
                f"`{name}`: the state has no `value` and `grad` to reuse (got "
                f"value={'None' if value is None else 'found'}, grad="
                f"{'None' if grad is None else 'found'}); chain a line search that stores "
                "them, e.g. scale_by_backtracking_linesearch(..., store_grad=True)."
            )

        def compute():
            v, g = jax.value_and_grad(value_fn)(params, *fn_args, **fn_kwargs)
            g = tmap(lambda a, b: jnp.conj(a).astype(b.dtype), g, grad)
            return jnp.asarray(v, value.dtype), g

        return jax.lax.cond(jnp.isfinite(value), lambda: (value, grad), compute)

    return fn

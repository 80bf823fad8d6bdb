"""L-BFGS with optax's names: the two-loop recursion and the optimizer that chains it
with a line search."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_positive
from gradtx.base import GradientTransformation, GradientTransformationExtraArgs, Params
from gradtx.combine import chain
from gradtx.numerics import safe_increment
from gradtx.second_order._linesearch import rdot, scale_by_zoom_linesearch
from gradtx.transforms import scale, scale_by_learning_rate
from gradtx.transforms._common import require_params, tmap

__all__ = ["ScaleByLBFGSState", "lbfgs", "scale_by_lbfgs"]


class ScaleByLBFGSState(NamedTuple):
    """State of :func:`scale_by_lbfgs` (optax's fields).

    Attributes:
      count: int32 number of updates so far.
      params: the parameters of the last update, :math:`x_{k-1}`.
      updates: the gradient received at the last update, :math:`g_{k-1}`.
      diff_params_memory: the last ``memory_size`` differences
        :math:`s_i = x_{i+1} - x_i`, each leaf with a leading axis of length
        ``memory_size`` (a ring buffer written at ``(count - 1) % memory_size``).
      diff_updates_memory: the matching :math:`y_i = g_{i+1} - g_i`.
      weights_memory: :math:`\\rho_i = 1 / \\operatorname{Re}\\langle s_i, y_i\\rangle`
        (0 for pairs without positive curvature, which are thereby skipped).
    """

    count: jax.Array
    params: Any
    updates: Any
    diff_params_memory: Any
    diff_updates_memory: Any
    weights_memory: jax.Array


def _check_memory(fn: str, memory_size: Any) -> None:
    if not isinstance(memory_size, int) or isinstance(memory_size, bool) or memory_size < 1:
        raise ValueError(f"`{fn}(memory_size=...)` must be a positive int; got {memory_size=}.")


def _real(dtype: Any) -> Any:
    return jnp.finfo(dtype).dtype


def scale_by_lbfgs(
    memory_size: int = 10, scale_init_precond: bool = True
) -> GradientTransformation:
    """Precondition gradients with the L-BFGS inverse-Hessian approximation.

    With the pairs :math:`s_i = x_{i+1} - x_i`, :math:`y_i = g_{i+1} - g_i`,
    :math:`\\rho_i = 1/\\langle s_i, y_i\\rangle` of the last ``memory_size``
    updates, the two-loop recursion (Nocedal & Wright Algorithm 7.4) returns
    :math:`H_k g_k`:

    .. math::

       q \\leftarrow g_k;\\ \\text{for } i = k-1, \\dots, k-m:\\
       \\alpha_i = \\rho_i \\langle s_i, q\\rangle,\\ q \\leftarrow q - \\alpha_i y_i; \\\\
       r \\leftarrow \\gamma_k q;\\ \\text{for } i = k-m, \\dots, k-1:\\
       \\beta = \\rho_i \\langle y_i, r\\rangle,\\ r \\leftarrow r + (\\alpha_i - \\beta) s_i

    with :math:`\\gamma_k = \\langle s_{k-1}, y_{k-1}\\rangle / \\langle y_{k-1},
    y_{k-1}\\rangle` (N&W eq. 7.20) when ``scale_init_precond`` and 1 otherwise. At
    the first update (no pairs yet) :math:`\\gamma_0 = \\min(1, 1/\\|g_0\\|)` when
    ``scale_init_precond``, so that the first trial step has length at most 1.
    :math:`\\langle a, b\\rangle = \\operatorname{Re}\\sum \\overline{a} b`, the real
    inner product, so complex parameters are treated as pairs of reals (pass
    ``conj(jax.grad(f))``, as :func:`value_and_grad_from_state` returns). Pairs with
    :math:`\\langle s_i, y_i\\rangle \\le 0` get :math:`\\rho_i = 0` and drop out, which
    keeps :math:`H_k` positive definite. The output is a descent direction only after
    a sign flip: :func:`lbfgs` applies it.

    Args:
      memory_size: number of pairs :math:`m` kept (> 0).
      scale_init_precond: use the scaling :math:`\\gamma_k` above (else 1).

    Returns:
      A transformation with :class:`ScaleByLBFGSState`; ``update`` needs ``params``.

    Reference: Nocedal 1980, "Updating quasi-Newton matrices with limited storage",
    Math. Comp. 35(151); Liu & Nocedal 1989, "On the limited memory BFGS method for
    large scale optimization", Math. Programming 45; Nocedal & Wright 2006,
    "Numerical Optimization" (2nd ed.), Algorithm 7.4.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.second_order.scale_by_lbfgs()
      >>> s = tx.init(jnp.zeros(2))
      >>> u, s = tx.update(jnp.array([3.0, 4.0]), s, jnp.zeros(2))
      >>> u
      Array([0.6, 0.8], dtype=float32)
      >>> u, s = tx.update(jnp.array([1.0, 2.0]), s, jnp.array([-0.6, -0.8]))
      >>> u
      Array([0.29285714, 0.80714285], dtype=float32)
    """
    fn = "scale_by_lbfgs"
    _check_memory(fn, memory_size)
    m = memory_size

    def init_fn(params: Params) -> ScaleByLBFGSState:
        mem = tmap(lambda p: jnp.zeros((m, *jnp.shape(p)), jnp.asarray(p).dtype), params)
        leaves = [jnp.asarray(x).dtype for x in jax.tree.leaves(params)]
        rdt = _real(jnp.result_type(*leaves)) if leaves else jnp.float32
        return ScaleByLBFGSState(
            count=jnp.zeros([], jnp.int32),
            params=tmap(jnp.zeros_like, params),
            updates=tmap(jnp.zeros_like, params),
            diff_params_memory=mem,
            diff_updates_memory=tmap(jnp.zeros_like, mem),
            weights_memory=jnp.zeros((m,), rdt),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params(fn, params)
        rdt = state.weights_memory.dtype
        first = state.count == 0
        g = tmap(lambda u, p: u.astype(p.dtype), updates, state.updates)
        s_new = tmap(lambda p, q: (p - q).astype(q.dtype), params, state.params)
        y_new = tmap(lambda a, b: a - b, g, state.updates)
        sy = rdot(s_new, y_new).astype(rdt)
        yy = rdot(y_new, y_new).astype(rdt)
        good = (sy > 0) & jnp.isfinite(sy) & jnp.isfinite(yy) & ~first
        idx = (state.count - 1) % m

        def store(mem, new):
            return jnp.where(first, mem, mem.at[idx].set(new))

        smem = tmap(store, state.diff_params_memory, s_new)
        ymem = tmap(store, state.diff_updates_memory, y_new)
        rho = jnp.where(good, 1.0 / jnp.where(good, sy, 1.0), 0.0).astype(rdt)
        wmem = jnp.where(first, state.weights_memory, state.weights_memory.at[idx].set(rho))

        def pick(mem, j):
            return tmap(lambda x: x[j], mem)

        newest = jnp.where(first, 0, idx)

        def first_loop(i, c):
            q, alphas = c
            j = (newest - i) % m
            a = wmem[j] * rdot(pick(smem, j), q).astype(rdt)
            q = tmap(lambda qq, y: qq - (a * y).astype(qq.dtype), q, pick(ymem, j))
            return q, alphas.at[j].set(a)

        q, alphas = jax.lax.fori_loop(0, m, first_loop, (g, jnp.zeros((m,), rdt)))
        if scale_init_precond:
            gnorm = jnp.sqrt(rdot(g, g).astype(rdt))
            gamma0 = jnp.minimum(1.0, 1.0 / jnp.where(gnorm > 0, gnorm, 1.0))
            gamma = jnp.where(first, gamma0, jnp.where(good, sy / jnp.where(good, yy, 1.0), 1.0))
        else:
            gamma = jnp.ones([], rdt)
        r = tmap(lambda x: (gamma * x).astype(x.dtype), q)

        def second_loop(i, r):
            j = (newest + 1 + i) % m
            b = wmem[j] * rdot(pick(ymem, j), r).astype(rdt)
            return tmap(lambda rr, s: rr + ((alphas[j] - b) * s).astype(rr.dtype), r, pick(smem, j))

        r = jax.lax.fori_loop(0, m, second_loop, r)
        r = tmap(lambda x, u: x.astype(u.dtype), r, updates)
        new_state = ScaleByLBFGSState(
            count=safe_increment(state.count),
            params=tmap(lambda p, q: p.astype(q.dtype), params, state.params),
            updates=g,
            diff_params_memory=smem,
            diff_updates_memory=ymem,
            weights_memory=wmem,
        )
        return r, new_state

    return GradientTransformation(init_fn, update_fn)


_DEFAULT_LINESEARCH = scale_by_zoom_linesearch(
    max_linesearch_steps=15, initial_guess_strategy="one"
)


def lbfgs(
    learning_rate: Any = None,
    memory_size: int = 10,
    scale_init_precond: bool = True,
    linesearch: GradientTransformation | None = _DEFAULT_LINESEARCH,
) -> GradientTransformationExtraArgs:
    """The L-BFGS optimizer: the two-loop direction, negated, scaled by a line search.

    Update rule: :math:`u_k = -t_k \\eta H_k g_k` with :math:`H_k g_k` from
    :func:`scale_by_lbfgs`, :math:`\\eta` = ``learning_rate`` (1 when ``None``) and
    :math:`t_k` from ``linesearch`` (1 when ``None``). The default line search is
    ``scale_by_zoom_linesearch(max_linesearch_steps=15, initial_guess_strategy="one")``
    (strong Wolfe), which needs ``value``, ``grad`` and ``value_fn`` in ``update``:
    the loop is the one of optax's documentation::

        value_and_grad = gradtx.value_and_grad_from_state(f)
        value, grad = value_and_grad(params, state=opt_state)
        updates, opt_state = opt.update(
            grad, opt_state, params, value=value, grad=grad, value_fn=f)
        params = gradtx.apply_updates(params, updates)

    Unlike most gradtx aliases the state is the plain chain of the three parts
    (``(ScaleByLBFGSState, EmptyState, ScaleByZoomLinesearchState)``), as optax's,
    so loops that read ``opt_state`` by position keep working; the line search's
    state already records the step size it chose.

    Complex parameters are optimized as pairs of reals. The gradient passed in must
    be the steepest-ascent direction :math:`\\partial f/\\partial x + i\\,\\partial f/\\partial y`,
    i.e. ``jnp.conj(jax.grad(f)(z))``; :func:`value_and_grad_from_state` returns that.
    (optax's loop fed with the raw ``jax.grad`` of a complex problem can increase the
    objective; gradtx's helper conjugates so the same loop descends.)

    Args:
      learning_rate: a number, a schedule, or ``None`` (no extra scaling).
      memory_size: number of curvature pairs kept (> 0).
      scale_init_precond: scale the initial inverse Hessian (see :func:`scale_by_lbfgs`).
      linesearch: a line search transformation, or ``None`` for fixed steps.

    Returns:
      The optimizer.

    Reference: Liu & Nocedal 1989, "On the limited memory BFGS method for large
    scale optimization", Math. Programming 45; Nocedal & Wright 2006, "Numerical
    Optimization" (2nd ed.), Algorithms 7.4 and 7.5.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - jnp.array([1.0, 2.0])) ** 2 * jnp.array([1.0, 10.0]))
      >>> opt = gradtx.second_order.lbfgs()
      >>> x = jnp.zeros(2)
      >>> state = opt.init(x)
      >>> vg = gradtx.second_order.value_and_grad_from_state(f)
      >>> for _ in range(5):
      ...     value, grad = vg(x, state=state)
      ...     u, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=f)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(4), f(x).round(6)
      (Array([1., 2.], dtype=float32), Array(0., dtype=float32))
    """
    _check_memory("lbfgs", memory_size)
    if learning_rate is None:
        step = scale(-1.0)
    else:
        if not callable(learning_rate):
            check_positive("lbfgs", "learning_rate", learning_rate)
        step = scale_by_learning_rate(learning_rate)
    parts = [scale_by_lbfgs(memory_size, scale_init_precond), step]
    if linesearch is not None:
        parts.append(linesearch)
    return chain(*parts)

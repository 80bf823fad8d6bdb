"""A one-line driver: run a solver on a deterministic objective in a jitted while loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_nonnegative
from gradtx.apply import apply_updates
from gradtx.base import GradientTransformation, Params, with_extra_args_support

__all__ = ["MinimizeResult", "minimize"]


class MinimizeResult(NamedTuple):
    """What :func:`minimize` returns.

    Attributes:
      params: the final parameters, a pytree like the initial ones.
      value: ``fun(params)`` at the final parameters.
      grad_norm: the Euclidean norm of ``jax.grad(fun)(params)`` over all leaves.
      num_steps: int32, the solver updates taken.
    """

    params: Params
    value: jax.Array
    grad_norm: jax.Array
    num_steps: jax.Array


def _norm(tree) -> jax.Array:
    leaves = [jnp.sum(jnp.abs(x) ** 2) for x in jax.tree.leaves(tree)]
    return jnp.sqrt(sum(leaves[1:], leaves[0])) if leaves else jnp.zeros([])


def minimize(
    fun: Callable[[Params], jax.Array],
    params: Params,
    solver: GradientTransformation,
    max_steps: int = 100,
    tol: float = 1e-6,
) -> MinimizeResult:
    """Minimize ``fun`` from ``params`` with ``solver`` until the gradient is small.

    Loop, in one jitted ``lax.while_loop``:

    .. math::

       u_k, s_{k+1} = \\text{solver.update}(\\nabla f(\\theta_k), s_k, \\theta_k;
       \\text{value}=f(\\theta_k), \\text{grad}=\\nabla f(\\theta_k),
       \\text{value\\_fn}=f), \\qquad \\theta_{k+1} = \\theta_k + u_k

    while :math:`k <` ``max_steps`` and :math:`\\lVert \\nabla f(\\theta_k)\\rVert >`
    ``tol``. The extra arguments ``value=``, ``grad=`` and ``value_fn=`` are what
    :func:`gradtx.second_order.newton`, :func:`gradtx.second_order.newton_cg` and
    L-BFGS-style solvers with line searches read; first-order optimizers ignore them,
    and a transformation without extra-argument support is wrapped with
    :func:`gradtx.with_extra_args_support`. The loop is traced afresh on each call (``fun``
    and ``solver`` are part of the program); call ``minimize`` inside your own
    ``jax.jit`` to reuse the compilation.

    Args:
      fun: the objective ``fun(params) -> scalar`` (real), deterministic.
      params: the starting point, a pytree of arrays.
      solver: a gradient transformation (with extra-args support or not).
      max_steps: the most solver updates, a Python int >= 0.
      tol: stop once the gradient norm is at most this (>= 0).

    Returns:
      A :class:`MinimizeResult` ``(params, value, grad_norm, num_steps)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.second_order import minimize, newton
      >>> rosenbrock = lambda x: (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
      >>> res = minimize(rosenbrock, jnp.array([-1.2, 1.0]), newton(), max_steps=50)
      >>> res.params, int(res.num_steps)
      (Array([1., 1.], dtype=float32), 6)
    """
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 0:
        raise ValueError(f"`minimize(max_steps=...)` must be a Python int >= 0; got {max_steps=}.")
    check_nonnegative("minimize", "tol", tol)
    solver = with_extra_args_support(solver)
    value_and_grad = jax.value_and_grad(fun)

    @jax.jit
    def run(params0, tol):
        value0, grad0 = value_and_grad(params0)

        def cond(carry):
            _, _, _, grad, k = carry
            return (k < max_steps) & (_norm(grad) > tol)

        def body(carry):
            params, state, value, grad, k = carry
            updates, state = solver.update(
                grad, state, params, value=value, grad=grad, value_fn=fun
            )
            params = apply_updates(params, updates)
            value, grad = value_and_grad(params)
            return params, state, value, grad, k + 1

        carry = (params0, solver.init(params0), value0, grad0, jnp.zeros([], jnp.int32))
        params, _, value, grad, k = jax.lax.while_loop(cond, body, carry)
        return MinimizeResult(params, value, _norm(grad), k)

    return run(params, tol)

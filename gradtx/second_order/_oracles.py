"""Curvature oracles: Hessian-vector products, dense Hessians and diagonal estimates.

Every oracle takes a scalar objective ``fn(params)`` (or a residual function, or a
per-example loss) and a pytree of parameters, runs under ``jax.jit``, and returns
pytrees with the structure of ``params`` (except :func:`hessian`, which returns one dense
matrix over the raveled parameters; see its docstring). Real floating parameters
(float32, float64) are supported; for complex parameters use a real parameterization.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gradtx.base import Params

__all__ = ["fisher_diag", "gnvp", "hessian", "hessian_diag", "hutchinson_diag", "hvp"]


def hvp(fn: Callable[[Params], jax.Array], params: Params, v: Params) -> Params:
    """Hessian-vector product :math:`\\nabla^2 f(\\theta)\\, v`, forward-over-reverse.

    .. math::

       \\nabla^2 f(\\theta)\\, v = \\frac{d}{d\\epsilon}
       \\nabla f(\\theta + \\epsilon v)\\Big|_{\\epsilon=0}

    computed with one ``jax.jvp`` of ``jax.grad(fn)``: the cost of about two gradients,
    memory linear in the parameter count.

    Args:
      fn: a scalar objective ``fn(params) -> ()``.
      params: the point :math:`\\theta`, a pytree of real floating arrays.
      v: the direction, a pytree with the structure and shapes of ``params``.

    Returns:
      :math:`H v`, a pytree like ``params``.

    Reference: Pearlmutter 1994, "Fast Exact Multiplication by the Hessian", Neural
    Computation 6(1), DOI 10.1162/neco.1994.6.1.147.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.second_order import hvp
      >>> f = lambda p: jnp.sum(p["x"] ** 3) + p["x"][0] * p["y"][0]
      >>> hvp(f, {"x": jnp.array([1.0, 2.0]), "y": jnp.array([3.0])},
      ...     {"x": jnp.array([1.0, 0.0]), "y": jnp.array([1.0])})
      {'x': Array([7., 0.], dtype=float32), 'y': Array([1.], dtype=float32)}
    """
    return jax.jvp(jax.grad(fn), (params,), (v,))[1]


def hessian(fn: Callable[[Params], jax.Array], params: Params) -> jax.Array:
    """The dense Hessian over the raveled parameters, for small problems.

    .. math::

       H_{ij} = \\frac{\\partial^2 f}{\\partial \\theta_i\\, \\partial \\theta_j},
       \\qquad \\theta = \\operatorname{ravel}(\\text{params})

    Representation: one ``(n, n)`` array, ``n`` the total number of parameter entries,
    ordered as ``jax.flatten_util.ravel_pytree(params)`` orders them (leaves in tree
    order, each flattened row-major), in the dtype ``ravel_pytree`` promotes the leaves
    to. A row or column maps back to a pytree with the ``unravel`` function that
    ``ravel_pytree(params)`` returns. (``jax.hessian(fn)(params)`` holds the same numbers
    as a tree of trees of blocks.) Memory is :math:`O(n^2)`: use :func:`hvp` beyond a few
    thousand parameters.

    Args:
      fn: a scalar objective ``fn(params) -> ()``.
      params: the point, a pytree of real floating arrays.

    Returns:
      The ``(n, n)`` symmetric matrix :math:`H`.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.second_order import hessian
      >>> f = lambda p: p["a"] ** 2 * p["b"][0] + p["b"][1] ** 3
      >>> hessian(f, {"a": jnp.array(1.0), "b": jnp.array([2.0, 1.0])})
      Array([[4., 2., 0.],
             [2., 0., 0.],
             [0., 0., 6.]], dtype=float32)
    """
    flat, unravel = ravel_pytree(params)
    return jax.hessian(lambda x: fn(unravel(x)))(flat)


def hessian_diag(fn: Callable[[Params], jax.Array], params: Params) -> Params:
    """The exact diagonal of the Hessian, as a pytree like ``params`` (small problems).

    .. math::

       d_i = \\frac{\\partial^2 f}{\\partial \\theta_i^2}

    It is computed from :func:`hessian`, so it costs :math:`O(n^2)` memory; for large
    models estimate it with :func:`hutchinson_diag`.

    Args:
      fn: a scalar objective ``fn(params) -> ()``.
      params: the point, a pytree of real floating arrays.

    Returns:
      The diagonal, a pytree with the structure, shapes and dtypes of ``params``.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.second_order import hessian_diag
      >>> hessian_diag(lambda x: jnp.sum(x ** 3) + x[0] * x[1], jnp.array([1.0, 2.0]))
      Array([ 6., 12.], dtype=float32)
    """
    _, unravel = ravel_pytree(params)
    return unravel(jnp.diagonal(hessian(fn, params)))


def _rademacher_like(key: jax.Array, params: Params) -> Params:
    leaves, treedef = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, max(len(leaves), 1))
    signs = [
        jax.random.rademacher(k, jnp.shape(x), dtype=jnp.result_type(x))
        for k, x in zip(keys, leaves, strict=False)
    ]
    return jax.tree_util.tree_unflatten(treedef, signs)


def hutchinson_diag(
    fn: Callable[[Params], jax.Array], params: Params, key: jax.Array, num_samples: int = 1
) -> Params:
    """Hutchinson's unbiased estimate of the Hessian diagonal from Rademacher probes.

    .. math::

       \\hat d = \\frac{1}{S} \\sum_{s=1}^{S} z_s \\odot (H z_s), \\qquad
       z_s \\in \\{-1, +1\\}^n \\text{ uniform},
       \\qquad \\mathbb{E}[\\hat d] = \\operatorname{diag}(H)

    One :func:`hvp` per probe, accumulated in a ``lax.fori_loop`` (memory of a few
    copies of the parameters, whatever ``num_samples``). The variance of entry ``i`` is
    :math:`\\frac{1}{S}\\sum_{j \\ne i} H_{ij}^2`; the estimate is exact for a diagonal
    Hessian.

    Args:
      fn: a scalar objective ``fn(params) -> ()``.
      params: the point, a pytree of real floating arrays.
      key: a ``jax.random`` key for the probes.
      num_samples: :math:`S`, the number of probes, a Python int >= 1.

    Returns:
      The estimate, a pytree like ``params``.

    Reference: Bekas, Kokiopoulou & Saad 2007, "An estimator for the diagonal of a
    matrix", Applied Numerical Mathematics 57(11); Hutchinson 1989, "A stochastic
    estimator of the trace of the influence matrix for Laplacian smoothing splines".

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from gradtx.second_order import hutchinson_diag
      >>> f = lambda x: jnp.sum(jnp.array([1.0, 2.0, 3.0]) * x ** 2)
      >>> hutchinson_diag(f, jnp.zeros(3), jax.random.key(0), num_samples=4)
      Array([2., 4., 6.], dtype=float32)
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(
            f"`hutchinson_diag(num_samples=...)` must be a Python int >= 1; got {num_samples=}."
        )
    _, hvp_fn = jax.linearize(jax.grad(fn), params)

    def body(s, acc):
        z = _rademacher_like(jax.random.fold_in(key, s), params)
        return jax.tree.map(lambda a, zi, hz: a + zi * hz, acc, z, hvp_fn(z))

    zeros = jax.tree.map(jnp.zeros_like, params)
    total = jax.lax.fori_loop(0, num_samples, body, zeros)
    return jax.tree.map(lambda t: t / num_samples, total)


def gnvp(residual_fn: Callable[[Params], Any], params: Params, v: Params) -> Params:
    """Gauss-Newton vector product :math:`J^\\top J v` of a residual function.

    .. math::

       G v = J^\\top (J v), \\qquad J = \\frac{\\partial r}{\\partial \\theta}(\\theta)

    :math:`G` is the Gauss-Newton matrix of :math:`\\tfrac12 \\lVert r(\\theta)\\rVert^2`
    (its Hessian without the residual-curvature term; equal to it when ``r`` is affine),
    always positive semidefinite. One ``jax.jvp`` and one ``jax.vjp``; ``r`` may return
    any pytree of real arrays.

    Args:
      residual_fn: ``r(params)``, the residuals.
      params: the point, a pytree of real floating arrays.
      v: the direction, a pytree like ``params``.

    Returns:
      :math:`J^\\top J v`, a pytree like ``params``.

    Reference: Schraudolph 2002, "Fast Curvature Matrix-Vector Products for Second-Order
    Gradient Descent", Neural Computation 14(7), DOI 10.1162/08997660260028683.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.second_order import gnvp
      >>> r = lambda x: jnp.array([x[0] * x[1], x[0] - 1.0])  # J = [[x1, x0], [1, 0]]
      >>> gnvp(r, jnp.array([1.0, 2.0]), jnp.array([1.0, 0.0]))
      Array([5., 2.], dtype=float32)
    """
    _, jv = jax.jvp(residual_fn, (params,), (v,))
    _, vjp_fn = jax.vjp(residual_fn, params)
    return vjp_fn(jv)[0]


def fisher_diag(loss_fn: Callable[[Params, Any], jax.Array], params: Params, batch: Any) -> Params:
    """Diagonal of the empirical Fisher matrix, from per-example gradients.

    .. math::

       F_{ii} = \\frac{1}{B} \\sum_{b=1}^{B}
       \\left(\\frac{\\partial \\ell(\\theta; x_b)}{\\partial \\theta_i}\\right)^2

    ``loss_fn(params, example)`` is the loss of ONE example (typically its negative
    log-likelihood); every leaf of ``batch`` carries the examples along its leading axis
    (size :math:`B`), and the per-example gradients come from ``jax.vmap`` of
    ``jax.grad(loss_fn)`` over that axis. This is the *empirical* Fisher (gradients at
    the observed labels), not the true Fisher (labels sampled from the model); it
    equals the Gauss-Newton diagonal only in special cases (Kunstner et al. 2019).

    Args:
      loss_fn: ``loss_fn(params, example) -> ()``, the loss of a single example.
      params: the point, a pytree of real floating arrays.
      batch: a pytree of arrays whose leaves share the leading (example) axis.

    Returns:
      :math:`\\operatorname{diag}(F)`, a pytree like ``params``.

    Reference: Martens 2020, "New Insights and Perspectives on the Natural Gradient
    Method", JMLR 21, arXiv 1412.1193; Kunstner, Balles & Hennig 2019, "Limitations of
    the Empirical Fisher Approximation for Natural Gradient Descent", arXiv 1905.12558.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.second_order import fisher_diag
      >>> loss = lambda w, ex: 0.5 * (ex["x"] @ w - ex["y"]) ** 2
      >>> batch = {"x": jnp.array([[1.0, 0.0], [1.0, 2.0]]), "y": jnp.array([1.0, 0.0])}
      >>> fisher_diag(loss, jnp.array([0.0, 1.0]), batch)  # grads [-1, 0] and [2, 4]
      Array([2.5, 8. ], dtype=float32)
    """
    sizes = {jnp.shape(x)[0] if jnp.ndim(x) else None for x in jax.tree.leaves(batch)}
    if not sizes or None in sizes or len(sizes) != 1:
        raise ValueError(
            "`fisher_diag(batch=...)` needs array leaves that share a leading example "
            f"axis; got leading sizes {sorted(map(str, sizes))}."
        )
    grads = jax.vmap(jax.grad(loss_fn), in_axes=(None, 0))(params, batch)
    return jax.tree.map(lambda g: jnp.mean(g * g, axis=0), grads)

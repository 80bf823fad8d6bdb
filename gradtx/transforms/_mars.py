"""MARS: Adam on a variance-reduced (scaled recursive momentum) gradient estimate."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_decay, check_nonnegative, check_range
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.numerics import abs_sq, safe_increment
from gradtx.transforms._common import (
    as_float,
    debias_factor,
    like,
    real_zeros_state,
    tmap,
    upcast,
    zeros_state,
)

__all__ = ["ScaleByMarsState", "scale_by_mars"]


class ScaleByMarsState(NamedTuple):
    """State of :func:`scale_by_mars`.

    Attributes:
      count: int32 number of updates so far.
      mu: the first moment :math:`m` of the clipped corrected gradients, in
        ``mu_dtype``.
      nu: the second moment :math:`v` (real), in the parameters' real dtype.
      prev_grads: the previous step's gradient :math:`g_{t-1}` (zeros before the
        first step), in the parameters' dtype.
    """

    count: jax.Array
    mu: Any
    nu: Any
    prev_grads: Any


def scale_by_mars(
    b1: jax.typing.ArrayLike = 0.95,
    b2: jax.typing.ArrayLike = 0.99,
    eps: jax.typing.ArrayLike = 1e-8,
    gamma: jax.typing.ArrayLike = 0.025,
    mu_dtype: Any = None,
    *,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale by MARS-AdamW: Adam on a clipped, variance-reduced gradient estimate.

    Update rule, per leaf, from :math:`m_0 = v_0 = 0`:

    .. math::

       c_t = g_t + \\gamma\\,\\frac{\\beta_1}{1-\\beta_1}\\,(g_t - \\tilde g_{t-1}),
       \\qquad \\tilde c_t = \\frac{c_t}{\\max(1, \\|c_t\\|_2)},

       m_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\,\\tilde c_t, \\quad
       v_t = \\beta_2 v_{t-1} + (1-\\beta_2)\\,\\tilde c_t^2, \\quad
       u_t = \\frac{m_t / (1-\\beta_1^t)}{\\sqrt{v_t / (1-\\beta_2^t)} + \\epsilon}

    where :math:`\\tilde g_{t-1}` is the gradient at the previous parameters. The paper's
    exact MARS evaluates it on the *current* batch, :math:`\\nabla f(x_{t-1}, \\xi_t)`:
    pass it as the keyword argument ``update(..., previous_grads=...)``. Without it
    (the default) this is the paper's practical MARS-approx, which reuses the previous
    step's gradient :math:`\\nabla f(x_{t-1}, \\xi_{t-1})` kept in the state; at the
    first step there is none, and :math:`c_1 = g_1` (the paper starts from
    :math:`x_0 = x_1`). The norm :math:`\\|c_t\\|_2` is taken per leaf (per weight
    tensor), as in the authors' released implementation. Only the AdamW instance is
    provided (not MARS-Lion or MARS-Shampoo).

    Args:
      b1: :math:`\\beta_1` in [0, 1), the first moment's decay; also sets the strength
        :math:`\\beta_1/(1-\\beta_1)` of the correction.
      b2: :math:`\\beta_2` in [0, 1], the second moment's decay.
      eps: :math:`\\epsilon` >= 0, added to the root of the second moment.
      gamma: :math:`\\gamma` >= 0, the scale of the correction (0 gives Adam on the
        clipped gradient).
      mu_dtype: dtype of the first moment; the parameters' dtype when ``None``.
      nu_dtype: dtype of the second moment (keyword-only); the parameters' real dtype
        when ``None``. Moments are upcast to at least float32 for the arithmetic and
        rounded only when stored.
        The previous gradient keeps the gradients' dtype.

    Returns:
      A transformation with :class:`ScaleByMarsState`; its update accepts the optional
      keyword argument ``previous_grads``, a tree like the gradients.

    Reference: Yuan, Liu, Wu, Zhou & Gu 2024, "MARS: Unleashing the Power of Variance
    Reduction for Training Large Models", arXiv 2411.10438, Algorithm 1 (MARS-AdamW).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_mars(gamma=0.5)
      >>> s = tx.init(jnp.zeros(2))
      >>> u, s = tx.update(jnp.array([0.3, 0.4]), s)  # c_1 = g_1, |c_1| = 0.5
      >>> u.round(4)
      Array([1., 1.], dtype=float32)
      >>> u, s = tx.update(jnp.array([0.3, 0.0]), s)  # c_2 = g_2 + 9.5 (g_2 - g_1)
      >>> s.prev_grads
      Array([0.3, 0. ], dtype=float32)
    """
    fn = "scale_by_mars"
    check_range(fn, "b1", b1, 0.0, 1.0, high_open=True)
    check_decay(fn, "b2", b2)
    check_nonnegative(fn, "eps", eps)
    check_nonnegative(fn, "gamma", gamma)

    def init_fn(params: Params) -> ScaleByMarsState:
        return ScaleByMarsState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
            zeros_state(params),
        )

    def update_fn(updates, state, params=None, *, previous_grads=None, **extra_args):
        del params, extra_args
        first = state.count == 0
        strength = as_float(gamma) * as_float(b1) / (1 - as_float(b1))
        prev = state.prev_grads if previous_grads is None else previous_grads

        def corrected(g: jax.Array, p: jax.Array) -> jax.Array:
            if previous_grads is None:  # MARS-approx: no previous gradient at step 1
                p = jnp.where(first, g, p)
            c = g + strength * (g - p)
            norm = jnp.sqrt(jnp.sum(abs_sq(c)))
            return c / jnp.maximum(norm, 1)

        c = tmap(corrected, updates, prev)
        count = safe_increment(state.count)
        mu = tmap(lambda x, m: b1 * upcast(m) + (1 - b1) * upcast(x), c, state.mu)
        nu = tmap(lambda x, v: b2 * upcast(v) + (1 - b2) * abs_sq(upcast(x)), c, state.nu)
        c1, c2 = debias_factor(b1, count), debias_factor(b2, count)
        out = tmap(lambda g, m, v: like(m / c1 / (jnp.sqrt(v / c2) + eps), g), updates, mu, nu)
        return out, ScaleByMarsState(
            count,
            tmap(like, mu, state.mu),
            tmap(like, nu, state.nu),
            tmap(like, updates, state.prev_grads),
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)

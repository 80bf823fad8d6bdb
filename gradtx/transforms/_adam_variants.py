"""Adam's relatives: Adamax, Adadelta, RAdam and NAdam with Dozat's momentum schedule."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_decay, check_nonnegative, check_positive, check_range
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.numerics import abs_sq, safe_increment
from gradtx.transforms._adaptive import (
    ScaleByAdamState,
    _adam_moments,
    _check_adam,
    _first_moment_hat,
)
from gradtx.transforms._common import (
    as_float,
    debias_factor,
    like,
    real_zeros_state,
    tmap,
    upcast,
    zeros_state,
)

__all__ = [
    "ScaleByAdaDeltaState",
    "ScaleByAdamaxState",
    "ScaleByNadamState",
    "scale_by_adadelta",
    "scale_by_adamax",
    "scale_by_nadam",
    "scale_by_radam",
]


class ScaleByAdamaxState(NamedTuple):
    """State of :func:`scale_by_adamax`.

    Attributes:
      count: int32 number of updates so far.
      mu: the first moment.
      nu: the exponentially weighted infinity norm.
    """

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_adamax(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Adam with the infinity norm in place of the second moment (Adamax).

    Update rule:

    .. math::

       m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\quad
       v_t = \\max(\\beta_2 v_{t-1}, |g_t| + \\epsilon),\\quad
       u_t = \\frac{m_t}{(1-\\beta_1^t)\\, v_t}

    Args:
      b1: :math:`\\beta_1` in [0, 1].
      b2: :math:`\\beta_2` in [0, 1].
      eps: >= 0, added to :math:`|g_t|` inside the maximum (as optax and torch do).
      mu_dtype: dtype of ``mu`` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of ``nu`` (keyword-only); the parameters' real dtype when ``None``.

    Returns:
      A transformation with :class:`ScaleByAdamaxState`.

    Reference: Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization",
    arXiv 1412.6980, section 7.1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_adamax(eps=0.0)
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([ 1., -1.], dtype=float32)
    """
    _check_adam("scale_by_adamax", b1, b2, eps, 0.0)

    def init_fn(params: Params) -> ScaleByAdamaxState:
        return ScaleByAdamaxState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count = safe_increment(state.count)
        mu = tmap(lambda g, m: b1 * upcast(m) + (1 - b1) * upcast(g), updates, state.mu)
        nu = tmap(
            lambda g, v: jnp.maximum(b2 * upcast(v), jnp.abs(upcast(g)) + eps), updates, state.nu
        )
        c1 = debias_factor(b1, count)
        out = tmap(lambda g, m, v: like(m / c1 / v, g), updates, mu, nu)
        return out, ScaleByAdamaxState(count, tmap(like, mu, state.mu), tmap(like, nu, state.nu))

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByAdaDeltaState(NamedTuple):
    """State of :func:`scale_by_adadelta`.

    Attributes:
      e_g: the EMA of squared gradients.
      e_x: the EMA of squared updates.
    """

    e_g: Any
    e_x: Any


def scale_by_adadelta(
    rho: jax.typing.ArrayLike = 0.9, eps: jax.typing.ArrayLike = 1e-6, *, nu_dtype: Any = None
) -> GradientTransformationExtraArgs:
    """Scale updates by the ratio of RMS past updates to RMS gradients (Adadelta).

    Update rule:

    .. math::

       E[g^2]_t = \\rho E[g^2]_{t-1} + (1-\\rho) g_t^2,\\quad
       u_t = \\frac{\\sqrt{E[\\Delta x^2]_{t-1} + \\epsilon}}{\\sqrt{E[g^2]_t + \\epsilon}} g_t,
       \\quad E[\\Delta x^2]_t = \\rho E[\\Delta x^2]_{t-1} + (1-\\rho) u_t^2

    Args:
      rho: :math:`\\rho` in [0, 1].
      eps: > 0; it sets the first steps' size.
      nu_dtype: dtype of both averages :math:`E[g^2]` and :math:`E[\\Delta x^2]`
        (keyword-only); the parameters' real dtype when ``None``. They are upcast to at
        least float32 for the arithmetic and rounded only when stored.

    Returns:
      A transformation with :class:`ScaleByAdaDeltaState`.

    Reference: Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method",
    arXiv 1212.5701.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_adadelta(rho=0.0, eps=1.0)
      >>> tx.update(jnp.array([0.0]), tx.init(jnp.zeros(1)))[0]
      Array([0.], dtype=float32)
    """
    check_decay("scale_by_adadelta", "rho", rho)
    check_positive("scale_by_adadelta", "eps", eps)

    def init_fn(params: Params) -> ScaleByAdaDeltaState:
        return ScaleByAdaDeltaState(
            real_zeros_state(params, nu_dtype), real_zeros_state(params, nu_dtype)
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        e_g = tmap(lambda g, e: rho * upcast(e) + (1 - rho) * abs_sq(upcast(g)), updates, state.e_g)
        delta = tmap(
            lambda g, eg, ex: jnp.sqrt(upcast(ex) + eps) / jnp.sqrt(eg + eps) * upcast(g),
            updates,
            e_g,
            state.e_x,
        )
        e_x = tmap(lambda d, e: rho * upcast(e) + (1 - rho) * abs_sq(d), delta, state.e_x)
        out = tmap(like, delta, updates)
        return out, ScaleByAdaDeltaState(tmap(like, e_g, state.e_g), tmap(like, e_x, state.e_x))

    return GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_radam(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    threshold: jax.typing.ArrayLike = 5.0,
    *,
    nesterov: bool = False,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Rectified Adam: Adam's step only once the variance of its rate is tractable.

    Update rule, with :math:`\\rho_\\infty = 2/(1-\\beta_2) - 1` and
    :math:`\\rho_t = \\rho_\\infty - 2t\\beta_2^t/(1-\\beta_2^t)`:

    .. math::

       u_t = \\begin{cases}
         r_t\\, \\hat m_t / (\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon)
           & \\rho_t > \\text{threshold} \\\\
         \\hat m_t & \\text{otherwise} \\end{cases},\\quad
       r_t = \\sqrt{\\frac{(\\rho_t-4)(\\rho_t-2)\\rho_\\infty}
                          {(\\rho_\\infty-4)(\\rho_\\infty-2)\\rho_t}}

    Args:
      b1, b2, eps, eps_root: as in :func:`scale_by_adam`.
      threshold: the :math:`\\rho_t` above which the adaptive step is used, >= 4
        (below 4 the rectifier is undefined); 5, as in the paper's code and torch. The
        adaptive step is taken when :math:`\\rho_t >` ``threshold`` (torch's test;
        optax uses :math:`\\ge`, which differs only when :math:`\\rho_t` equals it
        exactly).
      nesterov: use Nesterov's look-ahead first moment.
      mu_dtype: dtype of ``mu`` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of ``nu`` (keyword-only); the parameters' real dtype when ``None``.

    Returns:
      A transformation with :class:`~gradtx.ScaleByAdamState`.

    Reference: Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and
    Beyond", arXiv 1908.03265.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_radam()
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0].round(4)
      Array([ 0.5, -2. ], dtype=float32)
    """
    _check_adam("scale_by_radam", b1, b2, eps, eps_root)
    check_range("scale_by_radam", "threshold", threshold, 4.0)

    def init_fn(params: Params) -> ScaleByAdamState:
        return ScaleByAdamState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        mu, nu, count = _adam_moments(updates, state, b1, b2)
        mu_hat = _first_moment_hat(updates, mu, b1, count, nesterov, True)
        b2_ = as_float(b2)
        rho_inf = 2 / (1 - b2_) - 1
        b2t = b2_**count
        rho_t = rho_inf - 2 * count * b2t / (1 - b2t)
        use = rho_t > threshold
        # The radicand is positive wherever it is used (rho_t > threshold >= 4).
        safe_rho = jnp.where(use, rho_t, rho_inf)
        rect = jnp.sqrt(
            (safe_rho - 4) * (safe_rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * safe_rho)
        )
        c2 = 1 - b2t

        def step(g: jax.Array, m: jax.Array, v: jax.Array) -> jax.Array:
            adaptive = rect * m / (jnp.sqrt(v / c2 + eps_root) + eps)
            return like(jnp.where(use, adaptive, m), g)

        out = tmap(step, updates, mu_hat, nu)
        return out, ScaleByAdamState(count, tmap(like, mu, state.mu), tmap(like, nu, state.nu))

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByNadamState(NamedTuple):
    """State of :func:`scale_by_nadam`.

    Attributes:
      count: int32 number of updates so far.
      mu: the first moment.
      nu: the second moment.
      mu_product: the running product :math:`\\prod_{i \\le t} \\mu_i` of the momentum
        schedule (in JAX's default float dtype: float64 with x64).
    """

    count: jax.Array
    mu: Any
    nu: Any
    mu_product: jax.Array


def scale_by_nadam(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any = None,
    momentum_decay: jax.typing.ArrayLike = 4e-3,
    *,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """NAdam with Dozat's warming momentum schedule (torch's ``NAdam``).

    Update rule, with :math:`\\mu_t = \\beta_1 (1 - \\tfrac12 0.96^{t\\psi})`,
    :math:`\\psi` = ``momentum_decay`` and :math:`\\Pi_t = \\prod_{i\\le t}\\mu_i`:

    .. math::

       u_t = \\frac{1}{\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon}\\left(
         \\frac{(1-\\mu_t)\\, g_t}{1-\\Pi_t} + \\frac{\\mu_{t+1}\\, m_t}{1-\\Pi_t\\mu_{t+1}}
       \\right)

    with Adam's :math:`m_t, v_t` and :math:`\\hat v_t = v_t/(1-\\beta_2^t)`.
    (``momentum_decay=0`` does not give a constant :math:`\\beta_1`: it gives
    :math:`\\beta_1/2`, as in torch. For a constant :math:`\\beta_1` use
    ``scale_by_adam(nesterov=True)``.)

    Args:
      b1, b2, eps, eps_root, mu_dtype: as in :func:`scale_by_adam`.
      momentum_decay: :math:`\\psi` >= 0 (torch's default 4e-3).
      nu_dtype: dtype of ``nu`` (keyword-only), as in :func:`scale_by_adam`.

    Returns:
      A transformation with :class:`ScaleByNadamState`.

    Reference: Dozat 2016, "Incorporating Nesterov Momentum into Adam", ICLR
    workshop.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_nadam()
      >>> u, _ = tx.update(jnp.array([1.0]), tx.init(jnp.zeros(1)))
      >>> u.shape
      (1,)
    """
    _check_adam("scale_by_nadam", b1, b2, eps, eps_root)
    check_nonnegative("scale_by_nadam", "momentum_decay", momentum_decay)

    def init_fn(params: Params) -> ScaleByNadamState:
        return ScaleByNadamState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
            as_float(1.0),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        mu, nu, count = _adam_moments(updates, state, b1, b2)
        t = as_float(count)
        b1_, psi = as_float(b1), as_float(momentum_decay)
        mu_t = b1_ * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1_ * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        prod = state.mu_product * mu_t
        c2 = debias_factor(b2, count)

        def step(g: jax.Array, m: jax.Array, v: jax.Array) -> jax.Array:
            direction = (1 - mu_t) * upcast(g) / (1 - prod) + mu_next * m / (1 - prod * mu_next)
            return like(direction / (jnp.sqrt(v / c2 + eps_root) + eps), g)

        out = tmap(step, updates, mu, nu)
        new_state = ScaleByNadamState(
            count,
            tmap(like, mu, state.mu),
            tmap(like, nu, state.nu),
            prod.astype(state.mu_product.dtype),
        )
        return out, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)

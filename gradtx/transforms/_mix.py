"""Mixtures of momenta and dual averaging: AdEMAMix, Simplified-AdEMAMix, MADGRAD, ACProp."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_nonnegative, check_range, check_schedule_or_nonnegative
from gradtx.base import GradientTransformationExtraArgs, Params, ScalarOrSchedule
from gradtx.numerics import abs_sq, safe_increment
from gradtx.transforms._common import (
    as_float,
    debias_factor,
    like,
    real_zeros_state,
    require_params,
    tmap,
    upcast,
    zeros_state,
)

__all__ = [
    "MadgradState",
    "ScaleByAcpropState",
    "ScaleByAdemamixState",
    "ScaleBySimplifiedAdemamixState",
    "scale_by_acprop",
    "scale_by_ademamix",
    "scale_by_madgrad",
    "scale_by_simplified_ademamix",
]


def _at(value: Any, count: jax.Array) -> Any:
    """A hyperparameter's value at ``count`` (the number of previous updates)."""
    return value(count) if callable(value) else value


def _check_decay_or_schedule(fn: str, name: str, value: Any) -> None:
    if not callable(value):
        check_range(fn, name, value, 0.0, 1.0)


def _check_betas_eps(fn: str, b1: Any, b2: Any, eps: Any, eps_root: Any) -> None:
    check_range(fn, "b1", b1, 0.0, 1.0)
    check_range(fn, "b2", b2, 0.0, 1.0)
    check_nonnegative(fn, "eps", eps)
    check_nonnegative(fn, "eps_root", eps_root)


class ScaleByAdemamixState(NamedTuple):
    """State of :func:`scale_by_ademamix`.

    Attributes:
      count: int32 number of updates so far.
      m1: the fast EMA of gradients (decay ``b1``), in ``mu_dtype``.
      m2: the slow EMA of gradients (decay ``b3``), in ``mu_dtype``.
      nu: the EMA of squared gradients (decay ``b2``), real.
    """

    count: jax.Array
    m1: Any
    m2: Any
    nu: Any


def scale_by_ademamix(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    b3: ScalarOrSchedule = 0.9999,
    alpha: ScalarOrSchedule = 6.0,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any = None,
    *,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale updates by AdEMAMix's mixture of a fast and a slow gradient EMA.

    Update rule, at step :math:`t` (from 1):

    .. math::

       m^{(1)}_t = \\beta_1 m^{(1)}_{t-1} + (1-\\beta_1) g_t,\\quad
       m^{(2)}_t = \\beta_{3,t} m^{(2)}_{t-1} + (1-\\beta_{3,t}) g_t,\\quad
       \\nu_t = \\beta_2 \\nu_{t-1} + (1-\\beta_2) |g_t|^2,

    .. math::

       u_t = \\frac{m^{(1)}_t / (1-\\beta_1^t) + \\alpha_t\\, m^{(2)}_t}
             {\\sqrt{\\nu_t / (1-\\beta_2^t) + \\epsilon_{root}} + \\epsilon}

    The slow EMA is not bias-corrected. ``b3`` and ``alpha`` may be schedules
    ``count -> value`` of the number of previous updates (the paper warms both up:
    :math:`\\alpha` linearly from 0, :math:`\\beta_3` so that its half-life grows
    linearly from that of :math:`\\beta_1`).

    Args:
      b1: :math:`\\beta_1`, the fast EMA's decay, in [0, 1].
      b2: :math:`\\beta_2`, the second moment's decay, in [0, 1].
      b3: :math:`\\beta_3`, the slow EMA's decay, in [0, 1], or a schedule.
      alpha: :math:`\\alpha` >= 0, the slow EMA's weight, or a schedule.
      eps: added to the root, >= 0.
      eps_root: added inside the root, >= 0.
      mu_dtype: dtype of both EMAs of gradients; the parameters' dtype when ``None``.
      nu_dtype: dtype of the second moment (keyword-only); the parameters' real dtype
        when ``None``. Moments are upcast to at least float32 for the arithmetic and
        rounded only when stored.

    Returns:
      A transformation with :class:`ScaleByAdemamixState`.

    Reference: Pagliardini, Ablin & Grangier 2024, "The AdEMAMix Optimizer: Better,
    Faster, Older", arXiv 2409.03137, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_ademamix(b3=0.5, alpha=2.0, eps=0.0)
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([ 2., -2.], dtype=float32)
    """
    fn = "scale_by_ademamix"
    _check_betas_eps(fn, b1, b2, eps, eps_root)
    _check_decay_or_schedule(fn, "b3", b3)
    check_schedule_or_nonnegative(fn, "alpha", alpha)

    def init_fn(params: Params) -> ScaleByAdemamixState:
        return ScaleByAdemamixState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        b3_t, alpha_t = _at(b3, state.count), _at(alpha, state.count)
        count = safe_increment(state.count)
        m1 = tmap(lambda g, m: b1 * upcast(m) + (1 - b1) * upcast(g), updates, state.m1)
        m2 = tmap(lambda g, m: b3_t * upcast(m) + (1 - b3_t) * upcast(g), updates, state.m2)
        nu = tmap(lambda g, v: b2 * upcast(v) + (1 - b2) * abs_sq(upcast(g)), updates, state.nu)
        c1, c2 = debias_factor(b1, count), debias_factor(b2, count)

        def step(g: jax.Array, a: jax.Array, b: jax.Array, v: jax.Array) -> jax.Array:
            return like((a / c1 + alpha_t * b) / (jnp.sqrt(v / c2 + eps_root) + eps), g)

        out = tmap(step, updates, m1, m2, nu)
        new_state = ScaleByAdemamixState(
            count,
            tmap(like, m1, state.m1),
            tmap(like, m2, state.m2),
            tmap(like, nu, state.nu),
        )
        return out, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleBySimplifiedAdemamixState(NamedTuple):
    """State of :func:`scale_by_simplified_ademamix`.

    Attributes:
      count: int32 number of updates so far.
      m: the undamped momentum :math:`\\sum_s \\beta_1^{t-s} g_s`.
      nu: the EMA of squared gradients, real.
    """

    count: jax.Array
    m: Any
    nu: Any


def scale_by_simplified_ademamix(
    b1: jax.typing.ArrayLike = 0.99,
    b2: jax.typing.ArrayLike = 0.95,
    alpha: ScalarOrSchedule = 0.0,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale updates by Simplified-AdEMAMix: one undamped momentum plus the gradient.

    Update rule, at step :math:`t` (from 1):

    .. math::

       m_t = \\beta_1 m_{t-1} + g_t,\\quad
       \\nu_t = \\beta_2 \\nu_{t-1} + (1-\\beta_2) |g_t|^2,\\quad
       u_t = \\frac{m_t + \\alpha_t\\, g_t}
             {\\sqrt{\\nu_t / (1-\\beta_2^t) + \\epsilon_{root}} + \\epsilon}

    The momentum carries no :math:`1-\\beta_1` factor (its weight grows to
    :math:`1/(1-\\beta_1)`), so learning rates are :math:`1-\\beta_1` times Adam's.
    ``alpha`` may be a schedule of the number of previous updates.

    Args:
      b1: :math:`\\beta_1` in [0, 1].
      b2: :math:`\\beta_2` in [0, 1].
      alpha: :math:`\\alpha` >= 0, the current gradient's extra weight, or a schedule.
      eps: added to the root, >= 0.
      eps_root: added inside the root, >= 0.
      mu_dtype: dtype of ``m`` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of ``nu`` (keyword-only); the parameters' real dtype when
        ``None``. Narrow moments (e.g. bfloat16) are upcast to at least float32 for the
        arithmetic and rounded only when stored.

    Returns:
      A transformation with :class:`ScaleBySimplifiedAdemamixState`.

    Reference: Morwani, Vyas, Zhang & Kakade 2025, "Connections between Schedule-Free
    Optimizers, AdEMAMix, and Accelerated SGD Variants", arXiv 2502.02431, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_simplified_ademamix(alpha=1.0, eps=0.0)
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([ 2., -2.], dtype=float32)
    """
    fn = "scale_by_simplified_ademamix"
    _check_betas_eps(fn, b1, b2, eps, eps_root)
    check_schedule_or_nonnegative(fn, "alpha", alpha)

    def init_fn(params: Params) -> ScaleBySimplifiedAdemamixState:
        return ScaleBySimplifiedAdemamixState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        alpha_t = _at(alpha, state.count)
        count = safe_increment(state.count)
        m = tmap(lambda g, mm: b1 * upcast(mm) + upcast(g), updates, state.m)
        nu = tmap(lambda g, v: b2 * upcast(v) + (1 - b2) * abs_sq(upcast(g)), updates, state.nu)
        c2 = debias_factor(b2, count)
        out = tmap(
            lambda g, a, v: like(
                (a + alpha_t * upcast(g)) / (jnp.sqrt(v / c2 + eps_root) + eps), g
            ),
            updates,
            m,
            nu,
        )
        return out, ScaleBySimplifiedAdemamixState(
            count, tmap(like, m, state.m), tmap(like, nu, state.nu)
        )

    return GradientTransformationExtraArgs(init_fn, update_fn)


class MadgradState(NamedTuple):
    """State of :func:`scale_by_madgrad`.

    Attributes:
      count: int32 number of updates so far.
      grad_sum_sq: :math:`v_t`, the weighted sum of squared gradients, real.
      s: :math:`s_t`, the weighted sum of gradients.
      x0: the parameters given to ``init`` (the dual-averaging anchor).
    """

    count: jax.Array
    grad_sum_sq: Any
    s: Any
    x0: Any


def scale_by_madgrad(
    learning_rate: ScalarOrSchedule,
    momentum: jax.typing.ArrayLike = 0.9,
    eps: jax.typing.ArrayLike = 1e-6,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """MADGRAD's momentumized dual-averaged step (the learning rate is part of it).

    Update rule, at step :math:`k` (from 0), with :math:`\\gamma_k` = ``learning_rate``
    and :math:`c` = ``1 - momentum``:

    .. math::

       \\lambda_k = (\\gamma_k + \\epsilon)\\sqrt{k+1},\\quad
       s_{k+1} = s_k + \\lambda_k g_k,\\quad
       v_{k+1} = v_k + \\lambda_k |g_k|^2,

    .. math::

       z_{k+1} = x_0 - \\frac{s_{k+1}}{\\sqrt[3]{v_{k+1}} + \\epsilon},\\quad
       u_k = x_{k+1} - x_k = c\\,(z_{k+1} - x_k)

    where :math:`x_0` are the parameters given to ``init`` and :math:`x_k` those given to
    ``update``. The update is the full step (apply it as is, without a learning rate);
    :math:`\\epsilon` is added to :math:`\\gamma_k` as in the authors' code, so that a
    zero learning rate still moves. ``momentum=0`` gives the plain dual average
    :math:`x_{k+1} = z_{k+1}`.

    Args:
      learning_rate: :math:`\\gamma`, a number >= 0 or a schedule of the number of
        previous updates.
      momentum: in [0, 1]; the iterate averages toward :math:`z` at rate
        :math:`1 - \\text{momentum}`.
      eps: >= 0, added to the cube root and to the learning rate.
      mu_dtype: dtype of :math:`s` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of :math:`v` (keyword-only); the parameters' real dtype when
        ``None``. Narrow moments (e.g. bfloat16) are upcast to at least float32 for the
        arithmetic and rounded only when stored.
        The anchor :math:`x_0` keeps the parameters' dtype.

    Returns:
      A transformation with :class:`MadgradState` (its ``update`` needs the params).

    Reference: Defazio & Jelassi 2021, "Adaptivity without Compromise: A Momentumized,
    Adaptive, Dual Averaged Gradient Method for Stochastic Optimization",
    arXiv 2101.11075, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_madgrad(1.0, momentum=0.0, eps=0.0)
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([8.0, -1.0]), tx.init(x), x)[0]
      Array([-2.,  1.], dtype=float32)
    """
    fn = "scale_by_madgrad"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_range(fn, "momentum", momentum, 0.0, 1.0)
    check_nonnegative(fn, "eps", eps)

    def init_fn(params: Params) -> MadgradState:
        x0 = tmap(lambda p: jnp.asarray(p, jnp.result_type(p)), params)
        return MadgradState(
            jnp.zeros([], jnp.int32),
            real_zeros_state(params, nu_dtype),
            zeros_state(params, mu_dtype),
            x0,
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        require_params(fn, params)
        lr = _at(learning_rate, state.count)
        lam = (as_float(lr) + eps) * jnp.sqrt(as_float(state.count) + 1)
        s = tmap(lambda g, a: upcast(a) + lam * upcast(g), updates, state.s)
        v = tmap(lambda g, a: upcast(a) + lam * abs_sq(upcast(g)), updates, state.grad_sum_sq)
        c = 1 - momentum

        def step(g: jax.Array, a: jax.Array, b: jax.Array, x0: jax.Array, x: jax.Array):
            z = upcast(x0) - a / (jnp.cbrt(b) + eps)
            return like(c * (z - upcast(x)), g)

        out = tmap(step, updates, s, v, state.x0, params)
        new_state = MadgradState(
            safe_increment(state.count),
            tmap(like, v, state.grad_sum_sq),
            tmap(like, s, state.s),
            state.x0,
        )
        return out, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByAcpropState(NamedTuple):
    """State of :func:`scale_by_acprop`.

    Attributes:
      count: int32 number of updates so far.
      mu: :math:`m_t`, the EMA of gradients (the centre of the second moment).
      nu: :math:`s_t`, the EMA of squared centred gradients, real.
    """

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_acprop(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-16,
    eps_root: jax.typing.ArrayLike = 1e-16,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale updates by ACProp's asynchronous, centred second moment.

    Update rule, at step :math:`t` (from 1): the gradient is divided by the second moment
    of the *previous* steps (asynchronous), centred on the previous mean,

    .. math::

       u_t = \\frac{g_t}{\\sqrt{\\hat s_{t-1}} + \\epsilon},\\quad
       \\hat s_{t-1} = \\frac{s_{t-1}}{1-\\beta_2^{t-1}}\\ (\\hat s_0 = 1),

    .. math::

       s_t = \\beta_2 s_{t-1} + (1-\\beta_2)|g_t - m_{t-1}|^2 + \\epsilon_{root},\\quad
       m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t.

    The first step has no past to divide by and is :math:`g_1/(1+\\epsilon)`.

    Args:
      b1: :math:`\\beta_1`, the mean's decay, in [0, 1].
      b2: :math:`\\beta_2`, the second moment's decay, in [0, 1].
      eps: added to the root, >= 0.
      eps_root: added to :math:`s_t` at every step, >= 0.
      mu_dtype: dtype of :math:`m` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of :math:`s` (keyword-only); the parameters' real dtype when
        ``None``. Narrow moments (e.g. bfloat16) are upcast to at least float32 for the
        arithmetic and rounded only when stored.

    Returns:
      A transformation with :class:`ScaleByAcpropState`.

    Reference: Zhuang, Ding, Tang, Dvornek, Tatikonda & Duncan 2021, "Momentum Centering
    and Asynchronous Update for Adaptive Gradient Methods", arXiv 2110.05454.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_acprop(eps=0.0, eps_root=0.0)
      >>> u, s = tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))
      >>> tx.update(jnp.array([3.0]), s)[0]
      Array([1.5], dtype=float32)
    """
    _check_betas_eps("scale_by_acprop", b1, b2, eps, eps_root)

    def init_fn(params: Params) -> ScaleByAcpropState:
        return ScaleByAcpropState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        first = state.count == 0
        c2 = debias_factor(b2, state.count)
        c2 = jnp.where(first, 1.0, c2)

        def scale(g: jax.Array, s: jax.Array) -> jax.Array:
            s_hat = jnp.where(first, 1.0, upcast(s) / c2)
            return like(upcast(g) / (jnp.sqrt(s_hat) + eps), g)

        out = tmap(scale, updates, state.nu)
        nu = tmap(
            lambda g, m, s: b2 * upcast(s) + (1 - b2) * abs_sq(upcast(g) - upcast(m)) + eps_root,
            updates,
            state.mu,
            state.nu,
        )
        mu = tmap(lambda g, m: b1 * upcast(m) + (1 - b1) * upcast(g), updates, state.mu)
        new_state = ScaleByAcpropState(
            safe_increment(state.count), tmap(like, mu, state.mu), tmap(like, nu, state.nu)
        )
        return out, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)

"""Per-parameter adaptive scaling: RMSProp, Adagrad, Adam and their relatives."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_decay, check_nonnegative, check_range
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.numerics import abs_sq, safe_increment
from gradtx.transforms._common import (
    debias_factor,
    full_state,
    like,
    real_zeros_state,
    tmap,
    upcast,
    zeros_state,
)

__all__ = [
    "ScaleByAdamState",
    "ScaleByAmsgradState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "ScaleByStddevState",
    "scale_by_adam",
    "scale_by_amsgrad",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_stddev",
]


def _inv_root(v: jax.Array, eps: Any, eps_in_sqrt: bool) -> jax.Array:
    """``1/sqrt(v + eps)`` or ``1/(sqrt(v) + eps)``."""
    if eps_in_sqrt:
        return jax.lax.rsqrt(v + eps)
    return 1 / (jnp.sqrt(v) + eps)


def _correct(decay: Any, count: jax.Array, enabled: bool) -> Any:
    return debias_factor(decay, count) if enabled else 1


class ScaleByRmsState(NamedTuple):
    """State of :func:`scale_by_rms`.

    Attributes:
      nu: the EMA of squared gradients.
      count: int32 number of updates so far (for ``bias_correction``).
    """

    nu: Any
    count: jax.Array


def scale_by_rms(
    decay: jax.typing.ArrayLike = 0.9,
    eps: jax.typing.ArrayLike = 1e-8,
    initial_scale: jax.typing.ArrayLike = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
    *,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Divide updates by the root of an EMA of squared gradients (RMSProp).

    Update rule, with :math:`\\rho` = ``decay``:

    .. math::

       \\nu_t = \\rho\\, \\nu_{t-1} + (1-\\rho)\\, |g_t|^2, \\qquad
       u_t = g_t / \\sqrt{\\hat\\nu_t + \\epsilon}\\ \\text{(eps_in_sqrt)}\\ \\text{or}\\
       g_t / (\\sqrt{\\hat\\nu_t} + \\epsilon)

    with :math:`\\nu_0` = ``initial_scale`` and :math:`\\hat\\nu_t = \\nu_t/(1-\\rho^t)`
    when ``bias_correction`` else :math:`\\nu_t`. torch's RMSprop is
    ``eps_in_sqrt=False`` with ``decay=0.99``.

    Args:
      decay: :math:`\\rho` in [0, 1].
      eps: added inside or outside the root, >= 0.
      initial_scale: the starting value of :math:`\\nu`.
      eps_in_sqrt: put ``eps`` inside the root (optax, the course notes) or outside
        (torch).
      bias_correction: divide :math:`\\nu_t` by :math:`1-\\rho^t`.
      nu_dtype: dtype of :math:`\\nu` (keyword-only); the parameters' real dtype when
        ``None``. The arithmetic runs in at least float32 whatever it is.

    Returns:
      A transformation with :class:`ScaleByRmsState`.

    Reference: Tieleman & Hinton 2012, "Lecture 6.5 - RMSProp", COURSERA: Neural
    Networks for Machine Learning.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_rms(decay=0.75, eps=0.0)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([2.], dtype=float32)
    """
    check_decay("scale_by_rms", "decay", decay)
    check_nonnegative("scale_by_rms", "eps", eps)
    check_nonnegative("scale_by_rms", "initial_scale", initial_scale)

    def init_fn(params: Params) -> ScaleByRmsState:
        nu = full_state(params, initial_scale, nu_dtype)
        return ScaleByRmsState(nu, jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count = safe_increment(state.count)
        nu = tmap(
            lambda g, v: decay * upcast(v) + (1 - decay) * abs_sq(upcast(g)), updates, state.nu
        )
        c = _correct(decay, count, bias_correction)
        out = tmap(lambda g, v: like(g * _inv_root(v / c, eps, eps_in_sqrt), g), updates, nu)
        return out, ScaleByRmsState(tmap(like, nu, state.nu), count)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _variance(m: jax.Array, v: jax.Array, c: Any) -> jax.Array:
    # E[g^2] - E[g]^2 is exactly 0 at the first corrected step and can round below it.
    return jnp.maximum(v / c - abs_sq(m / c), 0.0)


class ScaleByStddevState(NamedTuple):
    """State of :func:`scale_by_stddev`.

    Attributes:
      mu: the EMA of gradients.
      nu: the EMA of squared gradients.
      count: int32 number of updates so far (for ``bias_correction``).
    """

    mu: Any
    nu: Any
    count: jax.Array


def scale_by_stddev(
    decay: jax.typing.ArrayLike = 0.9,
    eps: jax.typing.ArrayLike = 1e-8,
    initial_scale: jax.typing.ArrayLike = 0.0,
    eps_in_sqrt: bool = True,
    bias_correction: bool = False,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Divide updates by a running standard deviation (centered RMSProp).

    Update rule:

    .. math::

       \\mu_t = \\rho\\mu_{t-1} + (1-\\rho) g_t,\\quad
       \\nu_t = \\rho\\nu_{t-1} + (1-\\rho)|g_t|^2,\\quad
       u_t = g_t / \\sqrt{\\hat\\nu_t - |\\hat\\mu_t|^2 + \\epsilon}

    (or :math:`g_t / (\\sqrt{\\hat\\nu_t - |\\hat\\mu_t|^2} + \\epsilon)` with
    ``eps_in_sqrt=False``, torch's ``centered=True``).

    Args:
      decay: :math:`\\rho` in [0, 1].
      eps: added inside or outside the root.
      initial_scale: the starting value of :math:`\\nu`.
      eps_in_sqrt: put ``eps`` inside the root.
      bias_correction: divide both averages by :math:`1-\\rho^t`.
      mu_dtype: dtype of :math:`\\mu` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of :math:`\\nu` (keyword-only); the parameters' real dtype when
        ``None``. The arithmetic runs in at least float32 whatever they are.

    Returns:
      A transformation with :class:`ScaleByStddevState`.

    Reference: Graves 2013, "Generating Sequences With Recurrent Neural Networks",
    arXiv 1308.0850, eq. 38-45.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_stddev(decay=0.5, eps=0.0)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([2.], dtype=float32)
    """
    check_decay("scale_by_stddev", "decay", decay)
    check_nonnegative("scale_by_stddev", "eps", eps)
    check_nonnegative("scale_by_stddev", "initial_scale", initial_scale)

    def init_fn(params: Params) -> ScaleByStddevState:
        return ScaleByStddevState(
            zeros_state(params, mu_dtype),
            full_state(params, initial_scale, nu_dtype),
            jnp.zeros([], jnp.int32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count = safe_increment(state.count)
        mu = tmap(lambda g, m: decay * upcast(m) + (1 - decay) * upcast(g), updates, state.mu)
        nu = tmap(
            lambda g, v: decay * upcast(v) + (1 - decay) * abs_sq(upcast(g)), updates, state.nu
        )
        c = _correct(decay, count, bias_correction)
        out = tmap(
            lambda g, m, v: like(g * _inv_root(_variance(m, v, c), eps, eps_in_sqrt), g),
            updates,
            mu,
            nu,
        )
        return out, ScaleByStddevState(tmap(like, mu, state.mu), tmap(like, nu, state.nu), count)

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByRssState(NamedTuple):
    """State of :func:`scale_by_rss`.

    Attributes:
      sum_of_squares: the running sum of squared gradients.
    """

    sum_of_squares: Any


def scale_by_rss(
    initial_accumulator_value: jax.typing.ArrayLike = 0.1,
    eps: jax.typing.ArrayLike = 1e-7,
    *,
    eps_in_sqrt: bool = True,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Divide updates by the root of the sum of all past squared gradients (Adagrad).

    Update rule:

    .. math::

       s_t = s_{t-1} + |g_t|^2,\\qquad u_t = g_t / \\sqrt{s_t + \\epsilon}
       \\ \\text{or}\\ g_t / (\\sqrt{s_t} + \\epsilon)

    with :math:`s_0` = ``initial_accumulator_value``. Where :math:`s_t = 0` (with
    ``eps_in_sqrt``) the update is 0. torch's Adagrad is
    ``initial_accumulator_value=0.0, eps=1e-10, eps_in_sqrt=False``.

    Args:
      initial_accumulator_value: :math:`s_0` >= 0.
      eps: >= 0.
      eps_in_sqrt: put ``eps`` inside the root (optax) or outside (torch).
      nu_dtype: dtype of the sum :math:`s` (keyword-only); the parameters' real dtype
        when ``None``. The sum is upcast to at least float32 for the arithmetic and
        rounded only when stored; a bfloat16 sum stops growing once :math:`|g_t|^2` is
        below :math:`2^{-9} s_t`.

    Returns:
      A transformation with :class:`ScaleByRssState`.

    Reference: Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online
    Learning and Stochastic Optimization", JMLR 12.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_rss(initial_accumulator_value=0.0, eps=0.0)
      >>> tx.update(jnp.array([-3.0]), tx.init(jnp.zeros(1)))[0]
      Array([-1.], dtype=float32)
    """
    check_nonnegative("scale_by_rss", "initial_accumulator_value", initial_accumulator_value)
    check_nonnegative("scale_by_rss", "eps", eps)

    def init_fn(params: Params) -> ScaleByRssState:
        return ScaleByRssState(full_state(params, initial_accumulator_value, nu_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        acc = tmap(lambda g, s: upcast(s) + abs_sq(upcast(g)), updates, state.sum_of_squares)

        def scale(g: jax.Array, s: jax.Array) -> jax.Array:
            if eps_in_sqrt:
                inv = jnp.where(s > 0, jax.lax.rsqrt(s + eps), 0.0)
            else:
                inv = 1 / (jnp.sqrt(s) + eps)
            return like(upcast(g) * inv, g)

        out = tmap(scale, updates, acc)
        return out, ScaleByRssState(tmap(like, acc, state.sum_of_squares))

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByAdamState(NamedTuple):
    """State of :func:`scale_by_adam`.

    Attributes:
      count: int32 number of updates so far.
      mu: the first moment (EMA of gradients), in ``mu_dtype``.
      nu: the second moment (EMA of squared gradients).
    """

    count: jax.Array
    mu: Any
    nu: Any


def _check_adam(fn: str, b1: Any, b2: Any, eps: Any, eps_root: Any) -> None:
    check_range(fn, "b1", b1, 0.0, 1.0)
    check_range(fn, "b2", b2, 0.0, 1.0)
    check_nonnegative(fn, "eps", eps)
    check_nonnegative(fn, "eps_root", eps_root)


def _adam_moments(updates: Any, state: Any, b1: Any, b2: Any) -> tuple[Any, Any, jax.Array]:
    # 1 - b computed once, not once per leaf (a traced b1 would add a subtraction per leaf
    # to the program; XLA merges them, but only after compiling them all).
    c1, c2 = 1 - b1, 1 - b2
    mu = tmap(lambda g, m: b1 * upcast(m) + c1 * upcast(g), updates, state.mu)
    nu = tmap(lambda g, v: b2 * upcast(v) + c2 * abs_sq(upcast(g)), updates, state.nu)
    return mu, nu, safe_increment(state.count)


def _first_moment_hat(
    updates: Any, mu: Any, b1: Any, count: jax.Array, nesterov: bool, enabled: bool
) -> Any:
    c1 = _correct(b1, count, enabled)
    if not nesterov:
        return tmap(lambda m: m / c1, mu)
    c1_next = _correct(b1, safe_increment(count), enabled)
    return tmap(lambda g, m: b1 * m / c1_next + (1 - b1) * upcast(g) / c1, updates, mu)


def scale_by_adam(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    bias_correction: bool = True,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale updates by Adam's bias-corrected moment ratio.

    Update rule:

    .. math::

       m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\quad
       v_t = \\beta_2 v_{t-1} + (1-\\beta_2) |g_t|^2,\\quad
       u_t = \\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon}

    with :math:`\\hat m_t = m_t/(1-\\beta_1^t)`, :math:`\\hat v_t = v_t/(1-\\beta_2^t)`
    (or the raw moments when ``bias_correction=False``). With ``nesterov`` (NAdam,
    Dozat 2016) :math:`\\hat m_t = \\beta_1 m_t/(1-\\beta_1^{t+1}) +
    (1-\\beta_1) g_t/(1-\\beta_1^t)`.

    Args:
      b1: :math:`\\beta_1` in [0, 1].
      b2: :math:`\\beta_2` in [0, 1].
      eps: added to the root, >= 0.
      eps_root: added inside the root, >= 0 (useful when differentiating through the
        update).
      mu_dtype: dtype of ``mu``; the parameters' dtype when ``None``.
      nesterov: use Nesterov's look-ahead first moment.
      bias_correction: divide the moments by :math:`1-\\beta^t` (the course notes'
        switch).
      nu_dtype: dtype of ``nu`` (keyword-only); the parameters' real dtype when ``None``.
        With a narrow ``mu_dtype``/``nu_dtype`` (e.g. bfloat16) the moments are upcast
        to at least float32 for the arithmetic and rounded only when stored.

    Returns:
      A transformation with :class:`ScaleByAdamState`.

    References:
      Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", arXiv 1412.6980;
      Dozat 2016, "Incorporating Nesterov Momentum into Adam", ICLR workshop.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_adam()
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([ 1., -1.], dtype=float32)
    """
    _check_adam("scale_by_adam", b1, b2, eps, eps_root)

    def init_fn(params: Params) -> ScaleByAdamState:
        return ScaleByAdamState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        mu, nu, count = _adam_moments(updates, state, b1, b2)
        mu_hat = _first_moment_hat(updates, mu, b1, count, nesterov, bias_correction)
        c2 = _correct(b2, count, bias_correction)
        out = tmap(
            lambda g, m, v: like(m / (jnp.sqrt(v / c2 + eps_root) + eps), g), updates, mu_hat, nu
        )
        return out, ScaleByAdamState(count, tmap(like, mu, state.mu), tmap(like, nu, state.nu))

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ScaleByAmsgradState(NamedTuple):
    """State of :func:`scale_by_amsgrad`.

    Attributes:
      count: int32 number of updates so far.
      mu: the first moment.
      nu: the second moment.
      nu_max: the running maximum of the (corrected, or raw) second moment.
    """

    count: jax.Array
    mu: Any
    nu: Any
    nu_max: Any


def scale_by_amsgrad(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    max_of_raw_moment: bool = False,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Adam with a non-decreasing second moment (AMSGrad).

    Update rule: Adam's moments, then
    :math:`\\bar v_t = \\max(\\bar v_{t-1}, \\hat v_t)` and
    :math:`u_t = \\hat m_t / (\\sqrt{\\bar v_t + \\epsilon_{root}} + \\epsilon)`.
    With ``max_of_raw_moment=True`` (torch's ``amsgrad=True``) the maximum is taken of
    the raw :math:`v_t` and divided by the current :math:`1-\\beta_2^t`; the two
    differ by up to ~15% early in training.

    Args:
      b1, b2, eps, eps_root, mu_dtype: as in :func:`scale_by_adam`.
      bias_correction_mu: correct the first moment.
      bias_correction_nu: correct the second moment.
      max_of_raw_moment: torch's form, see above.
      nu_dtype: dtype of ``nu`` and ``nu_max`` (keyword-only); the parameters' real
        dtype when ``None``.

    Returns:
      A transformation with :class:`ScaleByAmsgradState`.

    Reference: Reddi, Kale & Kumar 2018, "On the Convergence of Adam and Beyond",
    arXiv 1904.09237.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_amsgrad()
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([ 1., -1.], dtype=float32)
    """
    _check_adam("scale_by_amsgrad", b1, b2, eps, eps_root)

    def init_fn(params: Params) -> ScaleByAmsgradState:
        return ScaleByAmsgradState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
            real_zeros_state(params, nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        mu, nu, count = _adam_moments(updates, state, b1, b2)
        mu_hat = _first_moment_hat(updates, mu, b1, count, False, bias_correction_mu)
        c2 = _correct(b2, count, bias_correction_nu)
        if max_of_raw_moment:
            nu_max = tmap(lambda m, v: jnp.maximum(upcast(m), v), state.nu_max, nu)
            denom = tmap(lambda v: v / c2, nu_max)
        else:
            nu_max = tmap(lambda m, v: jnp.maximum(upcast(m), v / c2), state.nu_max, nu)
            denom = nu_max
        out = tmap(
            lambda g, m, v: like(m / (jnp.sqrt(v + eps_root) + eps), g), updates, mu_hat, denom
        )
        new_state = ScaleByAmsgradState(
            count,
            tmap(like, mu, state.mu),
            tmap(like, nu, state.nu),
            tmap(like, nu_max, state.nu_max),
        )
        return out, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)

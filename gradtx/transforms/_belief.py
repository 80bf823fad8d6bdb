"""Adam's relatives that change what the second moment measures: AdaBelief, Yogi,
NovoGrad (layer-wise moments) and Adan (Nesterov momentum on gradient differences)."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_nonnegative, check_range, concrete
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.numerics import abs_sq, safe_increment
from gradtx.transforms._adaptive import ScaleByAdamState
from gradtx.transforms._common import (
    debias_factor,
    full_state,
    like,
    real_zeros_state,
    require_params,
    tmap,
    upcast,
    zeros_state,
)

__all__ = [
    "ScaleByAdanState",
    "ScaleByBeliefState",
    "ScaleByNovogradState",
    "scale_by_adan",
    "scale_by_belief",
    "scale_by_novograd",
    "scale_by_yogi",
]


def _check_betas(fn: str, **betas: Any) -> None:
    for name, value in betas.items():
        check_range(fn, name, value, 0.0, 1.0)


def _check_eps(fn: str, eps: Any, eps_root: Any) -> None:
    check_nonnegative(fn, "eps", eps)
    check_nonnegative(fn, "eps_root", eps_root)


def _split(updates: Any, pairs: Any) -> tuple[Any, Any]:
    """Unzip a tree of ``(a, b)`` pairs shaped like ``updates`` into two trees."""
    return tmap(lambda g, p: p[0], updates, pairs), tmap(lambda g, p: p[1], updates, pairs)


# --------------------------------------------------------------------------------------
# AdaBelief


class ScaleByBeliefState(NamedTuple):
    """State of :func:`scale_by_belief`.

    Attributes:
      count: int32 number of updates so far.
      mu: the EMA of gradients (the prediction of the next gradient).
      nu: the EMA of the squared deviation of the gradient from ``mu`` (the
        "belief"), real even for complex parameters.
    """

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_belief(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-16,
    eps_root: jax.typing.ArrayLike = 1e-16,
    *,
    nesterov: bool = False,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale updates by AdaBelief's ratio of the momentum to its deviation.

    Update rule:

    .. math::

       m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\quad
       s_t = \\beta_2 s_{t-1} + (1-\\beta_2) |g_t - m_t|^2 + \\epsilon_{root},\\quad
       u_t = \\frac{\\hat m_t}{\\sqrt{\\hat s_t} + \\epsilon}

    with :math:`\\hat m_t = m_t/(1-\\beta_1^t)` and :math:`\\hat s_t = s_t/(1-\\beta_2^t)`.
    Where Adam divides by the RMS of the gradient, AdaBelief divides by the RMS of its
    surprise :math:`g_t - m_t`: steps are large where the gradient is as predicted. The
    paper's single :math:`\\epsilon` (Algorithm 2) is ``eps_root`` inside :math:`s_t` and
    ``eps`` outside the root. With ``nesterov`` :math:`\\hat m_t = \\beta_1
    m_t/(1-\\beta_1^{t+1}) + (1-\\beta_1) g_t/(1-\\beta_1^t)`, as in
    :func:`gradtx.scale_by_adam`.

    Args:
      b1: :math:`\\beta_1` in [0, 1].
      b2: :math:`\\beta_2` in [0, 1].
      eps: added to the root, >= 0.
      eps_root: added to :math:`s_t` at every step, >= 0.
      nesterov: use Nesterov's look-ahead first moment.
      mu_dtype: dtype of ``mu`` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of ``nu`` (keyword-only); the parameters' real dtype when ``None``.

    Returns:
      A transformation with :class:`ScaleByBeliefState`.

    Reference: Zhuang, Tang, Ding, Tatikonda, Dvornek, Papademetris & Duncan 2020,
    "AdaBelief Optimizer: Adapting Stepsizes by the Belief in Observed Gradients",
    arXiv 2010.07468, Algorithm 2.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_belief(b1=0.5, b2=0.5, eps=0.0, eps_root=0.0)
      >>> tx.update(jnp.array([4.0, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([ 2., -2.], dtype=float32)
    """
    _check_betas("scale_by_belief", b1=b1, b2=b2)
    _check_eps("scale_by_belief", eps, eps_root)

    def init_fn(params: Params) -> ScaleByBeliefState:
        return ScaleByBeliefState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            real_zeros_state(params, nu_dtype),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count = safe_increment(state.count)
        mu = tmap(lambda g, m: b1 * upcast(m) + (1 - b1) * upcast(g), updates, state.mu)
        nu = tmap(
            lambda g, m, s: b2 * upcast(s) + (1 - b2) * abs_sq(upcast(g) - m) + eps_root,
            updates,
            mu,
            state.nu,
        )
        c1, c2 = debias_factor(b1, count), debias_factor(b2, count)
        if nesterov:
            c1_next = debias_factor(b1, safe_increment(count))
            mu_hat = tmap(lambda g, m: b1 * m / c1_next + (1 - b1) * upcast(g) / c1, updates, mu)
        else:
            mu_hat = tmap(lambda m: m / c1, mu)
        out = tmap(lambda g, m, s: like(m / (jnp.sqrt(s / c2) + eps), g), updates, mu_hat, nu)
        return out, ScaleByBeliefState(count, tmap(like, mu, state.mu), tmap(like, nu, state.nu))

    return GradientTransformationExtraArgs(init_fn, update_fn)


# --------------------------------------------------------------------------------------
# Yogi


def scale_by_yogi(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.999,
    eps: jax.typing.ArrayLike = 1e-3,
    eps_root: jax.typing.ArrayLike = 0.0,
    initial_accumulator_value: jax.typing.ArrayLike = 1e-6,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale updates by Yogi's additively updated second moment.

    Update rule:

    .. math::

       m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\quad
       v_t = v_{t-1} - (1-\\beta_2)\\,\\mathrm{sign}(v_{t-1} - |g_t|^2)\\,|g_t|^2,\\quad
       u_t = \\frac{\\hat m_t}{\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon}

    with :math:`\\hat m_t = m_t/(1-\\beta_1^t)`, :math:`\\hat v_t = v_t/(1-\\beta_2^t)`
    and :math:`m_0 = v_0` = ``initial_accumulator_value``. Adam's :math:`v_t` moves
    towards :math:`|g_t|^2` by a fraction :math:`(1-\\beta_2)` of their *difference*, so
    it can forget a large second moment quickly; Yogi's moves by a fraction of
    :math:`|g_t|^2` itself, which limits how fast the effective learning rate grows.

    The paper's Algorithm 2 is written without bias correction and from :math:`m_0 = 0`;
    its experiments start :math:`v_0` at 1e-6. gradtx follows optax: both moments start
    at ``initial_accumulator_value`` and both are bias-corrected (the difference in
    :math:`m_0` is ``initial_accumulator_value`` itself, 1e-6 by default).

    Args:
      b1: :math:`\\beta_1` in [0, 1].
      b2: :math:`\\beta_2` in [0, 1].
      eps: added to the root, >= 0 (the paper recommends 1e-3).
      eps_root: added inside the root, >= 0.
      initial_accumulator_value: :math:`m_0 = v_0`, >= 0.
      mu_dtype: dtype of ``mu`` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of ``nu`` (keyword-only); the parameters' real dtype when ``None``.

    Returns:
      A transformation with :class:`gradtx.ScaleByAdamState` (optax's state for Yogi).

    Reference: Zaheer, Reddi, Sachan, Kale & Kumar 2018, "Adaptive Methods for
    Nonconvex Optimization", NeurIPS 2018, Algorithm 2.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_yogi(eps=0.0, initial_accumulator_value=0.0)
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([ 1., -1.], dtype=float32)
    """
    _check_betas("scale_by_yogi", b1=b1, b2=b2)
    _check_eps("scale_by_yogi", eps, eps_root)
    check_nonnegative("scale_by_yogi", "initial_accumulator_value", initial_accumulator_value)

    def init_fn(params: Params) -> ScaleByAdamState:
        v0 = initial_accumulator_value
        mu = tmap(lambda p: jnp.full(jnp.shape(p), v0, mu_dtype or jnp.result_type(p)), params)
        nu = full_state(params, v0, nu_dtype)
        return ScaleByAdamState(jnp.zeros([], jnp.int32), mu, nu)

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count = safe_increment(state.count)
        mu = tmap(lambda g, m: b1 * upcast(m) + (1 - b1) * upcast(g), updates, state.mu)

        def second(g: jax.Array, v: jax.Array) -> jax.Array:
            g2, v = abs_sq(upcast(g)), upcast(v)
            return v - (1 - b2) * jnp.sign(v - g2) * g2

        nu = tmap(second, updates, state.nu)
        c1, c2 = debias_factor(b1, count), debias_factor(b2, count)
        out = tmap(
            lambda g, m, v: like(m / c1 / (jnp.sqrt(v / c2 + eps_root) + eps), g), updates, mu, nu
        )
        return out, ScaleByAdamState(count, tmap(like, mu, state.mu), tmap(like, nu, state.nu))

    return GradientTransformationExtraArgs(init_fn, update_fn)


# --------------------------------------------------------------------------------------
# NovoGrad


class ScaleByNovogradState(NamedTuple):
    """State of :func:`scale_by_novograd`.

    Attributes:
      count: int32 number of updates so far.
      mu: the momentum of the normalized gradients, in ``mu_dtype``.
      nu: one scalar per leaf (layer): the EMA of the squared norm of its gradient,
        real even for complex parameters.
    """

    count: jax.Array
    mu: Any
    nu: Any


def scale_by_novograd(
    b1: jax.typing.ArrayLike = 0.9,
    b2: jax.typing.ArrayLike = 0.25,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    weight_decay: jax.typing.ArrayLike = 0.0,
    mu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale updates by NovoGrad's layer-wise normalized momentum.

    Update rule, for each leaf (layer) :math:`l` with parameters :math:`w^l`:

    .. math::

       v^l_t = \\beta_2 v^l_{t-1} + (1-\\beta_2) \\|g^l_t\\|^2\\ (v^l_1 = \\|g^l_1\\|^2),
       \\quad
       m^l_t = \\beta_1 m^l_{t-1} + \\frac{g^l_t}{\\sqrt{v^l_t + \\epsilon_{root}}
       + \\epsilon} + \\lambda w^l_t,\\quad u^l_t = m^l_t

    from :math:`m_0 = 0`, where :math:`\\lambda` = ``weight_decay``. The second moment
    is one number per layer (the squared norm of the layer's gradient), so the
    gradient is normalized layer by layer before it enters the momentum; the weight
    decay is added to the normalized gradient, inside the momentum. The first step
    sets :math:`v_1 = \\|g_1\\|^2` (no :math:`1-\\beta_2` factor) as in the paper.

    Args:
      b1: :math:`\\beta_1` in [0, 1].
      b2: :math:`\\beta_2` in [0, 1].
      eps: added to the root, >= 0.
      eps_root: added inside the root, >= 0.
      weight_decay: :math:`\\lambda` >= 0; when not zero, ``update`` needs the params.
      mu_dtype: dtype of ``mu``; the parameters' dtype when ``None``.

    Returns:
      A transformation with :class:`ScaleByNovogradState`.

    Reference: Ginsburg, Castonguay, Hrinchuk, Kuchaiev, Lavrukhin, Leary, Li, Nguyen,
    Zhang & Cohen 2019, "Stochastic Gradient Methods with Layer-wise Adaptive Moments
    for Training of Deep Networks", arXiv 1905.11286, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_novograd(eps=0.0)
      >>> tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))[0]
      Array([ 0.6, -0.8], dtype=float32)
    """
    fn = "scale_by_novograd"
    _check_betas(fn, b1=b1, b2=b2)
    _check_eps(fn, eps, eps_root)
    check_nonnegative(fn, "weight_decay", weight_decay)
    decays = concrete(weight_decay) != 0.0  # an array or tracer may be nonzero

    def init_fn(params: Params) -> ScaleByNovogradState:
        nu = tmap(lambda p: jnp.zeros([], jnp.finfo(jnp.result_type(p)).dtype), params)
        return ScaleByNovogradState(jnp.zeros([], jnp.int32), zeros_state(params, mu_dtype), nu)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        if decays:
            require_params(fn, params)
        first = state.count == 0
        count = safe_increment(state.count)

        def step(g, m, v, p=None):
            sq = jnp.sum(abs_sq(g))
            new_v = jnp.where(first, sq, b2 * v + (1 - b2) * sq)
            d = g / (jnp.sqrt(new_v + eps_root) + eps)
            if p is not None:
                d = d + weight_decay * p
            new_m = b1 * m + d
            return like(new_m, g), (like(new_m, m), like(new_v, v))

        if decays:
            triples = tmap(step, updates, state.mu, state.nu, params)
        else:
            triples = tmap(step, updates, state.mu, state.nu)
        out, moments = _split(updates, triples)
        mu, nu = _split(updates, moments)
        return out, ScaleByNovogradState(count, mu, nu)

    return GradientTransformationExtraArgs(init_fn, update_fn)


# --------------------------------------------------------------------------------------
# Adan


class ScaleByAdanState(NamedTuple):
    """State of :func:`scale_by_adan` (optax's field names).

    Attributes:
      m: the EMA of gradients.
      v: the EMA of gradient differences :math:`g_t - g_{t-1}`.
      n: the EMA of the squared Nesterov-corrected gradient, real even for complex
        parameters.
      g: the previous gradient.
      t: int32 number of updates so far.
    """

    m: Any
    v: Any
    n: Any
    g: Any
    t: jax.Array


def scale_by_adan(
    b1: jax.typing.ArrayLike = 0.98,
    b2: jax.typing.ArrayLike = 0.92,
    b3: jax.typing.ArrayLike = 0.99,
    eps: jax.typing.ArrayLike = 1e-8,
    eps_root: jax.typing.ArrayLike = 0.0,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Scale updates by Adan's adaptive Nesterov momentum.

    Update rule, with :math:`\\Delta_t = g_t - g_{t-1}` (:math:`\\Delta_1 = 0`):

    .. math::

       m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\quad
       v_t = \\beta_2 v_{t-1} + (1-\\beta_2) \\Delta_t,\\quad
       n_t = \\beta_3 n_{t-1} + (1-\\beta_3) |g_t + \\beta_2 \\Delta_t|^2,

    .. math::

       u_t = \\frac{\\hat m_t + \\beta_2 \\hat v_t}{\\sqrt{\\hat n_t + \\epsilon_{root}}
       + \\epsilon}

    with the bias-corrected :math:`\\hat x_t = x_t / (1 - \\beta^t)` of each average.
    The paper writes its coefficients as :math:`1-\\beta` (its
    :math:`\\beta_1 = 0.02` is ``b1=0.98`` here, as in the authors' code), so its
    :math:`(1-\\beta_2)` weight of the difference term is ``b2``.

    optax differs here (an open bug, optax pull request #1715): its ``scale_by_adan``
    weights the difference term by ``1 - b2`` (0.08 by default, not 0.92) in
    :math:`n_t` and in :math:`u_t`. The two agree at the first step, and at every step
    when ``b2=0.5``.

    Args:
      b1: :math:`\\beta_1` in [0, 1], the decay of the gradient average.
      b2: :math:`\\beta_2` in [0, 1], the decay of the difference average.
      b3: :math:`\\beta_3` in [0, 1], the decay of the second moment.
      eps: added to the root, >= 0.
      eps_root: added inside the root, >= 0.
      mu_dtype: dtype of ``m`` and ``v`` (keyword-only); the parameters' dtype when
        ``None``. ``g`` keeps the gradients' dtype.
      nu_dtype: dtype of ``n`` (keyword-only); the parameters' real dtype when ``None``.

    Returns:
      A transformation with :class:`ScaleByAdanState`.

    Reference: Xie, Zhou, Li, Lin & Yan 2022, "Adan: Adaptive Nesterov Momentum
    Algorithm for Faster Optimizing Deep Models", arXiv 2208.06677, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_adan(eps=0.0)
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([ 1., -1.], dtype=float32)
    """
    _check_betas("scale_by_adan", b1=b1, b2=b2, b3=b3)
    _check_eps("scale_by_adan", eps, eps_root)

    def init_fn(params: Params) -> ScaleByAdanState:
        mu = zeros_state(params, mu_dtype)
        return ScaleByAdanState(
            mu,
            mu,
            real_zeros_state(params, nu_dtype),
            zeros_state(params),
            jnp.zeros([], jnp.int32),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        first = state.t == 0
        t = safe_increment(state.t)
        diff = tmap(lambda g, gp: jnp.where(first, 0.0, upcast(g) - upcast(gp)), updates, state.g)
        m = tmap(lambda g, x: b1 * upcast(x) + (1 - b1) * upcast(g), updates, state.m)
        v = tmap(lambda d, x: b2 * upcast(x) + (1 - b2) * d, diff, state.v)
        n = tmap(
            lambda g, d, x: b3 * upcast(x) + (1 - b3) * abs_sq(upcast(g) + b2 * d),
            updates,
            diff,
            state.n,
        )
        c1, c2, c3 = debias_factor(b1, t), debias_factor(b2, t), debias_factor(b3, t)

        def direction(g, m_, v_, n_):
            return like((m_ / c1 + b2 * v_ / c2) / (jnp.sqrt(n_ / c3 + eps_root) + eps), g)

        out = tmap(direction, updates, m, v, n)
        new_state = ScaleByAdanState(
            tmap(like, m, state.m),
            tmap(like, v, state.v),
            tmap(like, n, state.n),
            tmap(like, updates, state.g),
            t,
        )
        return out, new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)

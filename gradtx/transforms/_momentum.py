"""Momentum, exponential moving averages and their bias correction."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_decay, check_range
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.numerics import safe_increment
from gradtx.transforms._common import debias_factor, like, times, tmap, upcast, zeros_state

__all__ = [
    "BiasCorrectionState",
    "EmaState",
    "TraceState",
    "bias_correction",
    "ema",
    "scale_by_momentum",
    "trace",
]


class TraceState(NamedTuple):
    """State of :func:`scale_by_momentum` / :func:`trace`.

    Attributes:
      trace: the momentum buffer, shaped like the parameters.
      count: int32 number of updates so far (after optax's ``trace`` field, so reading
        ``state.trace`` or ``state[0]`` works as there).
    """

    trace: Any
    count: jax.Array


def scale_by_momentum(
    decay: jax.typing.ArrayLike,
    *,
    nesterov: bool = False,
    dampening: jax.typing.ArrayLike = 0.0,
    accumulator_dtype: Any = None,
    undampened_first_step: bool = False,
) -> GradientTransformationExtraArgs:
    """Heavy-ball momentum with optional dampening and Nesterov look-ahead.

    Update rule, with :math:`\\beta` = ``decay`` and :math:`d` = ``dampening``:

    .. math::

       m_t = \\beta\\, m_{t-1} + (1 - d)\\, g_t, \\qquad
       u_t = \\begin{cases} (1 - d)\\, g_t + \\beta\\, m_t & \\text{nesterov} \\\\
                            m_t & \\text{otherwise} \\end{cases}

    from :math:`m_0 = 0`. ``dampening=decay`` gives the exponentially weighted average
    of the course notes (chain :func:`bias_correction` to remove its start-up bias);
    ``dampening=0`` is torch's and optax's default trace. With
    ``undampened_first_step=True`` the first step sets :math:`m_1 = g_1`, as
    ``torch.optim.SGD`` does.

    Args:
      decay: the momentum coefficient :math:`\\beta` in [0, 1].
      nesterov: use the Nesterov look-ahead form.
      dampening: the dampening :math:`d` in [0, 1].
      accumulator_dtype: dtype of the buffer; the parameters' dtype when ``None``.
      undampened_first_step: torch's first step, :math:`m_1 = g_1`.

    Returns:
      A transformation with :class:`TraceState`.

    References:
      Polyak 1964, "Some methods of speeding up the convergence of iteration methods";
      Sutskever et al. 2013, "On the importance of initialization and momentum in deep
      learning" (Nesterov form).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_momentum(0.9, dampening=0.9)
      >>> s = tx.init(jnp.zeros(1))
      >>> u, s = tx.update(jnp.ones(1), s)
      >>> u
      Array([0.1], dtype=float32)
    """
    check_decay("scale_by_momentum", "decay", decay)
    check_range("scale_by_momentum", "dampening", dampening, 0.0, 1.0)

    def init_fn(params: Params) -> TraceState:
        return TraceState(zeros_state(params, accumulator_dtype), jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        keep = 1 - dampening
        if undampened_first_step:
            keep = jnp.where(state.count == 0, 1.0, keep)

        def step(g: jax.Array, m: jax.Array) -> tuple[jax.Array, jax.Array]:
            g32 = upcast(g)
            kept = times(keep, g32)
            new_m = decay * upcast(m) + kept
            out = kept + decay * new_m if nesterov else new_m
            return like(out, g), like(new_m, m)

        pairs = tmap(step, updates, state.trace)
        out = tmap(lambda g, p: p[0], updates, pairs)
        new_trace = tmap(lambda g, p: p[1], updates, pairs)
        return out, TraceState(new_trace, safe_increment(state.count))

    return GradientTransformationExtraArgs(init_fn, update_fn)


def trace(
    decay: jax.typing.ArrayLike, nesterov: bool = False, accumulator_dtype: Any = None
) -> GradientTransformationExtraArgs:
    """optax's name for :func:`scale_by_momentum` without dampening.

    Update rule: :math:`m_t = \\beta\\, m_{t-1} + g_t`; the output is :math:`m_t`, or
    :math:`g_t + \\beta\\, m_t` with ``nesterov``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.trace(0.5)
      >>> s = tx.init(jnp.zeros(1))
      >>> u, s = tx.update(jnp.ones(1), s)
      >>> u, s = tx.update(jnp.ones(1), s)
      >>> u
      Array([1.5], dtype=float32)
    """
    return scale_by_momentum(decay, nesterov=nesterov, accumulator_dtype=accumulator_dtype)


class EmaState(NamedTuple):
    """State of :func:`ema`.

    Attributes:
      count: int32 number of updates so far.
      ema: the (uncorrected) moving average.
    """

    count: jax.Array
    ema: Any


def ema(
    decay: jax.typing.ArrayLike, debias: bool = True, accumulator_dtype: Any = None
) -> GradientTransformationExtraArgs:
    """Replace updates by their exponential moving average.

    Update rule: :math:`v_t = \\beta\\, v_{t-1} + (1 - \\beta)\\, g_t`; the output is
    :math:`v_t / (1 - \\beta^t)` when ``debias``, else :math:`v_t`.

    Args:
      decay: :math:`\\beta` in [0, 1].
      debias: divide by :math:`1 - \\beta^t` (the state keeps the raw average).
      accumulator_dtype: dtype of the average; the parameters' dtype when ``None``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.ema(0.9)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([2.], dtype=float32)
    """
    check_decay("ema", "decay", decay)

    def init_fn(params: Params) -> EmaState:
        return EmaState(jnp.zeros([], jnp.int32), zeros_state(params, accumulator_dtype))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count = safe_increment(state.count)
        new = tmap(lambda g, v: (1 - decay) * upcast(g) + decay * upcast(v), updates, state.ema)
        if debias:
            correction = debias_factor(decay, count)
            out = tmap(lambda g, v: like(v / correction, g), updates, new)
        else:
            out = tmap(lambda g, v: like(v, g), updates, new)
        return out, EmaState(count, tmap(like, new, state.ema))

    return GradientTransformationExtraArgs(init_fn, update_fn)


class BiasCorrectionState(NamedTuple):
    """State of :func:`bias_correction`.

    Attributes:
      count: int32 number of updates so far.
    """

    count: jax.Array


def bias_correction(decay: jax.typing.ArrayLike) -> GradientTransformationExtraArgs:
    """Divide an exponential moving average started at zero by ``1 - decay**t``.

    Update rule: :math:`u_t \\leftarrow u_t / (1 - \\beta^t)`, ``t`` counting from 1.
    After ``scale_by_momentum(decay, dampening=decay)`` it turns the EMA into the
    bias-corrected average of the course notes (and of Adam's first moment).

    Args:
      decay: the :math:`\\beta` of the average being corrected, in [0, 1).

    Returns:
      A transformation with :class:`BiasCorrectionState`.

    Reference: Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization",
    arXiv 1412.6980, section 3.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.scale_by_momentum(0.9, dampening=0.9),
      ...                   gradtx.bias_correction(0.9))
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([2.], dtype=float32)
    """
    check_range("bias_correction", "decay", decay, 0.0, 1.0, high_open=True)

    def init_fn(params: Params) -> BiasCorrectionState:
        del params
        return BiasCorrectionState(jnp.zeros([], jnp.int32))

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        count = safe_increment(state.count)
        correction = debias_factor(decay, count)
        return tmap(lambda g: like(g / correction, g), updates), BiasCorrectionState(count)

    return GradientTransformationExtraArgs(init_fn, update_fn)

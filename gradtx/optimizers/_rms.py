"""RMSProp, Adagrad and Adadelta: per-parameter rates from squared-gradient statistics."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import check_decay, check_schedule_or_nonnegative, reports_as_itself
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule, identity
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer, is_zero
from gradtx.transforms import (
    add_decayed_weights,
    scale_by_adadelta,
    scale_by_learning_rate,
    scale_by_momentum,
    scale_by_rms,
    scale_by_rss,
    scale_by_stddev,
)

__all__ = ["adadelta", "adagrad", "rmsprop"]

Num = jax.typing.ArrayLike


def _rmsprop_build(
    learning_rate,
    decay,
    eps,
    initial_scale,
    momentum=None,
    *,
    eps_in_sqrt,
    centered,
    nesterov,
    bias_correction,
    mu_dtype,
    nu_dtype,
):
    if centered:
        scaler = scale_by_stddev(
            decay,
            eps,
            initial_scale,
            eps_in_sqrt,
            bias_correction,
            mu_dtype=mu_dtype,
            nu_dtype=nu_dtype,
        )
    else:
        scaler = scale_by_rms(
            decay, eps, initial_scale, eps_in_sqrt, bias_correction, nu_dtype=nu_dtype
        )
    return chain(
        scaler,
        scale_by_learning_rate(learning_rate),
        identity()
        if momentum is None
        else scale_by_momentum(momentum, nesterov=nesterov, accumulator_dtype=mu_dtype),
    )


@reports_as_itself
def rmsprop(
    learning_rate: ScalarOrSchedule,
    decay: Num = 0.9,
    eps: Num = 1e-8,
    initial_scale: Num = 0.0,
    eps_in_sqrt: bool = True,
    centered: bool = False,
    momentum: Num | None = None,
    nesterov: bool = False,
    bias_correction: bool = False,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """RMSProp, optionally centered and with momentum.

    Update rule (see :func:`gradtx.scale_by_rms` and :func:`gradtx.scale_by_stddev`):

    .. math::

       \\nu_t = \\rho\\nu_{t-1} + (1-\\rho)g_t^2,\\quad
       d_t = \\alpha_t\\, g_t / \\sqrt{\\hat\\nu_t (- \\hat\\mu_t^2) + \\epsilon},\\quad
       m_t = \\beta m_{t-1} + d_t,\\quad \\theta_{t+1} = \\theta_t - m_t

    (without momentum :math:`\\theta_{t+1} = \\theta_t - d_t`). torch's ``RMSprop``
    is ``decay=0.99, eps_in_sqrt=False`` (with ``centered`` and ``momentum`` as
    there; its momentum buffer holds the direction before the learning rate, which is
    the same for a constant rate).

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      decay: :math:`\\rho` in [0, 1].
      eps: added inside (``eps_in_sqrt``) or outside the root.
      initial_scale: the starting value of :math:`\\nu`.
      eps_in_sqrt: ``eps`` inside the root (the course notes' and optax's form).
      centered: divide by the running standard deviation instead of the RMS.
      momentum: :math:`\\beta`, or ``None``.
      nesterov: Nesterov momentum.
      bias_correction: divide the averages by :math:`1-\\rho^t`.
      mu_dtype: dtype of the gradient average of ``centered`` and of the momentum
        buffer (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of :math:`\\nu` (keyword-only); the parameters' real dtype when
        ``None``. The arithmetic runs in at least float32 whatever they are.

    Returns:
      The optimizer.

    Reference: Tieleman & Hinton 2012, "Lecture 6.5 - RMSProp", COURSERA; Graves 2013,
    arXiv 1308.0850 (centered).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.rmsprop(0.01, decay=0.0, eps=0.0)
      >>> tx.update(jnp.array([-4.0]), tx.init(jnp.zeros(1)))[0]
      Array([0.01], dtype=float32)
    """
    check_schedule_or_nonnegative("rmsprop", "learning_rate", learning_rate)
    scale_by_rms(decay, eps, initial_scale)
    if momentum is not None:
        check_decay("rmsprop", "momentum", momentum)
    elif nesterov:
        raise ValueError("`rmsprop(nesterov=True)` needs a momentum; got momentum=None.")
    hps: dict[str, Any] = dict(
        learning_rate=learning_rate, decay=decay, eps=eps, initial_scale=initial_scale
    )
    if momentum is not None:
        hps["momentum"] = momentum
    return build_optimizer(
        "rmsprop",
        _rmsprop_build,
        hps,
        eps_in_sqrt=eps_in_sqrt,
        centered=centered,
        nesterov=nesterov,
        bias_correction=bias_correction,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


def _adagrad_build(learning_rate, initial_accumulator_value, eps, *, eps_in_sqrt, nu_dtype):
    return chain(
        scale_by_rss(initial_accumulator_value, eps, eps_in_sqrt=eps_in_sqrt, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def adagrad(
    learning_rate: ScalarOrSchedule,
    initial_accumulator_value: Num = 0.1,
    eps: Num = 1e-7,
    *,
    eps_in_sqrt: bool = True,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Adagrad: per-parameter rates from the sum of all past squared gradients.

    Update rule: :math:`s_t = s_{t-1} + g_t^2`, :math:`\\theta_{t+1} = \\theta_t -
    \\alpha_t\\, g_t/\\sqrt{s_t + \\epsilon}` (or :math:`/(\\sqrt{s_t} + \\epsilon)`
    with ``eps_in_sqrt=False``). The rate only shrinks, which suits sparse features and
    can stall long runs (the course notes' caveat). torch's ``Adagrad(lr, lr_decay)``
    is ``adagrad(schedules.inverse_time_decay(lr, lr_decay), 0.0, 1e-10,
    eps_in_sqrt=False)``.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      initial_accumulator_value: :math:`s_0` >= 0.
      eps: >= 0.
      eps_in_sqrt: ``eps`` inside the root (optax) or outside (torch).
      nu_dtype: dtype of the sum of squares :math:`s` (keyword-only); the parameters'
        real dtype when ``None`` (see :func:`gradtx.scale_by_rss`).

    Returns:
      The optimizer.

    Reference: Duchi, Hazan & Singer 2011, "Adaptive Subgradient Methods for Online
    Learning and Stochastic Optimization", JMLR 12.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.adagrad(0.5, initial_accumulator_value=0.0, eps=0.0)
      >>> tx.update(jnp.array([3.0]), tx.init(jnp.zeros(1)))[0]
      Array([-0.5], dtype=float32)
    """
    check_schedule_or_nonnegative("adagrad", "learning_rate", learning_rate)
    scale_by_rss(initial_accumulator_value, eps)
    return build_optimizer(
        "adagrad",
        _adagrad_build,
        dict(
            learning_rate=learning_rate,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        ),
        eps_in_sqrt=eps_in_sqrt,
        nu_dtype=nu_dtype,
    )


def _adadelta_build(learning_rate, rho, eps, weight_decay=None, *, weight_decay_mask, nu_dtype):
    return chain(
        identity()
        if weight_decay is None
        else add_decayed_weights(weight_decay, weight_decay_mask),
        scale_by_adadelta(rho, eps, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def adadelta(
    learning_rate: ScalarOrSchedule | None = None,
    rho: Num = 0.9,
    eps: Num = 1e-6,
    weight_decay: ScalarOrSchedule = 0.0,
    weight_decay_mask: Any = None,
    *,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Adadelta: steps scaled by the ratio of RMS past steps to RMS gradients.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t u_t` with Adadelta's
    :math:`u_t` (:func:`gradtx.scale_by_adadelta`) of :math:`g_t + \\lambda\\theta_t`.
    ``learning_rate=None`` means 1.0, the paper's (and torch's) rate.

    Args:
      learning_rate: :math:`\\alpha`; 1.0 when ``None``.
      rho: :math:`\\rho` in [0, 1].
      eps: > 0.
      weight_decay: :math:`\\lambda` >= 0 (coupled, as torch's).
      weight_decay_mask: where to decay.
      nu_dtype: dtype of both running averages (keyword-only); the parameters' real
        dtype when ``None``.

    Returns:
      The optimizer.

    Reference: Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method",
    arXiv 1212.5701.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.adadelta(rho=0.0, eps=1.0)
      >>> tx.update(jnp.array([0.0]), tx.init(jnp.zeros(1)))[0]
      Array([-0.], dtype=float32)
    """
    if learning_rate is None:
        learning_rate = 1.0
    check_schedule_or_nonnegative("adadelta", "learning_rate", learning_rate)
    check_schedule_or_nonnegative("adadelta", "weight_decay", weight_decay)
    scale_by_adadelta(rho, eps)
    hps: dict[str, Any] = dict(learning_rate=learning_rate, rho=rho, eps=eps)
    if not is_zero(weight_decay):
        hps["weight_decay"] = weight_decay
    return build_optimizer(
        "adadelta", _adadelta_build, hps, weight_decay_mask=weight_decay_mask, nu_dtype=nu_dtype
    )

"""Optimizers that step by signs: signSGD, Signum, Lion and Rprop."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx._checks import (
    check_decay,
    check_nonnegative,
    check_positive,
    check_range,
    check_schedule_or_nonnegative,
    concrete,
    reports_as_itself,
)
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms import (
    add_decayed_weights,
    ema,
    scale_by_learning_rate,
    scale_by_lion,
    scale_by_rprop,
    scale_by_sign,
)

__all__ = ["lion", "rprop", "sign_sgd", "signum"]

Num = jax.typing.ArrayLike
LION_MODES = ("hard", "smooth", "refined")  # as gradtx.scale_by_lion's


def _sign_sgd_build(learning_rate):
    return chain(scale_by_sign(), scale_by_learning_rate(learning_rate))


@reports_as_itself
def sign_sgd(learning_rate: ScalarOrSchedule) -> GradientTransformationExtraArgs:
    """signSGD: step every parameter by the learning rate against its gradient's sign.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t
    \\operatorname{sign}(g_t)` (0 where :math:`g_t = 0`).

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``.

    Reference: Bernstein, Wang, Azizzadenesheli & Anandkumar 2018, "signSGD:
    Compressed Optimisation for Non-Convex Problems", arXiv 1802.04434, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.sign_sgd(0.1)
      >>> tx.update(jnp.array([3.0, -0.01, 0.0]), tx.init(jnp.zeros(3)))[0]
      Array([-0.1,  0.1,  0. ], dtype=float32)
    """
    check_schedule_or_nonnegative("sign_sgd", "learning_rate", learning_rate)
    return build_optimizer("sign_sgd", _sign_sgd_build, dict(learning_rate=learning_rate))


def _signum_build(learning_rate, beta, *, accumulator_dtype):
    return chain(
        ema(beta, debias=False, accumulator_dtype=accumulator_dtype),
        scale_by_sign(),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def signum(
    learning_rate: ScalarOrSchedule, beta: Num = 0.9, accumulator_dtype: Any = None
) -> GradientTransformationExtraArgs:
    """Signum: signSGD on an exponential moving average of the gradients.

    Update rule, from :math:`m_0 = 0`:

    .. math::

       m_t = \\beta\\, m_{t-1} + (1-\\beta)\\, g_t, \\qquad
       \\theta_{t+1} = \\theta_t - \\alpha_t \\operatorname{sign}(m_t)

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      beta: the momentum :math:`\\beta` in [0, 1] (``beta=0`` is :func:`sign_sgd`).
      accumulator_dtype: dtype of :math:`m`; the parameters' dtype when ``None``.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate`` and ``beta``.

    Reference: Bernstein, Wang, Azizzadenesheli & Anandkumar 2018, "signSGD:
    Compressed Optimisation for Non-Convex Problems", arXiv 1802.04434, Algorithm 3.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.signum(0.1, beta=0.5)
      >>> s = tx.init(jnp.zeros(2))
      >>> u, s = tx.update(jnp.array([1.0, -1.0]), s)
      >>> u, s = tx.update(jnp.array([-3.0, -1.0]), s)
      >>> u
      Array([0.1, 0.1], dtype=float32)
    """
    check_schedule_or_nonnegative("signum", "learning_rate", learning_rate)
    check_decay("signum", "beta", beta)
    return build_optimizer(
        "signum",
        _signum_build,
        dict(learning_rate=learning_rate, beta=beta),
        accumulator_dtype=accumulator_dtype,
    )


def _lion_build(learning_rate, b1, b2, weight_decay, *, mu_dtype, mask, mode, **smooth_beta):
    # ``smooth_beta`` is passed (and kept in the state) only with mode="smooth".
    return chain(
        scale_by_lion(b1, b2, mu_dtype, mode=mode, **smooth_beta),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def lion(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.99,
    mu_dtype: Any = None,
    weight_decay: ScalarOrSchedule = 1e-3,
    mask: Any = None,
    *,
    mode: str = "hard",
    smooth_beta: Num = 1.0,
) -> GradientTransformationExtraArgs:
    """Lion: the sign of an interpolated momentum, with decoupled weight decay.

    Update rule, from :math:`m_0 = 0` (see :func:`gradtx.scale_by_lion`):

    .. math::

       c_t = \\beta_1 m_{t-1} + (1-\\beta_1)\\, g_t, \\quad
       \\theta_{t+1} = \\theta_t - \\alpha_t\\big(\\operatorname{sign}(c_t)
          + \\lambda\\theta_t\\big), \\quad
       m_t = \\beta_2 m_{t-1} + (1-\\beta_2)\\, g_t

    The paper suggests a learning rate 3-10x smaller than AdamW's and a weight decay
    3-10x larger, to keep :math:`\\alpha\\lambda` about the same.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1` in [0, 1], the interpolation weight of the update.
      b2: :math:`\\beta_2` in [0, 1], the decay of the momentum.
      mu_dtype: dtype of the momentum; the parameters' dtype when ``None``.
      weight_decay: :math:`\\lambda` >= 0 (or a schedule), multiplied by the learning
        rate as in AdamW.
      mask: where to decay: a tree of booleans like the params, or a function of the
        params returning one.
      mode: ``"hard"`` (the paper's sign, default), ``"smooth"`` (:math:`\\tanh` of
        ``smooth_beta`` times :math:`c_t`) or ``"refined"`` (:math:`c_t` clipped to
        [-1, 1]); see :func:`gradtx.scale_by_lion`. Keyword-only: optax's ``lion``
        has no such argument (only its ``scale_by_lion`` does).
      smooth_beta: > 0, the slope of ``"smooth"`` at 0 (recorded in the state only
        with ``mode="smooth"``).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2`` and ``weight_decay`` (and ``smooth_beta`` with ``mode="smooth"``).

    Reference: Chen, Liang, Huang, Real, Wang, Pham, Dong, Luong, Hsieh, Lu & Le 2023,
    "Symbolic Discovery of Optimization Algorithms", arXiv 2302.06675, Program 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.lion(0.1, weight_decay=0.5)
      >>> p = jnp.array([2.0, 2.0])
      >>> tx.update(jnp.array([1.0, -1.0]), tx.init(p), p)[0]
      Array([-0.2,  0. ], dtype=float32)
    """
    check_schedule_or_nonnegative("lion", "learning_rate", learning_rate)
    check_decay("lion", "b1", b1)
    check_decay("lion", "b2", b2)
    check_schedule_or_nonnegative("lion", "weight_decay", weight_decay)
    if mode not in LION_MODES:
        raise ValueError(f"`lion(mode=...)` must be one of {list(LION_MODES)}; got {mode=}.")
    check_positive("lion", "smooth_beta", smooth_beta)
    hps = dict(learning_rate=learning_rate, b1=b1, b2=b2, weight_decay=weight_decay)
    if mode == "smooth":
        hps["smooth_beta"] = smooth_beta
    return build_optimizer("lion", _lion_build, hps, mu_dtype=mu_dtype, mask=mask, mode=mode)


def _per_rate(bound: Any, learning_rate: Any) -> jax.Array:
    """``bound / learning_rate`` (``bound`` itself at rate 0, where every step is 0)."""
    lr = jnp.asarray(learning_rate)
    return bound / jnp.where(lr > 0, lr, 1.0)


def _rprop_build(
    learning_rate, eta_minus, eta_plus, min_step_size, max_step_size, *, accumulator_dtype
):
    # The state keeps step sizes in units of the learning rate (1 at the start), so
    # that the learning rate in the state scales the steps: with a constant rate this
    # is Rprop exactly, with a schedule the steps follow it.
    relative = scale_by_rprop(
        1.0,
        eta_minus,
        eta_plus,
        _per_rate(min_step_size, learning_rate),
        _per_rate(max_step_size, learning_rate),
        accumulator_dtype=accumulator_dtype,
    )
    return chain(relative, scale_by_learning_rate(learning_rate))


@reports_as_itself
def rprop(
    learning_rate: ScalarOrSchedule,
    eta_minus: Num = 0.5,
    eta_plus: Num = 1.2,
    min_step_size: Num = 1e-6,
    max_step_size: Num = 50.0,
    *,
    accumulator_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Rprop: each parameter moves by its own step size, grown or shrunk by sign changes.

    Update rule (see :func:`gradtx.scale_by_rprop`), with :math:`\\Delta_0` =
    ``learning_rate``:

    .. math::

       s_t = \\operatorname{sign}(g_t)\\operatorname{sign}(g_{t-1}),\\quad
       \\Delta_t = \\operatorname{clip}(\\Delta_{t-1} \\cdot
          \\{\\eta^+, \\eta^-, 1\\}_{s_t > 0,\\, < 0,\\, = 0},\\
          \\text{min_step_size}, \\text{max_step_size}),\\quad
       \\theta_{t+1} = \\theta_t - [s_t \\ge 0]\\operatorname{sign}(g_t)\\,\\Delta_t

    where a gradient whose sign flipped is forgotten (:math:`g_t \\leftarrow 0`). The
    first update is already :math:`-\\operatorname{sign}(g_1)\\cdot`
    ``learning_rate``, and the whole sequence equals ``torch.optim.Rprop`` with
    ``lr=learning_rate, etas=(eta_minus, eta_plus),
    step_sizes=(min_step_size, max_step_size)`` (tested to 1e-10 in float64).

    **gradtx differs from optax here on purpose**: optax's ``rprop`` emits the previous
    step's update, so its first update is zero and its update at step :math:`t+1`
    is gradtx's at step :math:`t`, zeroed where the gradient changes sign between
    the two steps (:math:`g_{t+1} g_t < 0`). That is one step late, and a step that
    the paper takes is lost at every sign change.

    The state keeps the step sizes in units of the learning rate, so the
    ``learning_rate`` in :func:`gradtx.hyperparams` scales them: changing it (by
    :func:`gradtx.set_hyperparams` or a schedule) scales every current step size
    :math:`\\Delta` by the same factor, with the bounds unchanged. (torch reads
    ``lr`` only at its first step.)

    Args:
      learning_rate: the initial step size :math:`\\Delta_0`, a number >= 0 or a
        schedule.
      eta_minus: the shrink factor :math:`\\eta^-` in (0, 1).
      eta_plus: the growth factor :math:`\\eta^+` > 1.
      min_step_size: the smallest step size, >= 0.
      max_step_size: the largest step size, > 0 and >= ``min_step_size``.
      accumulator_dtype: dtype of the per-parameter step sizes and previous signs
        (keyword-only); the parameters' dtype when ``None``.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``,
      ``eta_minus``, ``eta_plus``, ``min_step_size`` and ``max_step_size``.

    Reference: Riedmiller & Braun 1993, "A direct adaptive method for faster
    backpropagation learning: the RPROP algorithm", IEEE International Conference on
    Neural Networks, doi:10.1109/ICNN.1993.298623.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.rprop(0.1)
      >>> s = tx.init(jnp.zeros(2))
      >>> u, s = tx.update(jnp.array([3.0, -1.0]), s)
      >>> u
      Array([-0.1,  0.1], dtype=float32)
      >>> u, s = tx.update(jnp.array([2.0, 1.0]), s)
      >>> u
      Array([-0.12,  0.  ], dtype=float32)
    """
    fn = "rprop"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_range(fn, "eta_minus", eta_minus, 0.0, 1.0, low_open=True, high_open=True)
    check_range(fn, "eta_plus", eta_plus, 1.0, None, low_open=True)
    check_nonnegative(fn, "min_step_size", min_step_size)
    check_positive(fn, "max_step_size", max_step_size)
    lo, hi = concrete(min_step_size), concrete(max_step_size)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(
            f"`{fn}(min_step_size=..., max_step_size=...)` must bound an interval; got "
            f"{min_step_size=} > {max_step_size=}."
        )
    return build_optimizer(
        fn,
        _rprop_build,
        dict(
            learning_rate=learning_rate,
            eta_minus=eta_minus,
            eta_plus=eta_plus,
            min_step_size=min_step_size,
            max_step_size=max_step_size,
        ),
        accumulator_dtype=accumulator_dtype,
    )

"""Optimistic optimizers for min-max games: optimistic gradient descent and Adam."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import (
    check_decay,
    check_nonnegative,
    check_schedule_or_nonnegative,
    reports_as_itself,
)
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms import (
    scale,
    scale_by_adam,
    scale_by_learning_rate,
    scale_by_optimistic_gradient,
)

__all__ = ["optimistic_adam", "optimistic_adam_v2", "optimistic_gradient_descent"]

Num = jax.typing.ArrayLike


def _ogd_build(learning_rate, alpha, beta):
    return chain(scale_by_optimistic_gradient(alpha, beta), scale_by_learning_rate(learning_rate))


@reports_as_itself
def optimistic_gradient_descent(
    learning_rate: ScalarOrSchedule,
    alpha: ScalarOrSchedule = 1.0,
    beta: ScalarOrSchedule = 1.0,
) -> GradientTransformationExtraArgs:
    """Optimistic gradient descent (OGD), for min-max games as well as minimization.

    Update rule:

    .. math::

       \\theta_{t+1} = \\theta_t - \\alpha_t\\left(a\\, g_t + b\\,(g_t - g_{t-1})\\right)

    with :math:`a` = ``alpha``, :math:`b` = ``beta``, :math:`g_0 = g_1`.
    ``alpha = beta = 1`` is the paper's :math:`\\theta_{t+1} = \\theta_t - 2\\eta g_t +
    \\eta g_{t-1}`.

    Args:
      learning_rate: :math:`\\alpha_t`, a number >= 0 or a schedule.
      alpha: :math:`a` >= 0 (a number or a schedule).
      beta: :math:`b` >= 0 (a number or a schedule).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``alpha``
      and ``beta``.

    References:
      Daskalakis, Ilyas, Syrgkanis & Zeng 2018, "Training GANs with Optimism",
      arXiv 1711.00141, eq. (4); Mokhtari, Ozdaglar & Pattathil 2020, "A Unified
      Analysis of Extra-gradient and Optimistic Gradient Methods for Saddle Point
      Problems: Proximal Point Approach", arXiv 1901.08511.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.optimistic_gradient_descent(0.1)
      >>> s = tx.init(jnp.zeros(1))
      >>> u, s = tx.update(jnp.array([1.0]), s)
      >>> u, s = tx.update(jnp.array([3.0]), s)
      >>> u
      Array([-0.5], dtype=float32)
    """
    fn = "optimistic_gradient_descent"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_schedule_or_nonnegative(fn, "alpha", alpha)
    check_schedule_or_nonnegative(fn, "beta", beta)
    hps = dict(learning_rate=learning_rate, alpha=alpha, beta=beta)
    return build_optimizer(fn, _ogd_build, hps)


def _optimistic_adam_build(
    learning_rate, alpha, beta, b1, b2, eps, eps_root, *, mu_dtype, nesterov, nu_dtype
):
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype),
        scale_by_optimistic_gradient(alpha, beta),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def optimistic_adam_v2(
    learning_rate: ScalarOrSchedule,
    *,
    alpha: Num = 1.0,
    beta: Num = 1.0,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    eps_root: Num = 0.0,
    mu_dtype: Any = None,
    nesterov: bool = True,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Optimistic Adam: optimism applied to Adam's direction.

    Update rule, with :math:`d_t` Adam's bias-corrected direction
    :math:`\\hat m_t / (\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon)`
    (:func:`gradtx.scale_by_adam`):

    .. math::

       \\theta_{t+1} = \\theta_t - \\alpha_t\\left(a\\, d_t + b\\,(d_t - d_{t-1})\\right)

    with :math:`a` = ``alpha``, :math:`b` = ``beta`` and :math:`d_0 = d_1`.
    ``alpha = beta = 1, nesterov=False`` is Algorithm 1 of the paper,
    :math:`\\theta_{t+1} = \\theta_t - 2\\eta d_t + \\eta d_{t-1}`; the default
    ``nesterov=True`` (optax's) uses NAdam's look-ahead first moment in :math:`d_t`.

    Args:
      learning_rate: :math:`\\alpha_t`, a number >= 0 or a schedule.
      alpha: :math:`a` >= 0.
      beta: :math:`b` >= 0.
      b1, b2, eps, eps_root, mu_dtype, nu_dtype: as in :func:`gradtx.adam`.
      nesterov: NAdam's look-ahead first moment.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``alpha``,
      ``beta``, ``b1``, ``b2``, ``eps`` and ``eps_root``.

    Reference: Daskalakis, Ilyas, Syrgkanis & Zeng 2018, "Training GANs with Optimism",
    arXiv 1711.00141, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.optimistic_adam_v2(0.1)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([-0.1], dtype=float32)
    """
    fn = "optimistic_adam_v2"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_nonnegative(fn, "alpha", alpha)
    check_nonnegative(fn, "beta", beta)
    check_decay(fn, "b1", b1)
    check_decay(fn, "b2", b2)
    check_nonnegative(fn, "eps", eps)
    check_nonnegative(fn, "eps_root", eps_root)
    hps = dict(
        learning_rate=learning_rate,
        alpha=alpha,
        beta=beta,
        b1=b1,
        b2=b2,
        eps=eps,
        eps_root=eps_root,
    )
    return build_optimizer(
        fn, _optimistic_adam_build, hps, mu_dtype=mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype
    )


def _optimistic_adam_v1_build(
    learning_rate, b1, b2, eps, eps_root, *, mu_dtype, nesterov, nu_dtype, **optimism
):
    # Without ``optimism`` the optimism follows the learning rate (read from the
    # state), so changing one by ``set_hyperparams`` changes both, as the paper's
    # single step size would.
    weight = optimism.get("optimism", learning_rate)
    return chain(
        scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov, nu_dtype=nu_dtype),
        scale_by_optimistic_gradient(learning_rate, weight),
        scale(-1.0),
    )


@reports_as_itself
def optimistic_adam(
    learning_rate: ScalarOrSchedule,
    optimism: ScalarOrSchedule | None = None,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    eps_root: Num = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Optimistic Adam with separate step size and optimism (optax's first version).

    Update rule, with :math:`r_t` Adam's bias-corrected direction
    :math:`\\hat m_t / (\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon)`
    (:func:`gradtx.scale_by_adam`) and :math:`r_0 = r_1`:

    .. math::

       \\theta_{t+1} = \\theta_t - \\alpha\\, r_t - o\\,(r_t - r_{t-1})

    with :math:`\\alpha` = ``learning_rate`` and :math:`o` = ``optimism``
    (:math:`o = \\alpha` when ``None``). With :math:`o = \\alpha` and
    ``nesterov=False`` this is Algorithm 1 of the paper,
    :math:`\\theta_{t+1} = \\theta_t - 2\\alpha r_t + \\alpha r_{t-1}`; the default
    ``nesterov=True`` (optax's) uses NAdam's look-ahead first moment in :math:`r_t`.
    :func:`optimistic_adam_v2` writes the same step as
    :math:`\\alpha_t(a\\, r_t + b\\,(r_t - r_{t-1}))`:
    ``optimistic_adam(lr, o)`` is ``optimistic_adam_v2(lr, alpha=1, beta=o / lr)``.

    Args:
      learning_rate: :math:`\\alpha` >= 0, a number or a schedule.
      optimism: :math:`o` >= 0, a number or a schedule; ``None`` makes it follow the
        learning rate (then it is not recorded separately in the state).
      b1, b2, eps, eps_root, mu_dtype, nu_dtype: as in :func:`gradtx.adam` (``nu_dtype``
        is keyword-only).
      nesterov: NAdam's look-ahead first moment (keyword-only, as in optax).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``eps``, ``eps_root`` and, when given, ``optimism``.

    Reference: Daskalakis, Ilyas, Syrgkanis & Zeng 2018, "Training GANs with Optimism",
    arXiv 1711.00141, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.optimistic_adam(0.1, optimism=0.5, nesterov=False)
      >>> s = tx.init(jnp.zeros(1))
      >>> u, s = tx.update(jnp.array([2.0]), s)
      >>> u
      Array([-0.1], dtype=float32)
      >>> u, s = tx.update(jnp.array([-2.0]), s)
      >>> u.round(4)
      Array([0.5316], dtype=float32)
    """
    fn = "optimistic_adam"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_schedule_or_nonnegative(fn, "optimism", optimism)
    check_decay(fn, "b1", b1)
    check_decay(fn, "b2", b2)
    check_nonnegative(fn, "eps", eps)
    check_nonnegative(fn, "eps_root", eps_root)
    hps = dict(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root)
    if optimism is not None:
        hps["optimism"] = optimism
    return build_optimizer(
        fn,
        _optimistic_adam_v1_build,
        hps,
        mu_dtype=mu_dtype,
        nesterov=nesterov,
        nu_dtype=nu_dtype,
    )

"""AdaBelief, Yogi, NovoGrad and Adan: Adam's relatives with a different second moment."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import check_schedule_or_nonnegative, reports_as_itself
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.optimizers._alias import build_optimizer, is_zero, then_lr
from gradtx.transforms import (
    scale_by_adan,
    scale_by_belief,
    scale_by_novograd,
    scale_by_yogi,
)

__all__ = ["adabelief", "adan", "novograd", "yogi"]

Num = jax.typing.ArrayLike


def _adabelief_build(learning_rate, b1, b2, eps, eps_root, *, nesterov, mu_dtype, nu_dtype):
    direction = scale_by_belief(
        b1, b2, eps, eps_root, nesterov=nesterov, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )
    return then_lr(direction, learning_rate)


@reports_as_itself
def adabelief(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-16,
    eps_root: Num = 1e-16,
    *,
    nesterov: bool = False,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """The AdaBelief optimizer: Adam with the variance of the gradient around its EMA.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t\\, \\hat m_t /
    (\\sqrt{\\hat s_t} + \\epsilon)` with
    :math:`s_t = \\beta_2 s_{t-1} + (1-\\beta_2)|g_t - m_t|^2 + \\epsilon_{root}` and
    the bias-corrected moments of :func:`gradtx.scale_by_belief`.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1`, the first moment's decay.
      b2: :math:`\\beta_2`, the belief's decay.
      eps: added outside the root.
      eps_root: added to :math:`s_t` at every step.
      nesterov: Nesterov's look-ahead first moment.
      mu_dtype: dtype of the first moment (keyword-only).
      nu_dtype: dtype of the belief :math:`s` (keyword-only).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``eps``, ``eps_root``.

    Reference: Zhuang et al. 2020, "AdaBelief Optimizer: Adapting Stepsizes by the
    Belief in Observed Gradients", arXiv 2010.07468.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.adabelief(0.1)
      >>> x = jnp.zeros(2); state = tx.init(x)
      >>> for _ in range(300):
      ...     u, state = tx.update(jax.grad(f)(x), state, x)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    check_schedule_or_nonnegative("adabelief", "learning_rate", learning_rate)
    scale_by_belief(b1, b2, eps, eps_root)  # validates eagerly, naming the argument
    return build_optimizer(
        "adabelief",
        _adabelief_build,
        dict(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        nesterov=nesterov,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


def _yogi_build(learning_rate, b1, b2, eps, *, mu_dtype, nu_dtype):
    return then_lr(scale_by_yogi(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype), learning_rate)


@reports_as_itself
def yogi(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-3,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """The Yogi optimizer: Adam whose second moment grows at a controlled rate.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t\\, \\hat m_t /
    (\\sqrt{\\hat v_t} + \\epsilon)` with
    :math:`v_t = v_{t-1} - (1-\\beta_2)\\,\\mathrm{sign}(v_{t-1} - |g_t|^2)\\,|g_t|^2`
    (see :func:`gradtx.scale_by_yogi`; both moments start at 1e-6).

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1`, the first moment's decay.
      b2: :math:`\\beta_2`, the second moment's rate.
      eps: added outside the root (the paper's 1e-3).
      mu_dtype: dtype of the first moment (keyword-only).
      nu_dtype: dtype of the second moment (keyword-only).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``eps``.

    Reference: Zaheer, Reddi, Sachan, Kale & Kumar 2018, "Adaptive Methods for
    Nonconvex Optimization", NeurIPS 2018.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.yogi(0.1)
      >>> sorted(gradtx.hyperparams(tx.init(jnp.zeros(2))))
      ['b1', 'b2', 'eps', 'learning_rate']
    """
    check_schedule_or_nonnegative("yogi", "learning_rate", learning_rate)
    scale_by_yogi(b1, b2, eps)
    return build_optimizer(
        "yogi",
        _yogi_build,
        dict(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps),
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


def _novograd_build(learning_rate, b1, b2, eps, eps_root, weight_decay=None, *, mu_dtype):
    wd = 0.0 if weight_decay is None else weight_decay
    return then_lr(scale_by_novograd(b1, b2, eps, eps_root, wd, mu_dtype), learning_rate)


@reports_as_itself
def novograd(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.25,
    eps: Num = 1e-6,
    eps_root: Num = 0.0,
    weight_decay: ScalarOrSchedule = 0.0,
    *,
    mu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """The NovoGrad optimizer: momentum on layer-wise normalized gradients.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t m_t` with, per leaf,
    :math:`m_t = \\beta_1 m_{t-1} + g_t/(\\sqrt{v_t + \\epsilon_{root}} + \\epsilon) +
    \\lambda\\theta_t` and :math:`v_t` the EMA of the leaf's squared gradient norm (see
    :func:`gradtx.scale_by_novograd`). The weight decay is the paper's, inside the
    momentum (so not a separate decoupled term, and there is no mask).

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1`, the momentum.
      b2: :math:`\\beta_2`, the decay of the squared norms.
      eps: added outside the root.
      eps_root: added inside the root.
      weight_decay: :math:`\\lambda` >= 0 (a number or a schedule); when not zero,
        ``update`` needs the params.
      mu_dtype: dtype of the momentum :math:`m` (keyword-only); the parameters' dtype
        when ``None`` (the norms :math:`v_t` are scalars, kept in float32).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``eps``, ``eps_root`` and, when not zero, ``weight_decay``.

    Reference: Ginsburg et al. 2019, "Stochastic Gradient Methods with Layer-wise
    Adaptive Moments for Training of Deep Networks", arXiv 1905.11286.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.novograd(0.5, eps=0.0)
      >>> tx.update(jnp.array([3.0, -4.0]), tx.init(jnp.zeros(2)))[0]
      Array([-0.3,  0.4], dtype=float32)
    """
    check_schedule_or_nonnegative("novograd", "learning_rate", learning_rate)
    check_schedule_or_nonnegative("novograd", "weight_decay", weight_decay)
    scale_by_novograd(b1, b2, eps, eps_root)
    hps: dict[str, Any] = dict(
        learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root
    )
    if not is_zero(weight_decay):
        hps["weight_decay"] = weight_decay
    return build_optimizer("novograd", _novograd_build, hps, mu_dtype=mu_dtype)


def _adan_build(
    learning_rate, b1, b2, b3, eps, eps_root, weight_decay=None, *, mask, mu_dtype, nu_dtype
):
    direction = scale_by_adan(b1, b2, b3, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    return then_lr(direction, learning_rate, weight_decay, mask)


@reports_as_itself
def adan(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.98,
    b2: Num = 0.92,
    b3: Num = 0.99,
    eps: Num = 1e-8,
    eps_root: Num = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any = None,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """The Adan optimizer: adaptive Nesterov momentum, with decoupled weight decay.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t (u_t + \\lambda\\theta_t)`
    with Adan's direction :math:`u_t` (see :func:`gradtx.scale_by_adan`, which also
    says where optax's numbers differ: its difference term is weighted by ``1 - b2``).
    The paper applies the decay as a proximal step,
    :math:`\\theta_{t+1} = (\\theta_t - \\alpha_t u_t)/(1 + \\lambda\\alpha_t)`; the
    decoupled form here (optax's) agrees with it to first order in
    :math:`\\lambda\\alpha_t`.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1, b2, b3: the decays of the gradient, difference and second-moment averages.
      eps: added outside the root.
      eps_root: added inside the root.
      weight_decay: :math:`\\lambda` >= 0 (a number or a schedule).
      mask: where to decay: a tree of booleans like the params, or a function of the
        params returning one.
      mu_dtype: dtype of the gradient and difference averages (keyword-only).
      nu_dtype: dtype of the second moment (keyword-only).

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``b3``, ``eps``, ``eps_root`` and, when not zero, ``weight_decay``.

    Reference: Xie, Zhou, Li, Lin & Yan 2022, "Adan: Adaptive Nesterov Momentum
    Algorithm for Faster Optimizing Deep Models", arXiv 2208.06677.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.adan(0.1, eps=0.0, eps_root=0.0)
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([-0.1,  0.1], dtype=float32)
    """
    check_schedule_or_nonnegative("adan", "learning_rate", learning_rate)
    check_schedule_or_nonnegative("adan", "weight_decay", weight_decay)
    scale_by_adan(b1, b2, b3, eps, eps_root)
    hps: dict[str, Any] = dict(
        learning_rate=learning_rate, b1=b1, b2=b2, b3=b3, eps=eps, eps_root=eps_root
    )
    if not is_zero(weight_decay):
        hps["weight_decay"] = weight_decay
    return build_optimizer(
        "adan", _adan_build, hps, mask=mask, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )

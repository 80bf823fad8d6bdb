"""AdEMAMix, Simplified-AdEMAMix, MADGRAD and ACProp."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import check_schedule_or_nonnegative, reports_as_itself
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer, is_zero, then_lr
from gradtx.transforms import (
    add_decayed_weights,
    scale_by_acprop,
    scale_by_ademamix,
    scale_by_madgrad,
    scale_by_simplified_ademamix,
)

__all__ = ["acprop", "ademamix", "madgrad", "simplified_ademamix"]

Num = jax.typing.ArrayLike


def _with_decay(fn: str, hps: dict[str, Any], weight_decay: Any) -> dict[str, Any]:
    check_schedule_or_nonnegative(fn, "weight_decay", weight_decay)
    if not is_zero(weight_decay):
        hps["weight_decay"] = weight_decay
    return hps


def _ademamix_build(
    learning_rate, b1, b2, b3, alpha, eps, eps_root, weight_decay=None, *, mu_dtype, nu_dtype, mask
):
    direction = scale_by_ademamix(b1, b2, b3, alpha, eps, eps_root, mu_dtype, nu_dtype=nu_dtype)
    return then_lr(direction, learning_rate, weight_decay, mask)


@reports_as_itself
def ademamix(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    b3: ScalarOrSchedule = 0.9999,
    alpha: ScalarOrSchedule = 5.0,
    eps: Num = 1e-8,
    eps_root: Num = 0.0,
    mu_dtype: Any = None,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any = None,
    *,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """The AdEMAMix optimizer: Adam with a second, slow EMA of gradients in the numerator.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\eta_t\\left(
    \\frac{\\hat m^{(1)}_t + \\alpha_t m^{(2)}_t}{\\sqrt{\\hat\\nu_t + \\epsilon_{root}}
    + \\epsilon} + \\lambda\\theta_t\\right)` with the EMAs of
    :func:`gradtx.scale_by_ademamix` (fast :math:`\\beta_1`, slow :math:`\\beta_3`).
    ``b3`` and ``alpha`` may be schedules (the paper warms them up over a long run).

    Args:
      learning_rate: :math:`\\eta`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1`, the fast EMA's decay.
      b2: :math:`\\beta_2`, the second moment's decay.
      b3: :math:`\\beta_3`, the slow EMA's decay, or a schedule.
      alpha: :math:`\\alpha`, the slow EMA's weight, or a schedule.
      eps: added outside the root.
      eps_root: added inside the root.
      mu_dtype: dtype of both EMAs of gradients.
      weight_decay: :math:`\\lambda` >= 0, decoupled (multiplied by the learning rate).
      mask: where to decay: a tree of booleans like the params, or a function of the
        params returning one.

      nu_dtype: dtype of the second moment (keyword-only); the parameters' real dtype
        when ``None``.
    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``, ``b2``,
      ``b3``, ``alpha``, ``eps``, ``eps_root`` (and ``weight_decay`` when nonzero).

    Reference: Pagliardini, Ablin & Grangier 2024, "The AdEMAMix Optimizer: Better,
    Faster, Older", arXiv 2409.03137.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.ademamix(0.1, b3=0.5, alpha=2.0, eps=0.0)
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([-0.2,  0.2], dtype=float32)
    """
    fn = "ademamix"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    scale_by_ademamix(b1, b2, b3, alpha, eps, eps_root)  # validates eagerly
    hps = dict(
        learning_rate=learning_rate, b1=b1, b2=b2, b3=b3, alpha=alpha, eps=eps, eps_root=eps_root
    )
    return build_optimizer(
        fn,
        _ademamix_build,
        _with_decay(fn, hps, weight_decay),
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
        mask=mask,
    )


def _simplified_build(
    learning_rate, b1, b2, alpha, eps, eps_root, weight_decay=None, *, mask, mu_dtype, nu_dtype
):
    direction = scale_by_simplified_ademamix(
        b1, b2, alpha, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )
    return then_lr(direction, learning_rate, weight_decay, mask)


@reports_as_itself
def simplified_ademamix(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.99,
    b2: Num = 0.95,
    alpha: ScalarOrSchedule = 0.0,
    eps: Num = 1e-8,
    eps_root: Num = 0.0,
    weight_decay: Num = 0.0,
    mask: Any = None,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Simplified-AdEMAMix: one undamped momentum plus a weighted current gradient.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\eta_t\\left(\\frac{m_t +
    \\alpha_t g_t}{\\sqrt{\\hat\\nu_t + \\epsilon_{root}} + \\epsilon} +
    \\lambda\\theta_t\\right)` with :math:`m_t = \\beta_1 m_{t-1} + g_t` (see
    :func:`gradtx.scale_by_simplified_ademamix`). The momentum has weight up to
    :math:`1/(1-\\beta_1)`, so the learning rate is about :math:`1-\\beta_1` times Adam's.

    Args:
      learning_rate: :math:`\\eta`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1`, the momentum's decay.
      b2: :math:`\\beta_2`, the second moment's decay.
      alpha: :math:`\\alpha`, the current gradient's weight, or a schedule.
      eps: added outside the root.
      eps_root: added inside the root.
      weight_decay: :math:`\\lambda` >= 0, decoupled (multiplied by the learning rate).
      mask: where to decay.
      mu_dtype: dtype of the momentum :math:`m` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of the second moment (keyword-only); the parameters' real dtype when
        ``None``. See the state-precision guide.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``, ``b2``,
      ``alpha``, ``eps``, ``eps_root`` (and ``weight_decay`` when nonzero).

    Reference: Morwani, Vyas, Zhang & Kakade 2025, "Connections between Schedule-Free
    Optimizers, AdEMAMix, and Accelerated SGD Variants", arXiv 2502.02431.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.simplified_ademamix(0.1, alpha=1.0, eps=0.0)
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([-0.2,  0.2], dtype=float32)
    """
    fn = "simplified_ademamix"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    scale_by_simplified_ademamix(b1, b2, alpha, eps, eps_root)
    hps = dict(learning_rate=learning_rate, b1=b1, b2=b2, alpha=alpha, eps=eps, eps_root=eps_root)
    decayed = _with_decay(fn, hps, weight_decay)
    return build_optimizer(
        fn, _simplified_build, decayed, mask=mask, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )


def _madgrad_build(learning_rate, momentum, eps, weight_decay=None, *, mask, mu_dtype, nu_dtype):
    direction = scale_by_madgrad(learning_rate, momentum, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    if weight_decay is None:
        return direction
    return chain(add_decayed_weights(weight_decay, mask), direction)


@reports_as_itself
def madgrad(
    learning_rate: ScalarOrSchedule,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    eps: float = 1e-6,
    *,
    mask: Any = None,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """The MADGRAD optimizer: momentumized, adaptive dual averaging.

    Update rule: :math:`x_{k+1} = (1-c)\\,x_k + c\\,z_{k+1}` with :math:`c` = ``1 -
    momentum`` and the dual average :math:`z_{k+1} = x_0 - s_{k+1} /
    (\\sqrt[3]{v_{k+1}} + \\epsilon)` of :func:`gradtx.scale_by_madgrad`, whose sums
    weight the gradient :math:`g_k + \\lambda x_k` by :math:`(\\gamma_k +
    \\epsilon)\\sqrt{k+1}`. The weight decay :math:`\\lambda` is added to the gradient
    (coupled), as in the paper's experiments and the authors' code: a dual-averaging
    method has no separate step to decay. :math:`x_0` is the point given to ``init``.

    Args:
      learning_rate: :math:`\\gamma`, a number >= 0 or a schedule.
      momentum: in [0, 1] (0: plain dual averaging).
      weight_decay: :math:`\\lambda` >= 0, added to the gradient as
        :math:`\\lambda x_k`.
      eps: >= 0, added to the cube root and to the learning rate.
      mask: where to decay (keyword-only, gradtx's addition).
      mu_dtype: dtype of :math:`s` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of :math:`v` (keyword-only); the parameters' real dtype when
        ``None``. See the state-precision guide.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``momentum``,
      ``eps`` (and ``weight_decay`` when nonzero). Its ``update`` needs the params.

    Reference: Defazio & Jelassi 2021, "Adaptivity without Compromise: A Momentumized,
    Adaptive, Dual Averaged Gradient Method for Stochastic Optimization",
    arXiv 2101.11075.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.madgrad(0.1)
      >>> x = jnp.zeros(2); state = tx.init(x)
      >>> for _ in range(300):
      ...     u, state = tx.update(jax.grad(f)(x), state, x)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    fn = "madgrad"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    scale_by_madgrad(0.0, momentum, eps)
    hps = dict(learning_rate=learning_rate, momentum=momentum, eps=eps)
    decayed = _with_decay(fn, hps, weight_decay)
    return build_optimizer(
        fn, _madgrad_build, decayed, mask=mask, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )


def _acprop_build(
    learning_rate, b1, b2, eps, eps_root, weight_decay=None, *, mask, mu_dtype, nu_dtype
):
    direction = scale_by_acprop(b1, b2, eps, eps_root, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    return then_lr(direction, learning_rate, weight_decay, mask)


@reports_as_itself
def acprop(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-16,
    eps_root: Num = 1e-16,
    weight_decay: Num = 0.0,
    mask: Any = None,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """The ACProp optimizer: an asynchronous, centred RMSProp.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\eta_t\\left(\\frac{g_t}
    {\\sqrt{\\hat s_{t-1}} + \\epsilon} + \\lambda\\theta_t\\right)` where
    :math:`s_{t-1}` is the EMA of :math:`|g - m|^2` over the *previous* steps (see
    :func:`gradtx.scale_by_acprop`).

    Args:
      learning_rate: :math:`\\eta`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1`, the decay of the mean that centres the second moment.
      b2: :math:`\\beta_2`, the second moment's decay.
      eps: added outside the root.
      eps_root: added to the second moment at every step.
      weight_decay: :math:`\\lambda` >= 0, decoupled (multiplied by the learning rate).
      mask: where to decay.
      mu_dtype: dtype of :math:`m` (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of :math:`s` (keyword-only); the parameters' real dtype when
        ``None``. See the state-precision guide.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``, ``b2``,
      ``eps``, ``eps_root`` (and ``weight_decay`` when nonzero).

    Reference: Zhuang, Ding, Tang, Dvornek, Tatikonda & Duncan 2021, "Momentum
    Centering and Asynchronous Update for Adaptive Gradient Methods", arXiv 2110.05454.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.acprop(0.1, eps=0.0)
      >>> tx.update(jnp.array([0.5, -2.0]), tx.init(jnp.zeros(2)))[0]
      Array([-0.05,  0.2 ], dtype=float32)
    """
    fn = "acprop"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    scale_by_acprop(b1, b2, eps, eps_root)
    hps = dict(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root)
    decayed = _with_decay(fn, hps, weight_decay)
    return build_optimizer(
        fn, _acprop_build, decayed, mask=mask, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )

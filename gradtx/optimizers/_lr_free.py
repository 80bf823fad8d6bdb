"""Learning-rate-free optimizers: Prodigy, D-Adapt AdamW, DoG, DoWG, COCOB and Mechanic.

Each estimates its own step size; the ``learning_rate`` (default 1) multiplies it. The
names, signatures, defaults and numerics are optax.contrib's. Where optax adds weight
decay (DoG, DoWG, COCOB) it is added to the gradient before the method, as there.
"""

from __future__ import annotations

from typing import Any, Literal

import jax

from gradtx._checks import check_schedule_or_nonnegative, reports_as_itself
from gradtx.base import GradientTransformation, GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms import (
    add_decayed_weights,
    scale_by_cocob,
    scale_by_dadapt_adamw,
    scale_by_dog,
    scale_by_dowg,
    scale_by_learning_rate,
    scale_by_mechanic,
    scale_by_prodigy,
)

__all__ = ["cocob", "dadapt_adamw", "dog", "dowg", "mechanize", "prodigy"]

Num = jax.typing.ArrayLike


def _decayed(weight_decay: Any, mask: Any, *parts: Any) -> GradientTransformationExtraArgs:
    """``parts`` after ``add_decayed_weights`` (left out when ``weight_decay`` is None)."""
    if weight_decay is None:
        return chain(*parts)
    return chain(add_decayed_weights(weight_decay, mask), *parts)


def _prodigy_build(
    learning_rate,
    b1,
    b2,
    eps,
    estim_lr_coef,
    weight_decay,
    beta3=None,
    *,
    safeguard,
    estim_lr0,
    mu_dtype,
    nu_dtype,
):
    return scale_by_prodigy(
        learning_rate, (b1, b2), beta3, eps, estim_lr0, estim_lr_coef, weight_decay, safeguard,
        mu_dtype=mu_dtype, nu_dtype=nu_dtype,
    )  # fmt: skip


@reports_as_itself
def prodigy(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[Num, Num] = (0.9, 0.999),
    beta3: Num | None = None,
    eps: Num = 1e-8,
    estim_lr0: Num = 1e-6,
    estim_lr_coef: Num = 1.0,
    weight_decay: Num = 0.0,
    safeguard_warmup: bool = False,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Prodigy: Adam with a step size estimated from the distance travelled.

    Update rule: :func:`gradtx.scale_by_prodigy`, i.e.
    :math:`x_{k+1} = x_k - \\eta_k (m_k/(\\sqrt{v_k} + d_{k+1}\\epsilon) + \\lambda x_k)`
    with :math:`\\eta_k = d_k\\gamma\\sqrt{1-\\beta_2^k}/(1-\\beta_1^k)`, where the
    distance estimate :math:`d_k` only grows, from ``estim_lr0``.

    Args:
      learning_rate: :math:`\\gamma`, a number >= 0 or a schedule (1 is the intended
        value; schedules such as cosine decay help).
      betas: :math:`(\\beta_1, \\beta_2)` of the moments.
      beta3: the decay of the estimate's sums; ``None`` for :math:`\\sqrt{\\beta_2}`.
      eps: added to the root (times :math:`d`).
      estim_lr0: :math:`d_0` > 0, the first distance estimate.
      estim_lr_coef: a factor on every new estimate.
      weight_decay: :math:`\\lambda` >= 0, decoupled (AdamW-style, times :math:`\\eta_k`).
      safeguard_warmup: leave :math:`\\gamma` out of the estimate's denominator.

      mu_dtype: dtype of the first moment and of the gradient sum :math:`s`
        (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of the second moment (keyword-only); the parameters' real dtype
        when ``None``.
    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``, ``b2``,
      ``eps``, ``estim_lr0``, ``estim_lr_coef``, ``weight_decay`` (and ``beta3`` when
      given). ``update`` needs ``params``.

    Reference: Mishchenko & Defazio 2023, "Prodigy: An Expeditiously Adaptive
    Parameter-Free Learner", arXiv 2306.06101.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.prodigy()
      >>> x = jnp.zeros(2); state = tx.init(x)
      >>> for _ in range(200):
      ...     u, state = tx.update(jax.grad(f)(x), state, x)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    check_schedule_or_nonnegative("prodigy", "learning_rate", learning_rate)
    scale_by_prodigy(1.0, betas, beta3, eps, estim_lr0, estim_lr_coef, weight_decay)
    b1, b2 = betas
    hps: dict[str, Any] = dict(
        learning_rate=learning_rate,
        b1=b1,
        b2=b2,
        eps=eps,
        estim_lr_coef=estim_lr_coef,
        weight_decay=weight_decay,
    )
    if beta3 is not None:
        hps["beta3"] = beta3
    # estim_lr0 only seeds the estimate d at init: static, not a settable hyperparameter
    return build_optimizer(
        "prodigy",
        _prodigy_build,
        hps,
        safeguard=safeguard_warmup,
        estim_lr0=estim_lr0,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


def _dadapt_build(learning_rate, b1, b2, eps, weight_decay, *, estim_lr0, mu_dtype, nu_dtype):
    return scale_by_dadapt_adamw(
        learning_rate, (b1, b2), eps, estim_lr0, weight_decay, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )


@reports_as_itself
def dadapt_adamw(
    learning_rate: ScalarOrSchedule = 1.0,
    betas: tuple[Num, Num] = (0.9, 0.999),
    eps: Num = 1e-8,
    estim_lr0: Num = 1e-6,
    weight_decay: Num = 0.0,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """D-Adaptation AdamW: Adam with a step size estimated from a lower bound on distance.

    Update rule: :func:`gradtx.scale_by_dadapt_adamw`, i.e.
    :math:`x_{k+1} = x_k - m_k/(\\sqrt{v_k} + \\epsilon) - \\lambda\\eta_k x_k` where the
    first moment :math:`m_k` averages :math:`\\eta_k g_k`,
    :math:`\\eta_k = d_k\\gamma\\sqrt{1-\\beta_2^k}/(1-\\beta_1^k)`, and the estimate
    :math:`d_k` only grows, from ``estim_lr0``.

    Args:
      learning_rate: :math:`\\gamma`, a number >= 0 or a schedule (1 is intended).
      betas: :math:`(\\beta_1, \\beta_2)` of the moments.
      eps: added to the root.
      estim_lr0: :math:`d_1` > 0, the first distance estimate.
      weight_decay: :math:`\\lambda` >= 0, decoupled (times :math:`\\eta_k`).

      mu_dtype: dtype of the first moment and of the gradient sum :math:`s`
        (keyword-only); the parameters' dtype when ``None``.
      nu_dtype: dtype of the second moment (keyword-only); the parameters' real dtype
        when ``None``.
    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``, ``b2``,
      ``eps``, ``estim_lr0``, ``weight_decay``. ``update`` needs ``params``.

    Reference: Defazio & Mishchenko 2023, "Learning-Rate-Free Learning by
    D-Adaptation", arXiv 2301.07733.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.dadapt_adamw()
      >>> sorted(gradtx.hyperparams(tx.init(jnp.zeros(2))))
      ['b1', 'b2', 'eps', 'learning_rate', 'weight_decay']
    """
    check_schedule_or_nonnegative("dadapt_adamw", "learning_rate", learning_rate)
    scale_by_dadapt_adamw(1.0, betas, eps, estim_lr0, weight_decay)
    b1, b2 = betas
    hps = dict(
        learning_rate=learning_rate,
        b1=b1,
        b2=b2,
        eps=eps,
        weight_decay=weight_decay,
    )
    # estim_lr0 only seeds the estimate d at init: static, not a settable hyperparameter
    return build_optimizer(
        "dadapt_adamw",
        _dadapt_build,
        hps,
        estim_lr0=estim_lr0,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


def _weight_decay_hps(fn: str, hps: dict[str, Any], weight_decay: Any) -> dict[str, Any]:
    if weight_decay is not None:
        check_schedule_or_nonnegative(fn, "weight_decay", weight_decay)
        hps["weight_decay"] = weight_decay
    return hps


def _dog_build(learning_rate, eps, weight_decay=None, *, init_step, mask):
    return _decayed(
        weight_decay, mask, scale_by_dog(init_step, eps), scale_by_learning_rate(learning_rate)
    )


@reports_as_itself
def dog(
    learning_rate: ScalarOrSchedule = 1.0,
    init_step: tuple[Literal["distance", "learning_rate", "heuristic"], Num] = (
        "heuristic",
        1e-6,
    ),
    eps: Num = 1e-8,
    weight_decay: Num | None = None,
    mask: Any = None,
) -> GradientTransformationExtraArgs:
    """DoG: SGD with the step size distance over gradients.

    Update rule: :math:`x_{t+1} = x_t - \\gamma_t \\frac{\\bar r_t}{\\sqrt{G_t + \\epsilon}}
    \\tilde g_t` with :math:`\\bar r_t` the largest distance from :math:`x_0` so far and
    :math:`G_t` the sum of squared gradient norms (see :func:`gradtx.scale_by_dog`);
    :math:`\\tilde g_t = g_t + \\lambda x_t` with weight decay (added before the step
    size, as in optax).

    Args:
      learning_rate: :math:`\\gamma`, a number >= 0 or a schedule (1 is intended).
      init_step: ``(kind, value)``, how the first step is set: ``"heuristic"``
        (:math:`\\bar r_0 = ` value :math:`(1 + \\|x_0\\|)`), ``"distance"``
        (:math:`\\bar r_0 = ` value) or ``"learning_rate"`` (the first step size).
      eps: added under the root.
      weight_decay: :math:`\\lambda` >= 0, or ``None`` for none.
      mask: where to decay: a tree of booleans like the params, or a function of them.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``eps`` (and
      ``weight_decay``). ``update`` needs ``params``.

    Reference: Ivgi, Hinder & Carmon 2023, "DoG is SGD's Best Friend: A Parameter-Free
    Dynamic Step Size Schedule", arXiv 2302.12022.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.dog()
      >>> x = jnp.zeros(2); state = tx.init(x)
      >>> for _ in range(200):
      ...     u, state = tx.update(jax.grad(f)(x), state, x)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    check_schedule_or_nonnegative("dog", "learning_rate", learning_rate)
    scale_by_dog(init_step, eps)
    hps = _weight_decay_hps("dog", dict(learning_rate=learning_rate, eps=eps), weight_decay)
    return build_optimizer("dog", _dog_build, hps, init_step=tuple(init_step), mask=mask)


def _dowg_build(learning_rate, eps, init_estim_sq_dist=None, weight_decay=None, *, mask):
    return _decayed(
        weight_decay,
        mask,
        scale_by_dowg(init_estim_sq_dist, eps),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def dowg(
    learning_rate: ScalarOrSchedule = 1.0,
    init_estim_sq_dist: Num | None = None,
    eps: Num = 1e-4,
    weight_decay: Num | None = None,
    mask: Any = None,
) -> GradientTransformationExtraArgs:
    """DoWG: SGD with the step size distance over weighted gradients.

    Update rule: :math:`x_{t+1} = x_t - \\gamma_t \\frac{\\bar r_t^2}{\\sqrt{v_t} +
    \\epsilon}\\tilde g_t` with :math:`\\bar r_t^2` the largest squared distance from
    :math:`x_0` so far and :math:`v_t = \\sum_i \\bar r_i^2\\|\\tilde g_i\\|^2` (see
    :func:`gradtx.scale_by_dowg`); :math:`\\tilde g_t = g_t + \\lambda x_t` with weight
    decay (added before the step size, as in optax).

    Args:
      learning_rate: :math:`\\gamma`, a number >= 0 or a schedule (1 is intended).
      init_estim_sq_dist: :math:`\\bar r_0^2` > 0, or ``None`` for ``eps``.
      eps: added to the root.
      weight_decay: :math:`\\lambda` >= 0, or ``None`` for none.
      mask: where to decay.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``eps`` (and
      ``init_estim_sq_dist``, ``weight_decay`` when given). ``update`` needs ``params``.

    Reference: Khaled, Mishchenko & Jin 2023, "DoWG Unleashed: An Efficient Universal
    Parameter-Free Gradient Descent Method", arXiv 2305.16284.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.dowg(init_estim_sq_dist=1.0, eps=0.0)
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([3.0, 4.0]), tx.init(x), x)[0]
      Array([-0.6, -0.8], dtype=float32)
    """
    check_schedule_or_nonnegative("dowg", "learning_rate", learning_rate)
    scale_by_dowg(init_estim_sq_dist, eps)
    hps: dict[str, Any] = dict(learning_rate=learning_rate, eps=eps)
    if init_estim_sq_dist is not None:
        hps["init_estim_sq_dist"] = init_estim_sq_dist
    hps = _weight_decay_hps("dowg", hps, weight_decay)
    return build_optimizer("dowg", _dowg_build, hps, mask=mask)


def _cocob_build(learning_rate, alpha, weight_decay=None, *, mask, eps, accumulator_dtype):
    return _decayed(
        weight_decay,
        mask,
        scale_by_cocob(alpha, eps, accumulator_dtype=accumulator_dtype),
        scale_by_learning_rate(learning_rate, flip_sign=False),
    )


@reports_as_itself
def cocob(
    learning_rate: ScalarOrSchedule = 1.0,
    alpha: Num = 100.0,
    eps: Num = 1e-8,
    weight_decay: Num = 0.0,
    mask: Any = None,
    *,
    accumulator_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """COCOB-Backprop: coin betting, one bettor per coordinate, no step size.

    Update rule: :math:`x_{t+1} = x_t + \\gamma_t u_t` with :math:`u_t` the bettor's
    move of :func:`gradtx.scale_by_cocob` on :math:`\\tilde g_t = g_t + \\lambda x_t`
    (weight decay added before the bet, as in optax).

    optax's ``cocob`` ignores its ``learning_rate`` (measured: the updates of
    ``learning_rate=0.5`` and ``1.0`` are identical); gradtx multiplies the move by it,
    so the default 1.0 gives optax's (and the paper's) numbers and other rates scale
    the step as the name says.

    Args:
      learning_rate: :math:`\\gamma`, a number >= 0 or a schedule (1 is the paper's).
      alpha: > 0, caps the first bets (see :func:`gradtx.scale_by_cocob`).
      eps: > 0, the starting gradient scale.
      weight_decay: :math:`\\lambda` >= 0.
      mask: where to decay.
      accumulator_dtype: dtype of the bettors' four sums and maxima (keyword-only); the
        parameters' dtype when ``None`` (the starting point keeps the parameters').

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``alpha``,
      ``eps``, ``weight_decay``. ``update`` needs ``params``.

    Reference: Orabona & Tommasi 2017, "Training Deep Networks without Learning Rates
    Through Coin Betting", arXiv 1705.07795.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.cocob()
      >>> x = jnp.zeros(2)
      >>> tx.update(jnp.array([1.0, -2.0]), tx.init(x), x)[0]
      Array([-0.01,  0.01], dtype=float32)
    """
    check_schedule_or_nonnegative("cocob", "learning_rate", learning_rate)
    scale_by_cocob(alpha, eps)
    hps = _weight_decay_hps("cocob", dict(learning_rate=learning_rate, alpha=alpha), weight_decay)
    # eps only sets the initial scale at init: static, not a settable hyperparameter
    return build_optimizer(
        "cocob", _cocob_build, hps, mask=mask, eps=eps, accumulator_dtype=accumulator_dtype
    )


def _mechanize_build(weight_decay, eps, s_init, *, base_optimizer, num_betas):
    return scale_by_mechanic(base_optimizer, weight_decay, eps, s_init, num_betas)


@reports_as_itself
def mechanize(
    base_optimizer: GradientTransformation,
    weight_decay: Num = 1e-2,
    eps: Num = 1e-8,
    s_init: Num = 1e-6,
    num_betas: int = 6,
) -> GradientTransformationExtraArgs:
    """Mechanic: tune the scale of any optimizer's steps on the fly.

    The base optimizer's updates :math:`u_t` are summed into a displacement
    :math:`\\Delta` from the reference point :math:`x_{ref}` (the initial parameters),
    and the iterate is :math:`x_t = x_{ref} + S_t\\Delta_t`, with the scale
    :math:`S_t = \\sum_i s_{t,i}` learned by ``num_betas`` coin-betting tuners with
    decays :math:`\\beta_i = 1 - 10^{-i}`. With :math:`\\Delta_t = (x_t - x_{ref})/(S_t +
    \\epsilon)`, :math:`\\lambda` = ``weight_decay`` and :math:`n` = ``num_betas``:

    .. math::

       h_t = \\Big\\langle \\Delta_t, g_t + \\lambda S_t
       \\frac{\\|g_t\\|}{\\|x_t\\| + \\epsilon} x_t \\Big\\rangle,\\quad
       r_t = \\beta r_{t-1} - s_t\\, \\mathrm{clip}(h_t, \\pm m_{t-1}),

    .. math::

       m_t = \\max(\\beta m_{t-1}, |h_t| + \\epsilon),\\quad
       v_t = \\beta^2 v_{t-1} + h_t^2,\\quad
       s_{t+1} = \\frac{s_{init} m_t / n + \\max(r_t, 0)}{\\sqrt{v_t} + \\epsilon},

    .. math::

       x_{t+1} = x_{ref} + S_{t+1}(\\Delta_t + u_t)

    (the paper's Algorithm 1, with its reward clipped by the running maximum and the
    :math:`\\epsilon` safeguards of optax's version, whose numbers it reproduces).

    Args:
      base_optimizer: the optimizer whose steps are scaled, with its learning rate
        (its schedule's shape is kept; Mechanic tunes the scale).
      weight_decay: :math:`\\lambda` >= 0, the tuner's own decay term.
      eps: > 0, the safeguard above.
      s_init: > 0, the initial total scale.
      num_betas: the number of tuners, >= 1.

    Returns:
      The wrapped optimizer; its state holds a :class:`gradtx.MechanicState` and
      :func:`gradtx.hyperparams` shows ``weight_decay``, ``eps``, ``s_init``. ``update``
      needs ``params``.

    Reference: Cutkosky, Defazio & Mehta 2023, "Mechanic: A Learning Rate Tuner",
    arXiv 2306.00144.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.mechanize(gradtx.adam(1e-3))
      >>> x = jnp.zeros(2); state = tx.init(x)
      >>> for _ in range(300):
      ...     u, state = tx.update(jax.grad(f)(x), state, x)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    scale_by_mechanic(base_optimizer, weight_decay, eps, s_init, num_betas)  # validates
    return build_optimizer(
        "mechanize",
        _mechanize_build,
        dict(weight_decay=weight_decay, eps=eps, s_init=s_init),
        base_optimizer=base_optimizer,
        num_betas=num_betas,
    )

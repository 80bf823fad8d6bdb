"""Model-based optimizers: MoMo, MoMo-Adam, Sophia and DP-SGD."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import (
    check_decay,
    check_nonnegative,
    check_schedule_or_nonnegative,
    reports_as_itself,
)
from gradtx.base import GradientTransformation, GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms import (
    add_decayed_weights,
    differentially_private_aggregate,
    scale_by_learning_rate,
    scale_by_momo,
    scale_by_momo_adam,
    scale_by_sophia,
    trace,
)

__all__ = ["dpsgd", "momo", "momo_adam", "sophia"]

Num = jax.typing.ArrayLike


def _momo_build(learning_rate, beta, lower_bound, weight_decay, *, adapt_lower_bound, mu_dtype):
    return scale_by_momo(
        learning_rate, beta, lower_bound, weight_decay, adapt_lower_bound, mu_dtype=mu_dtype
    )


@reports_as_itself
def momo(
    learning_rate: ScalarOrSchedule = 1.0,
    beta: Num = 0.9,
    lower_bound: Num = 0.0,
    weight_decay: Num = 0.0,
    adapt_lower_bound: bool = False,
    *,
    mu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """MoMo: SGD with momentum whose step size comes from a model of the loss.

    Update rule (see :func:`gradtx.scale_by_momo`), with :math:`f_t` the loss passed
    as ``update(..., value=f_t)``:

    .. math::

       \\tau_t = \\min\\Big(\\alpha_t, \\frac{(\\bar f_t + \\langle d_t, x_t\\rangle
       - \\gamma_t - f_*)_+}{\\|d_t\\|^2}\\Big),\\qquad
       x_{t+1} = x_t - \\tau_t d_t

    where :math:`d_t, \\bar f_t, \\gamma_t` are moving averages (decay ``beta``) of the
    gradients, the losses and :math:`\\langle g_t, x_t\\rangle`. With weight decay the
    step is the exact proximal one, :math:`x_{t+1} = (x_t - \\tau_t d_t)/(1 +
    \\alpha_t\\lambda)` with :math:`\\tau_t` adjusted (see :func:`gradtx.scale_by_momo`;
    optax 0.2.8 differs there).

    Args:
      learning_rate: :math:`\\alpha_t`, the largest step size (a number >= 0 or a
        schedule); the paper's default is 1.
      beta: the averages' decay in [0, 1].
      lower_bound: :math:`f_*`, a lower bound on the loss.
      weight_decay: :math:`\\lambda` >= 0.
      adapt_lower_bound: estimate :math:`f_*` online, starting from ``lower_bound``
        (MoMo*; see :func:`gradtx.scale_by_momo`).
      mu_dtype: dtype of the gradient average :math:`d` (keyword-only); the
        parameters' dtype when ``None``.

    Returns:
      The optimizer; ``update`` needs the params and ``value=`` (the loss).
      :func:`gradtx.hyperparams` shows ``learning_rate``, ``beta``, ``lower_bound`` and
      ``weight_decay``.

    Reference: Schaipp, Ohana, Eickenberg, Defazio & Gower 2023, "MoMo: Momentum
    Models for Adaptive Learning Rates", arXiv 2305.07583.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.momo()
      >>> x = jnp.zeros(2); state = tx.init(x)
      >>> for _ in range(100):
      ...     value, grad = jax.value_and_grad(f)(x)
      ...     u, state = tx.update(grad, state, x, value=value)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    fn = "momo"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    scale_by_momo(1.0, beta, lower_bound, weight_decay)  # validates eagerly
    hps = dict(
        learning_rate=learning_rate, beta=beta, lower_bound=lower_bound, weight_decay=weight_decay
    )
    return build_optimizer(
        fn, _momo_build, hps, adapt_lower_bound=adapt_lower_bound, mu_dtype=mu_dtype
    )


def _momo_adam_build(
    learning_rate, b1, b2, eps, lower_bound, weight_decay, *, adapt_lower_bound, mu_dtype, nu_dtype
):
    return scale_by_momo_adam(
        learning_rate, b1, b2, eps, lower_bound, weight_decay, adapt_lower_bound,
        mu_dtype=mu_dtype, nu_dtype=nu_dtype,
    )  # fmt: skip


@reports_as_itself
def momo_adam(
    learning_rate: ScalarOrSchedule = 1e-2,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    lower_bound: Num = 0.0,
    weight_decay: Num = 0.0,
    adapt_lower_bound: bool = False,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """MoMo-Adam: Adam's preconditioned direction with MoMo's model-based step size.

    Update rule (see :func:`gradtx.scale_by_momo_adam`), with bias-corrected averages
    :math:`\\hat d_t, \\hat f_t, \\hat\\gamma_t` and Adam's
    :math:`D_t = \\epsilon + \\sqrt{\\hat v_t}`:

    .. math::

       \\tau_t = \\min\\Big(\\alpha_t, \\frac{(\\hat f_t + \\langle \\hat d_t,
       x_t\\rangle - \\hat\\gamma_t - f_*)_+}{\\|\\hat d_t\\|^2_{D_t^{-1}}}\\Big),\\qquad
       x_{t+1} = x_t - \\tau_t D_t^{-1}\\hat d_t

    (with weight decay, the proximal step of :func:`gradtx.scale_by_momo_adam`).

    Args:
      learning_rate: :math:`\\alpha_t` (a number >= 0 or a schedule).
      b1: the first averages' decay in [0, 1].
      b2: the second moment's decay in [0, 1].
      eps: added to the root, >= 0.
      lower_bound, weight_decay, adapt_lower_bound: as in :func:`momo`.
      mu_dtype: dtype of the gradient average (keyword-only); the parameters' dtype
        when ``None``.
      nu_dtype: dtype of the second moment (keyword-only); the parameters' real dtype
        when ``None``.

    Returns:
      The optimizer; ``update`` needs the params and ``value=``.
      :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``, ``b2``, ``eps``,
      ``lower_bound`` and ``weight_decay``.

    Reference: Schaipp, Ohana, Eickenberg, Defazio & Gower 2023, "MoMo: Momentum
    Models for Adaptive Learning Rates", arXiv 2305.07583, Algorithm 2.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.momo_adam(0.5)
      >>> x = jnp.zeros(2); state = tx.init(x)
      >>> for _ in range(200):
      ...     value, grad = jax.value_and_grad(f)(x)
      ...     u, state = tx.update(grad, state, x, value=value)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    fn = "momo_adam"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    scale_by_momo_adam(1.0, b1, b2, eps, lower_bound, weight_decay)  # validates eagerly
    hps = dict(
        learning_rate=learning_rate,
        b1=b1,
        b2=b2,
        eps=eps,
        lower_bound=lower_bound,
        weight_decay=weight_decay,
    )
    return build_optimizer(
        fn,
        _momo_adam_build,
        hps,
        adapt_lower_bound=adapt_lower_bound,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


def _sophia_build(
    learning_rate,
    b1,
    b2,
    eps,
    weight_decay,
    gamma,
    clip_threshold=None,
    *,
    weight_decay_mask,
    update_interval,
    hessian_diagonal_fn,
    mu_dtype,
    verbose,
    print_win_rate_every_n_steps,
    nu_dtype=None,
):
    return chain(
        scale_by_sophia(
            b1,
            b2,
            eps,
            gamma,
            clip_threshold,
            update_interval,
            hessian_diagonal_fn,
            mu_dtype,
            verbose,
            print_win_rate_every_n_steps,
            nu_dtype=nu_dtype,
        ),
        add_decayed_weights(weight_decay, weight_decay_mask),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def sophia(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.965,
    b2: Num = 0.99,
    eps: Num = 1e-8,
    weight_decay: Num = 1e-4,
    weight_decay_mask: Any = None,
    gamma: Num = 0.01,
    clip_threshold: Num | None = 1.0,
    update_interval: int = 10,
    hessian_diagonal_fn: GradientTransformation | None = None,
    mu_dtype: Any = None,
    verbose: bool = False,
    print_win_rate_every_n_steps: int = 0,
    *,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Sophia: momentum divided by a clipped diagonal Hessian estimate.

    Update rule (see :func:`gradtx.scale_by_sophia`):

    .. math::

       \\theta_{t+1} = \\theta_t - \\alpha_t\\Big(\\operatorname{clip}\\Big(
       \\frac{\\hat m_t}{\\max(\\gamma h_{t-1}, \\epsilon)}, \\rho\\Big)
       + \\lambda\\theta_t\\Big)

    with :math:`\\hat m_t` the bias-corrected momentum, :math:`h` the moving average of
    Hutchinson's Hessian-diagonal estimates, refreshed every ``update_interval`` steps,
    and :math:`\\rho` = ``clip_threshold``.

    Args:
      learning_rate: :math:`\\alpha_t` (a number >= 0 or a schedule).
      b1: the momentum's decay in [0, 1).
      b2: the Hessian average's decay in [0, 1].
      eps: the smallest denominator, >= 0.
      weight_decay: :math:`\\lambda` >= 0 (decoupled, multiplied by the rate).
      weight_decay_mask: where to decay (a tree of booleans or a function of params).
      gamma: :math:`\\gamma` >= 0, scales the Hessian.
      clip_threshold: :math:`\\rho` > 0, or ``None`` for no clipping.
      update_interval: steps between Hessian estimates, >= 1.
      hessian_diagonal_fn: the estimator; a fresh
        :func:`gradtx.hutchinson_estimator_diag_hessian` when ``None`` (optax's
        default is an instance of its own, which behaves the same).
      mu_dtype: dtype of the momentum.
      verbose: print the win rate (fraction of unclipped coordinates).
      print_win_rate_every_n_steps: how often to print it.
      nu_dtype: dtype of the Hessian-diagonal average (keyword-only); the parameters'
        dtype when ``None``.

    Returns:
      The optimizer; ``update`` needs the params and ``obj_fn=`` (the loss as a
      function of the params). :func:`gradtx.hyperparams` shows ``learning_rate``,
      ``b1``, ``b2``, ``eps``, ``weight_decay``, ``gamma`` and ``clip_threshold``.

    Reference: Liu, Li, Hall, Liang & Ma 2023, "Sophia: A Scalable Stochastic
    Second-order Optimizer for Language Model Pre-training", arXiv 2305.14342.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.sophia(0.1, weight_decay=0.0, gamma=1.0)
      >>> step = jax.jit(lambda x, s: tx.update(jax.grad(f)(x), s, x, obj_fn=f))
      >>> x = jnp.zeros(2); state = tx.init(x)
      >>> for _ in range(100):
      ...     u, state = step(x, state)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    fn = "sophia"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_nonnegative(fn, "weight_decay", weight_decay)
    scale_by_sophia(b1, b2, eps, gamma, clip_threshold, update_interval)  # validates
    hps: dict[str, Any] = dict(
        learning_rate=learning_rate,
        b1=b1,
        b2=b2,
        eps=eps,
        weight_decay=weight_decay,
        gamma=gamma,
    )
    if clip_threshold is not None:
        hps["clip_threshold"] = clip_threshold
    return build_optimizer(
        fn,
        _sophia_build,
        hps,
        weight_decay_mask=weight_decay_mask,
        update_interval=int(update_interval),
        hessian_diagonal_fn=hessian_diagonal_fn,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
        verbose=verbose,
        print_win_rate_every_n_steps=print_win_rate_every_n_steps,
    )


def _dpsgd_build(
    learning_rate,
    l2_norm_clip,
    noise_multiplier,
    momentum=None,
    *,
    seed,
    nesterov,
    accumulator_dtype,
):
    parts = [differentially_private_aggregate(l2_norm_clip, noise_multiplier, seed=seed)]
    if momentum is not None:
        parts.append(trace(momentum, nesterov, accumulator_dtype=accumulator_dtype))
    parts.append(scale_by_learning_rate(learning_rate))
    return chain(*parts)


@reports_as_itself
def dpsgd(
    learning_rate: ScalarOrSchedule,
    l2_norm_clip: Num,
    noise_multiplier: Num,
    seed: int,
    momentum: Num | None = None,
    nesterov: bool = False,
    *,
    accumulator_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """DP-SGD: SGD on clipped, noised per-example gradients.

    Update rule (see :func:`gradtx.differentially_private_aggregate`), with a batch of
    :math:`B` per-example gradients :math:`g_i` (the updates' leading axis):

    .. math::

       \\bar g_t = \\frac1B\\Big(\\sum_i \\frac{g_i}{\\max(1, \\|g_i\\|/C)}
       + \\mathcal N(0, \\sigma^2C^2 I)\\Big),\\qquad
       \\theta_{t+1} = \\theta_t - \\alpha_t m_t

    with :math:`m_t = \\bar g_t` or, given ``momentum`` :math:`\\mu`,
    :math:`m_t = \\mu m_{t-1} + \\bar g_t` (Nesterov's form with ``nesterov``).

    Args:
      learning_rate: :math:`\\alpha_t` (a number >= 0 or a schedule).
      l2_norm_clip: :math:`C` > 0.
      noise_multiplier: :math:`\\sigma` >= 0.
      seed: the integer seed of the noise (the key lives in the state).
      momentum: :math:`\\mu` in [0, 1], or ``None`` for plain SGD.
      nesterov: Nesterov momentum.
      accumulator_dtype: dtype of the momentum buffer (keyword-only, as
        :func:`gradtx.trace`'s); the parameters' dtype when ``None``.

    Returns:
      The optimizer; ``update`` takes per-example gradients (a leading batch axis on
      every leaf) and returns updates shaped like the params. :func:`gradtx.hyperparams`
      shows ``learning_rate``, ``l2_norm_clip``, ``noise_multiplier`` (and
      ``momentum``).

    Reference: Abadi, Chu, Goodfellow, McMahan, Mironov, Talwar & Zhang 2016, "Deep
    Learning with Differential Privacy", arXiv 1607.00133.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.dpsgd(0.1, l2_norm_clip=1.0, noise_multiplier=0.0, seed=0)
      >>> per_example = jnp.array([[3.0, 4.0], [0.3, 0.4]])
      >>> tx.update(per_example, tx.init(jnp.zeros(2)))[0]
      Array([-0.045, -0.06 ], dtype=float32)
    """
    fn = "dpsgd"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    differentially_private_aggregate(l2_norm_clip, noise_multiplier, seed=seed)  # validates
    hps: dict[str, Any] = dict(
        learning_rate=learning_rate, l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier
    )
    if momentum is not None:
        check_decay(fn, "momentum", momentum)
        hps["momentum"] = momentum
    return build_optimizer(
        fn, _dpsgd_build, hps, seed=seed, nesterov=nesterov, accumulator_dtype=accumulator_dtype
    )

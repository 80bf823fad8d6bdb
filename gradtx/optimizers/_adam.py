"""Adam and its family: AdamW, NAdam(W), AMSGrad, Adamax(W), RAdam."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import check_schedule_or_nonnegative, reports_as_itself
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.optimizers._alias import build_optimizer, then_lr
from gradtx.transforms import (
    scale_by_adam,
    scale_by_adamax,
    scale_by_amsgrad,
    scale_by_nadam,
    scale_by_radam,
)

__all__ = ["adam", "adamax", "adamaxw", "adamw", "amsgrad", "nadam", "nadamw", "radam"]

Num = jax.typing.ArrayLike


def _check_lr_wd(fn: str, learning_rate: Any, weight_decay: Any = 0.0) -> None:
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_schedule_or_nonnegative(fn, "weight_decay", weight_decay)


def _adam_build(
    learning_rate,
    b1,
    b2,
    eps,
    eps_root,
    weight_decay=None,
    momentum_decay=None,
    *,
    mu_dtype,
    nu_dtype,
    nesterov,
    bias_correction,
    mask,
):
    if momentum_decay is not None:
        direction = scale_by_nadam(
            b1, b2, eps, eps_root, mu_dtype, momentum_decay, nu_dtype=nu_dtype
        )
    else:
        direction = scale_by_adam(
            b1,
            b2,
            eps,
            eps_root,
            mu_dtype,
            nesterov=nesterov,
            bias_correction=bias_correction,
            nu_dtype=nu_dtype,
        )
    return then_lr(direction, learning_rate, weight_decay, mask)


def _adam_family(
    fn: str,
    learning_rate: Any,
    b1: Any,
    b2: Any,
    eps: Any,
    eps_root: Any,
    mu_dtype: Any,
    nesterov: bool,
    *,
    weight_decay: Any = None,
    mask: Any = None,
    momentum_decay: Any = None,
    bias_correction: bool = True,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    _check_lr_wd(fn, learning_rate, 0.0 if weight_decay is None else weight_decay)
    scale_by_adam(b1, b2, eps, eps_root)  # validates b1, b2, eps, eps_root eagerly
    hps: dict[str, Any] = dict(
        learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root
    )
    if weight_decay is not None:
        hps["weight_decay"] = weight_decay
    if momentum_decay is not None:
        if not nesterov:
            raise ValueError(
                f"`{fn}(momentum_decay=...)` is Nesterov's schedule; it needs nesterov=True."
            )
        scale_by_nadam(momentum_decay=momentum_decay)
        hps["momentum_decay"] = momentum_decay
    return build_optimizer(
        fn,
        _adam_build,
        hps,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
        nesterov=nesterov,
        bias_correction=bias_correction,
        mask=mask,
    )


@reports_as_itself
def adam(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    eps_root: Num = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = False,
    bias_correction: bool = True,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """The Adam optimizer.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t\\,
    \\hat m_t / (\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon)` with the
    bias-corrected moments of :func:`gradtx.scale_by_adam`. Equals torch's ``Adam``
    (``eps_root=0``); torch's ``weight_decay`` is
    ``chain(add_decayed_weights(wd), adam(...))``.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1`, the first moment's decay.
      b2: :math:`\\beta_2`, the second moment's decay.
      eps: added outside the root.
      eps_root: added inside the root.
      mu_dtype: dtype of the first moment.
      nesterov: NAdam's look-ahead first moment.
      bias_correction: divide the moments by :math:`1-\\beta^t` (on by default).
      nu_dtype: dtype of the second moment (keyword-only); the arithmetic runs in at
        least float32 whatever the moments' dtypes.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``eps``, ``eps_root``.

    Reference: Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization",
    arXiv 1412.6980.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.adam(0.1)
      >>> x = jnp.zeros(2); state = tx.init(x)
      >>> for _ in range(300):
      ...     u, state = tx.update(jax.grad(f)(x), state, x)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    return _adam_family(
        "adam",
        learning_rate,
        b1,
        b2,
        eps,
        eps_root,
        mu_dtype,
        nesterov,
        bias_correction=bias_correction,
        nu_dtype=nu_dtype,
    )


@reports_as_itself
def adamw(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    eps_root: Num = 0.0,
    mu_dtype: Any = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any = None,
    *,
    nesterov: bool = False,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Adam with decoupled weight decay (AdamW).

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t\\left(\\hat m_t /
    (\\sqrt{\\hat v_t + \\epsilon_{root}} + \\epsilon) + \\lambda\\theta_t\\right)`,
    i.e. the decay is multiplied by the learning rate, as in torch's ``AdamW`` (whose
    default :math:`\\lambda` is 1e-2; optax's and ours 1e-4).

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov, nu_dtype: as in
        :func:`adam`.
      weight_decay: :math:`\\lambda` >= 0.
      mask: where to decay: a tree of booleans like the params, or a function of the
        params returning one.

    Returns:
      The optimizer.

    Reference: Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization",
    arXiv 1711.05101.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.adamw(1e-3, weight_decay=0.1)
      >>> sorted(gradtx.hyperparams(tx.init({"w": jnp.zeros(2)})))
      ['b1', 'b2', 'eps', 'eps_root', 'learning_rate', 'weight_decay']
    """
    return _adam_family(
        "adamw",
        learning_rate,
        b1,
        b2,
        eps,
        eps_root,
        mu_dtype,
        nesterov,
        weight_decay=weight_decay,
        mask=mask,
        nu_dtype=nu_dtype,
    )


@reports_as_itself
def nadam(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    eps_root: Num = 0.0,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
    momentum_decay: Num | None = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """NAdam: Adam with Nesterov's look-ahead first moment.

    Update rule: :func:`adam` with ``nesterov=True``,
    :math:`\\hat m_t = \\beta_1 m_t/(1-\\beta_1^{t+1}) + (1-\\beta_1) g_t/(1-\\beta_1^t)`
    (optax's form, constant :math:`\\beta_1`). With ``momentum_decay`` given it
    follows torch's ``NAdam`` instead: Dozat's momentum schedule
    :math:`\\mu_t = \\beta_1(1 - \\tfrac12 0.96^{t\\psi})` (see
    :func:`gradtx.scale_by_nadam`; torch's default is ``momentum_decay=4e-3``).

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, nu_dtype: as in :func:`adam`.
      nesterov: ``True`` makes this NAdam; ``False`` gives plain :func:`adam` (kept for
        optax compatibility).
      momentum_decay: :math:`\\psi`, or ``None`` for a constant :math:`\\beta_1`.

    Returns:
      The optimizer.

    Reference: Dozat 2016, "Incorporating Nesterov Momentum into Adam", ICLR workshop.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.nadam(1e-3, momentum_decay=4e-3)
      >>> float(gradtx.hyperparams(tx.init(jnp.zeros(1)))["momentum_decay"])
      0.004000000189989805
    """
    return _adam_family(
        "nadam",
        learning_rate,
        b1,
        b2,
        eps,
        eps_root,
        mu_dtype,
        nesterov,
        momentum_decay=momentum_decay,
        nu_dtype=nu_dtype,
    )


@reports_as_itself
def nadamw(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    eps_root: Num = 0.0,
    mu_dtype: Any = None,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any = None,
    *,
    nesterov: bool = True,
    momentum_decay: Num | None = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """NAdam with decoupled weight decay.

    Update rule: :func:`nadam`'s direction plus :math:`\\lambda\\theta_t`, times
    :math:`-\\alpha_t` (torch's ``NAdam(decoupled_weight_decay=True)`` when
    ``momentum_decay`` is given).

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype, nu_dtype, nesterov, momentum_decay: as in
        :func:`nadam`.
      weight_decay: :math:`\\lambda` >= 0.
      mask: where to decay.

    Returns:
      The optimizer.

    Reference: Dozat 2016; Loshchilov & Hutter 2019, arXiv 1711.05101.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.nadamw(1e-3)
      >>> u, _ = tx.update(jnp.ones(2), tx.init(jnp.ones(2)), jnp.ones(2))
      >>> u.shape
      (2,)
    """
    return _adam_family(
        "nadamw",
        learning_rate,
        b1,
        b2,
        eps,
        eps_root,
        mu_dtype,
        nesterov,
        weight_decay=weight_decay,
        mask=mask,
        momentum_decay=momentum_decay,
        nu_dtype=nu_dtype,
    )


def _amsgrad_build(
    learning_rate,
    b1,
    b2,
    eps,
    eps_root,
    *,
    mu_dtype,
    nu_dtype,
    bias_correction_mu,
    bias_correction_nu,
    max_of_raw_moment,
):
    direction = scale_by_amsgrad(
        b1,
        b2,
        eps,
        eps_root,
        mu_dtype,
        bias_correction_mu,
        bias_correction_nu,
        max_of_raw_moment=max_of_raw_moment,
        nu_dtype=nu_dtype,
    )
    return then_lr(direction, learning_rate)


@reports_as_itself
def amsgrad(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    eps_root: Num = 0.0,
    mu_dtype: Any = None,
    bias_correction_mu: bool = True,
    bias_correction_nu: bool = True,
    *,
    max_of_raw_moment: bool = False,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """AMSGrad: Adam with a running maximum of the second moment.

    Update rule: see :func:`gradtx.scale_by_amsgrad`, then :math:`\\times(-\\alpha_t)`.
    ``max_of_raw_moment=True`` reproduces torch's ``Adam(amsgrad=True)``.

    Args:
      learning_rate, b1, b2, eps, eps_root, mu_dtype: as in :func:`adam`.
      nu_dtype: dtype of ``nu`` and ``nu_max`` (keyword-only).
      bias_correction_mu, bias_correction_nu, max_of_raw_moment: as in
        :func:`gradtx.scale_by_amsgrad`.

    Returns:
      The optimizer.

    Reference: Reddi, Kale & Kumar 2018, "On the Convergence of Adam and Beyond",
    arXiv 1904.09237.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.amsgrad(0.1)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([-0.1], dtype=float32)
    """
    _check_lr_wd("amsgrad", learning_rate)
    scale_by_amsgrad(b1, b2, eps, eps_root)
    return build_optimizer(
        "amsgrad",
        _amsgrad_build,
        dict(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
        bias_correction_mu=bias_correction_mu,
        bias_correction_nu=bias_correction_nu,
        max_of_raw_moment=max_of_raw_moment,
    )


def _adamax_build(learning_rate, b1, b2, eps, weight_decay=None, *, mask, mu_dtype, nu_dtype):
    direction = scale_by_adamax(b1, b2, eps, mu_dtype=mu_dtype, nu_dtype=nu_dtype)
    return then_lr(direction, learning_rate, weight_decay, mask)


@reports_as_itself
def adamax(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Adamax: Adam with the infinity norm (see :func:`gradtx.scale_by_adamax`).

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t\\, m_t /
    ((1-\\beta_1^t) v_t)`, :math:`v_t = \\max(\\beta_2 v_{t-1}, |g_t| + \\epsilon)`.

    Args:
      learning_rate, b1, b2, eps: as in :func:`adam`.
      mu_dtype: dtype of the first moment (keyword-only).
      nu_dtype: dtype of the infinity-norm average :math:`v` (keyword-only).

    Returns:
      The optimizer.

    Reference: Kingma & Ba 2015, arXiv 1412.6980, section 7.1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.adamax(0.1, eps=0.0)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([-0.1], dtype=float32)
    """
    _check_lr_wd("adamax", learning_rate)
    scale_by_adamax(b1, b2, eps)
    return build_optimizer(
        "adamax",
        _adamax_build,
        dict(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps),
        mask=None,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


@reports_as_itself
def adamaxw(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    weight_decay: ScalarOrSchedule = 1e-4,
    mask: Any = None,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Adamax with decoupled weight decay.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t(m_t/((1-\\beta_1^t) v_t)
    + \\lambda\\theta_t)` with :func:`adamax`'s :math:`v_t`.

    Args:
      learning_rate, b1, b2, eps, mu_dtype, nu_dtype: as in :func:`adamax`.
      weight_decay: :math:`\\lambda` >= 0.
      mask: where to decay.

    Returns:
      The optimizer.

    Reference: Kingma & Ba 2015; Loshchilov & Hutter 2019, arXiv 1711.05101.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.adamaxw(0.1, eps=0.0, weight_decay=0.5)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.ones(1)), jnp.ones(1))[0]
      Array([-0.15], dtype=float32)
    """
    _check_lr_wd("adamaxw", learning_rate, weight_decay)
    scale_by_adamax(b1, b2, eps)
    return build_optimizer(
        "adamaxw",
        _adamax_build,
        dict(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay),
        mask=mask,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )


def _radam_build(learning_rate, b1, b2, eps, eps_root, threshold, *, nesterov, mu_dtype, nu_dtype):
    direction = scale_by_radam(
        b1, b2, eps, eps_root, threshold, nesterov=nesterov, mu_dtype=mu_dtype, nu_dtype=nu_dtype
    )
    return then_lr(direction, learning_rate)


@reports_as_itself
def radam(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    eps: Num = 1e-8,
    eps_root: Num = 0.0,
    threshold: Num = 5.0,
    *,
    nesterov: bool = False,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Rectified Adam (see :func:`gradtx.scale_by_radam`).

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t u_t` with RAdam's
    rectified direction :math:`u_t` (the bias-corrected momentum while the variance of
    the adaptive rate is intractable, :math:`\\rho_t \\le` ``threshold``).

    Args:
      learning_rate, b1, b2, eps, eps_root, nesterov: as in :func:`adam`.
      threshold: see :func:`gradtx.scale_by_radam`.
      mu_dtype: dtype of the first moment (keyword-only).
      nu_dtype: dtype of the second moment (keyword-only).

    Returns:
      The optimizer.

    Reference: Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and
    Beyond", arXiv 1908.03265.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.radam(0.1)
      >>> tx.update(jnp.array([2.0]), tx.init(jnp.zeros(1)))[0]
      Array([-0.2], dtype=float32)
    """
    _check_lr_wd("radam", learning_rate)
    scale_by_radam(b1, b2, eps, eps_root, threshold)
    return build_optimizer(
        "radam",
        _radam_build,
        dict(
            learning_rate=learning_rate,
            b1=b1,
            b2=b2,
            eps=eps,
            eps_root=eps_root,
            threshold=threshold,
        ),
        nesterov=nesterov,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )

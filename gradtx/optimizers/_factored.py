"""Adafactor and SM3: adaptive rates with sublinear memory for their second moments."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from gradtx._checks import check_range, check_schedule_or_nonnegative, reports_as_itself
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms import (
    add_decayed_weights,
    clip_by_block_rms,
    ema,
    scale,
    scale_by_factored_rms,
    scale_by_learning_rate,
    scale_by_param_block_rms,
    scale_by_sm3,
)

__all__ = ["adafactor", "sm3"]

Num = jax.typing.ArrayLike


def _adafactor_build(
    learning_rate,
    decay_rate,
    decay_offset,
    clipping_threshold,
    momentum,
    weight_decay_rate,
    eps,
    *,
    min_dim_size_to_factor,
    multiply_by_parameter_scale,
    dtype_momentum,
    factored,
    weight_decay_mask,
    nu_dtype,
):
    parts = [
        scale_by_factored_rms(
            factored, decay_rate, decay_offset, min_dim_size_to_factor, eps, nu_dtype=nu_dtype
        )
    ]
    if clipping_threshold is not None:
        parts.append(clip_by_block_rms(clipping_threshold))
    if learning_rate is not None:
        parts.append(scale_by_learning_rate(learning_rate, flip_sign=False))
    if multiply_by_parameter_scale:
        parts.append(scale_by_param_block_rms())
    if momentum is not None:
        parts.append(ema(momentum, debias=False, accumulator_dtype=dtype_momentum))
    if weight_decay_rate is not None:
        parts.append(add_decayed_weights(weight_decay_rate, weight_decay_mask))
    parts.append(scale(-1.0))
    return chain(*parts)


@reports_as_itself
def adafactor(
    learning_rate: ScalarOrSchedule | None = None,
    min_dim_size_to_factor: int = 128,
    decay_rate: Num = 0.8,
    decay_offset: int = 0,
    multiply_by_parameter_scale: bool = True,
    clipping_threshold: Num | None = 1.0,
    momentum: Num | None = None,
    dtype_momentum: Any = jnp.float32,
    weight_decay_rate: ScalarOrSchedule | None = None,
    eps: Num = 1e-30,
    factored: bool = True,
    weight_decay_mask: Any = None,
    *,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Adafactor: Adam-like steps from a factored second moment, relative to the params.

    Update rule, per leaf (:func:`gradtx.scale_by_factored_rms` gives :math:`U_t`,
    with its decay :math:`\\hat\\beta_t = 1 - t^{-c}`, ``c = decay_rate``):

    .. math::

       \\hat U_t = U_t / \\max(1, \\mathrm{rms}(U_t)/d), \\qquad
       D_t = \\alpha_t \\max(\\mathrm{rms}(\\theta_t), 10^{-3})\\, \\hat U_t,

    .. math::

       M_t = \\beta_1 M_{t-1} + (1 - \\beta_1) D_t, \\qquad
       \\theta_{t+1} = \\theta_t - (M_t + \\lambda_t \\theta_t),

    with ``d = clipping_threshold`` (no clipping when ``None``), :math:`\\alpha_t` =
    ``learning_rate`` (1 when ``None``), the parameter scale only with
    ``multiply_by_parameter_scale``, :math:`M_t = D_t` when ``momentum`` is ``None``
    (else :math:`\\beta_1` = ``momentum``, an average kept in ``dtype_momentum``), and
    :math:`\\lambda_t` = ``weight_decay_rate`` (none when ``None``). The weight decay
    is not multiplied by the learning rate, as in optax. The paper's relative step
    :math:`\\rho_t = \\min(10^{-2}, 1/\\sqrt t)` is
    ``learning_rate=lambda count: jnp.minimum(1e-2, jax.lax.rsqrt(count + 1.0))``.

    ``torch.optim.Adafactor(lr=lr, weight_decay=wd)`` is, to float64 rounding,
    ``adafactor(lambda count: jnp.minimum(lr, jax.lax.rsqrt(count + 1.0)),
    min_dim_size_to_factor=1, weight_decay_rate=lr * wd)`` (torch factors every leaf
    of rank >= 2 and decays by ``lr * wd``, not by the relative step).

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0, a schedule, or ``None`` (no rate).
      min_dim_size_to_factor: leaves whose second-largest dimension is smaller keep a
        full second moment.
      decay_rate: the exponent :math:`c` >= 0 of the second moment's decay.
      decay_offset: steps before that decay schedule starts, >= 0.
      multiply_by_parameter_scale: scale steps by :math:`\\max(\\mathrm{rms}(\\theta),
        10^{-3})` (relative steps).
      clipping_threshold: :math:`d` > 0, or ``None``.
      momentum: :math:`\\beta_1` in [0, 1], or ``None`` (no first moment).
      dtype_momentum: the dtype of the first moment.
      weight_decay_rate: :math:`\\lambda` >= 0 (a number or schedule), or ``None``.
      eps: :math:`\\epsilon_1` >= 0, added to the squared gradients.
      factored: factor the second moment of leaves of rank >= 2.
      weight_decay_mask: where to decay: a tree of booleans like the params, or a
        function of the params returning one.
      nu_dtype: dtype of the second-moment averages (factored or full; keyword-only);
        the parameters' real dtype when ``None``.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``decay_rate``,
      ``decay_offset`` and ``eps``, and ``learning_rate``, ``clipping_threshold``,
      ``momentum``, ``weight_decay_rate`` where they are not ``None``.

    Reference: Shazeer & Stern 2018, "Adafactor: Adaptive Learning Rates with Sublinear
    Memory Cost", arXiv 1804.04235.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum((x - 3.0) ** 2)
      >>> tx = gradtx.adafactor(0.1)
      >>> x = jnp.ones(2); state = tx.init(x)
      >>> for _ in range(200):
      ...     u, state = tx.update(jax.grad(f)(x), state, x)
      ...     x = gradtx.apply_updates(x, u)
      >>> x.round(2)
      Array([3., 3.], dtype=float32)
    """
    fn = "adafactor"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_schedule_or_nonnegative(fn, "weight_decay_rate", weight_decay_rate)
    check_range(fn, "eps", eps, 0.0)  # named as the user wrote it (inner: epsilon)
    # The primitives validate decay_rate, decay_offset, eps and min_dim_size_to_factor.
    scale_by_factored_rms(factored, decay_rate, decay_offset, min_dim_size_to_factor, eps)
    if clipping_threshold is not None:
        check_range(fn, "clipping_threshold", clipping_threshold, 0.0, low_open=True)
    if momentum is not None:
        check_range(fn, "momentum", momentum, 0.0, 1.0)
    hps: dict[str, Any] = dict(
        learning_rate=learning_rate,
        decay_rate=decay_rate,
        decay_offset=decay_offset,
        clipping_threshold=clipping_threshold,
        momentum=momentum,
        weight_decay_rate=weight_decay_rate,
        eps=eps,
    )
    return build_optimizer(
        fn,
        _adafactor_build,
        hps,
        min_dim_size_to_factor=min_dim_size_to_factor,
        multiply_by_parameter_scale=multiply_by_parameter_scale,
        dtype_momentum=dtype_momentum,
        factored=factored,
        weight_decay_mask=weight_decay_mask,
        nu_dtype=nu_dtype,
    )


def _sm3_build(learning_rate, momentum, *, mu_dtype, nu_dtype):
    return chain(
        scale_by_sm3(momentum, mu_dtype=mu_dtype, nu_dtype=nu_dtype),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def sm3(
    learning_rate: ScalarOrSchedule,
    momentum: Num = 0.9,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """SM3: Adagrad-like rates from one accumulator per row, column (and axis) slice.

    Update rule: :math:`\\theta_{t+1} = \\theta_t - \\alpha_t m_t` with
    :func:`gradtx.scale_by_sm3`'s momentum of preconditioned gradients,

    .. math::

       \\nu_t(i) = \\min_a \\mu^{(a)}_{t-1}(i_a) + g_t(i)^2, \\quad
       m_t = \\beta m_{t-1} + (1-\\beta)\\, g_t / \\sqrt{\\nu_t + 10^{-8}},

    and :math:`\\mu^{(a)}_t(j)` the largest :math:`\\nu_t` over the slice
    :math:`i_a = j`.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      momentum: :math:`\\beta` in [0, 1].
      mu_dtype: dtype of the momentum :math:`m` (keyword-only); the parameters' dtype
        when ``None``.
      nu_dtype: dtype of the accumulators :math:`\\mu^{(a)}` (keyword-only); the
        parameters' real dtype when ``None``.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate`` and
      ``momentum``.

    Reference: Anil, Gupta, Koren & Singer 2019, "Memory-Efficient Adaptive
    Optimization", arXiv 1901.11150.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.sm3(0.1, momentum=0.0)
      >>> tx.update(jnp.array([2.0, -3.0]), tx.init(jnp.zeros(2)))[0].round(6)
      Array([-0.1,  0.1], dtype=float32)
    """
    check_schedule_or_nonnegative("sm3", "learning_rate", learning_rate)
    check_range("sm3", "momentum", momentum, 0.0, 1.0)
    hps = dict(learning_rate=learning_rate, momentum=momentum)
    return build_optimizer("sm3", _sm3_build, hps, mu_dtype=mu_dtype, nu_dtype=nu_dtype)

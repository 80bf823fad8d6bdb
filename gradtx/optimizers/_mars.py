"""MARS-AdamW: AdamW on a variance-reduced gradient estimate."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import (
    check_nonnegative,
    check_range,
    check_schedule_or_nonnegative,
    reports_as_itself,
)
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate, scale_by_mars

__all__ = ["mars"]

Num = jax.typing.ArrayLike


def _mars_build(learning_rate, b1, b2, eps, gamma, weight_decay, *, mu_dtype, nu_dtype, mask):
    return chain(
        scale_by_mars(b1, b2, eps, gamma, mu_dtype, nu_dtype=nu_dtype),
        add_decayed_weights(weight_decay, mask),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def mars(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.95,
    b2: Num = 0.99,
    eps: Num = 1e-8,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any = None,
    gamma: Num = 0.025,
    mu_dtype: Any = None,
    *,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """MARS-AdamW: AdamW on a clipped, variance-reduced gradient estimate.

    Update rule (see :func:`gradtx.scale_by_mars` for :math:`u_t`):

    .. math::

       c_t = g_t + \\gamma\\,\\frac{\\beta_1}{1-\\beta_1}\\,(g_t - g_{t-1}), \\quad
       \\tilde c_t = \\frac{c_t}{\\max(1, \\|c_t\\|_2)}, \\quad
       \\theta_{t+1} = \\theta_t - \\alpha_t\\big(\\mathrm{Adam}(\\tilde c)_t
          + \\lambda\\theta_t\\big)

    By default :math:`g_{t-1}` is the previous step's gradient (the paper's practical
    MARS-approx, :math:`c_1 = g_1`); pass ``update(..., previous_grads=...)``, the
    gradient at the previous parameters on the current batch, for the exact MARS. The
    defaults are the authors' (:math:`\\beta_1=0.95, \\beta_2=0.99, \\gamma=0.025`, no
    weight decay); unlike their release, 1-D parameters are not handed to plain AdamW
    (every leaf gets MARS).

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1` in [0, 1).
      b2: :math:`\\beta_2` in [0, 1].
      eps: :math:`\\epsilon` >= 0.
      weight_decay: :math:`\\lambda` >= 0 (or a schedule), decoupled as in AdamW.
      mask: where to decay: a tree of booleans like the params, or a function of the
        params returning one.
      gamma: :math:`\\gamma` >= 0, the scale of the variance-reduction correction.
      mu_dtype: dtype of the first moment; the parameters' dtype when ``None``.
      nu_dtype: dtype of the second moment (keyword-only); the parameters' real dtype
        when ``None``.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``eps``, ``gamma`` and ``weight_decay``.

    Reference: Yuan, Liu, Wu, Zhou & Gu 2024, "MARS: Unleashing the Power of Variance
    Reduction for Training Large Models", arXiv 2411.10438, Algorithm 1.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.mars(0.1)
      >>> p = jnp.zeros(2)
      >>> u, s = tx.update(jnp.array([3.0, -4.0]), tx.init(p), p)  # clipped to 0.6, -0.8
      >>> u.round(4)
      Array([-0.1,  0.1], dtype=float32)
    """
    fn = "mars"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_range(fn, "b1", b1, 0.0, 1.0, high_open=True)
    check_range(fn, "b2", b2, 0.0, 1.0)
    check_nonnegative(fn, "eps", eps)
    check_nonnegative(fn, "gamma", gamma)
    check_schedule_or_nonnegative(fn, "weight_decay", weight_decay)
    return build_optimizer(
        fn,
        _mars_build,
        dict(
            learning_rate=learning_rate,
            b1=b1,
            b2=b2,
            eps=eps,
            gamma=gamma,
            weight_decay=weight_decay,
        ),
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
        mask=mask,
    )

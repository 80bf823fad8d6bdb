"""Shampoo with grafting, blocking and lazily recomputed roots."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import (
    check_decay,
    check_positive,
    check_schedule_or_nonnegative,
    reports_as_itself,
)
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer, then_lr
from gradtx.transforms import scale_by_momentum, scale_by_shampoo
from gradtx.transforms._shampoo import check_shampoo_static

__all__ = ["shampoo"]

Num = jax.typing.ArrayLike


def _shampoo_build(
    learning_rate,
    b1,
    b2,
    weight_decay,
    matrix_epsilon,
    diagonal_epsilon,
    *,
    mask,
    nesterov,
    moving_average_for_momentum,
    mu_dtype,
    nu_dtype,
    **shampoo_static,
):
    direction = chain(
        scale_by_shampoo(b2, matrix_epsilon, diagonal_epsilon, nu_dtype=nu_dtype, **shampoo_static),
        scale_by_momentum(
            b1,
            nesterov=nesterov,
            dampening=b1 if moving_average_for_momentum else 0.0,
            accumulator_dtype=mu_dtype,
        ),
    )
    return then_lr(direction, learning_rate, weight_decay, mask)


@reports_as_itself
def shampoo(
    learning_rate: ScalarOrSchedule,
    b1: Num = 0.9,
    b2: Num = 0.999,
    weight_decay: ScalarOrSchedule = 0.0,
    mask: Any = None,
    *,
    block_size: int = 1024,
    preconditioning_compute_steps: int = 1,
    start_preconditioning_step: int = 5,
    graft_type: str = "rmsprop",
    nesterov: bool = True,
    moving_average_for_momentum: bool = False,
    matrix_epsilon: Num = 1e-6,
    diagonal_epsilon: Num = 1e-10,
    exponent_override: int = 0,
    skip_preconditioning_dim_size_gt: int = 4096,
    skip_preconditioning_rank_lt: int = 1,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Shampoo: Kronecker-factored preconditioning with grafting, blocks and lazy roots.

    Update rule, with :math:`u_t` the output of :func:`gradtx.scale_by_shampoo` (each
    block's Shampoo direction :math:`L^{-1/p} G R^{-1/p}` rescaled to the norm of the
    grafted optimizer's update; the graft's update itself before
    ``start_preconditioning_step`` and for scalars), from :math:`m_0 = 0`:

    .. math::

       m_t = \\beta_1 m_{t-1} + w\\, u_t, \\qquad
       \\theta_{t+1} = \\theta_t - \\alpha_t\\big(
          [\\text{nesterov}]\\,(w\\, u_t + \\beta_1 m_t) + [\\text{not nesterov}]\\, m_t
          + \\lambda\\theta_t\\big)

    with :math:`w = 1 - \\beta_1` when ``moving_average_for_momentum`` and
    :math:`w = 1` otherwise (heavy-ball momentum, the reference's default, whose steps
    are about :math:`1/(1-\\beta_1)` times the graft's), and :math:`\\lambda` =
    ``weight_decay`` applied after the preconditioner and the momentum (decoupled, as in
    AdamW; the reference implementation adds it to the gradient before the momentum).

    The argument names follow the reference JAX implementation of Anil et al.
    (``distributed_shampoo`` in google-research/scalable_shampoo), with ``b1``/``b2``
    for its ``beta1``/``beta2``, and so do the defaults, except ``graft_type``
    (``'rmsprop'`` here, ``'sgd'`` there) and ``block_size`` (required there); its
    distribution, quantization, small-dimension merging and
    ``statistics_compute_steps`` options are left out. The roots come from an
    eigendecomposition (not the reference's coupled Newton iteration), in float32
    (float64 for float64 parameters): statistics, roots and graft accumulators are
    float32 for bfloat16 parameters.

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1` in [0, 1], the momentum (0 turns it off).
      b2: :math:`\\beta_2` in [0, 1], the decay of the statistics and of the
        ``'rmsprop'`` graft; 1 sums them as in the original Shampoo.
      weight_decay: :math:`\\lambda` >= 0 (or a schedule), multiplied by the learning
        rate as in AdamW.
      mask: where to decay: a tree of booleans like the params, or a function of the
        params returning one.
      block_size: dimensions larger than this are cut into blocks of this size, each
        with its own statistics and graft norm.
      preconditioning_compute_steps: recompute the inverse roots every this many steps.
      start_preconditioning_step: the first step that uses Shampoo's direction (the
        roots are first computed there); earlier steps take the graft's update.
      graft_type: ``'rmsprop'`` (debiased, with ``b2``), ``'adagrad'``, ``'sgd'``, or
        ``'none'`` (no grafting: the raw Shampoo direction).
      nesterov: use the Nesterov form of the momentum.
      moving_average_for_momentum: weigh the new direction by :math:`1-\\beta_1`.
      matrix_epsilon: the ridge added before each root, relative to the statistic's
        largest eigenvalue, > 0.
      diagonal_epsilon: the ``'adagrad'``/``'rmsprop'`` graft's epsilon, > 0.
      exponent_override: the root's :math:`p` if positive; 0 uses twice the number of
        preconditioned dimensions (:math:`L^{-1/4} G R^{-1/4}` for matrices).
      skip_preconditioning_dim_size_gt: dimensions larger than this are not
        preconditioned (nor blocked).
      skip_preconditioning_rank_lt: parameters of lower rank take the graft's update
        (scalars always do).
      mu_dtype: dtype of the momentum buffer; the parameters' dtype when ``None``.
      nu_dtype: dtype of the graft's accumulator; float32 (or wider) when ``None``.
        The Kronecker statistics and roots stay in float32 whatever it is.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``weight_decay``, ``matrix_epsilon`` and ``diagonal_epsilon``.

    References:
      Gupta, Koren & Singer 2018, "Shampoo: Preconditioned Stochastic Tensor
      Optimization", arXiv 1802.09568; Anil, Gupta, Koren, Regan & Singer 2020,
      "Scalable Second Order Optimization for Deep Learning", arXiv 2002.09018.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.shampoo(0.1, b1=0.0, start_preconditioning_step=1, graft_type="sgd")
      >>> p = jnp.zeros((2, 2))
      >>> g = jnp.array([[3.0, 0.0], [0.0, 4.0]])
      >>> u, s = tx.update(g, tx.init(p), p)
      >>> jnp.round(-u / 0.1, 4)  # L^(-1/4) G R^(-1/4) = I, rescaled to |g| = 5
      Array([[3.5355, 0.    ],
             [0.    , 3.5355]], dtype=float32)
    """
    fn = "shampoo"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_decay(fn, "b1", b1)
    check_decay(fn, "b2", b2)
    check_schedule_or_nonnegative(fn, "weight_decay", weight_decay)
    check_positive(fn, "matrix_epsilon", matrix_epsilon)
    check_positive(fn, "diagonal_epsilon", diagonal_epsilon)
    static = dict(
        block_size=block_size,
        preconditioning_compute_steps=preconditioning_compute_steps,
        start_preconditioning_step=start_preconditioning_step,
        graft_type=graft_type,
        exponent_override=exponent_override,
        skip_preconditioning_dim_size_gt=skip_preconditioning_dim_size_gt,
        skip_preconditioning_rank_lt=skip_preconditioning_rank_lt,
    )
    check_shampoo_static(fn, **static)
    return build_optimizer(
        fn,
        _shampoo_build,
        dict(
            learning_rate=learning_rate,
            b1=b1,
            b2=b2,
            weight_decay=weight_decay,
            matrix_epsilon=matrix_epsilon,
            diagonal_epsilon=diagonal_epsilon,
        ),
        mask=mask,
        nesterov=nesterov,
        moving_average_for_momentum=moving_average_for_momentum,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
        **static,
    )

"""SOAP: AdamW in the eigenbasis of Shampoo's preconditioner."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import check_schedule_or_nonnegative, reports_as_itself
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule
from gradtx.optimizers._alias import build_optimizer, then_lr
from gradtx.transforms import scale_by_soap
from gradtx.transforms._soap import check_soap_args

__all__ = ["soap"]

Num = jax.typing.ArrayLike


def _soap_build(
    learning_rate,
    b1,
    b2,
    shampoo_beta,
    eps,
    weight_decay,
    *,
    precondition_frequency,
    max_precondition_dim,
    mask,
    mu_dtype,
    nu_dtype,
):
    direction = scale_by_soap(
        b1, b2, shampoo_beta, eps, precondition_frequency, max_precondition_dim,
        mu_dtype=mu_dtype, nu_dtype=nu_dtype,
    )  # fmt: skip
    return then_lr(direction, learning_rate, weight_decay, mask)


@reports_as_itself
def soap(
    learning_rate: ScalarOrSchedule = 3e-3,
    b1: Num = 0.95,
    b2: Num = 0.95,
    shampoo_beta: Num | None = None,
    eps: Num = 1e-8,
    weight_decay: ScalarOrSchedule = 0.01,
    mask: Any = None,
    precondition_frequency: int = 10,
    max_precondition_dim: int = 10000,
    *,
    mu_dtype: Any = None,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """SOAP: AdamW run in the slowly refreshed eigenbasis of Shampoo's Kronecker factors.

    Update rule for a matrix parameter :math:`W` (see :func:`gradtx.scale_by_soap`
    for the bases, tensors and the first step, whose Adam part is skipped):

    .. math::

       G'_t = Q_L^T G_t Q_R, \\quad
       M_t = \\beta_1 M_{t-1} + (1-\\beta_1) G_t, \\quad
       V_t = \\beta_2 V_{t-1} + (1-\\beta_2)\\, G'^{\\,2}_t, \\\\
       W_{t+1} = W_t - \\alpha_t \\Big( Q_L \\frac{Q_L^T M_t Q_R/(1-\\beta_1^t)}
          {\\sqrt{V_t/(1-\\beta_2^t)} + \\epsilon} Q_R^T + \\lambda W_t \\Big)

    where :math:`Q_L, Q_R` are the eigenbases of :math:`L = \\operatorname{EMA}(G G^T)`
    and :math:`R = \\operatorname{EMA}(G^T G)` (decay ``shampoo_beta``), computed by
    ``eigh`` at the first step and refreshed every ``precondition_frequency`` steps by
    one power-iteration step and a QR. Dimensions larger than
    ``max_precondition_dim``, vectors and scalars are not rotated (Adam there).
    The defaults are the paper's. The first step, whose Adam part is zero, still
    applies the weight decay (the authors' code skips that step entirely).

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      b1: :math:`\\beta_1` in [0, 1], the decay of the first moment.
      b2: :math:`\\beta_2` in [0, 1], the decay of the rotated second moment.
      shampoo_beta: the decay of the Kronecker factors in [0, 1]; ``b2``'s value when
        ``None``.
      eps: :math:`\\epsilon` >= 0.
      weight_decay: :math:`\\lambda` >= 0 (or a schedule), decoupled, multiplied by the
        learning rate as in AdamW.
      mask: where to decay: a tree of booleans like the params, or a function of the
        params returning one.
      precondition_frequency: refresh the bases every this many steps (integer >= 1,
        static).
      max_precondition_dim: dimensions larger than this keep the identity basis
        (integer >= 1, static).
      mu_dtype: dtype of :math:`M` (keyword-only); float32 or wider when ``None``.
      nu_dtype: dtype of :math:`V` (keyword-only); float32 or wider when ``None``.

    Returns:
      The optimizer; :func:`gradtx.hyperparams` shows ``learning_rate``, ``b1``,
      ``b2``, ``shampoo_beta``, ``eps`` and ``weight_decay``.

    Reference: Vyas, Morwani, Zhao, Kwun, Shapira, Brandfonbrener, Janson & Kakade
    2024, "SOAP: Improving and Stabilizing Shampoo using Adam", arXiv 2409.11321.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.soap(0.1)
      >>> w = jnp.ones((2, 2))
      >>> s = tx.init(w)
      >>> u, s = tx.update(jnp.array([[2.0, 1.0], [1.0, 2.0]]), s, w)
      >>> u  # the first step builds the bases; only the weight decay acts
      Array([[-0.001, -0.001],
             [-0.001, -0.001]], dtype=float32)
      >>> u, s = tx.update(jnp.array([[1.0, 0.0], [0.0, 0.0]]), s, w)
      >>> u.round(3)
      Array([[-0.201, -0.001],
             [-0.001, -0.001]], dtype=float32)
      >>> sorted(gradtx.hyperparams(s))
      ['b1', 'b2', 'eps', 'learning_rate', 'shampoo_beta', 'weight_decay']
    """
    fn = "soap"
    check_schedule_or_nonnegative(fn, "learning_rate", learning_rate)
    check_soap_args(fn, b1, b2, shampoo_beta, eps, precondition_frequency, max_precondition_dim)
    check_schedule_or_nonnegative(fn, "weight_decay", weight_decay)
    return build_optimizer(
        fn,
        _soap_build,
        dict(
            learning_rate=learning_rate,
            b1=b1,
            b2=b2,
            shampoo_beta=b2 if shampoo_beta is None else shampoo_beta,
            eps=eps,
            weight_decay=weight_decay,
        ),
        precondition_frequency=precondition_frequency,
        max_precondition_dim=max_precondition_dim,
        mask=mask,
        mu_dtype=mu_dtype,
        nu_dtype=nu_dtype,
    )

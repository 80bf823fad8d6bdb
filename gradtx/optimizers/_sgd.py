"""Stochastic gradient descent, with momentum, Nesterov, dampening and L2 decay."""

from __future__ import annotations

from typing import Any

import jax

from gradtx._checks import (
    check_decay,
    check_range,
    check_schedule_or_nonnegative,
    reports_as_itself,
)
from gradtx.base import GradientTransformationExtraArgs, ScalarOrSchedule, identity
from gradtx.combine import chain
from gradtx.optimizers._alias import build_optimizer, is_nonzero, is_zero
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate, scale_by_momentum

__all__ = ["sgd"]


def _sgd(
    learning_rate: Any,
    momentum: Any = None,
    dampening: Any = None,
    weight_decay: Any = None,
    *,
    nesterov: bool,
    accumulator_dtype: Any,
) -> GradientTransformationExtraArgs:
    return chain(
        identity() if weight_decay is None else add_decayed_weights(weight_decay),
        identity()
        if momentum is None
        else scale_by_momentum(
            momentum,
            nesterov=nesterov,
            dampening=0.0 if dampening is None else dampening,
            accumulator_dtype=accumulator_dtype,
            undampened_first_step=dampening is not None,
        ),
        scale_by_learning_rate(learning_rate),
    )


@reports_as_itself
def sgd(
    learning_rate: ScalarOrSchedule,
    momentum: jax.typing.ArrayLike | None = None,
    nesterov: bool = False,
    accumulator_dtype: Any = None,
    *,
    dampening: jax.typing.ArrayLike = 0.0,
    weight_decay: ScalarOrSchedule | None = None,
) -> GradientTransformationExtraArgs:
    """Stochastic gradient descent with optional momentum, as in optax and torch.

    Update rule, with :math:`\\lambda` = ``weight_decay`` (coupled, as torch's L2),
    :math:`\\beta` = ``momentum``, :math:`d` = ``dampening``:

    .. math::

       g'_t = g_t + \\lambda\\theta_t,\\quad
       m_t = \\beta m_{t-1} + (1 - d)\\, g'_t\\ (m_1 = g'_1),\\quad
       \\theta_{t+1} = \\theta_t - \\alpha_t \\begin{cases}
          g'_t + \\beta m_t & \\text{nesterov} \\\\ m_t & \\text{otherwise}\\end{cases}

    Without momentum :math:`\\theta_{t+1} = \\theta_t - \\alpha_t g'_t`. As in
    ``torch.optim.SGD`` the first momentum step is undampened (:math:`m_1 = g'_1`);
    with ``dampening=0`` (the default) this equals optax's ``sgd``. The current
    learning rate and momentum (and the dampening and weight decay, when not zero) are in
    the state (:func:`gradtx.hyperparams`).

    Args:
      learning_rate: :math:`\\alpha`, a number >= 0 or a schedule.
      momentum: :math:`\\beta` in [0, 1], or ``None`` for plain SGD.
      nesterov: Nesterov's look-ahead (Sutskever et al. 2013).
      accumulator_dtype: dtype of the momentum buffer; the params' dtype if ``None``.
      dampening: :math:`d` in [0, 1].
      weight_decay: :math:`\\lambda` >= 0, added to the gradient (L2); ``None`` (the
        default) or ``0`` for none. (``None`` rather than ``0.0`` so that
        ``inject_hyperparams(sgd)`` adds no decay, which would need the params.)

    Returns:
      The optimizer.

    References:
      Robbins & Monro 1951, "A Stochastic Approximation Method"; Polyak 1964;
      Sutskever et al. 2013, "On the importance of initialization and momentum in deep
      learning", ICML.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> f = lambda x: jnp.sum(x ** 2)
      >>> tx = gradtx.sgd(0.1, momentum=0.9)
      >>> x = jnp.array([1.0, -2.0]); state = tx.init(x)
      >>> for _ in range(100):
      ...     u, state = tx.update(jax.grad(f)(x), state, x)
      ...     x = gradtx.apply_updates(x, u)
      >>> bool(f(x) < 1e-4)
      True
    """
    check_schedule_or_nonnegative("sgd", "learning_rate", learning_rate)
    if momentum is not None:
        check_decay("sgd", "momentum", momentum)
    check_range("sgd", "dampening", dampening, 0.0, 1.0)
    if weight_decay is not None:
        check_schedule_or_nonnegative("sgd", "weight_decay", weight_decay)
    if nesterov and momentum is None:
        raise ValueError("`sgd(nesterov=True)` needs a momentum; got momentum=None.")
    if nesterov and is_nonzero(dampening):
        raise ValueError(
            f"`sgd(nesterov=True)` needs dampening=0 (as torch.optim.SGD); got {dampening=}. "
            "For Nesterov in EMA form chain scale_by_momentum(b, nesterov=True, dampening=b)."
        )
    hps: dict[str, Any] = {"learning_rate": learning_rate}
    if momentum is not None:
        hps["momentum"] = momentum
        if not is_zero(dampening):  # zero dampening is optax's plain trace: nothing to record
            hps["dampening"] = dampening
    elif is_nonzero(dampening):
        raise ValueError(f"`sgd(dampening=...)` needs a momentum; got {dampening=}.")
    if not is_zero(weight_decay):
        hps["weight_decay"] = weight_decay
    return build_optimizer("sgd", _sgd, hps, nesterov=nesterov, accumulator_dtype=accumulator_dtype)

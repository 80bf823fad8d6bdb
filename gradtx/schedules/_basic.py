"""Monotone schedules: constant, polynomial and linear, exponential, inverse-time, cosine."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from gradtx.base import Schedule
from gradtx.schedules._common import (
    as_count,
    check_int,
    check_number,
    check_value,
    compute_dtype,
    concrete_float,
    floor_div,
    fraction,
    full_like_count,
    half_cosine,
    shift,
    value_dtype,
    warn,
)

__all__ = [
    "constant_schedule",
    "cosine_decay_schedule",
    "exponential_decay",
    "inverse_time_decay",
    "linear_schedule",
    "polynomial_schedule",
]


def constant_schedule(value: ArrayLike) -> Schedule:
    r"""A schedule that is ``value`` at every step.

    .. math:: \eta_t = \text{value}

    Args:
      value: the value at every step (a number or an array).

    Returns:
      A schedule ``count -> value``, broadcast to the shape of ``count``, as a float array.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import constant_schedule
      >>> schedule = constant_schedule(0.1)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    """
    return _constant(value, value_dtype(value))


def _constant(value: ArrayLike, dtype: np.dtype) -> Schedule:
    def schedule(count: ArrayLike) -> jax.Array:
        return full_like_count(as_count(count), value, dtype)

    return schedule


def _polynomial(
    fn: str,
    init_value: ArrayLike,
    end_value: ArrayLike,
    power: ArrayLike,
    transition_steps: int,
    transition_begin: int,
) -> Schedule:
    transition_steps = check_number(fn, "transition_steps", transition_steps)
    transition_begin = check_number(fn, "transition_begin", transition_begin)
    check_value(fn, "power", power, condition=">= 0")
    dtype = value_dtype(init_value, end_value)
    if transition_steps <= 0:
        warn(
            fn,
            f"transition_steps={transition_steps} is not positive, so the schedule is the "
            "constant init_value (as in optax).",
        )
        return _constant(init_value, dtype)
    if transition_begin < 0:
        warn(fn, f"transition_begin={transition_begin} is negative; using 0 (as in optax).")
        transition_begin = 0
    calc = compute_dtype(dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        t = shift(as_count(count), transition_begin).astype(calc)
        frac = 1 - fraction(t, transition_steps)
        return ((init_value - end_value) * frac**power + end_value).astype(dtype)

    return schedule


def polynomial_schedule(
    init_value: ArrayLike,
    end_value: ArrayLike,
    power: ArrayLike,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    r"""Polynomial decay from ``init_value`` to ``end_value`` over ``transition_steps`` steps.

    With :math:`s = \min(\max(t - \text{transition\_begin}, 0), \text{transition\_steps})`,

    .. math::
      \eta_t = (\text{init\_value} - \text{end\_value})
      \left(1 - \frac{s}{\text{transition\_steps}}\right)^{\text{power}}
      + \text{end\_value}.

    The value is ``init_value`` until ``transition_begin`` and ``end_value`` from
    ``transition_begin + transition_steps`` on.

    Args:
      init_value: the value before and at ``transition_begin``.
      end_value: the value after the transition.
      power: the exponent (non-negative); 1 is linear.
      transition_steps: the length of the transition. As in optax, a non-positive value
        gives the constant ``init_value`` (with a warning).
      transition_begin: the step at which the transition starts. As in optax, a negative
        value is replaced by 0 (with a warning).

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``power`` is negative (the value would be infinite at the end).

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import polynomial_schedule
      >>> schedule = polynomial_schedule(1.0, 0.0, power=2, transition_steps=4)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0, 0.0, 0.0]

    torch equivalent: ``PolynomialLR(opt, total_iters=T, power=p)`` with learning rate
    ``lr`` is ``polynomial_schedule(lr, 0.0, p, T)``.
    """
    return _polynomial(
        "polynomial_schedule", init_value, end_value, power, transition_steps, transition_begin
    )


def linear_schedule(
    init_value: ArrayLike,
    end_value: ArrayLike,
    transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    r"""Linear transition from ``init_value`` to ``end_value`` over ``transition_steps`` steps.

    With :math:`s = \min(\max(t - \text{transition\_begin}, 0), \text{transition\_steps})`,

    .. math::
      \eta_t = \text{init\_value} + (\text{end\_value} - \text{init\_value})
      \frac{s}{\text{transition\_steps}}.

    This is :func:`polynomial_schedule` with ``power=1``.

    Args:
      init_value: the value before and at ``transition_begin``.
      end_value: the value from ``transition_begin + transition_steps`` on.
      transition_steps: the length of the transition. As in optax, a non-positive value
        gives the constant ``init_value`` (with a warning).
      transition_begin: the step at which the transition starts (a negative value is
        replaced by 0, with a warning).

    Returns:
      A schedule ``count -> value``.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import linear_schedule
      >>> schedule = linear_schedule(1.0, 0.0, transition_steps=4)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0, 0.0]

    torch equivalent: ``LinearLR(opt, start_factor=a, end_factor=b, total_iters=T)`` with
    learning rate ``lr`` is ``linear_schedule(lr * a, lr * b, T)``.
    """
    return _polynomial(
        "linear_schedule", init_value, end_value, 1, transition_steps, transition_begin
    )


def exponential_decay(
    init_value: ArrayLike,
    transition_steps: int,
    decay_rate: float,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: ArrayLike | None = None,
) -> Schedule:
    r"""Exponential decay (or growth) by ``decay_rate`` every ``transition_steps`` steps.

    With :math:`s = t - \text{transition\_begin}` and :math:`p = s / \text{transition\_steps}`
    (:math:`p = \lfloor s / \text{transition\_steps} \rfloor` when ``staircase``),

    .. math::
      \eta_t = \begin{cases}
        \text{init\_value} & s \le 0, \\
        \text{init\_value} \cdot \text{decay\_rate}^{p} & s > 0,
      \end{cases}

    then clipped from below at ``end_value`` when ``decay_rate < 1`` (from above when
    ``decay_rate >= 1``).

    Args:
      init_value: the value until ``transition_begin``.
      transition_steps: the number of steps over which the value is multiplied by
        ``decay_rate``. As in optax, a non-positive value gives the constant
        ``init_value`` (with a warning).
      decay_rate: the factor per ``transition_steps`` steps; must be non-negative. As in
        optax, 0 gives the constant ``init_value`` (with a warning).
      transition_begin: the step at which the decay starts (a negative value is replaced
        by 0, with a warning).
      staircase: decay in discrete jumps every ``transition_steps`` steps.
      end_value: a floor (for decay) or ceiling (for growth) on the value, or ``None``.

    Returns:
      A schedule ``count -> value``. With ``decay_rate > 1`` and no ``end_value`` the value
      grows without bound and overflows to ``inf`` for huge step counts.

    Raises:
      ValueError: if ``decay_rate`` is negative (optax returns NaN at fractional powers).

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import exponential_decay
      >>> schedule = exponential_decay(1.0, transition_steps=2, decay_rate=0.5, staircase=True)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]

    torch equivalent: ``ExponentialLR(opt, gamma)`` with learning rate ``lr`` is
    ``exponential_decay(lr, 1, gamma)``; ``StepLR(opt, step_size, gamma)`` is
    ``exponential_decay(lr, step_size, gamma, staircase=True)`` (or :func:`step_schedule`).
    """
    return _exponential(
        "exponential_decay",
        init_value,
        transition_steps,
        decay_rate,
        transition_begin,
        staircase,
        end_value,
    )


def _exponential(
    fn: str,
    init_value: ArrayLike,
    transition_steps: int,
    decay_rate: ArrayLike,
    transition_begin: int,
    staircase: bool,
    end_value: ArrayLike | None,
) -> Schedule:
    transition_steps = check_number(fn, "transition_steps", transition_steps)
    transition_begin = check_number(fn, "transition_begin", transition_begin)
    check_value(fn, "decay_rate", decay_rate, condition=">= 0")
    dtype = value_dtype(init_value, end_value)
    if transition_steps <= 0:
        warn(
            fn,
            f"transition_steps={transition_steps} is not positive, so the schedule is the "
            "constant init_value (as in optax).",
        )
        return _constant(init_value, dtype)
    if concrete_float(decay_rate) == 0:
        warn(fn, "decay_rate=0, so the schedule is the constant init_value (as in optax).")
        return _constant(init_value, dtype)
    if transition_begin < 0:
        warn(fn, f"transition_begin={transition_begin} is negative; using 0 (as in optax).")
        transition_begin = 0
    calc = compute_dtype(dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        s = shift(as_count(count), transition_begin)
        if staircase:
            p = floor_div(s, transition_steps).astype(calc)
        else:
            p = s.astype(calc) / transition_steps
        init = jnp.asarray(init_value, calc)
        rate = jnp.asarray(decay_rate, calc)
        value = jnp.where(s <= 0, init, init * rate**p)
        if end_value is not None:
            end = jnp.asarray(end_value, calc)
            value = jnp.where(rate < 1, jnp.maximum(value, end), jnp.minimum(value, end))
        return value.astype(dtype)

    return schedule


def inverse_time_decay(
    init_value: ArrayLike,
    decay_rate: ArrayLike,
    transition_steps: int = 1,
    staircase: bool = False,
) -> Schedule:
    r"""Inverse-time (hyperbolic) decay: ``init_value / (1 + decay_rate * t / transition_steps)``.

    With :math:`p = t / \text{transition\_steps}`
    (:math:`p = \lfloor t / \text{transition\_steps} \rfloor` when ``staircase``),

    .. math:: \eta_t = \frac{\text{init\_value}}{1 + \text{decay\_rate} \cdot p}.

    With ``transition_steps`` the number of steps per epoch and ``staircase=True``, this is
    the classic per-epoch decay :math:`\alpha_0 / (1 + \text{decay\_rate} \cdot
    \text{epoch})`.

    Args:
      init_value: the value at step 0.
      decay_rate: non-negative; the value has halved when ``decay_rate * p = 1``.
      transition_steps: a positive integer, the steps per unit of ``p``.
      staircase: decay in discrete jumps every ``transition_steps`` steps.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``transition_steps`` is not a positive integer or ``decay_rate`` is
        negative.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import inverse_time_decay
      >>> schedule = inverse_time_decay(1.0, decay_rate=0.5)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [1.0, 0.6667, 0.5, 0.4, 0.3333, 0.2857, 0.25, 0.2222]

    torch equivalent: ``Adagrad(params, lr, lr_decay=d)`` uses the learning rate
    ``lr / (1 + (k - 1) * d)`` at its step ``k = 1, 2, ...``, which is
    ``inverse_time_decay(lr, d)`` of gradtx's count ``t = k - 1``. Keras's
    ``InverseTimeDecay(lr, decay_steps, decay_rate, staircase)`` is
    ``inverse_time_decay(lr, decay_rate, decay_steps, staircase)``.
    """
    fn = "inverse_time_decay"
    transition_steps = check_int(fn, "transition_steps", transition_steps, minimum=1)
    check_value(fn, "decay_rate", decay_rate, condition=">= 0")
    dtype = value_dtype(init_value, decay_rate)
    calc = compute_dtype(dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        count = as_count(count)
        if staircase:
            p = floor_div(count, transition_steps).astype(calc)
        else:
            p = count.astype(calc) / transition_steps
        return (init_value / (1 + decay_rate * p)).astype(dtype)

    return schedule


def cosine_decay_schedule(
    init_value: ArrayLike,
    decay_steps: int,
    alpha: ArrayLike = 0.0,
    exponent: ArrayLike = 1.0,
) -> Schedule:
    r"""Cosine decay from ``init_value`` to ``alpha * init_value`` over ``decay_steps`` steps.

    With :math:`s = \min(t, \text{decay\_steps})`,

    .. math::
      \eta_t = \text{init\_value} \left((1 - \alpha)
      \left(\frac{1 + \cos(\pi s / \text{decay\_steps})}{2}\right)^{\text{exponent}}
      + \alpha\right).

    Args:
      init_value: the value at step 0.
      decay_steps: a positive number of steps to decay over.
      alpha: the final value as a fraction of ``init_value``.
      exponent: a non-negative power applied to the cosine factor.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``decay_steps`` is not positive or ``exponent`` is negative.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import cosine_decay_schedule
      >>> schedule = cosine_decay_schedule(1.0, decay_steps=4, alpha=0.1)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [1.0, 0.8682, 0.55, 0.2318, 0.1, 0.1, 0.1, 0.1]

    References:
      Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2017,
      arXiv:1608.03983.

    torch equivalent: ``CosineAnnealingLR(opt, T_max, eta_min)`` with learning rate ``lr``
    equals ``cosine_decay_schedule(lr, T_max, alpha=eta_min / lr)`` for ``t <= T_max``;
    after ``T_max`` torch follows the cosine back up, gradtx stays at ``alpha * lr``.
    """
    fn = "cosine_decay_schedule"
    decay_steps = check_number(fn, "decay_steps", decay_steps)
    if decay_steps <= 0:
        raise ValueError(f"`{fn}(decay_steps=...)` must be positive; got {decay_steps=}.")
    check_value(fn, "exponent", exponent, condition=">= 0")
    dtype = value_dtype(init_value, alpha)
    calc = compute_dtype(dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        t = as_count(count).astype(calc)
        cosine = half_cosine(fraction(t, decay_steps))
        return (init_value * ((1 - alpha) * cosine**exponent + alpha)).astype(dtype)

    return schedule

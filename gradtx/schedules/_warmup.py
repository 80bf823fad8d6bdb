"""Warmup schedules: constant, cosine, exponential, inverse sqrt, warmup-stable-decay."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from gradtx.base import Schedule
from gradtx.schedules._basic import _exponential
from gradtx.schedules._common import (
    as_count,
    check_choice,
    check_int,
    check_number,
    check_value,
    compute_dtype,
    fraction,
    half_cosine,
    ramp,
    reached,
    shift,
    value_dtype,
)

__all__ = [
    "inverse_sqrt_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "warmup_stable_decay_schedule",
]


def _check_warmup(fn: str, warmup_steps: int) -> float | int:
    warmup_steps = check_number(fn, "warmup_steps", warmup_steps)
    if warmup_steps < 0:
        raise ValueError(f"`{fn}(warmup_steps=...)` must be non-negative; got {warmup_steps=}.")
    return warmup_steps


def _with_warmup(
    count: jax.Array,
    after: jax.Array,
    init_value: ArrayLike,
    peak_value: ArrayLike,
    warmup_steps: float | int,
    calc: jnp.dtype,
) -> jax.Array:
    """``after`` from ``warmup_steps`` on, a linear ramp from init to peak before."""
    if warmup_steps == 0:
        return after
    warm = ramp(count.astype(calc), init_value, peak_value, warmup_steps)
    return jnp.where(reached(count, warmup_steps), after, warm)


def warmup_constant_schedule(
    init_value: ArrayLike, peak_value: ArrayLike, warmup_steps: int
) -> Schedule:
    r"""Linear warmup from ``init_value`` to ``peak_value``, then constant at ``peak_value``.

    .. math::
      \eta_t = \begin{cases}
        \text{init\_value} + (\text{peak\_value} - \text{init\_value})
          \, t / \text{warmup\_steps} & t < \text{warmup\_steps}, \\
        \text{peak\_value} & t \ge \text{warmup\_steps}.
      \end{cases}

    Args:
      init_value: the value at step 0.
      peak_value: the value from ``warmup_steps`` on.
      warmup_steps: the non-negative length of the warmup.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``warmup_steps`` is negative.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import warmup_constant_schedule
      >>> schedule = warmup_constant_schedule(0.0, 1.0, warmup_steps=4)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 1.0]

    Differs from optax: with ``warmup_steps=0`` optax 0.2.8 returns the constant
    ``init_value`` (e.g. 0.1 for ``init_value=0.1, peak_value=1.0``); gradtx returns the
    constant ``peak_value`` (1.0), as for any other warmup length once it is over.
    """
    fn = "warmup_constant_schedule"
    warmup_steps = _check_warmup(fn, warmup_steps)
    dtype = value_dtype(init_value, peak_value)
    calc = compute_dtype(dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        count = as_count(count)
        peak = jnp.broadcast_to(jnp.asarray(peak_value, calc), count.shape)
        return _with_warmup(count, peak, init_value, peak_value, warmup_steps, calc).astype(dtype)

    return schedule


def warmup_cosine_decay_schedule(
    init_value: ArrayLike,
    peak_value: ArrayLike,
    warmup_steps: int,
    decay_steps: int,
    end_value: ArrayLike = 0.0,
    exponent: ArrayLike = 1.0,
) -> Schedule:
    r"""Linear warmup to ``peak_value``, then cosine decay to ``end_value`` at ``decay_steps``.

    With :math:`W` = ``warmup_steps``, :math:`D` = ``decay_steps`` (the total length,
    warmup included) and :math:`f = \min(t - W, D - W) / (D - W)`,

    .. math::
      \eta_t = \begin{cases}
        \text{init\_value} + (\text{peak\_value} - \text{init\_value}) \, t / W
          & t < W, \\
        \text{end\_value} + (\text{peak\_value} - \text{end\_value})
          \left(\frac{1 + \cos(\pi f)}{2}\right)^{\text{exponent}} & t \ge W.
      \end{cases}

    Args:
      init_value: the value at step 0.
      peak_value: the value at the end of the warmup.
      warmup_steps: the non-negative length of the warmup.
      decay_steps: the step at which ``end_value`` is reached; more than ``warmup_steps``.
      end_value: the value from ``decay_steps`` on.
      exponent: a non-negative power applied to the cosine factor.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``warmup_steps`` is negative, ``decay_steps <= warmup_steps`` or
        ``exponent`` is negative.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import warmup_cosine_decay_schedule
      >>> schedule = warmup_cosine_decay_schedule(0.0, 1.0, warmup_steps=2, decay_steps=6)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [0.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]

    References:
      Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2017,
      arXiv:1608.03983.

    Differs from optax: optax decays to ``peak_value * (end_value / peak_value)`` and, for
    ``peak_value == 0``, ignores ``end_value`` (``init_value=0.1, peak_value=0.0,
    end_value=0.01`` stays at 0.0 after the warmup); gradtx decays from 0.0 to 0.01 there.
    Elsewhere the two agree to float32 rounding.
    """
    fn = "warmup_cosine_decay_schedule"
    warmup_steps = _check_warmup(fn, warmup_steps)
    decay_steps = check_number(fn, "decay_steps", decay_steps)
    if decay_steps <= warmup_steps:
        raise ValueError(
            f"`{fn}(decay_steps=...)` must be greater than warmup_steps (it is the total "
            f"length, warmup included); got {decay_steps=}, {warmup_steps=}."
        )
    check_value(fn, "exponent", exponent, condition=">= 0")
    dtype = value_dtype(init_value, peak_value, end_value)
    calc = compute_dtype(dtype)
    cosine_steps = decay_steps - warmup_steps

    def schedule(count: ArrayLike) -> jax.Array:
        count = as_count(count)
        s = shift(count, warmup_steps).astype(calc)
        cosine = half_cosine(fraction(s, cosine_steps))
        after = end_value + (peak_value - end_value) * cosine**exponent
        return _with_warmup(count, after, init_value, peak_value, warmup_steps, calc).astype(dtype)

    return schedule


def warmup_exponential_decay_schedule(
    init_value: ArrayLike,
    peak_value: ArrayLike,
    warmup_steps: int,
    transition_steps: int,
    decay_rate: ArrayLike,
    transition_begin: int = 0,
    staircase: bool = False,
    end_value: ArrayLike | None = None,
) -> Schedule:
    r"""Linear warmup to ``peak_value``, then :func:`exponential_decay` from there.

    With :math:`W` = ``warmup_steps``, the value is the linear ramp from ``init_value`` to
    ``peak_value`` for :math:`t < W`, then, with :math:`s = t - W - \text{transition\_begin}`
    and :math:`p = s / \text{transition\_steps}` (floored when ``staircase``),

    .. math::
      \eta_t = \text{peak\_value} \cdot \text{decay\_rate}^{\max(p, 0)},

    clipped at ``end_value`` as in :func:`exponential_decay`.

    Args:
      init_value: the value at step 0.
      peak_value: the value at the end of the warmup.
      warmup_steps: the non-negative length of the warmup.
      transition_steps: the steps per factor of ``decay_rate`` (as in optax, a non-positive
        value keeps ``peak_value`` after the warmup, with a warning).
      decay_rate: the non-negative factor per ``transition_steps`` steps.
      transition_begin: steps after the warmup before the decay starts.
      staircase: decay in discrete jumps.
      end_value: a floor (for decay) or ceiling (for growth) on the value, or ``None``.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``warmup_steps`` or ``decay_rate`` is negative.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import warmup_exponential_decay_schedule
      >>> schedule = warmup_exponential_decay_schedule(0.0, 1.0, 2, 2, 0.5)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [0.0, 0.5, 1.0, 0.7071, 0.5, 0.3536, 0.25, 0.1768]
    """
    fn = "warmup_exponential_decay_schedule"
    warmup_steps = _check_warmup(fn, warmup_steps)
    decay = _exponential(
        fn, peak_value, transition_steps, decay_rate, transition_begin, staircase, end_value
    )
    dtype = value_dtype(init_value, peak_value, end_value)
    calc = compute_dtype(dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        count = as_count(count)
        after = jnp.asarray(decay(shift(count, warmup_steps)), calc)
        return _with_warmup(count, after, init_value, peak_value, warmup_steps, calc).astype(dtype)

    return schedule


def inverse_sqrt_schedule(
    peak_value: ArrayLike, warmup_steps: int, timescale: float | None = None
) -> Schedule:
    r"""Linear warmup from 0 to ``peak_value``, then decay as the inverse square root of time.

    With :math:`W` = ``warmup_steps`` and :math:`\tau` = ``timescale`` (default :math:`W`),

    .. math::
      \eta_t = \begin{cases}
        \text{peak\_value} \, t / W & t < W, \\
        \text{peak\_value} \sqrt{\dfrac{\tau}{t - W + \tau}} & t \ge W,
      \end{cases}

    which is continuous (``peak_value``) at :math:`t = W`. With :math:`\tau = W` the decay is
    :math:`\text{peak\_value}\sqrt{W / t}`, so the whole schedule is
    :math:`\text{peak\_value} \cdot \min(t / W, \sqrt{W / t})`: the Transformer schedule
    :math:`d^{-0.5} \min(t^{-0.5}, t W^{-1.5})` of Vaswani et al. with
    ``peak_value`` :math:`= (d W)^{-0.5}`. A smaller :math:`\tau` decays faster.

    Args:
      peak_value: the value at the end of the warmup.
      warmup_steps: the non-negative length of the warmup.
      timescale: a positive number of steps; the value has halved ``3 * timescale`` steps
        after the warmup. Defaults to ``warmup_steps`` (required when that is 0).

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``warmup_steps`` is negative or not an integer, ``timescale`` is not
        positive, or both ``warmup_steps=0`` and ``timescale=None``.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import inverse_sqrt_schedule
      >>> schedule = inverse_sqrt_schedule(1.0, warmup_steps=4)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [0.0, 0.25, 0.5, 0.75, 1.0, 0.8944, 0.8165, 0.7559]
      >>> float(schedule(16))  # sqrt(4 / 16)
      0.5

    References:
      Vaswani et al., "Attention Is All You Need", 2017, arXiv:1706.03762.
    """
    fn = "inverse_sqrt_schedule"
    warmup_steps = check_int(fn, "warmup_steps", warmup_steps, minimum=0)
    if timescale is None:
        if warmup_steps == 0:
            raise ValueError(
                f"`{fn}(timescale=...)` is required when warmup_steps=0 (it defaults to "
                "warmup_steps); pass a positive timescale, e.g. timescale=10_000."
            )
        timescale = warmup_steps
    timescale = check_number(fn, "timescale", timescale)
    if timescale <= 0:
        raise ValueError(f"`{fn}(timescale=...)` must be positive; got {timescale=}.")
    dtype = value_dtype(peak_value)
    calc = compute_dtype(dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        count = as_count(count)
        s = jnp.maximum(shift(count, warmup_steps).astype(calc), 0)
        after = peak_value * jnp.sqrt(timescale / (s + timescale))
        return _with_warmup(count, after, 0.0, peak_value, warmup_steps, calc).astype(dtype)

    return schedule


_WSD_DECAYS = ("linear", "cosine", "sqrt")


def warmup_stable_decay_schedule(
    peak_value: ArrayLike,
    warmup_steps: int,
    stable_steps: int,
    decay_steps: int,
    init_value: ArrayLike = 0.0,
    end_value: ArrayLike = 0.0,
    decay_type: str = "linear",
) -> Schedule:
    r"""Warmup-stable-decay ("trapezoidal"): warm up, hold ``peak_value``, then cool down.

    With :math:`W, S, D` the three lengths and :math:`f = \min(t - W - S, D) / D`,

    .. math::
      \eta_t = \begin{cases}
        \text{init\_value} + (\text{peak\_value} - \text{init\_value}) \, t / W
          & t < W, \\
        \text{peak\_value} & W \le t < W + S, \\
        \text{end\_value} + (\text{peak\_value} - \text{end\_value}) \, g(f)
          & t \ge W + S,
      \end{cases}

    with :math:`g(f) = 1 - f` (``"linear"``), :math:`(1 + \cos \pi f) / 2` (``"cosine"``)
    or :math:`1 - \sqrt{f}` (``"sqrt"``). The value is ``end_value`` from
    :math:`W + S + D` on.

    Args:
      peak_value: the value held during the stable phase.
      warmup_steps: the non-negative length of the warmup.
      stable_steps: the non-negative length of the stable phase.
      decay_steps: the non-negative length of the decay (0 jumps to ``end_value``).
      init_value: the value at step 0.
      end_value: the value at and after the end of the decay.
      decay_type: ``"linear"``, ``"cosine"`` or ``"sqrt"``.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if a length is not a non-negative integer or ``decay_type`` is unknown.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import warmup_stable_decay_schedule
      >>> schedule = warmup_stable_decay_schedule(1.0, 2, 1, 4, decay_type="sqrt")
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [0.0, 0.5, 1.0, 1.0, 0.5, 0.2929, 0.134, 0.0]

    References:
      Hu et al., "MiniCPM: Unveiling the Potential of Small Language Models with Scalable
      Training Strategies", 2024, arXiv:2404.06395 (the WSD schedule). Hägele et al.,
      "Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations", 2024,
      arXiv:2405.18392 (the ``1 - sqrt`` cooldown).
    """
    fn = "warmup_stable_decay_schedule"
    warmup_steps = check_int(fn, "warmup_steps", warmup_steps, minimum=0)
    stable_steps = check_int(fn, "stable_steps", stable_steps, minimum=0)
    decay_steps = check_int(fn, "decay_steps", decay_steps, minimum=0)
    check_choice(fn, "decay_type", decay_type, _WSD_DECAYS)
    dtype = value_dtype(init_value, peak_value, end_value)
    calc = compute_dtype(dtype)
    decay_begin = warmup_steps + stable_steps

    def schedule(count: ArrayLike) -> jax.Array:
        count = as_count(count)
        if decay_steps == 0:
            factor = jnp.zeros(count.shape, calc)
        else:
            f = fraction(shift(count, decay_begin).astype(calc), decay_steps)
            if decay_type == "linear":
                factor = 1 - f
            elif decay_type == "cosine":
                factor = half_cosine(f)
            else:
                factor = 1 - jnp.sqrt(f)
        decayed = end_value + (peak_value - end_value) * factor
        after = jnp.where(reached(count, decay_begin), decayed, jnp.asarray(peak_value, calc))
        return _with_warmup(count, after, init_value, peak_value, warmup_steps, calc).astype(dtype)

    return schedule

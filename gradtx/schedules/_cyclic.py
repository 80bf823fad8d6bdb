"""Cyclic schedules: triangular waves (CyclicLR) and cosine annealing with warm restarts."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from gradtx.base import Schedule
from gradtx.schedules._combinators import join_schedules
from gradtx.schedules._common import (
    as_count,
    check_choice,
    check_int,
    check_value,
    compute_dtype,
    floor_div,
    fraction,
    half_cosine,
    remainder,
    value_dtype,
)
from gradtx.schedules._warmup import warmup_cosine_decay_schedule

__all__ = ["cosine_restarts_schedule", "cyclic_schedule", "sgdr_schedule"]

_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


def cyclic_schedule(
    base_value: ArrayLike,
    max_value: ArrayLike,
    step_size_up: int,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: ArrayLike = 1.0,
) -> Schedule:
    r"""A triangular wave between ``base_value`` and ``max_value`` (torch's ``CyclicLR``).

    With :math:`u` = ``step_size_up``, :math:`d` = ``step_size_down``, the cycle length
    :math:`c = u + d`, the cycle index :math:`k = \lfloor t / c \rfloor` and the position
    :math:`r = t - k c`,

    .. math::
      \eta_t = \text{base\_value} + (\text{max\_value} - \text{base\_value})
      \, h(r) \, a_t, \qquad
      h(r) = \begin{cases} r / u & r \le u, \\ (c - r) / d & r > u, \end{cases}

    with the amplitude scale :math:`a_t = 1` (``"triangular"``), :math:`2^{-k}`
    (``"triangular2"``: halved every cycle) or :math:`\gamma^t` (``"exp_range"``).

    Args:
      base_value: the value at the start of every cycle.
      max_value: the value at the top of the first cycle.
      step_size_up: a positive integer, the steps from the bottom to the top.
      step_size_down: a non-negative integer, the steps from the top back to the bottom;
        defaults to ``step_size_up`` (0 gives a sawtooth).
      mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"``.
      gamma: the per-step amplitude factor of ``"exp_range"``, in ``(0, 1]``; ignored by
        the other modes.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if a step size is not an integer of the right sign, ``mode`` is unknown,
        or ``mode="exp_range"`` with ``gamma`` outside ``(0, 1]``.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import cyclic_schedule
      >>> schedule = cyclic_schedule(0.0, 1.0, step_size_up=2, mode="triangular2")
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [0.0, 0.5, 1.0, 0.5, 0.0, 0.25, 0.5, 0.25]

    References:
      Smith, "Cyclical Learning Rates for Training Neural Networks", 2017, arXiv:1506.01186.

    torch equivalent: ``CyclicLR(opt, base_lr, max_lr, step_size_up, step_size_down, mode,
    gamma, cycle_momentum=False)`` is ``cyclic_schedule(base_lr, max_lr, step_size_up,
    step_size_down, mode, gamma)``, one ``scheduler.step()`` per count. torch's
    ``scale_fn``/``scale_mode`` have no counterpart: multiply schedules instead. torch also
    accepts ``gamma > 1`` for ``"exp_range"``; gradtx raises, as the amplitude would
    overflow to ``inf`` (and ``inf * 0`` to NaN at the bottom of each cycle).
    """
    fn = "cyclic_schedule"
    up = check_int(fn, "step_size_up", step_size_up, minimum=1)
    down = (
        up if step_size_down is None else check_int(fn, "step_size_down", step_size_down, minimum=0)
    )
    check_choice(fn, "mode", mode, _CYCLIC_MODES)
    if mode == "exp_range":
        check_value(fn, "gamma", gamma, condition="in (0, 1]")
    dtype = value_dtype(base_value, max_value)
    calc = compute_dtype(dtype)
    total = up + down

    def schedule(count: ArrayLike) -> jax.Array:
        count = as_count(count)
        position = remainder(count, total).astype(calc)
        rising = position <= up
        height = jnp.where(rising, fraction(position, up), fraction(total - position, max(down, 1)))
        if mode == "triangular2":
            height = height * 0.5 ** floor_div(count, total).astype(calc)
        elif mode == "exp_range":
            height = height * jnp.asarray(gamma, calc) ** count.astype(calc)
        return (base_value + (max_value - base_value) * height).astype(dtype)

    return schedule


def cosine_restarts_schedule(
    init_value: ArrayLike,
    first_period: int,
    period_mult: int = 1,
    min_value: ArrayLike = 0.0,
) -> Schedule:
    r"""Cosine annealing from ``init_value`` to ``min_value``, restarting after each period.

    The periods are :math:`P_j = P_0 m^j` (:math:`P_0` = ``first_period``, :math:`m` =
    ``period_mult``) and period :math:`j` starts at :math:`S_j = P_0 (m^j - 1) / (m - 1)`
    (:math:`S_j = j P_0` for :math:`m = 1`). With :math:`j` the period holding :math:`t`,
    found in closed form as :math:`j = \lfloor \log_m(1 + t (m - 1) / P_0) \rfloor`,

    .. math::
      \eta_t = \text{min\_value} + (\text{init\_value} - \text{min\_value})
      \frac{1 + \cos(\pi (t - S_j) / P_j)}{2}.

    The closed form makes the schedule cost the same at any step (no loop over periods,
    so it runs under ``jit`` for any count). Integer counts are placed in their period
    exactly: at any count for ``period_mult=1`` (integer remainder), up to ``2**24`` in
    float32 otherwise.

    Args:
      init_value: the value at the start of every period.
      first_period: a positive integer, the length of the first period.
      period_mult: an integer >= 1; each period is this many times longer than the last.
      min_value: the value the cosine approaches at the end of each period.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``first_period`` is not a positive integer or ``period_mult`` is not an
        integer >= 1.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import cosine_restarts_schedule
      >>> schedule = cosine_restarts_schedule(1.0, first_period=2, period_mult=2)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0, 0.9619]

    References:
      Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2017,
      arXiv:1608.03983.

    torch equivalent: ``CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min)`` with
    learning rate ``lr`` is ``cosine_restarts_schedule(lr, T_0, T_mult, eta_min)``.
    """
    fn = "cosine_restarts_schedule"
    first_period = check_int(fn, "first_period", first_period, minimum=1)
    period_mult = check_int(fn, "period_mult", period_mult, minimum=1)
    dtype = value_dtype(init_value, min_value)
    calc = compute_dtype(dtype)
    m = period_mult

    def period_start(j: jax.Array) -> jax.Array:
        return first_period * (m**j - 1) / (m - 1)

    def schedule(count: ArrayLike) -> jax.Array:
        count = as_count(count)
        if m == 1:
            position = remainder(count, first_period).astype(calc)
            period = jnp.asarray(first_period, calc)
        else:
            t = jnp.maximum(count.astype(calc), 0)
            j = jnp.floor(jnp.log1p(t * (m - 1) / first_period) / math.log(m))
            # The logarithm may land one period off at the restarts; step back or forward.
            j = jnp.where(period_start(j) > t, j - 1, j)
            j = jnp.where(period_start(j + 1) <= t, j + 1, j)
            j = jnp.maximum(j, 0)
            period = first_period * jnp.asarray(m, calc) ** j
            position = jnp.clip(t - period_start(j), 0, period)
        cosine = half_cosine(position / period)
        return (min_value + (init_value - min_value) * cosine).astype(dtype)

    return schedule


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, ArrayLike]]) -> Schedule:
    r"""Warm restarts of :func:`warmup_cosine_decay_schedule`, one per dict of arguments.

    Each dict of ``cosine_kwargs`` builds one ``warmup_cosine_decay_schedule(**kwargs)``;
    they run one after the other, the next starting when the previous reaches its
    ``decay_steps``, with :func:`join_schedules`. With :math:`D_i` the ``decay_steps`` of
    the :math:`i`-th and :math:`B_k = \sum_{i < k} D_i`,

    .. math:: \eta_t = \text{cosine}_k(t - B_k) \quad\text{for } B_k \le t < B_{k+1},

    and the last one continues (at its ``end_value``) after its end.

    Args:
      cosine_kwargs: a non-empty iterable of dicts of arguments of
        :func:`warmup_cosine_decay_schedule` (``init_value``, ``peak_value``,
        ``warmup_steps``, ``decay_steps``, and optionally ``end_value``, ``exponent``).

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``cosine_kwargs`` is empty, an entry is not a dict with
        ``decay_steps``, or an entry's arguments are invalid.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import sgdr_schedule
      >>> cycle = dict(init_value=0.0, peak_value=1.0, warmup_steps=1, decay_steps=3)
      >>> schedule = sgdr_schedule([cycle, cycle])
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [0.0, 1.0, 0.5, 0.0, 1.0, 0.5, 0.0, 0.0]

    References:
      Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2017,
      arXiv:1608.03983.
    """
    fn = "sgdr_schedule"
    entries = list(cosine_kwargs)
    if not entries:
        raise ValueError(f"`{fn}(cosine_kwargs=...)` must hold at least one dict; got [].")
    schedules, boundaries, end = [], [], 0
    for i, kwargs in enumerate(entries):
        if not isinstance(kwargs, Mapping) or "decay_steps" not in kwargs:
            raise ValueError(
                f"`{fn}(cosine_kwargs=...)` entries must be dicts of arguments of "
                f"warmup_cosine_decay_schedule, with decay_steps; got entry {i}: {kwargs!r}."
            )
        schedules.append(warmup_cosine_decay_schedule(**kwargs))
        end += kwargs["decay_steps"]
        boundaries.append(end)
    return join_schedules(schedules, boundaries[:-1])

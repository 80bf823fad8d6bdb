"""One-cycle schedules (Smith & Topin): up to a peak, then down far below the start."""

from __future__ import annotations

import jax
from jax.typing import ArrayLike

from gradtx.base import Schedule
from gradtx.schedules._common import as_count, check_number, interpolate, value_dtype

__all__ = ["cosine_onecycle_schedule", "linear_onecycle_schedule"]


def _check_onecycle(
    fn: str, transition_steps: int, pcts: dict[str, float], div_factor: float, final: float
) -> float | int:
    transition_steps = check_number(fn, "transition_steps", transition_steps)
    if transition_steps <= 0:
        raise ValueError(f"`{fn}(transition_steps=...)` must be positive; got {transition_steps=}.")
    fractions = [0.0, *(check_number(fn, name, pct) for name, pct in pcts.items()), 1.0]
    if any(b < a for a, b in zip(fractions, fractions[1:], strict=False)):
        order = " <= ".join(["0", *pcts, "1"])
        shown = ", ".join(f"{name}={pct!r}" for name, pct in pcts.items())
        raise ValueError(f"`{fn}` needs {order}; got {shown}.")
    for name, factor in (("div_factor", div_factor), ("final_div_factor", final)):
        if not check_number(fn, name, factor) > 0:
            raise ValueError(f"`{fn}({name}=...)` must be positive; got {name}={factor!r}.")
    return transition_steps


def linear_onecycle_schedule(
    transition_steps: int,
    peak_value: ArrayLike,
    pct_start: float = 0.3,
    pct_final: float = 0.85,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    r"""One-cycle schedule of three linear pieces: up, down, and a final annealing.

    With :math:`T` = ``transition_steps``, :math:`v_0 = \text{peak\_value} /
    \text{div\_factor}`, the value interpolates linearly through the knots

    .. math::
      (0, v_0),\quad (\lfloor \text{pct\_start}\, T \rfloor, \text{peak\_value}),\quad
      (\lfloor \text{pct\_final}\, T \rfloor, v_0),\quad
      (T, v_0 / \text{final\_div\_factor}),

    and stays at :math:`v_0 / \text{final\_div\_factor}` after :math:`T`.

    Args:
      transition_steps: the positive length of the whole cycle.
      peak_value: the maximum value.
      pct_start: the fraction of the cycle spent going up.
      pct_final: the fraction of the cycle at which the value is back at :math:`v_0`;
        ``0 <= pct_start <= pct_final <= 1``.
      div_factor: :math:`v_0 = \text{peak\_value} / \text{div\_factor}` (positive).
      final_div_factor: the final value is :math:`v_0 / \text{final\_div\_factor}` (positive).

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``transition_steps``, ``div_factor`` or ``final_div_factor`` is not
        positive, or the fractions are out of order.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import linear_onecycle_schedule
      >>> schedule = linear_onecycle_schedule(6, 1.0, 1 / 3, 2 / 3, 4.0, 10.0)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [0.25, 0.625, 1.0, 0.625, 0.25, 0.1375, 0.025, 0.025]

    References:
      Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
      Learning Rates", 2018, arXiv:1708.07120.

    torch equivalent: ``OneCycleLR(opt, max_lr, total_steps=N, pct_start=p,
    anneal_strategy="linear", three_phase=True, div_factor, final_div_factor)`` ends its
    phases at steps ``p*N - 1``, ``2*p*N - 2`` and ``N - 1``; when ``p*N`` is an integer it
    equals ``linear_onecycle_schedule(N - 1, max_lr, pct_start=(p*N - 0.5) / (N - 1),
    pct_final=(2*p*N - 1.5) / (N - 1), div_factor=div_factor,
    final_div_factor=final_div_factor)`` at steps ``0 .. N - 1``. torch's two-phase linear
    one-cycle (``three_phase=False``) anneals straight from the peak to its floor; its
    counterpart is ``piecewise_interpolate_schedule("linear", max_lr / div_factor,
    {p*N - 1: div_factor, N - 1: 1 / (div_factor * final_div_factor)})``.

    Differs from optax when two knots fall on the same step (e.g. ``pct_final=1.0`` or
    ``pct_start == pct_final``): optax builds a dict keyed by step, so the later knot
    overwrites the earlier one (with ``transition_steps=10, pct_final=1.0`` optax ends at
    ``peak_value / final_div_factor`` = 1e-4 instead of :math:`v_0 / \text{final\_div\_factor}`
    = 4e-6); gradtx jumps between the two values at that step, and raises ``ValueError``
    for ``pct_start > pct_final`` where optax silently reorders the knots.
    """
    fn = "linear_onecycle_schedule"
    transition_steps = _check_onecycle(
        fn,
        transition_steps,
        {"pct_start": pct_start, "pct_final": pct_final},
        div_factor,
        final_div_factor,
    )
    start = peak_value / div_factor
    knots = [
        (0, start),
        (int(pct_start * transition_steps), peak_value),
        (int(pct_final * transition_steps), start),
        (transition_steps, start / final_div_factor),
    ]
    dtype = value_dtype(peak_value)

    def schedule(count: ArrayLike) -> jax.Array:
        return interpolate("linear", knots, as_count(count), dtype)

    return schedule


def cosine_onecycle_schedule(
    transition_steps: int,
    peak_value: ArrayLike,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
) -> Schedule:
    r"""One-cycle schedule of two half-cosine pieces: up to ``peak_value``, then far down.

    With :math:`T` = ``transition_steps``, :math:`v_0 = \text{peak\_value} /
    \text{div\_factor}` and :math:`a = \lfloor \text{pct\_start}\, T \rfloor`, the value
    follows a half cosine from :math:`v_0` at 0 to ``peak_value`` at :math:`a`, then from
    ``peak_value`` to :math:`v_0 / \text{final\_div\_factor}` at :math:`T`: on a piece from
    :math:`(x_0, y_0)` to :math:`(x_1, y_1)`,

    .. math::
      \eta_t = y_1 + (y_0 - y_1) \frac{1 + \cos(\pi (t - x_0) / (x_1 - x_0))}{2},

    and the value stays at :math:`v_0 / \text{final\_div\_factor}` after :math:`T`.

    Args:
      transition_steps: the positive length of the whole cycle (rounded down, as in optax,
        when it is fractional).
      peak_value: the maximum value.
      pct_start: the fraction of the cycle spent going up, in ``[0, 1]``.
      div_factor: :math:`v_0 = \text{peak\_value} / \text{div\_factor}` (positive).
      final_div_factor: the final value is :math:`v_0 / \text{final\_div\_factor}` (positive).

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if ``transition_steps``, ``div_factor`` or ``final_div_factor`` is not
        positive, or ``pct_start`` is not in ``[0, 1]``.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import cosine_onecycle_schedule
      >>> schedule = cosine_onecycle_schedule(6, 1.0, 1 / 3, 4.0, 10.0)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [0.25, 0.625, 1.0, 0.8572, 0.5125, 0.1678, 0.025, 0.025]

    References:
      Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
      Learning Rates", 2018, arXiv:1708.07120.

    torch equivalent: ``OneCycleLR(opt, max_lr, total_steps=N, pct_start=p,
    div_factor, final_div_factor)`` (cosine, two phases) ends its phases at steps
    ``p*N - 1`` and ``N - 1``, optax and gradtx at ``floor(pct_start*T)`` and ``T``. When
    ``p*N`` is an integer, ``cosine_onecycle_schedule(N - 1, max_lr, pct_start=p,
    div_factor=div_factor, final_div_factor=final_div_factor)`` equals it at steps
    ``0 .. N - 1`` (``floor(p*(N - 1)) = p*N - 1``); with the same ``T = N`` the peak comes
    one step later than torch's and the final value one step later.

    Differs from optax for ``pct_start=1.0`` (optax's dict of knots loses the peak and
    decays from :math:`v_0`; gradtx warms up over the whole cycle and then jumps to the
    final value) and raises ``ValueError`` for ``pct_start`` outside ``[0, 1]``.
    """
    fn = "cosine_onecycle_schedule"
    transition_steps = _check_onecycle(
        fn, transition_steps, {"pct_start": pct_start}, div_factor, final_div_factor
    )
    start = peak_value / div_factor
    knots = [
        (0, start),
        (int(pct_start * transition_steps), peak_value),
        (int(transition_steps), start / final_div_factor),
    ]
    dtype = value_dtype(peak_value)

    def schedule(count: ArrayLike) -> jax.Array:
        return interpolate("cosine", knots, as_count(count), dtype)

    return schedule

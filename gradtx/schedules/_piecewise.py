"""Piecewise schedules: constant pieces, interpolated pieces, torch's StepLR and MultiStepLR."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from gradtx.base import Schedule
from gradtx.schedules._common import (
    as_count,
    check_choice,
    check_int,
    check_number,
    check_value,
    compute_dtype,
    floor_div,
    full_like_count,
    interpolate,
    reached,
    value_dtype,
)

__all__ = [
    "multistep_schedule",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "step_schedule",
]


def _sorted_pieces(
    fn: str, boundaries_and_scales: Mapping[int, float] | None
) -> list[tuple[float | int, ArrayLike]]:
    """Checks ``boundaries_and_scales`` and returns its ``(boundary, scale)`` pairs, sorted."""
    if boundaries_and_scales is None:
        return []
    if not isinstance(boundaries_and_scales, Mapping):
        raise ValueError(
            f"`{fn}(boundaries_and_scales=...)` must be a dict from step to scale; "
            f"got boundaries_and_scales={boundaries_and_scales!r}."
        )
    pieces = []
    for boundary, scale in boundaries_and_scales.items():
        boundary = check_number(fn, "boundaries_and_scales", boundary)
        check_value(fn, f"boundaries_and_scales[{boundary!r}]", scale, condition=">= 0")
        pieces.append((boundary, scale))
    return sorted(pieces, key=lambda piece: piece[0])


def piecewise_constant_schedule(
    init_value: ArrayLike, boundaries_and_scales: Mapping[int, float] | None = None
) -> Schedule:
    r"""A piecewise-constant schedule: multiply the value by a scale at each boundary.

    With boundaries :math:`b_1 < b_2 < \dots` and scales :math:`s_i`,

    .. math:: \eta_t = \text{init\_value} \prod_{i:\ t \ge b_i} s_i.

    Args:
      init_value: the value before the first boundary.
      boundaries_and_scales: a dict from step (a boundary, in any order) to a non-negative
        scale; from that step on the value is multiplied by the scale. ``None`` or ``{}``
        gives a constant schedule.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if a scale is negative or a boundary is not a number.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import piecewise_constant_schedule
      >>> schedule = piecewise_constant_schedule(1.0, {2: 0.5, 4: 0.1})
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [1.0, 1.0, 0.5, 0.5, 0.05, 0.05, 0.05, 0.05]

    torch equivalent: ``MultiStepLR(opt, milestones, gamma)`` is
    ``piecewise_constant_schedule(lr, {m: gamma for m in milestones})`` (or
    :func:`multistep_schedule`).
    """
    pieces = _sorted_pieces("piecewise_constant_schedule", boundaries_and_scales)
    dtype = value_dtype(init_value)
    calc = compute_dtype(dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        count = as_count(count)
        value = full_like_count(count, init_value, calc)
        for boundary, scale in pieces:
            value = jnp.where(reached(count, boundary), value * scale, value)
        return value.astype(dtype)

    return schedule


def piecewise_interpolate_schedule(
    interpolate_type: str,
    init_value: ArrayLike,
    boundaries_and_scales: Mapping[int, float] | None = None,
) -> Schedule:
    r"""Interpolates, linearly or along a half cosine, between values that change by scales.

    The knots are :math:`(0, v_0)` and :math:`(b_i, v_i)` for the sorted boundaries, with
    :math:`v_0 = \text{init\_value}` and :math:`v_i = v_{i-1} s_i`. Between two knots,
    with :math:`f = (t - b_{i-1}) / (b_i - b_{i-1})`,

    .. math::
      \eta_t = v_{i-1} + (v_i - v_{i-1}) f \quad\text{(linear)}, \qquad
      \eta_t = v_i + (v_{i-1} - v_i) \frac{1 + \cos(\pi f)}{2} \quad\text{(cosine)},

    and after the last boundary the value stays at the last :math:`v`.

    Args:
      interpolate_type: ``'linear'`` or ``'cosine'``.
      init_value: the value at step 0.
      boundaries_and_scales: a dict from step to a non-negative scale; the value reaches
        the previous knot's value times the scale at that step. ``None`` or ``{}`` gives
        a constant schedule.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: for an unknown ``interpolate_type`` or a negative scale.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import piecewise_interpolate_schedule
      >>> schedule = piecewise_interpolate_schedule("linear", 1.0, {4: 0.5})
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [1.0, 0.875, 0.75, 0.625, 0.5, 0.5, 0.5, 0.5]

    Unlike optax's, this schedule also accepts an array of step counts.
    """
    fn = "piecewise_interpolate_schedule"
    check_choice(fn, "interpolate_type", interpolate_type, ("linear", "cosine"))
    pieces = _sorted_pieces(fn, boundaries_and_scales)
    dtype = value_dtype(init_value)
    knots: list[tuple[float | int, ArrayLike]] = [(0, init_value)]
    for boundary, scale in pieces:
        knots.append((boundary, knots[-1][1] * scale))

    def schedule(count: ArrayLike) -> jax.Array:
        return interpolate(interpolate_type, knots, as_count(count), dtype)

    return schedule


def step_schedule(init_value: ArrayLike, step_size: int, gamma: ArrayLike = 0.1) -> Schedule:
    r"""Multiplies the value by ``gamma`` every ``step_size`` steps (torch's ``StepLR``).

    .. math::
      \eta_t = \text{init\_value} \cdot \gamma^{\lfloor t / \text{step\_size} \rfloor}

    Args:
      init_value: the value for the first ``step_size`` steps.
      step_size: a positive integer, the steps between two multiplications.
      gamma: the non-negative factor.

    Returns:
      A schedule ``count -> value``. With ``gamma > 1`` the value grows without bound and
      overflows to ``inf`` for huge step counts.

    Raises:
      ValueError: if ``step_size`` is not a positive integer or ``gamma`` is negative.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import step_schedule
      >>> schedule = step_schedule(1.0, step_size=2, gamma=0.5)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]

    torch equivalent: ``StepLR(opt, step_size, gamma)`` with learning rate ``lr`` is
    ``step_schedule(lr, step_size, gamma)``, one ``scheduler.step()`` per count.
    """
    fn = "step_schedule"
    step_size = check_int(fn, "step_size", step_size, minimum=1)
    check_value(fn, "gamma", gamma, condition=">= 0")
    dtype = value_dtype(init_value, gamma)
    calc = compute_dtype(dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        k = floor_div(as_count(count), step_size).astype(calc)
        return (init_value * jnp.asarray(gamma, calc) ** k).astype(dtype)

    return schedule


def multistep_schedule(
    init_value: ArrayLike, milestones: Sequence[int], gamma: ArrayLike = 0.1
) -> Schedule:
    r"""Multiplies the value by ``gamma`` at each milestone (torch's ``MultiStepLR``).

    .. math::
      \eta_t = \text{init\_value} \cdot \gamma^{|\{m \in \text{milestones}:\ m \le t\}|}

    Args:
      init_value: the value before the first milestone.
      milestones: strictly increasing non-negative integers; at each the value is
        multiplied by ``gamma``. An empty sequence gives a constant schedule.
      gamma: the non-negative factor.

    Returns:
      A schedule ``count -> value``.

    Raises:
      ValueError: if the milestones are not strictly increasing non-negative integers or
        ``gamma`` is negative.

    Example:
      >>> import jax.numpy as jnp
      >>> from gradtx.schedules import multistep_schedule
      >>> schedule = multistep_schedule(1.0, milestones=[1, 4], gamma=0.5)
      >>> [round(v, 4) for v in schedule(jnp.arange(8)).tolist()]
      [1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]

    torch equivalent: ``MultiStepLR(opt, milestones, gamma)`` with learning rate ``lr`` is
    ``multistep_schedule(lr, milestones, gamma)``.
    """
    fn = "multistep_schedule"
    if isinstance(milestones, str) or not isinstance(milestones, Sequence):
        raise ValueError(
            f"`{fn}(milestones=...)` must be a sequence of strictly increasing non-negative "
            f"integers; got milestones={milestones!r}."
        )
    checked = [check_int(fn, "milestones", m, minimum=0) for m in milestones]
    if any(b <= a for a, b in zip(checked, checked[1:], strict=False)):
        raise ValueError(
            f"`{fn}(milestones=...)` must be strictly increasing; got milestones={milestones!r}."
        )
    check_value(fn, "gamma", gamma, condition=">= 0")
    dtype = value_dtype(init_value, gamma)
    calc = compute_dtype(dtype)

    def schedule(count: ArrayLike) -> jax.Array:
        count = as_count(count)
        k = jnp.zeros(count.shape, calc)
        for milestone in checked:
            k = k + reached(count, milestone)
        return (init_value * jnp.asarray(gamma, calc) ** k).astype(dtype)

    return schedule

"""Helpers shared by the schedules: argument checks, dtypes and step-count arithmetic.

Every schedule is a pure function of the step count. The helpers here keep three promises
in one place:

* integer step counts stay integers for as long as the arithmetic is exact (floor divisions,
  remainders, comparisons with integer boundaries), so boundaries are hit exactly at any count;
* nothing overflows: shifting an ``int32`` count saturates instead of wrapping around;
* values are computed in at least float32 and returned in the promoted dtype of the
  schedule's values (float32 for Python numbers, float64 for Python numbers under
  ``jax_enable_x64``, bfloat16 for bfloat16 values).
"""

from __future__ import annotations

import math
import numbers
import operator
import warnings
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

__all__: list[str] = []  # private module


# --------------------------------------------------------------------------------------------
# Argument checks (concrete Python values only; they run once, when the schedule is built).
# --------------------------------------------------------------------------------------------


def check_int(fn: str, name: str, value: Any, *, minimum: int) -> int:
    """Returns ``value`` as a Python int, or raises ``ValueError`` if it is not one >= minimum.

    Integer-valued floats (``1e4``) are accepted; booleans and fractions are not.
    """
    as_int: int | None = None
    if not isinstance(value, bool | np.bool_):
        try:
            as_int = operator.index(value)
        except TypeError:
            if isinstance(value, numbers.Real) and float(value).is_integer():
                as_int = int(value)
    if as_int is None or as_int < minimum:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise ValueError(f"`{fn}({name}=...)` must be {kind}; got {name}={value!r}.")
    return as_int


def check_number(fn: str, name: str, value: Any) -> float | int:
    """Returns a concrete real ``value`` as a Python number, or raises ``ValueError``."""
    if isinstance(value, bool | np.bool_):
        value_ok = None
    else:
        try:
            value_ok = operator.index(value)
        except TypeError:
            value_ok = concrete_float(value)
    if value_ok is None or (isinstance(value_ok, float) and not math.isfinite(value_ok)):
        raise ValueError(
            f"`{fn}({name}=...)` must be a finite Python number (a step count, known when "
            f"the schedule is built); got {name}={value!r}."
        )
    return value_ok


def concrete_float(value: Any) -> float | None:
    """Returns ``float(value)`` for a concrete real scalar, ``None`` for anything else.

    Used to validate hyperparameters that may also be arrays or tracers: those are
    checked when they are concrete scalars and passed through untouched otherwise.
    """
    if isinstance(value, jax.core.Tracer | str | bytes):
        return None
    try:
        if np.ndim(value) != 0 or np.iscomplexobj(value):
            return None
        return float(value)
    except (TypeError, ValueError, jax.errors.ConcretizationTypeError):
        return None


def check_choice(fn: str, name: str, value: Any, choices: Sequence[str]) -> str:
    """Raises ``ValueError`` unless ``value`` is one of the strings in ``choices``."""
    if not isinstance(value, str) or value not in choices:
        expected = ", ".join(repr(c) for c in choices)
        raise ValueError(f"`{fn}({name}=...)` must be one of {expected}; got {name}={value!r}.")
    return value


def check_value(fn: str, name: str, value: Any, *, condition: str) -> None:
    """Raises ``ValueError`` if a concrete scalar ``value`` breaks ``condition``.

    ``condition`` is ``">= 0"`` or ``"in (0, 1]"``; values that are not concrete scalars pass.
    """
    if isinstance(value, str | bytes):
        raise TypeError(f"`{fn}({name}=...)` must be a number or an array; got {name}={value!r}.")
    x = concrete_float(value)
    if x is None:
        return
    ok, words = {
        ">= 0": (x >= 0, "non-negative"),
        "in (0, 1]": (0 < x <= 1, "in (0, 1]"),
    }[condition]
    if not ok:
        raise ValueError(f"`{fn}({name}=...)` must be {words}; got {name}={value!r}.")


def warn(fn: str, message: str) -> None:
    """Emits a ``UserWarning`` about an accepted but degenerate argument of ``fn``.

    Called two levels below the public function, so ``stacklevel=4`` points at its caller.
    """
    warnings.warn(f"`{fn}`: {message}", UserWarning, stacklevel=4)


# --------------------------------------------------------------------------------------------
# Dtypes and the step count.
# --------------------------------------------------------------------------------------------


def value_dtype(*values: Any) -> np.dtype:
    """The output dtype of a schedule: its values promoted with a (weak) Python float."""
    return jnp.result_type(*[v for v in values if v is not None], float)


def compute_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype the arithmetic runs in: ``dtype``, but at least float32."""
    return jnp.promote_types(dtype, jnp.float32)


def as_count(count: ArrayLike) -> jax.Array:
    """The step count as an array (int32 for a Python int)."""
    return jnp.asarray(count)


def is_int(count: jax.Array) -> bool:
    return bool(jnp.issubdtype(count.dtype, jnp.integer))


def _int_fits(count: jax.Array, n: Any) -> bool:
    """Whether ``n`` is an integer that ``count``'s integer dtype can hold."""
    if not is_int(count) or isinstance(n, bool) or not isinstance(n, numbers.Integral):
        return False
    info = jnp.iinfo(count.dtype)
    return info.min <= int(n) <= info.max


def floor_div(count: jax.Array, n: float | int) -> jax.Array:
    """``floor(count / n)``; exact integer division for an integer count and integer ``n``."""
    if _int_fits(count, n):
        return count // int(n)
    calc = compute_dtype(jnp.result_type(count, float))
    return jnp.floor(count.astype(calc) / n)


def remainder(count: jax.Array, n: float | int) -> jax.Array:
    """``count - n * floor(count / n)``; exact for an integer count and integer ``n``."""
    if _int_fits(count, n):
        return count % int(n)
    calc = compute_dtype(jnp.result_type(count, float))
    return jnp.remainder(count.astype(calc), n)


def shift(count: jax.Array, offset: float | int) -> jax.Array:
    """``count - offset`` that saturates instead of wrapping around for integer counts."""
    if offset == 0:
        return count
    if _int_fits(count, offset):
        info = jnp.iinfo(count.dtype)
        offset = int(offset)
        low = info.min + max(offset, 0)
        high = info.max + min(offset, 0)
        return jnp.clip(count, low, high) - offset
    calc = compute_dtype(jnp.result_type(count, float))
    return count.astype(calc) - offset


def reached(count: jax.Array, boundary: float | int) -> jax.Array:
    """``count >= boundary`` without overflow for integer boundaries out of the count's range."""
    if is_int(count) and isinstance(boundary, numbers.Integral) and not _int_fits(count, boundary):
        info = jnp.iinfo(count.dtype)
        return jnp.full(count.shape, int(boundary) <= info.min, dtype=bool)
    return count >= boundary


def full_like_count(count: jax.Array, value: ArrayLike, dtype: np.dtype) -> jax.Array:
    """``value`` broadcast to the shape of ``count``, in ``dtype``."""
    value = jnp.asarray(value, dtype)
    return jnp.broadcast_to(value, jnp.broadcast_shapes(value.shape, count.shape))


# --------------------------------------------------------------------------------------------
# Shared shapes.
# --------------------------------------------------------------------------------------------


def fraction(t: jax.Array, steps: float | int) -> jax.Array:
    """``t / steps`` clipped to ``[0, 1]``.

    The clip comes after the division: under ``jit`` XLA computes ``t / steps`` as
    ``t * (1 / steps)``, which is ``1 + 4e-8`` at ``t = steps = 13``; clipping first would
    leave that, and ``(1 - 1.00000004) ** 0.5`` is NaN.
    """
    return jnp.clip(t / steps, 0, 1)


def ramp(t: jax.Array, start: ArrayLike, end: ArrayLike, steps: float | int) -> jax.Array:
    """Linear from ``start`` at ``t = 0`` to ``end`` at ``t = steps``, constant after.

    Written as ``(start - end) * (1 - t / steps) + end`` (the polynomial form with
    power 1), so that linear pieces agree to the last bit with ``polynomial_schedule``.
    """
    return (start - end) * (1 - fraction(t, steps)) + end


def half_cosine(frac: jax.Array) -> jax.Array:
    """``(1 + cos(pi * frac)) / 2``: 1 at ``frac = 0``, 0 at ``frac = 1``."""
    return 0.5 * (1 + jnp.cos(jnp.pi * frac))


def interpolate(
    kind: str, knots: Sequence[tuple[float | int, Any]], count: jax.Array, dtype: np.dtype
) -> jax.Array:
    """Piecewise interpolation through ``knots`` (``(step, value)`` pairs, in order).

    On ``[x_i, x_{i+1})`` the value goes from ``y_i`` to ``y_{i+1}``, linearly or along a
    half cosine; pieces with ``x_{i+1} <= x_i`` are empty (a jump). Before the first knot
    the value is ``y_0``; from the last knot on it is the last value.
    """
    calc = compute_dtype(dtype)
    t = count.astype(calc)
    xs = [x for x, _ in knots]
    ys = [jnp.asarray(y, calc) for _, y in knots]
    value = jnp.where(reached(count, xs[-1]), ys[-1], ys[0])
    pieces = zip(xs[:-1], ys[:-1], xs[1:], ys[1:], strict=True)
    for x0, y0, x1, y1 in pieces:
        if x1 <= x0:
            continue
        frac = jnp.clip((t - x0) / (x1 - x0), 0, 1)
        if kind == "linear":
            piece = y0 + (y1 - y0) * frac
        else:
            piece = y1 + (y0 - y1) * half_cosine(frac)
        inside = reached(count, x0) & ~reached(count, x1)
        value = jnp.where(inside, piece, value)
    return value.astype(dtype)

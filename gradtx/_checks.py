"""Validation helpers shared by every factory: concrete checks at construction time.

A hyperparameter that is a Python or NumPy number is checked at once; an array, a
tracer or a schedule is left to the caller (it may be traced or vary per step).
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

_F = TypeVar("_F", bound=Callable[..., Any])

# The public optimizers being built, outermost first (each one's name and the arguments
# it was called with), so that a check inside a primitive names the call the user wrote.
_BUILDING: contextvars.ContextVar[tuple[tuple[str, dict[str, Any]], ...]] = contextvars.ContextVar(
    "gradtx_building", default=()
)


@contextlib.contextmanager
def building(name: str, arguments: dict[str, Any]) -> Iterator[None]:
    """Within this block, errors about ``arguments`` name the call ``name(...)``."""
    token = _BUILDING.set((*_BUILDING.get(), (name, arguments)))
    try:
        yield
    finally:
        _BUILDING.reset(token)


def reports_as_itself(factory: _F) -> _F:
    """Make argument errors raised while ``factory`` builds name ``factory``'s own call.

    An alias validates its arguments by building its primitives (``adam`` builds
    ``scale_by_adam``); without this the user who wrote ``adam(b1=1.5)`` would read
    about ``scale_by_adam(b1=...)``. An argument the alias passes on unchanged (the same
    object) is reported under the alias's name; a derived value keeps the primitive's.
    The checks that report this way call :func:`call_name` (``check_range`` and the
    helpers built on it, and a few integer and choice checks).
    """
    sig = inspect.signature(factory)

    @functools.wraps(factory)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            arguments = sig.bind(*args, **kwargs).arguments
        except TypeError:
            return factory(*args, **kwargs)  # Python's own message for a bad call
        with building(factory.__name__, dict(arguments)):
            return factory(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def call_name(fn: str, name: str, value: Any) -> str:
    """The call to name in an error about ``name=value`` raised inside ``fn``.

    The outermost public optimizer being built that received ``value`` itself as its
    argument ``name``; ``fn`` when none did (a value the alias derived).
    """
    for alias, arguments in _BUILDING.get():
        if name in arguments and arguments[name] is value:
            return alias
    return fn


def concrete(value: Any) -> float | None:
    """Return ``value`` as a float if it is a concrete real scalar, else ``None``."""
    if isinstance(value, bool) or callable(value) or value is None:
        return None
    if isinstance(value, (int, float, np.number)):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return float(value)
    if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer):
        if value.ndim == 0 and not np.iscomplexobj(value):
            return float(value)
    return None


def check_range(
    fn: str,
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise ``ValueError`` if a concrete ``value`` lies outside the given interval.

    A string raises ``TypeError``: it is never a number (``learning_rate="1e-3"``).
    """
    if isinstance(value, (str, bytes)):
        fn = call_name(fn, name, value)
        raise TypeError(
            f"`{fn}({name}=...)` must be a number, an array or a schedule; got {name}={value!r}."
        )
    v = concrete(value)
    if v is None:
        return
    bad = np.isnan(v)
    if low is not None:
        bad |= v <= low if low_open else v < low
    if high is not None:
        bad |= v >= high if high_open else v > high
    if bad:
        lo = "(-inf" if low is None else ("(" if low_open else "[") + f"{low:g}"
        hi = "inf)" if high is None else f"{high:g}" + (")" if high_open else "]")
        fn = call_name(fn, name, value)
        raise ValueError(f"`{fn}({name}=...)` must lie in {lo}, {hi}; got {name}={value!r}.")


def check_nonnegative(fn: str, name: str, value: Any) -> None:
    """``value >= 0``."""
    check_range(fn, name, value, 0.0)


def check_positive(fn: str, name: str, value: Any) -> None:
    """``value > 0``."""
    check_range(fn, name, value, 0.0, low_open=True)


def check_decay(fn: str, name: str, value: Any) -> None:
    """An EMA decay: ``0 <= value <= 1`` (1 freezes the average)."""
    check_range(fn, name, value, 0.0, 1.0)


def check_schedule_or_nonnegative(fn: str, name: str, value: Any) -> None:
    """A learning rate: a schedule, or a number ``>= 0``."""
    if value is not None and not callable(value):
        check_nonnegative(fn, name, value)


def check_transformation(fn: str, name: str, value: Any) -> None:
    """Raise TypeError unless ``value`` is a gradient transformation (an init/update pair).

    The message names the call (``fn(name=...)``) and says what was given instead, since
    the usual mistake is passing the factory (``gradtx.adamw``) or a state.
    """
    if not (isinstance(value, tuple) and len(value) == 2 and all(callable(f) for f in value)):
        raise TypeError(
            f"`{fn}({name}=...)` must be a gradient transformation (an (init, update) pair "
            f"such as gradtx.adamw(1e-3)); got {type(value).__name__} {value!r}. Pass the "
            "transformation, not its factory or its state."
        )


def check_inexact_leaves(fn: str, name: str, tree: Any) -> None:
    """Raise ``TypeError`` at the first integer or boolean leaf of ``tree``.

    An optimizer's step is real-valued: on an integer leaf it could only be cast
    (truncated), so optimizers refuse such leaves instead. ``None`` leaves pass.
    """
    for leaf in jax.tree.leaves(tree):
        dtype = getattr(leaf, "dtype", None)  # arrays and tracers: no conversion
        if not jnp.issubdtype(jnp.result_type(leaf) if dtype is None else dtype, jnp.inexact):
            break
    else:
        return
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        dtype = getattr(leaf, "dtype", None)
        dtype = jnp.result_type(leaf) if dtype is None else dtype
        if not jnp.issubdtype(dtype, jnp.inexact):
            where = jax.tree_util.keystr(path) or "the root"
            raise TypeError(
                f"`{fn}`: the {name} leaf at {where} has dtype {dtype}; optimizers update "
                "floating-point or complex leaves only (a step on an integer or boolean "
                "leaf would be silently cast). Leave such leaves out of the tree (e.g. "
                "eqx.filter(tree, eqx.is_inexact_array)), or route them around the "
                "optimizer with gradtx.masked or gradtx.partition."
            )

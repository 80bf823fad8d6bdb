"""How every optimizer alias is assembled: a chain built from hyperparameters in state."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from gradtx._checks import concrete
from gradtx.base import GradientTransformation, GradientTransformationExtraArgs
from gradtx.wrappers._inject import OptimizerState, _inject


def build_optimizer(
    build: Callable[..., GradientTransformation],
    hyperparams: dict[str, Any],
    **static: Any,
) -> GradientTransformationExtraArgs:
    """Return ``build(**static, **hyperparams)`` with ``hyperparams`` kept in its state.

    ``static`` holds what shapes the program (flags, dtypes, masks); ``hyperparams``
    the numbers (or schedules) that :func:`gradtx.hyperparams` shows and
    :func:`gradtx.set_hyperparams` changes.
    """
    factory = functools.partial(build, **static)
    factory.__name__ = build.__name__  # type: ignore[attr-defined]
    return _inject(factory, tuple(static), None, OptimizerState)(**hyperparams)


def is_zero(value: Any) -> bool:
    """True for a concrete zero (a weight decay that the chain can leave out)."""
    return value is None or concrete(value) == 0.0

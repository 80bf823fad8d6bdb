"""How every optimizer alias is assembled: a chain built from hyperparameters in state."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from gradtx._checks import check_inexact_leaves, concrete
from gradtx._hyperparams import OptimizerState, _inject
from gradtx.base import GradientTransformation, GradientTransformationExtraArgs
from gradtx.combine import chain
from gradtx.transforms import add_decayed_weights, scale_by_learning_rate


def build_optimizer(
    name: str,
    build: Callable[..., GradientTransformation],
    hyperparams: dict[str, Any],
    **static: Any,
) -> GradientTransformationExtraArgs:
    """Return ``build(**static, **hyperparams)`` with ``hyperparams`` kept in its state.

    ``static`` holds what shapes the program (flags, dtypes, masks); ``hyperparams``
    the numbers (or schedules) that :func:`gradtx.hyperparams` shows and
    :func:`gradtx.set_hyperparams` changes. Integers are recorded as floats (every
    optimizer hyperparameter is real-valued). ``name`` is the alias's public name, for
    error messages. Integer and boolean leaves in the params or updates raise
    ``TypeError`` (see :func:`gradtx._checks.check_inexact_leaves`).
    """
    factory = functools.partial(build, **static)
    hps = {
        k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v
        for k, v in hyperparams.items()
    }
    tx = _inject(factory, tuple(static), None, OptimizerState, name)(**hps)

    def init_fn(params: Any) -> Any:
        check_inexact_leaves(f"{name}.init", "params", params)
        return tx.init(params)

    def update_fn(updates: Any, state: Any, params: Any = None, **extra_args: Any) -> Any:
        check_inexact_leaves(f"{name}.update", "updates", updates)
        return tx.update(updates, state, params, **extra_args)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def is_zero(value: Any) -> bool:
    """True for ``None`` or a Python/NumPy zero: a weight decay the chain can leave out.

    An array is never taken for zero, even a concrete one: an enclosing
    ``inject_hyperparams`` passes arrays at init and tracers at update, and both must
    build the same chain.
    """
    if value is None:
        return True
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return float(value) == 0.0
    return False


def is_nonzero(value: Any) -> bool:
    """True for a concrete number other than zero (an array or tracer is not concrete)."""
    v = None if value is None else concrete(value)
    return v is not None and v != 0.0


def then_lr(
    direction: GradientTransformation,
    learning_rate: Any,
    weight_decay: Any = None,
    mask: Any = None,
) -> GradientTransformationExtraArgs:
    """``direction``, then decoupled weight decay (if any), then the learning rate."""
    parts = [direction]
    if weight_decay is not None:
        parts.append(add_decayed_weights(weight_decay, mask))
    parts.append(scale_by_learning_rate(learning_rate))
    return chain(*parts)

"""What a conformance-registry entry is made of (shared by tests/_catalogue_*.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import gradtx


class Tuning(NamedTuple):
    """How an entry is expected to converge (each number tuned, then left with margin).

    Attributes:
      quad_lr, quad_steps: the learning rate and number of steps after which the
        quadratic's loss must be below 1e-3 of its initial value.
      rosen_lr, rosen_steps, rosen_dist: the learning rate (or schedule) and number of
        steps after which the Rosenbrock iterate must lie within ``rosen_dist`` of (1, 1).
    """

    quad_lr: float
    quad_steps: int
    rosen_lr: float | Callable[[Any], Any]
    rosen_steps: int
    rosen_dist: float = 1e-2


def _with_lr(primitive: Callable[..., Any]) -> Callable[..., Any]:
    """``factory(learning_rate, **kwargs) = chain(primitive(**kwargs), -learning_rate)``."""

    def factory(learning_rate, **kwargs):
        return gradtx.chain(primitive(**kwargs), gradtx.scale_by_learning_rate(learning_rate))

    factory.__name__ = primitive.__name__
    return factory

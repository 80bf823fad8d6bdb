"""Run a transformation only on the steps a condition selects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeAlias

import jax
import jax.numpy as jnp

from gradtx._checks import check_transformation
from gradtx._treeutil import tmap
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)
from gradtx.numerics import safe_increment
from gradtx.wrappers._accumulate import cast_tree_like

__all__ = [
    "ConditionFn",
    "ConditionallyMaskState",
    "ConditionallyTransformState",
    "conditionally_mask",
    "conditionally_transform",
]

ConditionFn: TypeAlias = Callable[..., jax.typing.ArrayLike]
"""``fn(step, **extra_args) -> bool``: whether to run the inner transformation at
``step`` (int32, the calls before this one); it receives the update's extra arguments
only with ``forward_extra_args=True``."""


class ConditionallyTransformState(NamedTuple):
    """State of :func:`conditionally_transform` (optax's fields, in its order).

    Attributes:
      inner_state: the wrapped transformation's state (unchanged on skipped steps).
      step: int32, the calls so far (skipped ones included).
    """

    inner_state: Any
    step: jax.Array


class ConditionallyMaskState(NamedTuple):
    """State of :func:`conditionally_mask` (optax's fields, in its order).

    Attributes:
      step: int32, the calls so far (masked ones included).
      inner_state: the wrapped transformation's state (unchanged on masked steps).
    """

    step: jax.Array
    inner_state: Any


def _check(fn: str, inner: Any, should_transform_fn: Any, forward_extra_args: Any) -> None:
    check_transformation(fn, "inner", inner)
    if not callable(should_transform_fn):
        raise TypeError(
            f"`{fn}(should_transform_fn=...)` must be a function of the step count returning "
            f"a bool; got {should_transform_fn!r}."
        )
    if not isinstance(forward_extra_args, bool):
        raise TypeError(
            f"`{fn}(forward_extra_args=...)` must be a bool; got {forward_extra_args=}."
        )


def _conditional(
    fn: str,
    inner: GradientTransformation,
    should_transform_fn: ConditionFn,
    forward_extra_args: bool,
    otherwise: Callable[[Updates], Updates],
) -> tuple[Callable[[Params], Any], Callable[..., tuple[Updates, Any, jax.Array]]]:
    """``init`` and a shared ``step(updates, inner_state, step, params) -> (u, s, step)``."""
    _check(fn, inner, should_transform_fn, forward_extra_args)
    tx = with_extra_args_support(inner)

    def run(
        updates: Updates, inner_state: Any, step: jax.Array, params: Params | None, **extra: Any
    ) -> tuple[Updates, Any, jax.Array]:
        cond = (
            should_transform_fn(step, **extra) if forward_extra_args else should_transform_fn(step)
        )
        cond = jnp.asarray(cond)
        if cond.shape != ():
            raise ValueError(
                f"`{fn}(should_transform_fn=...)` must return a scalar bool; "
                f"got shape {cond.shape}."
            )

        def yes(_: Any) -> tuple[Updates, Any]:
            out, new = tx.update(updates, inner_state, params, **extra)
            out = tmap(lambda o, u: jnp.asarray(o).astype(u.dtype), out, updates)
            return out, cast_tree_like(new, inner_state)

        def no(_: Any) -> tuple[Updates, Any]:
            return otherwise(updates), inner_state

        out, new = jax.lax.cond(cond.astype(bool), yes, no, None)
        return out, new, safe_increment(step)

    return tx.init, run


def conditionally_transform(
    inner: GradientTransformation,
    should_transform_fn: ConditionFn,
    forward_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Apply ``inner`` on the steps ``should_transform_fn`` selects; pass updates through
    unchanged on the others.

    Rule, at call :math:`t = 0, 1, \\dots`: :math:`u \\leftarrow T(u)` if
    ``should_transform_fn(t)`` else :math:`u` (and ``inner``'s state is left as it was).

    Args:
      inner: the transformation :math:`T`.
      should_transform_fn: ``fn(step) -> bool`` (a scalar array under jit).
      forward_extra_args: also hand the update's extra keyword arguments to
        ``should_transform_fn`` (they always go to ``inner``).

    Returns:
      A transformation with :class:`ConditionallyTransformState`.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.conditionally_transform(gradtx.scale(10.0), lambda step: step >= 1)
      >>> s = tx.init(jnp.zeros(1))
      >>> u0, s = tx.update(jnp.ones(1), s)
      >>> u1, s = tx.update(jnp.ones(1), s)
      >>> u0, u1
      (Array([1.], dtype=float32), Array([10.], dtype=float32))
    """
    init, run = _conditional(
        "conditionally_transform", inner, should_transform_fn, forward_extra_args, lambda u: u
    )

    def init_fn(params: Params) -> ConditionallyTransformState:
        return ConditionallyTransformState(init(params), jnp.zeros([], jnp.int32))

    def update_fn(
        updates: Updates,
        state: ConditionallyTransformState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, ConditionallyTransformState]:
        out, inner_state, step = run(updates, state.inner_state, state.step, params, **extra_args)
        return out, ConditionallyTransformState(inner_state, step)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def conditionally_mask(
    inner: GradientTransformation,
    should_transform_fn: ConditionFn,
    forward_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Apply ``inner`` on the steps ``should_transform_fn`` selects; emit zeros on the others.

    Rule, at call :math:`t = 0, 1, \\dots`: :math:`u \\leftarrow T(u)` if
    ``should_transform_fn(t)`` else :math:`0` (and ``inner``'s state is left as it was).

    Args:
      inner: the transformation :math:`T`.
      should_transform_fn: ``fn(step) -> bool`` (a scalar array under jit).
      forward_extra_args: also hand the update's extra keyword arguments to
        ``should_transform_fn`` (they always go to ``inner``).

    Returns:
      A transformation with :class:`ConditionallyMaskState`.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.conditionally_mask(gradtx.sgd(0.5), lambda step: step % 2 == 1)
      >>> s = tx.init(jnp.zeros(1))
      >>> u0, s = tx.update(jnp.ones(1), s)
      >>> u1, s = tx.update(jnp.ones(1), s)
      >>> u0, u1
      (Array([0.], dtype=float32), Array([-0.5], dtype=float32))
    """
    init, run = _conditional(
        "conditionally_mask",
        inner,
        should_transform_fn,
        forward_extra_args,
        lambda u: tmap(jnp.zeros_like, u),
    )

    def init_fn(params: Params) -> ConditionallyMaskState:
        return ConditionallyMaskState(jnp.zeros([], jnp.int32), init(params))

    def update_fn(
        updates: Updates,
        state: ConditionallyMaskState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, ConditionallyMaskState]:
        out, inner_state, step = run(updates, state.inner_state, state.step, params, **extra_args)
        return out, ConditionallyMaskState(step, inner_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)

"""The protocol every gradient transformation follows.

A gradient transformation is a pair of pure functions over pytrees::

    init(params) -> state
    update(updates, state, params=None, **extra_args) -> (updates, state)

held in a :class:`GradientTransformation` NamedTuple. Nothing in this module keeps
state of its own; everything a transformation remembers lives in ``state``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeAlias

import jax
import jax.numpy as jnp

Params: TypeAlias = Any
"""A pytree of parameters (arrays)."""
Updates: TypeAlias = Any
"""A pytree of updates with the structure of the parameters."""
OptState: TypeAlias = Any
"""A pytree holding a transformation's state."""
Schedule: TypeAlias = Callable[[jax.typing.ArrayLike], jax.typing.ArrayLike]
"""A function from the step count (an int32 array) to a value."""
ScalarOrSchedule: TypeAlias = "float | jax.Array | Schedule"
"""A hyperparameter that is a number, an array or a schedule."""


class TransformInitFn(Protocol):
    """The ``init`` half of a transformation: ``init(params) -> state``."""

    def __call__(self, params: Params) -> OptState: ...


class TransformUpdateFn(Protocol):
    """The ``update`` half: ``update(updates, state, params=None) -> (updates, state)``."""

    def __call__(
        self, updates: Updates, state: OptState, params: Params | None = None
    ) -> tuple[Updates, OptState]: ...


class TransformUpdateExtraArgsFn(Protocol):
    """An ``update`` that also takes keyword-only extra arguments (``value=``, ...)."""

    def __call__(
        self,
        updates: Updates,
        state: OptState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, OptState]: ...


class GradientTransformation(NamedTuple):
    """A pair of pure functions ``(init, update)`` that transforms gradients.

    Attributes:
      init: ``init(params) -> state``; builds the initial state from the parameters
        (or from ``jax.ShapeDtypeStruct`` leaves with their shapes and dtypes).
      update: ``update(updates, state, params=None) -> (updates, state)``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.sgd(learning_rate=0.1)
      >>> params = {"w": jnp.ones(3)}
      >>> state = tx.init(params)
      >>> updates, state = tx.update({"w": jnp.ones(3)}, state, params)
      >>> gradtx.apply_updates(params, updates)["w"]
      Array([0.9, 0.9, 0.9], dtype=float32)
    """

    init: TransformInitFn
    update: TransformUpdateFn


class GradientTransformationExtraArgs(GradientTransformation):
    """A :class:`GradientTransformation` whose ``update`` accepts ``**extra_args``.

    Every transformation in gradtx has this type: its ``update`` ignores the extra
    keyword arguments it does not use, so a chain can hand ``value=`` or
    ``value_fn=`` to the one member that needs it.
    """

    update: TransformUpdateExtraArgsFn


class EmptyState(NamedTuple):
    """The state of a transformation that keeps none."""


def _extra_arg_names(update: Callable[..., Any]) -> frozenset[str] | None:
    """Names of the keyword arguments ``update`` takes beyond its first three.

    ``None`` means any (it has ``**kwargs``).
    """
    try:
        sig = inspect.signature(update)
    except (TypeError, ValueError):
        return frozenset()
    params = list(sig.parameters.values())
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    usual = {"updates", "state", "params"}
    return frozenset(
        p.name
        for i, p in enumerate(params)
        if i >= 3 and p.name not in usual and p.kind is not inspect.Parameter.VAR_POSITIONAL
    )


def with_extra_args_support(tx: GradientTransformation) -> GradientTransformationExtraArgs:
    """Return ``tx`` with an ``update`` that accepts and ignores extra keyword args.

    Args:
      tx: a transformation, possibly one whose ``update`` takes only
        ``(updates, state, params)`` (for example one written for optax).

    Returns:
      A :class:`GradientTransformationExtraArgs`; ``tx`` itself when it already is one.
      An ``update`` that declares some keyword arguments by name (``value=``) but no
      ``**kwargs`` receives those and no others.

    Example:
      >>> import gradtx
      >>> plain = gradtx.GradientTransformation(
      ...     lambda p: gradtx.EmptyState(), lambda u, s, p=None: (u, s))
      >>> tx = gradtx.with_extra_args_support(plain)
      >>> tx.update(1.0, gradtx.EmptyState(), None, value=3.0)[0]
      1.0
    """
    if isinstance(tx, GradientTransformationExtraArgs):
        return tx
    if not isinstance(tx, tuple) or len(tx) != 2 or not all(callable(f) for f in tx):
        raise TypeError(
            "with_extra_args_support(tx) expects a GradientTransformation (init, update); "
            f"got {type(tx).__name__}."
        )
    init, update = tx
    accepted = _extra_arg_names(update)
    if accepted is None:
        return GradientTransformationExtraArgs(init, update)

    def update_fn(updates, state, params=None, **extra_args):
        # Hand over the extra arguments it declares by name; drop the rest.
        kept = {k: v for k, v in extra_args.items() if k in accepted}
        return update(updates, state, params, **kept)

    return GradientTransformationExtraArgs(init, update_fn)


def identity() -> GradientTransformationExtraArgs:
    """Return the transformation that leaves updates unchanged.

    Update rule: :math:`u \\leftarrow u`.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.identity()
      >>> tx.update(jnp.array([1.0, -2.0]), tx.init(None))[0]
      Array([ 1., -2.], dtype=float32)
    """

    def init_fn(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        return updates, state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def set_to_zero() -> GradientTransformationExtraArgs:
    """Return the transformation that replaces every update with zeros.

    Update rule: :math:`u \\leftarrow 0`. Used to freeze parameters (inside
    ``partition``), it keeps no state.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.set_to_zero()
      >>> tx.update(jnp.array([1.0, -2.0]), tx.init(None))[0]
      Array([0., 0.], dtype=float32)
    """

    def init_fn(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        return jax.tree.map(jnp.zeros_like, updates), state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def stateless(
    f: Callable[[Updates, Params | None], Updates],
) -> GradientTransformationExtraArgs:
    """Build a transformation without state from ``f(updates, params) -> updates``.

    Args:
      f: a function of the whole updates tree and the params tree (which may be
        ``None``) returning the new updates tree.

    Returns:
      A transformation whose state is :class:`EmptyState`.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> halve = gradtx.stateless(lambda u, p: jax.tree.map(lambda x: x / 2, u))
      >>> halve.update(jnp.array([2.0]), halve.init(None))[0]
      Array([1.], dtype=float32)
    """

    def init_fn(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        return f(updates, params), state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def stateless_with_tree_map(
    f: Callable[[jax.Array, jax.Array | None], jax.Array],
) -> GradientTransformationExtraArgs:
    """Build a stateless transformation applying ``f(update, param)`` leaf by leaf.

    ``None`` leaves of the updates are left as they are.

    Args:
      f: a function of one update leaf and its parameter leaf (``None`` when the
        update is called without params).

    Returns:
      A transformation whose state is :class:`EmptyState`.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> neg = gradtx.stateless_with_tree_map(lambda g, p: -g)
      >>> neg.update({"a": jnp.array(1.0)}, neg.init(None))[0]
      {'a': Array(-1., dtype=float32, weak_type=True)}
    """

    def apply(updates, params):
        if params is None:
            return jax.tree.map(lambda u: None if u is None else f(u, None), updates)
        return jax.tree.map(
            lambda u, p: None if u is None else f(u, p),
            updates,
            params,
            is_leaf=lambda x: x is None,
        )

    return stateless(apply)

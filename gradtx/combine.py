"""Chaining transformations one after another."""

from __future__ import annotations

from typing import Any

from gradtx._structure import TreeMismatchError, diagnose_update
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)

__all__ = ["chain", "named_chain"]


def _check_state(fn: str, state: Any, expected: int, kind: type) -> None:
    if not isinstance(state, kind) or len(state) != expected:
        got = f"a {type(state).__name__}" + (
            f" of length {len(state)}" if isinstance(state, (tuple, dict)) else ""
        )
        raise ValueError(
            f"`{fn}.update`: the state must be the {kind.__name__} of {expected} inner "
            f"states that this {fn}'s init returned; got {got}. Was it made by another "
            "optimizer?"
        )


def chain(*args: GradientTransformation) -> GradientTransformationExtraArgs:
    """Apply transformations one after another; the state is the tuple of their states.

    Update rule: :math:`u \\leftarrow T_n(\\cdots T_2(T_1(u)))`. Extra keyword
    arguments (``value=``, ...) reach every member; members written for optax without
    ``**extra_args`` are wrapped by :func:`with_extra_args_support`.

    Args:
      *args: the transformations, applied in order.

    Returns:
      The chained transformation.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.chain(gradtx.clip(1.0), gradtx.scale(-0.1))
      >>> tx.update(jnp.array([5.0, -0.5]), tx.init(None))[0]
      Array([-0.1 ,  0.05], dtype=float32)
    """
    for i, tx in enumerate(args):
        if not (isinstance(tx, tuple) and len(tx) == 2 and all(callable(f) for f in tx)):
            raise TypeError(
                f"`chain(...)`: argument {i} must be a GradientTransformation (init, update); "
                f"got {type(tx).__name__}."
            )
    txs = tuple(with_extra_args_support(tx) for tx in args)

    def init_fn(params: Params) -> tuple[Any, ...]:
        return tuple(tx.init(params) for tx in txs)

    def update_fn(
        updates: Updates, state: tuple[Any, ...], params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, tuple[Any, ...]]:
        _check_state("chain", state, len(txs), tuple)
        new_state = []
        for i, (tx, s) in enumerate(zip(txs, state, strict=True)):
            try:
                updates, s = tx.update(updates, s, params, **extra_args)
            except TreeMismatchError:
                raise  # already explained by a nested chain
            except (ValueError, TypeError, AttributeError) as err:
                # Only on failure (an AttributeError: a state of another type lacks a
                # field): name the paths where updates, params and state part.
                why = diagnose_update(f"chain.update (member {i})", tx.init, updates, s, params)
                if why is None:
                    raise
                raise TreeMismatchError(why) from err
            new_state.append(s)
        return updates, tuple(new_state)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def named_chain(*args: tuple[str, GradientTransformation]) -> GradientTransformationExtraArgs:
    """Like :func:`chain`, with the inner states in a dict keyed by the given names.

    Args:
      *args: ``(name, transformation)`` pairs with distinct names.

    Returns:
      The chained transformation; its state is ``{name: inner_state}``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.named_chain(("clip", gradtx.clip(1.0)), ("lr", gradtx.scale(-0.1)))
      >>> sorted(tx.init(None))
      ['clip', 'lr']
    """
    names = [a[0] if isinstance(a, tuple) and len(a) == 2 else None for a in args]
    if any(not isinstance(n, str) for n in names):
        raise TypeError("`named_chain(...)` takes (name: str, transformation) pairs.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"`named_chain(...)`: names must be distinct; repeated: {dupes}.")
    inner = chain(*(tx for _, tx in args))

    def init_fn(params: Params) -> dict[str, Any]:
        return dict(zip(names, inner.init(params), strict=True))

    def update_fn(
        updates: Updates, state: dict[str, Any], params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, dict[str, Any]]:
        _check_state("named_chain", state, len(names), dict)
        missing = [n for n in names if n not in state]
        if missing:
            raise ValueError(
                f"`named_chain.update`: the state lacks {missing}; it has {sorted(state)}."
            )
        updates, new = inner.update(updates, tuple(state[n] for n in names), params, **extra_args)
        return updates, dict(zip(names, new, strict=True))

    return GradientTransformationExtraArgs(init_fn, update_fn)

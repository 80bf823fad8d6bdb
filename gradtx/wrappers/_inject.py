"""Hyperparameters kept in the state: read them, change them, sweep them.

Every optimizer alias in gradtx is built with :func:`inject_hyperparams`, so its
numeric hyperparameters (the learning rate after its schedule, betas, weight decay...)
are float32 arrays in its state. Changing one changes an array, not the program: a
jitted step does not retrace, and ``jax.vmap`` over a hyperparameter is one program.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.base import GradientTransformation, GradientTransformationExtraArgs, Params, Updates
from gradtx.numerics import safe_increment

__all__ = [
    "HyperparamsDict",
    "InjectHyperparamsState",
    "OptimizerState",
    "hyperparams",
    "inject_hyperparams",
    "set_hyperparams",
]


class HyperparamsDict(dict):
    """A dict of hyperparameter arrays that remembers which ones follow a schedule.

    It is a plain ``dict`` for reading (``state.hyperparams["learning_rate"]``) and a
    pytree whose static part is the set of scheduled names (and of the names an
    enclosing :func:`inject_hyperparams` supplies at every step), so that knowledge
    survives ``jax.jit``, ``jax.tree.map`` and checkpoint round trips of the arrays.
    """

    scheduled: frozenset[str]
    external: frozenset[str]

    def __init__(
        self, values: Any = (), scheduled: Iterable[str] = (), external: Iterable[str] = ()
    ) -> None:
        super().__init__(values)
        self.scheduled = frozenset(scheduled)
        self.external = frozenset(external)

    def __repr__(self) -> str:
        return f"HyperparamsDict({dict.__repr__(self)})"


def _hp_aux(d: HyperparamsDict) -> tuple[Any, ...]:
    return tuple(sorted(d)), d.scheduled, d.external


def _hp_unflatten(aux: tuple[Any, ...], children: Any) -> HyperparamsDict:
    keys, scheduled, external = aux
    return HyperparamsDict(dict(zip(keys, children, strict=True)), scheduled, external)


jax.tree_util.register_pytree_with_keys(
    HyperparamsDict,
    lambda d: ([(jax.tree_util.DictKey(k), d[k]) for k in sorted(d)], _hp_aux(d)),
    _hp_unflatten,
    flatten_func=lambda d: ([d[k] for k in sorted(d)], _hp_aux(d)),
)


class InjectHyperparamsState(NamedTuple):
    """State of :func:`inject_hyperparams`.

    Attributes:
      count: int32 number of updates so far; schedules are evaluated at it.
      hyperparams: the hyperparameters the last update used (at init: the values
        the first update will use), as arrays.
      inner_state: the state of the wrapped transformation.
    """

    count: jax.Array
    hyperparams: HyperparamsDict
    inner_state: Any


class OptimizerState(NamedTuple):
    """State of every gradtx optimizer alias (``sgd``, ``adam``, ...).

    The same as :class:`InjectHyperparamsState` with its counter named ``step``, so that
    ``gradtx.tree.get(state, "count")`` still finds the single count of the inner
    transformations, as in optax.

    Attributes:
      step: int32 number of updates so far; schedules are evaluated at it.
      hyperparams: the hyperparameters the last update used, float32 arrays.
      inner_state: the state of the chain of primitives.
    """

    step: jax.Array
    hyperparams: HyperparamsDict
    inner_state: Any


_STATE_TYPES = (InjectHyperparamsState, OptimizerState)


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, complex, np.number)):
        return True
    return isinstance(value, (jax.Array, np.ndarray))


def _is_schedule(value: Any) -> bool:
    # Dtypes (``jnp.bfloat16``) and classes are callable but are not schedules.
    return callable(value) and not isinstance(value, (type, np.dtype))


def _to_array(value: Any, dtype: Any) -> jax.Array:
    arr = jnp.asarray(value)
    if dtype is not None and jnp.issubdtype(arr.dtype, jnp.floating):
        return arr.astype(dtype)
    if dtype is None and jnp.issubdtype(arr.dtype, jnp.floating):
        return arr.astype(jnp.float32)
    return arr


def inject_hyperparams(
    inner_factory: Callable[..., GradientTransformation],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: Any = None,
) -> Callable[..., GradientTransformationExtraArgs]:
    """Wrap a transformation factory so its numeric hyperparameters live in the state.

    Each numeric argument (a number or array) of ``inner_factory`` becomes an array in
    ``state.hyperparams``; each callable argument is a schedule evaluated at the step
    count before every update and stored there too. Booleans, strings, ``None`` and
    the names in ``static_args`` stay static. The wrapper rebuilds the inner
    transformation from the stored values at every update, so changing a stored value
    changes the next update without retracing.

    Args:
      inner_factory: a function returning a transformation, e.g. ``gradtx.adam``.
      static_args: names of arguments to keep out of the state.
      hyperparam_dtype: the dtype of floating hyperparameters; float32 when ``None``
        (whatever the parameters' dtype).

    Returns:
      A factory with the signature of ``inner_factory`` returning a transformation with
      :class:`InjectHyperparamsState`.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.inject_hyperparams(gradtx.scale_by_adam)(b1=0.8)
      >>> state = tx.init({"w": jnp.zeros(2)})
      >>> float(state.hyperparams["b1"])
      0.800000011920929
    """
    return _inject(inner_factory, static_args, hyperparam_dtype, InjectHyperparamsState)


def _inject(
    inner_factory: Callable[..., GradientTransformation],
    static_args: str | Iterable[str],
    hyperparam_dtype: Any,
    state_cls: type,
) -> Callable[..., GradientTransformationExtraArgs]:
    if isinstance(static_args, str):
        static_args = (static_args,)
    static_args = frozenset(static_args)
    sig = inspect.signature(inner_factory)
    unknown = sorted(n for n in static_args if n not in sig.parameters)
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        raise ValueError(
            f"`inject_hyperparams(static_args=...)`: {unknown} are not arguments of "
            f"{getattr(inner_factory, '__name__', inner_factory)}{sig}."
        )

    @functools.wraps(inner_factory)
    def wrapped(*args: Any, **kwargs: Any) -> GradientTransformationExtraArgs:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = sig.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                arguments.update(value)
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                raise TypeError("`inject_hyperparams` cannot wrap a factory taking *args.")
            else:
                arguments[name] = value
        static = {k: v for k, v in arguments.items() if k in static_args}
        numeric = {k: v for k, v in arguments.items() if k not in static_args and _is_numeric(v)}
        schedules = {
            k: v
            for k, v in arguments.items()
            if k not in static_args and k not in numeric and _is_schedule(v)
        }
        other = {k: v for k, v in arguments.items() if k not in numeric and k not in schedules}
        other.update(static)
        dtype = hyperparam_dtype

        def values_at(count: jax.Array, stored: dict[str, Any]) -> HyperparamsDict:
            out = dict(stored)
            for k, s in schedules.items():
                out[k] = _to_array(s(count), dtype)
            return HyperparamsDict(out, schedules)

        def build(hps: dict[str, Any]) -> GradientTransformationExtraArgs:
            return GradientTransformationExtraArgs(*inner_factory(**other, **hps))

        def init_fn(params: Params) -> Any:
            count = jnp.zeros([], jnp.int32)
            hps = values_at(count, {k: _to_array(v, dtype) for k, v in numeric.items()})
            inner = build(hps)
            return state_cls(count, hps, _strip_nested(inner.init(params), hps))

        def update_fn(
            updates: Updates,
            state: Any,
            params: Params | None = None,
            **extra_args: Any,
        ) -> tuple[Updates, Any]:
            if not isinstance(state, state_cls):
                raise ValueError(
                    f"`{getattr(inner_factory, '__name__', 'inject_hyperparams')}.update`: "
                    f"expected the {state_cls.__name__} its init returned; got "
                    f"{type(state).__name__}. Was the state made by another optimizer?"
                )
            count = state[0]
            hps = values_at(count, state.hyperparams)
            inner = build(hps)
            inner_updates, inner_state = inner.update(
                updates, _override_nested(state.inner_state, hps), params, **extra_args
            )
            inner_state = _strip_nested(inner_state, hps)
            return inner_updates, state_cls(safe_increment(count), hps, inner_state)

        return GradientTransformationExtraArgs(init_fn, update_fn)

    return wrapped


def _strip_nested(inner_state: Any, hps: dict[str, Any]) -> Any:
    """Drop from a nested gradtx optimizer's state the values the outer wrapper owns.

    ``inject_hyperparams(gradtx.adam)(learning_rate=schedule)`` rebuilds ``adam`` with
    the outer values at every step, so ``adam``'s own state need not (and must not, for
    ``gradtx.tree.get(state, "learning_rate")`` to find one value) keep a copy: the
    names are marked ``external`` and put back by :func:`_override_nested` before each
    inner update.
    """
    if not isinstance(inner_state, _STATE_TYPES):
        return inner_state
    inner_hps = inner_state.hyperparams
    owned = {k for k in hps if k in inner_hps and k not in inner_hps.scheduled}
    if not owned:
        return inner_state
    rest = {k: v for k, v in inner_hps.items() if k not in owned}
    stripped = HyperparamsDict(rest, inner_hps.scheduled, inner_hps.external | owned)
    return inner_state._replace(hyperparams=stripped)


def _override_nested(inner_state: Any, hps: dict[str, Any]) -> Any:
    """Put the outer values back into a nested optimizer's state for its update."""
    if not isinstance(inner_state, _STATE_TYPES) or not inner_state.hyperparams.external:
        return inner_state
    inner_hps = inner_state.hyperparams
    full = dict(inner_hps)
    full.update({k: hps[k] for k in inner_hps.external})
    return inner_state._replace(hyperparams=HyperparamsDict(full, inner_hps.scheduled))


def _hyperparam_nodes(state: Any) -> list[tuple[str, Any, frozenset[str]]]:
    """Every hyperparameter-holding state in ``state``: (path, node, names it owns).

    A name recorded by an enclosing node is owned by that node (the outer one feeds
    the inner one at every step), so the inner node does not own it.
    """
    found: list[tuple[str, Any, frozenset[str]]] = []

    def visit(node: Any, path: tuple[Any, ...], shadowed: frozenset[str] = frozenset()) -> None:
        if isinstance(node, _STATE_TYPES):
            owned = frozenset(node.hyperparams) - shadowed
            found.append((jax.tree_util.keystr(path), node, owned))
            shadowed = shadowed | owned
        children, _ = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)
        if len(children) == 1 and children[0][0] == ():
            return
        for sub, child in children:
            if child is not None:
                visit(child, path + sub, shadowed)

    visit(state, ())
    return found


def hyperparams(state: Any) -> dict[str, jax.Array]:
    """Return the current hyperparameters recorded in an optimizer state.

    A scheduled hyperparameter shows the value its schedule gave the last update
    (before any update: the value the first update will use).

    Args:
      state: the state of a gradtx optimizer, or of anything containing one
        (a chain, a wrapper).

    Returns:
      A dict from name to float32 scalar array, e.g. ``{"learning_rate": ..., "b1": ...}``.

    Raises:
      ValueError: when the state holds no hyperparameters, or when two optimizers in
        it record the same name (read them with ``gradtx.tree.get_all_with_path``).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> state = gradtx.adam(1e-3).init({"w": jnp.zeros(2)})
      >>> {k: f"{float(v):.3g}" for k, v in gradtx.hyperparams(state).items()}
      {'b1': '0.9', 'b2': '0.999', 'eps': '1e-08', 'eps_root': '0', 'learning_rate': '0.001'}
    """
    nodes = _hyperparam_nodes(state)
    if not nodes:
        raise ValueError(
            "`gradtx.hyperparams(state)`: the state records no hyperparameters; build the "
            "optimizer with a gradtx alias or wrap its factory with gradtx.inject_hyperparams."
        )
    merged: dict[str, jax.Array] = {}
    where: dict[str, str] = {}
    for path, node, owned in nodes:
        for k, v in node.hyperparams.items():
            if k not in owned:
                continue
            if k in merged:
                raise ValueError(
                    f"`gradtx.hyperparams(state)`: {k!r} is recorded at {where[k] or 'the top'}"
                    f" and at {path}; read them with "
                    f"gradtx.tree.get_all_with_path(state, {k!r})."
                )
            merged[k] = v
            where[k] = path
    return dict(sorted(merged.items()))


def set_hyperparams(state: Any, **values: Any) -> Any:
    """Return a copy of ``state`` whose next update uses the given hyperparameters.

    Only arrays change, so a jitted step does not retrace; the values are cast to the
    stored dtype (float32 by default).

    Args:
      state: the state of a gradtx optimizer (or of anything containing exactly one
        optimizer recording each given name).
      **values: ``name=value`` pairs; each value a scalar (or an array of the stored
        shape, e.g. a tracer under ``jax.vmap``).

    Returns:
      The new state.

    Raises:
      ValueError: for an unknown name (the message lists the known ones), a name
        recorded by several optimizers, a name that follows a schedule (its value is
        recomputed at every step), or a value of the wrong shape.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> state = gradtx.sgd(0.1).init({"w": jnp.zeros(2)})
      >>> state = gradtx.set_hyperparams(state, learning_rate=0.05)
      >>> float(gradtx.hyperparams(state)["learning_rate"])
      0.05000000074505806
    """
    nodes = _hyperparam_nodes(state)
    known = sorted({k for _, _, owned in nodes for k in owned})
    owners: dict[str, list[str]] = {}
    for name in values:
        owners[name] = [p for p, _, owned in nodes if name in owned]
        if not owners[name]:
            raise ValueError(
                f"`gradtx.set_hyperparams`: the state has no hyperparameter {name!r}; "
                f"it has {known}."
            )
        if len(owners[name]) > 1:
            raise ValueError(
                f"`gradtx.set_hyperparams`: {name!r} is recorded at {owners[name]}; set one "
                "with gradtx.tree.set(state, filtering, ...)."
            )

    def replace(node: Any) -> Any:
        if not isinstance(node, _STATE_TYPES):
            return node
        hps = node.hyperparams
        new = dict(hps)
        for name, value in values.items():
            if name not in hps:
                continue
            if name in hps.scheduled:
                raise ValueError(
                    f"`gradtx.set_hyperparams`: {name!r} follows a schedule, which sets it "
                    "anew at every step; build the optimizer with a number (or a new "
                    "schedule) to control it by hand."
                )
            old = jnp.asarray(hps[name])
            value = jnp.asarray(value)
            if value.shape != old.shape:
                raise ValueError(
                    f"`gradtx.set_hyperparams`: {name!r} must have shape {old.shape}; got "
                    f"{value.shape}."
                )
            if jnp.issubdtype(old.dtype, jnp.integer) and not jnp.issubdtype(
                value.dtype, jnp.integer
            ):
                raise ValueError(
                    f"`gradtx.set_hyperparams`: {name!r} is an integer hyperparameter; got "
                    f"a {value.dtype} value."
                )
            new[name] = value.astype(old.dtype)
        return node._replace(
            hyperparams=HyperparamsDict(new, hps.scheduled, hps.external),
            inner_state=replace_all(node.inner_state),
        )

    def replace_all(tree: Any) -> Any:
        return jax.tree.map(replace, tree, is_leaf=lambda x: isinstance(x, _STATE_TYPES))

    return replace_all(state)

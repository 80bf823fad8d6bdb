"""Hyperparameters kept in the state: read them, change them, sweep them.

Every optimizer alias in gradtx is built with :func:`inject_hyperparams`, so its
numeric hyperparameters (the learning rate after its schedule, betas, weight decay...)
are arrays in its state (float32, or float64 with ``jax_enable_x64``). Changing one
changes an array, not the program: a jitted step does not retrace, and ``jax.vmap``
over a hyperparameter is one program.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx._checks import check_range, concrete
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
    enclosing :func:`inject_hyperparams` supplies at every step) and the name of the
    optimizer that made it (``owner``), so that knowledge survives ``jax.jit``,
    ``jax.tree.map`` and checkpoint round trips of the arrays. ``owner`` lets an update
    refuse the state of another optimizer whose state has the same fields (``acprop``'s
    state passed to ``adabelief``).
    """

    scheduled: frozenset[str]
    external: frozenset[str]
    owner: str | None

    def __init__(
        self,
        values: Any = (),
        scheduled: Iterable[str] = (),
        external: Iterable[str] = (),
        owner: str | None = None,
    ) -> None:
        super().__init__(values)
        self.scheduled = frozenset(scheduled)
        self.external = frozenset(external)
        self.owner = owner

    def __repr__(self) -> str:
        return f"HyperparamsDict({dict.__repr__(self)})"


def _hp_aux(d: HyperparamsDict) -> tuple[Any, ...]:
    return tuple(sorted(d)), d.scheduled, d.external, d.owner


def _hp_unflatten(aux: tuple[Any, ...], children: Any) -> HyperparamsDict:
    keys, scheduled, external, owner = aux
    return HyperparamsDict(dict(zip(keys, children, strict=True)), scheduled, external, owner)


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
        the first update will use), as arrays. As in optax, the next update uses these
        stored values: assigning ``state.hyperparams["learning_rate"] = x`` changes it.
      inner_state: the state of the wrapped transformation.
    """

    count: jax.Array
    hyperparams: HyperparamsDict
    inner_state: Any


class OptimizerState(NamedTuple):
    """State of every gradtx optimizer alias (``sgd``, ``adam``, ...).

    Like :class:`InjectHyperparamsState`, with its counter named ``step`` (so that
    ``gradtx.tree.get(state, "count")`` still finds the single count of the inner
    transformations, as in optax) and with a record of which values were set by hand.

    Attributes:
      step: int32 number of updates so far; schedules are evaluated at it.
      hyperparams: the hyperparameters the last update used (before any update: the
        values the first update will use), as arrays in JAX's default float dtype.
      inner_state: the state of the chain of primitives.
      overrides: a boolean vector, one entry per numeric hyperparameter in sorted order:
        ``True`` where :func:`set_hyperparams` set the value, which then wins over the
        value the optimizer was built with. Elsewhere the built value is used, so an
        optimizer rebuilt with a new learning rate takes it up even with an old state,
        as in optax.
    """

    step: jax.Array
    hyperparams: HyperparamsDict
    inner_state: Any
    overrides: jax.Array


_STATE_TYPES = (InjectHyperparamsState, OptimizerState)


def register_state_type(cls: type) -> None:
    """Let :func:`hyperparams` and :func:`set_hyperparams` read and set states of ``cls``.

    ``cls`` is a NamedTuple with a ``hyperparams`` field (a :class:`HyperparamsDict`) and
    an ``inner_state`` field, as ``inject_stateful_hyperparams`` builds (private helper).
    """
    global _STATE_TYPES
    if cls not in _STATE_TYPES:
        _STATE_TYPES = (*_STATE_TYPES, cls)


def bind_arguments(
    wrapper: str, sig: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The factory's arguments by name, defaults filled in and ``**kwargs`` spread out."""
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    arguments: dict[str, Any] = {}
    for arg, value in bound.arguments.items():
        kind = sig.parameters[arg].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            arguments.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            raise TypeError(f"`{wrapper}` cannot wrap a factory taking *args.")
        else:
            arguments[arg] = value
    return arguments


def holds_hyperparams(node: Any) -> bool:
    """Whether ``node`` is a state that records hyperparameters (any registered type).

    Modules outside this one call this rather than importing ``_STATE_TYPES``, which
    :func:`register_state_type` rebinds.
    """
    return isinstance(node, _STATE_TYPES)


def _is_numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, complex, np.number)):
        return True
    return isinstance(value, (jax.Array, np.ndarray))


def _is_schedule(value: Any) -> bool:
    # Dtypes (``jnp.bfloat16``) and classes are callable but are not schedules.
    return callable(value) and not isinstance(value, (type, np.dtype))


def _is_mask_name(name: str) -> bool:
    # A mask may be a function of the params: never a schedule, never a number.
    return name == "mask" or name.endswith("_mask")


def _to_array(value: Any, dtype: Any) -> jax.Array:
    """``value`` as a non-weak array; floats in ``dtype`` (JAX's default float if None)."""
    arr = jnp.asarray(value)
    if jnp.issubdtype(arr.dtype, jnp.floating):
        return jnp.asarray(arr, dtype or jnp.result_type(float))
    return jnp.asarray(arr, arr.dtype)


def _meta(hps: Any) -> tuple[frozenset[str], frozenset[str]]:
    """The (scheduled, external) names of a hyperparams dict, checked."""
    if not isinstance(hps, HyperparamsDict):
        raise ValueError(
            "gradtx: the state's `hyperparams` is a plain "
            f"{type(hps).__name__}, not a HyperparamsDict; a checkpoint restore lost its "
            "structure. Restore into the structure of `tx.init(params)` (for example "
            "with jax.tree.unflatten(jax.tree.structure(template), leaves))."
        )
    return hps.scheduled, hps.external


def inject_hyperparams(
    inner_factory: Callable[..., GradientTransformation],
    static_args: str | Iterable[str] = (),
    hyperparam_dtype: Any = None,
) -> Callable[..., GradientTransformationExtraArgs]:
    """Wrap a transformation factory so its numeric hyperparameters live in the state.

    Each numeric argument (a number or array) of ``inner_factory`` becomes an array in
    ``state.hyperparams``; each callable argument is a schedule evaluated at the step
    count before every update and stored there too. Booleans, strings, ``None``, masks
    (arguments named ``mask`` or ``*_mask``) and the names in ``static_args`` stay
    static. The wrapper rebuilds the inner transformation from the stored values at
    every update, so changing a stored value changes the next update without retracing.

    Args:
      inner_factory: a function returning a transformation, e.g. ``gradtx.adam``.
      static_args: names of arguments to keep out of the state.
      hyperparam_dtype: the dtype of floating hyperparameters; when ``None``, JAX's
        default float dtype (float32, or float64 with ``jax_enable_x64``), whatever
        the parameters' dtype.

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
    name = getattr(inner_factory, "__name__", "inject_hyperparams")
    return _inject(inner_factory, static_args, hyperparam_dtype, InjectHyperparamsState, name)


def _inject(
    inner_factory: Callable[..., GradientTransformation],
    static_args: str | Iterable[str],
    hyperparam_dtype: Any,
    state_cls: type,
    name: str,
) -> Callable[..., GradientTransformationExtraArgs]:
    if isinstance(static_args, str):
        static_args = (static_args,)
    static_args = frozenset(static_args)
    sig = inspect.signature(inner_factory)
    unknown = sorted(n for n in static_args if n not in sig.parameters)
    if unknown and not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        raise ValueError(
            f"`inject_hyperparams(static_args=...)`: {unknown} are not arguments of {name}{sig}."
        )
    by_hand = state_cls is OptimizerState  # built values win unless set by hand

    @functools.wraps(inner_factory)
    def wrapped(*args: Any, **kwargs: Any) -> GradientTransformationExtraArgs:
        arguments = bind_arguments("inject_hyperparams", sig, args, kwargs)
        static = {k for k in arguments if k in static_args or _is_mask_name(k)}
        numeric = {k: v for k, v in arguments.items() if k not in static and _is_numeric(v)}
        schedules = {
            k: v
            for k, v in arguments.items()
            if k not in static and k not in numeric and _is_schedule(v)
        }
        other = {k: v for k, v in arguments.items() if k not in numeric and k not in schedules}
        order = sorted(numeric)  # the order of OptimizerState.overrides
        expected = set(numeric) | set(schedules)
        dtype = hyperparam_dtype

        def values_at(state: Any) -> HyperparamsDict:
            stored = state.hyperparams
            _, external = _meta(stored)
            recorded = set(stored) | external
            if stored.owner not in (None, name):
                names = (
                    ""
                    if recorded == expected
                    else (
                        f" (it records the hyperparameters {sorted(recorded)}, this optimizer "
                        f"has {sorted(expected)})"
                    )
                )
                raise ValueError(
                    f"`{name}.update`: the state was made by `{stored.owner}`, not by this "
                    f"optimizer{names}; pass the state that `{name}`'s init returned (or "
                    "restore a checkpoint into it)."
                )
            if recorded != expected:
                raise ValueError(
                    f"`{name}.update`: the state records the hyperparameters "
                    f"{sorted(recorded)} but this optimizer has "
                    f"{sorted(expected)}; was the state made by another optimizer?"
                )
            out = {}
            for i, k in enumerate(order):
                built = _to_array(numeric[k], dtype)
                if k not in stored:
                    out[k] = built  # supplied by an enclosing inject_hyperparams
                    continue
                kept = _to_array(stored[k], dtype)
                out[k] = jax.lax.select(state.overrides[i], kept, built) if by_hand else kept
            for k, s in schedules.items():
                out[k] = _to_array(s(state[0]), dtype)
            return HyperparamsDict(out, schedules, owner=name)

        def build(hps: dict[str, Any]) -> GradientTransformationExtraArgs:
            return GradientTransformationExtraArgs(*inner_factory(**other, **hps))

        def make_state(count, hps, inner_state, overrides):
            inner_state = _strip_nested(inner_state, hps)
            if by_hand:
                return OptimizerState(count, hps, inner_state, overrides)
            return state_cls(count, hps, inner_state)

        def init_fn(params: Params) -> Any:
            count = jnp.zeros([], jnp.int32)
            hps = {k: _to_array(v, dtype) for k, v in numeric.items()}
            hps.update({k: _to_array(s(count), dtype) for k, s in schedules.items()})
            hps = HyperparamsDict(hps, schedules, owner=name)
            overrides = jnp.zeros([len(order)], bool)
            return make_state(count, hps, build(hps).init(params), overrides)

        def update_fn(
            updates: Updates,
            state: Any,
            params: Params | None = None,
            **extra_args: Any,
        ) -> tuple[Updates, Any]:
            if not isinstance(state, state_cls):
                raise ValueError(
                    f"`{name}.update`: expected the {state_cls.__name__} its init returned; "
                    f"got {type(state).__name__}. Was the state made by another optimizer?"
                )
            hps = values_at(state)
            inner_updates, inner_state = build(hps).update(
                updates, state.inner_state, params, **extra_args
            )
            overrides = state.overrides if by_hand else None
            return inner_updates, make_state(safe_increment(state[0]), hps, inner_state, overrides)

        return GradientTransformationExtraArgs(init_fn, update_fn)

    return wrapped


def _strip_nested(inner_state: Any, hps: dict[str, Any]) -> Any:
    """Drop from nested hyperparameter states the values this wrapper supplies.

    ``inject_hyperparams(gradtx.adam)(learning_rate=schedule)`` rebuilds ``adam`` with
    the outer values at every step, so ``adam``'s own state need not (and must not, for
    ``gradtx.tree.get(state, "learning_rate")`` to find one value) keep a copy: the
    names are marked ``external``, and the nested optimizer uses the values it is
    built with for them.
    """

    def strip(node: Any) -> Any:
        if not isinstance(node, _STATE_TYPES):
            return node
        inner_hps = node.hyperparams
        scheduled, external = _meta(inner_hps)
        owned = {k for k in hps if k in inner_hps and k not in scheduled}
        rest = {k: v for k, v in inner_hps.items() if k not in owned}
        node = node._replace(
            hyperparams=HyperparamsDict(rest, scheduled, external | owned, inner_hps.owner)
        )
        return node._replace(inner_state=_strip_nested(node.inner_state, hps))

    return jax.tree.map(strip, inner_state, is_leaf=lambda x: isinstance(x, _STATE_TYPES))


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
      A dict from name to scalar array (float32; float64 with x64), e.g.
      ``{"learning_rate": ..., "b1": ...}``.

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


# Ranges checked when a hyperparameter of one of these names is set to a concrete value.
_RANGES: dict[str, tuple[float, float | None]] = {
    "learning_rate": (0.0, None),
    "weight_decay": (0.0, None),
    "eps": (0.0, None),
    "eps_root": (0.0, None),
    "initial_accumulator_value": (0.0, None),
    "momentum_decay": (0.0, None),
    "b1": (0.0, 1.0),
    "b2": (0.0, 1.0),
    "decay": (0.0, 1.0),
    "momentum": (0.0, 1.0),
    "dampening": (0.0, 1.0),
    "rho": (0.0, 1.0),
}


def _check_value(name: str, value: Any) -> None:
    v = concrete(value)
    if v is None:
        return
    if not np.isfinite(v):
        raise ValueError(f"`gradtx.set_hyperparams`: {name} must be finite; got {name}={v}.")
    if name in _RANGES:
        low, high = _RANGES[name]
        check_range("gradtx.set_hyperparams", name, value, low, high)


def set_hyperparams(state: Any, **values: Any) -> Any:
    """Return a copy of ``state`` whose next update uses the given hyperparameters.

    Only arrays change, so a jitted step does not retrace; the values are cast to the
    stored dtype. In an optimizer alias's state a value set this way wins over the value
    the optimizer was built with (see :class:`OptimizerState`).

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
        recomputed at every step), a value of the wrong shape, or a concrete value out
        of its range (a negative learning rate, a ``b1`` above 1, a NaN).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> state = gradtx.sgd(0.1).init({"w": jnp.zeros(2)})
      >>> state = gradtx.set_hyperparams(state, learning_rate=0.05)
      >>> float(gradtx.hyperparams(state)["learning_rate"])
      0.05000000074505806
    """
    for name, value in values.items():
        _check_value(name, value)
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
            if name in _meta(hps)[0]:
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
            new[name] = jnp.asarray(value, old.dtype)
        node = node._replace(
            hyperparams=HyperparamsDict(new, hps.scheduled, hps.external, hps.owner),
            inner_state=replace_all(node.inner_state),
        )
        if isinstance(node, OptimizerState):
            names = sorted(set(hps) - hps.scheduled | hps.external)
            flags = node.overrides
            for name in values:
                if name in hps:
                    flags = flags.at[names.index(name)].set(True)
            node = node._replace(overrides=flags)
        return node

    def replace_all(tree: Any) -> Any:
        return jax.tree.map(replace, tree, is_leaf=lambda x: isinstance(x, _STATE_TYPES))

    return replace_all(state)

"""One transformation per group of parameters: partition, freeze, selective_transform."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

import jax

from gradtx._checks import check_transformation
from gradtx._paths import broadcast_prefix
from gradtx._structure import check_updates_match_params
from gradtx._treeutil import is_none as _is_none
from gradtx._treeutil import is_tree_function as _is_tree_function
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    set_to_zero,
)
from gradtx.wrappers._masked import MaskedState, _full_mask, masked

__all__ = [
    "MultiTransformState",
    "PartitionState",
    "freeze",
    "multi_transform",
    "partition",
    "selective_transform",
]


class PartitionState(NamedTuple):
    """State of :func:`partition`.

    Attributes:
      inner_states: ``{label: MaskedState}``, one per key of ``transforms``, in their
        order; each holds that transformation's state, built only on the parameters
        with its label (the others are :class:`MaskedNode`).
    """

    inner_states: Mapping[Hashable, MaskedState]


MultiTransformState = PartitionState
"""optax's older name of :class:`PartitionState` (the same class)."""


def _sorted(items: Any) -> list[Any]:
    return sorted(items, key=repr)


def _labels_for(param_labels: Any, tree: Any, keys: list[Hashable], fn: str) -> list[Any]:
    """The label of every leaf of ``tree`` (``None`` leaves included), checked."""
    labels = param_labels(tree) if _is_tree_function(param_labels) else param_labels
    full = broadcast_prefix(labels, tree, fn=fn, what="param_labels")
    treedef = jax.tree.structure(tree, is_leaf=_is_none)
    flat = treedef.flatten_up_to(full)
    leaves = jax.tree_util.tree_flatten_with_path(tree, is_leaf=_is_none)[0]
    unlabelled, used = [], []
    for (path, x), label in zip(leaves, flat, strict=True):
        if label is None:
            if x is not None:
                unlabelled.append(jax.tree_util.keystr(path))
            continue
        try:
            hash(label)
        except TypeError:
            raise TypeError(
                f"`{fn}`: labels must be hashable (strings, say); at "
                f"{jax.tree_util.keystr(path)} got {type(label).__name__} {label!r}."
            ) from None
        if label not in used:
            used.append(label)
    if unlabelled:
        raise ValueError(
            f"`{fn}`: param_labels gives no label (None) to the parameters at "
            f"{', '.join(unlabelled[:8])}; give every parameter one of the transforms' keys "
            f"{_sorted(keys)}."
        )
    missing = [label for label in used if label not in keys]
    if missing:
        hint = ""
        if callable(labels):
            hint = (
                " (param_labels is a callable pytree, such as an Equinox module, so it is "
                "read as a tree of labels, not called; pass a plain function to call it)"
            )
        raise ValueError(
            f"`{fn}`: some parameters have labels with no transform: {_sorted(missing)}. "
            f"Labels in param_labels: {_sorted(used)}; keys of transforms: "
            f"{_sorted(keys)}{hint}."
        )
    return flat


def partition(
    transforms: Mapping[Hashable, GradientTransformation],
    param_labels: Any | Callable[[Params], Any],
    *,
    mask_compatible_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """Transform each group of parameters with its own transformation.

    Every parameter carries a label, and the parameters labelled :math:`k` are updated
    by ``transforms[k]`` alone:

    .. math::

       u_i \\leftarrow T_{\\ell(i)}(u)_i,

    where :math:`\\ell(i)` is the label of parameter :math:`i` and :math:`T_k` runs on the
    parameters labelled :math:`k` only (it is :func:`masked` with the mask
    :math:`\\ell = k`, and keeps state for those parameters only). ``None`` parameters
    pass through.

    Labels are a tree with the structure of the parameters (or a prefix of it), or a
    function ``params -> labels`` such as :func:`gradtx.labels_by_path`; it is called
    on the parameters in ``init`` and on the updates in ``update``. A callable pytree
    (an Equinox module) is read as a tree, not called. A tree whose node types differ
    from the parameters' but whose paths agree (an ``nnx.State`` with its
    ``nnx.Variable`` wrappers against the plain state ``nnx.Optimizer`` hands to
    ``update``) is matched by path.

    Args:
      transforms: ``{label: transformation}``. A key no parameter uses is allowed (its
        transformation sees no leaves).
      param_labels: the labels, as a tree or a function of the parameters.
      mask_compatible_extra_args: also mask every extra keyword argument that has the
        structure of the updates, as in :func:`masked`.

    Returns:
      A transformation with :class:`PartitionState`.

    Raises:
      ValueError: at ``init``/``update`` when a label has no transformation (the message
        lists the labels and the keys of ``transforms``), when a parameter has no label,
        or when the labels' tree does not fit the parameters (the message names the
        paths on each side).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> params = {"w": jnp.ones(2), "b": jnp.ones(2)}
      >>> tx = gradtx.partition(
      ...     {"fast": gradtx.sgd(0.5), "frozen": gradtx.set_to_zero()},
      ...     {"w": "fast", "b": "frozen"})
      >>> updates, state = tx.update(params, tx.init(params))
      >>> updates
      {'b': Array([0., 0.], dtype=float32), 'w': Array([-0.5, -0.5], dtype=float32)}
      >>> list(state.inner_states)
      ['fast', 'frozen']
    """
    fn = "partition"
    if not isinstance(transforms, Mapping):
        raise TypeError(
            f"`{fn}(transforms=...)` must be a mapping {{label: transformation}}; got "
            f"{type(transforms).__name__}."
        )
    for key, tx in transforms.items():
        check_transformation(fn, f"transforms[{key!r}]", tx)
    keys = list(transforms)

    def parts(tree: Any) -> dict[Hashable, GradientTransformationExtraArgs]:
        flat = _labels_for(param_labels, tree, keys, fn)
        treedef = jax.tree.structure(tree, is_leaf=_is_none)
        out = {}
        for key in keys:
            # A None parameter passes through every part. With a label it is "out" of
            # the other parts (a MaskedNode in their states); without one (None) it is a
            # None in every inner state. Both as optax.
            mask = [label is None or bool(label == key) for label in flat]
            out[key] = masked(
                transforms[key],
                jax.tree.unflatten(treedef, mask),
                mask_compatible_extra_args=mask_compatible_extra_args,
            )
        return out

    def init_fn(params: Params) -> PartitionState:
        return PartitionState({k: tx.init(params) for k, tx in parts(params).items()})

    def update_fn(
        updates: Updates,
        state: PartitionState,
        params: Params | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, PartitionState]:
        check_updates_match_params("partition.update", updates, params)
        if set(state.inner_states) != set(keys):
            raise ValueError(
                f"`{fn}`: the state holds the labels {_sorted(state.inner_states)} but "
                f"transforms has the keys {_sorted(keys)}; was the state built by "
                "another partition?"
            )
        new_states = {}
        for key, tx in parts(updates).items():
            updates, new_states[key] = tx.update(
                updates, state.inner_states[key], params, **extra_args
            )
        return updates, PartitionState(new_states)

    return GradientTransformationExtraArgs(init_fn, update_fn)


def multi_transform(
    transforms: Mapping[Hashable, GradientTransformation],
    param_labels: Any | Callable[[Params], Any],
    *,
    mask_compatible_extra_args: bool = False,
) -> GradientTransformationExtraArgs:
    """optax's older name of :func:`partition`: the same transformation and state.

    Args:
      transforms: ``{label: transformation}``.
      param_labels: the labels, as a tree or a function of the parameters.
      mask_compatible_extra_args: also mask the extra arguments shaped like the updates.

    Returns:
      ``partition(transforms, param_labels, ...)``.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.multi_transform({"a": gradtx.sgd(1.0)}, {"w": "a"})
      >>> type(tx.init({"w": jnp.ones(1)})).__name__
      'PartitionState'
    """
    return partition(
        transforms, param_labels, mask_compatible_extra_args=mask_compatible_extra_args
    )


def freeze(mask: Any | Callable[[Params], Any]) -> GradientTransformationExtraArgs:
    """Set the updates of the masked-in parameters to zero, leaving the others unchanged.

    .. math::

       u_i \\leftarrow 0 \\text{ where } m_i, \\qquad u_i \\leftarrow u_i \\text{ elsewhere.}

    Chain it after an optimizer (or before, for a stateless one) to keep parameters
    fixed; :func:`selective_transform` also keeps the optimizer from allocating state
    for them.

    Args:
      mask: ``True`` for the parameters to freeze: a tree with the structure of the
        parameters (or a prefix of it), or a function ``params -> mask`` such as
        :func:`gradtx.masks.by_path`.

    Returns:
      A transformation with :class:`MaskedState` (its inner state is empty).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> params = {"embed": jnp.ones(2), "head": jnp.ones(2)}
      >>> tx = gradtx.chain(gradtx.sgd(0.5), gradtx.freeze(gradtx.masks.by_path("embed*")))
      >>> tx.update(params, tx.init(params))[0]
      {'embed': Array([0., 0.], dtype=float32), 'head': Array([-0.5, -0.5], dtype=float32)}
    """
    return masked(set_to_zero(), mask)


def selective_transform(
    optimizer: GradientTransformation, *, freeze_mask: Any | Callable[[Params], Any]
) -> GradientTransformationExtraArgs:
    """Run ``optimizer`` on the parameters not in ``freeze_mask``; zero the updates of the rest.

    .. math::

       u_i \\leftarrow 0 \\text{ where } m_i, \\qquad
       u_i \\leftarrow T(u)_i \\text{ elsewhere,}

    with :math:`T` = ``optimizer`` run (and keeping state) on the trainable parameters
    only. It is :func:`partition` with the labels ``"train"`` and ``"freeze"``.

    Unlike optax 0.2.8, whose ``freeze_mask`` must be a tree (given a function, optax
    freezes every parameter), a function ``params -> mask`` is called, as every other
    mask argument is.

    Args:
      optimizer: the transformation for the trainable parameters.
      freeze_mask: ``True`` for the parameters to freeze: a tree with the structure of
        the parameters (or a prefix of it), or a function ``params -> mask`` such as
        :func:`gradtx.masks.by_path`.

    Returns:
      A transformation with :class:`PartitionState` (labels ``"train"``, ``"freeze"``).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> params = {"backbone": {"w": jnp.ones(2)}, "head": {"w": jnp.ones(2)}}
      >>> tx = gradtx.selective_transform(
      ...     gradtx.adam(0.1), freeze_mask=gradtx.masks.by_path("backbone*"))
      >>> updates, state = tx.update(params, tx.init(params))
      >>> updates["backbone"], updates["head"]
      ({'w': Array([0., 0.], dtype=float32)}, {'w': Array([-0.1, -0.1], dtype=float32)})
      >>> gradtx.tree.get(state, "mu")  # no Adam moments for the frozen backbone
      {'backbone': {'w': MaskedNode()}, 'head': {'w': Array([0.1, 0.1], dtype=float32)}}
    """
    fn = "selective_transform"
    check_transformation(fn, "optimizer", optimizer)

    def labels(tree: Any) -> Any:
        m = freeze_mask(tree) if _is_tree_function(freeze_mask) else freeze_mask
        full = _full_mask(m, tree, fn)
        return jax.tree.map(lambda frozen: "freeze" if frozen else "train", full)

    return partition({"train": optimizer, "freeze": set_to_zero()}, labels)

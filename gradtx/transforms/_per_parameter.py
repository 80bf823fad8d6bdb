"""Per-parameter learning-rate multipliers: a tree of scales, and layer-wise decay."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx._checks import check_positive
from gradtx._structure import describe_difference
from gradtx._treeutil import is_none
from gradtx.base import EmptyState, GradientTransformationExtraArgs, Params, Updates

__all__ = ["layerwise_lr_decay", "scale_by_tree"]


def _check_multiplier(path: Any, m: Any) -> Any:
    if m is None:
        return None
    if isinstance(m, bool) or not (
        isinstance(m, (int, float, np.number)) or (hasattr(m, "shape") and hasattr(m, "dtype"))
    ):
        raise TypeError(
            "`scale_by_tree(multipliers=...)`: the multipliers must be numbers (or scalar "
            f"arrays); at {jax.tree_util.keystr(path) or 'the root'} got "
            f"{type(m).__name__} {m!r}."
        )
    if np.ndim(m) != 0:
        raise ValueError(
            "`scale_by_tree(multipliers=...)`: the multipliers must be scalars; at "
            f"{jax.tree_util.keystr(path) or 'the root'} got shape {np.shape(m)}."
        )
    return m


def scale_by_tree(multipliers: Any) -> GradientTransformationExtraArgs:
    """Multiply each update leaf by its own scalar, given as a tree.

    Update rule, leaf by leaf: :math:`u_i \\leftarrow c_i\\, u_i`, with :math:`c_i` the
    multiplier at the leaf's path in ``multipliers``, or at the closest enclosing path
    when ``multipliers`` is a prefix of the updates' tree (``{"encoder": 0.1, "head":
    1.0}`` scales every leaf under ``"encoder"`` by 0.1). A ``None`` multiplier leaves
    its updates unchanged. Put it after the learning rate (or anywhere in a chain of
    linear steps) to give parameter groups their own rate, as torch's parameter
    groups do; :func:`layerwise_lr_decay` builds the tree for layer-wise decay.

    Args:
      multipliers: a tree of scalars (Python numbers or 0-d arrays) with the structure
        of the parameters or a prefix of it.

    Returns:
      A stateless transformation; updates keep their dtype.

    Raises:
      TypeError, ValueError: at construction for non-scalar multipliers, and at update
        when ``multipliers`` is not a prefix of the updates (naming the paths).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_tree({"encoder": 0.1, "head": {"w": 1.0, "b": 2.0}})
      >>> updates = {"encoder": [jnp.ones(2)], "head": {"w": jnp.ones(1), "b": jnp.ones(1)}}
      >>> tx.update(updates, tx.init(updates))[0]
      {'encoder': [Array([0.1, 0.1], dtype=float32)], 'head': {'b': Array([2.], dtype=float32), 'w': Array([1.], dtype=float32)}}
    """  # noqa: E501 - a doctest's output line
    multipliers = jax.tree_util.tree_map_with_path(_check_multiplier, multipliers, is_leaf=is_none)

    def init_fn(params: Params) -> EmptyState:
        del params
        return EmptyState()

    def update_fn(
        updates: Updates, state: EmptyState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, EmptyState]:
        del params, extra_args

        def scale_subtree(m: Any, sub: Any) -> Any:
            if m is None:
                return sub

            def f(u: Any) -> Any:
                if u is None:
                    return None
                return (u * jnp.asarray(m, jnp.finfo(jnp.result_type(u)).dtype)).astype(
                    jnp.result_type(u)
                )

            return jax.tree.map(f, sub, is_leaf=is_none)

        try:
            out = jax.tree.map(scale_subtree, multipliers, updates, is_leaf=is_none)
        except ValueError as err:
            raise ValueError(
                "`scale_by_tree`: the multipliers must have the structure of the updates "
                "(or a prefix of it); "
                + describe_difference(multipliers, updates, "multipliers", "updates")
                + "."
            ) from err
        return out, state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def layerwise_lr_decay(
    params: Params,
    layer_of: Callable[[str], int | None],
    num_layers: int,
    decay: float,
) -> Any:
    """Build the multipliers of layer-wise learning-rate decay, for :func:`scale_by_tree`.

    Each parameter gets :math:`c = \\gamma^{L - \\ell}`, with :math:`\\gamma` = ``decay``,
    :math:`L` = ``num_layers`` and :math:`\\ell` = ``layer_of(path)``, the layer the
    parameter belongs to: the top layer (:math:`\\ell = L`, typically the task head)
    trains at the full rate and each layer below at ``decay`` times the rate of the one
    above. The usual numbering for a transformer with :math:`N` blocks: embeddings
    :math:`\\ell = 0`, block :math:`i` (from 0) :math:`\\ell = i + 1`, the head
    :math:`\\ell = N + 1 = L`. ``layer_of`` returning ``None`` means "not in a layer":
    multiplier 1, like the head.

    Args:
      params: the parameters (or a tree of ``jax.ShapeDtypeStruct``); only the
        structure and paths are read. ``None`` leaves get ``None``.
      layer_of: maps a parameter's path, as ``jax.tree_util.keystr`` writes it (e.g.
        ``"['encoder']['layer_3']['kernel']"``, the form ``gradtx.masks.by_path``
        matches), to its layer in ``0 .. num_layers``, or ``None``.
      num_layers: :math:`L`, a positive int.
      decay: :math:`\\gamma` > 0, usually in (0, 1] (0.65 to 0.9 in fine-tuning).

    Returns:
      A tree with the structure of ``params`` and Python float leaves.

    Raises:
      ValueError: for a ``layer_of`` result outside ``0 .. num_layers`` (naming the
        path), or invalid ``num_layers``/``decay``.

    Reference: Clark, Luong, Le and Manning 2020, "ELECTRA: Pre-training Text Encoders
    as Discriminators Rather Than Generators", arXiv 2003.10555 (layer-wise learning
    rate decay); Bao, Dong, Piao and Wei 2022, "BEiT: BERT Pre-Training of Image
    Transformers", arXiv 2106.08254.

    Example:
      >>> import re, jax.numpy as jnp, gradtx
      >>> params = {"embed": jnp.ones(2), "layer_0": jnp.ones(2), "layer_1": jnp.ones(2),
      ...           "head": jnp.ones(2)}
      >>> def layer_of(path):
      ...     if "embed" in path:
      ...         return 0
      ...     found = re.search(r"layer_(\\d+)", path)
      ...     return int(found.group(1)) + 1 if found else None  # the head: None
      >>> scales = gradtx.layerwise_lr_decay(params, layer_of, num_layers=3, decay=0.5)
      >>> scales
      {'embed': 0.125, 'head': 1.0, 'layer_0': 0.25, 'layer_1': 0.5}
      >>> tx = gradtx.chain(gradtx.adamw(1e-3), gradtx.scale_by_tree(scales))
    """
    fn = "layerwise_lr_decay"
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"`{fn}(num_layers=...)` must be a positive int; got {num_layers=}.")
    check_positive(fn, "decay", decay)
    if not callable(layer_of):
        raise TypeError(
            f"`{fn}(layer_of=...)` must be a function of a parameter's path; got "
            f"{type(layer_of).__name__}."
        )

    def multiplier(path: Any, p: Any) -> float | None:
        if p is None:
            return None
        key = jax.tree_util.keystr(path)
        layer = layer_of(key)
        if layer is None:
            return 1.0
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
            raise ValueError(
                f"`{fn}(layer_of=...)` must return an int or None; for {key} it returned "
                f"{type(layer).__name__} {layer!r}."
            )
        if not 0 <= layer <= num_layers:
            raise ValueError(
                f"`{fn}(layer_of=...)` must return a layer in 0..num_layers={num_layers}; "
                f"for {key} it returned {layer}."
            )
        return float(decay) ** (num_layers - int(layer))

    return jax.tree_util.tree_map_with_path(multiplier, params, is_leaf=is_none)

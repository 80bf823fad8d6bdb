"""Shardings for optimizer states: moments follow their parameters, the rest is replicated.

An optimizer state embeds copies of the parameter tree (Adam's ``mu`` and ``nu``, a
schedule-free ``z``, ...) next to small leaves (counts, hyperparameters, factored statistics).
:func:`state_shardings` finds, for every state leaf, the parameter it mirrors (the parameter
whose tree path is a suffix of the leaf's path and whose shape is the leaf's shape) and gives
the leaf that parameter's sharding; every other leaf is replicated on the same mesh.
"""

from __future__ import annotations

from typing import Any

import jax
from jax.sharding import NamedSharding, PartitionSpec, Sharding

from gradtx.base import GradientTransformation

__all__ = ["sharded_init", "state_shardings"]


def _abstract(tree: Any) -> Any:
    """``tree`` with every array replaced by its ``jax.ShapeDtypeStruct`` (no data)."""
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(jax.numpy.shape(x), x.dtype), tree)


def _as_tree(param_shardings: Any, params: Any) -> list[Sharding]:
    """One sharding per parameter leaf (a single sharding applies to every parameter)."""
    n = len(jax.tree.leaves(params))
    if isinstance(param_shardings, Sharding):
        return [param_shardings] * n
    flat = jax.tree.leaves(param_shardings)
    if len(flat) != n or not all(isinstance(s, Sharding) for s in flat):
        raise ValueError(
            "state_shardings(param_shardings=...) must be one jax.sharding.Sharding or a tree"
            f" with one Sharding per parameter; got {len(flat)} leaves for {n} parameters:"
            f" {param_shardings!r}."
        )
    return flat


def _zero1_spec(shape: tuple[int, ...], axis: str, size: int) -> PartitionSpec:
    """Shard the first dimension divisible by ``size`` along ``axis``; replicate if none is."""
    for i, d in enumerate(shape):
        if d >= size and d % size == 0:
            return PartitionSpec(*([None] * i), axis)
    return PartitionSpec()


def state_shardings(
    tx: GradientTransformation,
    params: Any,
    param_shardings: Any,
    *,
    zero1_axis: str | None = None,
) -> Any:
    """The sharding of every leaf of ``tx.init(params)``, for ``jax.jit(out_shardings=...)``.

    A state leaf *mirrors* a parameter when the parameter's tree path is a suffix of the
    leaf's path and both have the same shape (the longest such path wins); it gets that
    parameter's sharding. Every other leaf (counts, hyperparameters, factored or reduced
    statistics) is replicated on the parameters' mesh.

    With ``zero1_axis`` (ZeRO stage 1, Rajbhandari et al. 2020), a leaf that mirrors a
    fully replicated parameter is instead split along the mesh axis ``zero1_axis``: on its
    first dimension whose size is a multiple of that axis' size (a leaf with no such
    dimension stays replicated). Each device then keeps ``1 / size`` of those moments; XLA
    inserts the gathers the update needs. On a mesh with ``AxisType.Auto`` axes the step's
    ``out_shardings`` bring the updated parameters back to their sharding; on an
    ``Explicit`` mesh (``jax.make_mesh``'s default since JAX 0.7) the updates carry the
    moments' sharding, so reshard them before applying them:
    ``updates = jax.sharding.reshard(updates, param_shardings)``.

    Args:
        tx: the transformation whose state is sharded.
        params: the parameters, as arrays or ``jax.ShapeDtypeStruct`` (only shapes and dtypes
            are read, through ``jax.eval_shape(tx.init, ...)``; nothing is computed).
        param_shardings: a tree of ``jax.sharding.NamedSharding`` matching ``params``, or one
            sharding used for every parameter.
        zero1_axis: a mesh axis name along which to split the moments of replicated
            parameters, or ``None`` (default) to let them follow their parameters.

    Returns:
        A tree of ``NamedSharding`` with the structure of ``tx.init(params)``.

    Raises:
        ValueError: if no parameter has a ``NamedSharding`` (there is no mesh to replicate
            on), if ``param_shardings`` does not match ``params``, or if ``zero1_axis`` is not
            an axis of the mesh.

    Example:
        >>> import jax, jax.numpy as jnp, gradtx
        >>> from jax.sharding import NamedSharding, PartitionSpec as P
        >>> mesh = jax.make_mesh((1,), ("data",))
        >>> params = {"w": jax.ShapeDtypeStruct((4, 3), jnp.float32)}
        >>> shardings = gradtx.sharding.state_shardings(
        ...     gradtx.adam(1e-3), params, NamedSharding(mesh, P()), zero1_axis="data")
        >>> adam_state = shardings.inner_state[0]
        >>> print(adam_state.mu["w"].spec, adam_state.count.spec)
        P('data',) P()
    """
    abstract_params = _abstract(params)
    state = jax.eval_shape(tx.init, abstract_params)
    flat_params = jax.tree.leaves_with_path(abstract_params)
    flat_shardings = _as_tree(param_shardings, abstract_params)
    meshes = [s.mesh for s in flat_shardings if isinstance(s, NamedSharding)]
    if not meshes:
        raise ValueError(
            "state_shardings(param_shardings=...) needs at least one NamedSharding to find the"
            f" mesh; got {flat_shardings!r}."
        )
    mesh = meshes[0]
    if zero1_axis is not None and zero1_axis not in mesh.shape:
        raise ValueError(
            f"state_shardings(zero1_axis=...) must name an axis of the mesh {dict(mesh.shape)};"
            f" got {zero1_axis=}."
        )
    replicated = NamedSharding(mesh, PartitionSpec())

    by_path = {
        tuple(ppath): (p.shape, s)
        for (ppath, p), s in zip(flat_params, flat_shardings, strict=True)
    }

    def for_leaf(path: tuple[Any, ...], leaf: jax.ShapeDtypeStruct) -> Sharding:
        best = None
        for start in range(len(path) + 1):  # the longest suffix first
            shape, sharding = by_path.get(tuple(path[start:]), (None, None))
            if shape == leaf.shape:
                best = sharding
                break
        if best is None:
            return replicated
        if zero1_axis is not None and best.is_fully_replicated:
            spec = _zero1_spec(leaf.shape, zero1_axis, mesh.shape[zero1_axis])
            return NamedSharding(mesh, spec)
        return best

    return jax.tree.map_with_path(for_leaf, state)


def sharded_init(
    tx: GradientTransformation,
    params: Any,
    param_shardings: Any,
    *,
    zero1_axis: str | None = None,
) -> Any:
    """``tx.init(params)`` created directly in the shardings of :func:`state_shardings`.

    Runs ``jax.jit(tx.init, out_shardings=state_shardings(...))(params)``: each device
    computes only its own shards of the state, so no full copy of the state is ever built on
    one device.

    Args:
        tx: the transformation to initialize.
        params: the parameters (arrays, typically already placed with ``param_shardings``).
        param_shardings: as for :func:`state_shardings`.
        zero1_axis: as for :func:`state_shardings`.

    Returns:
        The state, each leaf a ``jax.Array`` with its promised sharding.

    Example:
        >>> import jax, jax.numpy as jnp, gradtx
        >>> from jax.sharding import NamedSharding, PartitionSpec as P
        >>> mesh = jax.make_mesh((1,), ("data",))
        >>> state = gradtx.sharding.sharded_init(
        ...     gradtx.adam(1e-3), {"w": jnp.ones(4)}, NamedSharding(mesh, P()))
        >>> mu = state.inner_state[0].mu["w"]
        >>> print(mu, mu.sharding.spec)
        [0. 0. 0. 0.] P()
    """
    shardings = state_shardings(tx, params, param_shardings, zero1_axis=zero1_axis)
    return jax.jit(tx.init, out_shardings=shardings)(params)

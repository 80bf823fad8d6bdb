"""GaLore: run an optimizer on a low-rank projection of each weight matrix's gradient."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import concrete
from gradtx.base import GradientTransformation, GradientTransformationExtraArgs, Params
from gradtx.numerics import safe_increment
from gradtx.transforms._adaptive import scale_by_adam
from gradtx.transforms._common import is_none, like

__all__ = ["GaLoreDimensionNumbers", "GaLoreState", "scale_by_galore"]

Axes = int | tuple[int, ...]


class GaLoreDimensionNumbers(NamedTuple):
    """Which axes of a weight form the rows and the columns of the matrix GaLore projects.

    The weight is transposed to ``(*reduction_axis, *output_axis)`` (in the order given)
    and reshaped to a ``(prod reduction sizes, prod output sizes)`` matrix; every axis
    must appear exactly once. A 2-D weight defaults to ``GaLoreDimensionNumbers(0, 1)``.

    Attributes:
      reduction_axis: the axis or axes of the input (reduction) dimension, the rows.
      output_axis: the axis or axes of the output dimension, the columns.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> dn = gradtx.contrib.GaLoreDimensionNumbers(reduction_axis=0, output_axis=(1, 2))
      >>> tx = gradtx.contrib.scale_by_galore(rank=2, weight_dimension_numbers=dn)
      >>> tx.init(jnp.zeros((8, 3, 4))).projector.shape  # an (8, 12) matrix: P is (12, 2)
      (12, 2)
    """

    reduction_axis: Axes = 0
    output_axis: Axes = 1


class GaLoreState(NamedTuple):
    """State of :func:`scale_by_galore`.

    Attributes:
      count: int32 number of updates so far; the projectors are recomputed when
        ``count % update_proj_gap == 0``.
      base_optimizer_state: the base optimizer's state, on the ``(rank, n)`` or
        ``(m, rank)`` projected gradients of the projected weights and on the full
        gradients of the others.
      projector: per leaf, the orthonormal basis :math:`P` (``(m, rank)`` or
        ``(n, rank)``) of the projected weights, an empty ``(0, 0)`` array for the
        others; in the parameters' dtype.
    """

    count: jax.Array
    base_optimizer_state: Any
    projector: Any


class _Plan(NamedTuple):
    """How one leaf is projected: the transposition, the matrix and which side."""

    perm: tuple[int, ...]
    m: int
    n: int
    rank: int
    left: bool  # project the rows (P^H G, m >= n) or the columns (G P)


def _axes(x: Axes) -> tuple[int, ...]:
    return (x,) if isinstance(x, int) else tuple(x)


def _plan(fn: str, dn: Any, shape: tuple[int, ...], rank: int, where: str) -> _Plan | None:
    if dn is None:
        return None
    if not isinstance(dn, GaLoreDimensionNumbers):
        raise TypeError(
            f"`{fn}(weight_dimension_numbers=...)` must give a GaLoreDimensionNumbers or None "
            f"per leaf; got {dn!r} at {where}."
        )
    ndim = len(shape)
    red, out = _axes(dn.reduction_axis), _axes(dn.output_axis)
    perm = tuple(a % ndim if -ndim <= a < ndim else a for a in red + out)
    if not red or not out or sorted(perm) != list(range(ndim)):
        raise ValueError(
            f"`{fn}(weight_dimension_numbers=...)` must name every axis of the weight once, "
            f"as rows or columns; got reduction_axis={dn.reduction_axis!r}, "
            f"output_axis={dn.output_axis!r} for the shape {shape} at {where}."
        )
    m = math.prod(shape[a] for a in perm[: len(red)])
    n = math.prod(shape[a] for a in perm[len(red) :])
    return _Plan(perm, m, n, min(rank, m, n), m >= n)


def _plans(fn: str, spec: Any, tree: Any, rank: int) -> list[_Plan | None]:
    """One plan per leaf of ``tree`` (``None`` leaves included, as ``None``)."""
    paths_leaves, treedef = jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_none)
    if callable(spec) and not isinstance(spec, GaLoreDimensionNumbers):
        spec = spec(tree)
    if spec is None:
        specs = [
            GaLoreDimensionNumbers(0, 1) if jnp.ndim(x) == 2 else None for _, x in paths_leaves
        ]
    elif isinstance(spec, GaLoreDimensionNumbers):
        specs = [spec] * len(paths_leaves)
    else:
        try:
            specs = treedef.flatten_up_to(spec)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"`{fn}(weight_dimension_numbers=...)` must be a tree like the params, with a "
                f"GaLoreDimensionNumbers or None at each leaf: {e}"
            ) from None
    return [
        None
        if x is None
        else _plan(fn, s, tuple(jnp.shape(x)), rank, jax.tree_util.keystr(path) or "the root")
        for (path, x), s in zip(paths_leaves, specs, strict=True)
    ]


def _to_matrix(x: jax.Array, plan: _Plan) -> jax.Array:
    return jnp.transpose(x, plan.perm).reshape(plan.m, plan.n)


def _from_matrix(x: jax.Array, plan: _Plan, shape: tuple[int, ...]) -> jax.Array:
    moved = tuple(shape[a] for a in plan.perm)
    inverse = tuple(sorted(range(len(shape)), key=lambda i: plan.perm[i]))
    return jnp.transpose(x.reshape(moved), inverse)


def _low_rank_shape(plan: _Plan) -> tuple[int, int]:
    return (plan.rank, plan.n) if plan.left else (plan.m, plan.rank)


def _projector(g: jax.Array, plan: _Plan, dtype: Any) -> jax.Array:
    """The top-``rank`` singular vectors of the side that is projected, from an SVD of
    ``g`` in single precision (as the paper's implementation does)."""
    low = jnp.complex64 if jnp.iscomplexobj(g) else jnp.float32
    u, _, vh = jnp.linalg.svd(g.astype(low), full_matrices=False)
    p = u[:, : plan.rank] if plan.left else jnp.conj(vh[: plan.rank]).T
    return p.astype(dtype)


# The two branches of the refresh are module-level functions (their plan read from the
# shapes: the rank is p's column count, the left side is projected when m >= n), so that
# lax.cond's cache holds across eager calls instead of recompiling every step.
def _refreshed_projector(m: jax.Array, p: jax.Array) -> jax.Array:
    rows, cols = m.shape
    plan = _Plan(perm=(), m=rows, n=cols, rank=p.shape[1], left=rows >= cols)
    return _projector(m, plan, p.dtype)


def _same_projector(m: jax.Array, p: jax.Array) -> jax.Array:
    del m
    return p


def _project(g: jax.Array, p: jax.Array, plan: _Plan) -> jax.Array:
    return jnp.conj(p).T @ g if plan.left else g @ p


def _project_back(r: jax.Array, p: jax.Array, plan: _Plan) -> jax.Array:
    return p @ r if plan.left else r @ jnp.conj(p).T


def scale_by_galore(
    rank: int = 128,
    update_proj_gap: int = 200,
    scale: jax.typing.ArrayLike = 1.0,
    base_optimizer: GradientTransformation | None = None,
    weight_dimension_numbers: Any = None,
) -> GradientTransformationExtraArgs:
    """GaLore: run ``base_optimizer`` on low-rank projections of the weight matrices' gradients.

    For a weight whose gradient, as a matrix, is :math:`G_t \\in \\mathbb{R}^{m\\times
    n}`, with :math:`r = \\min(\\text{rank}, m, n)` and :math:`T` = ``update_proj_gap``:

    .. math::

       P_t = \\begin{cases} \\text{top-}r \\text{ singular vectors of } G_t
          & t \\equiv 0 \\pmod T \\\\ P_{t-1} & \\text{otherwise} \\end{cases},\\qquad
       R_t = \\begin{cases} P_t^\\top G_t & m \\ge n \\\\ G_t P_t & m < n
          \\end{cases},\\qquad
       u_t = \\text{scale} \\cdot \\begin{cases} P_t\\, \\rho(R_t) & m \\ge n \\\\
          \\rho(R_t)\\, P_t^\\top & m < n \\end{cases}

    with :math:`t` counted from 0 and :math:`\\rho` the base optimizer (Adam by
    default), whose state therefore holds :math:`r \\times n` (or :math:`m \\times r`)
    moments instead of :math:`m \\times n`. The longer side is projected: the left
    singular vectors (:math:`P` is :math:`m \\times r`) when :math:`m \\ge n`, the
    right ones otherwise, as optax does (the authors' release chooses the other side:
    right singular vectors for :math:`m \\ge n`, an :math:`m \\times r` state). The SVD is
    computed in float32 (complex64) whatever the
    parameters' dtype, as the paper's implementation does, and :math:`P` is kept in
    the parameters' dtype; the base optimizer's state is kept across projector
    refreshes. Leaves that are not projected (by default every leaf that is not 2-D)
    get the base optimizer's update of their full gradient, *not* multiplied by
    ``scale``. For complex weights :math:`P^\\top` is the conjugate transpose.

    Args:
      rank: the projection's rank :math:`r` >= 1 (clipped to the matrix's smaller side).
      update_proj_gap: :math:`T` >= 1, the number of steps between SVDs.
      scale: the factor :math:`\\alpha` on the projected weights' updates.
      base_optimizer: the transformation run in the low-rank space; it must not read
        the params (it sees none); ``scale_by_adam()`` when ``None``. Add weight decay
        after GaLore, as :func:`gradtx.contrib.galore` does.
      weight_dimension_numbers: which weights are projected, and how they form a
        matrix: ``None`` (every 2-D leaf, rows = axis 0), a
        :class:`GaLoreDimensionNumbers` for every leaf, a tree like the params with a
        :class:`GaLoreDimensionNumbers` or ``None`` (not projected) at each leaf, or a
        function of the params returning such a tree.

    Returns:
      A transformation with :class:`GaLoreState`.

    Reference: Zhao, Zhang, Chen, Wang, Anandkumar & Tian 2024, "GaLore:
    Memory-Efficient LLM Training by Gradient Low-Rank Projection", arXiv 2403.03507,
    Algorithm 2.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.contrib.scale_by_galore(rank=1)
      >>> p = {"w": jnp.zeros((3, 2)), "b": jnp.zeros(2)}
      >>> s = tx.init(p)
      >>> s.base_optimizer_state.mu["w"].shape  # rank x 2 instead of 3 x 2
      (1, 2)
      >>> g = {"w": jnp.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), "b": jnp.ones(2)}
      >>> u, s = tx.update(g, s)
      >>> u["w"].round(3)  # Adam's first step, +-1, on the top singular direction only
      Array([[1., 0.],
             [0., 0.],
             [0., 0.]], dtype=float32)
    """
    fn = "scale_by_galore"
    for name, value in (("rank", rank), ("update_proj_gap", update_proj_gap)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{fn}({name}=...)` must be an integer >= 1; got {name}={value!r}.")
    v = concrete(scale)
    if v is not None and not math.isfinite(v):
        raise ValueError(f"`{fn}(scale=...)` must be finite; got {scale=}.")
    base = scale_by_adam() if base_optimizer is None else base_optimizer

    def low_rank_like(tree: Any, plans: list[_Plan | None]) -> Any:
        leaves, treedef = jax.tree.flatten(tree, is_leaf=is_none)
        out = [
            x if plan is None else jnp.zeros(_low_rank_shape(plan), jnp.result_type(x))
            for x, plan in zip(leaves, plans, strict=True)
        ]
        return treedef.unflatten(out)

    def init_fn(params: Params) -> GaLoreState:
        plans = _plans(fn, weight_dimension_numbers, params, rank)
        leaves, treedef = jax.tree.flatten(params, is_leaf=is_none)
        projector = [
            None
            if x is None
            else jnp.zeros(
                (0, 0) if plan is None else (plan.m if plan.left else plan.n, plan.rank),
                jnp.result_type(x),
            )
            for x, plan in zip(leaves, plans, strict=True)
        ]
        return GaLoreState(
            jnp.zeros([], jnp.int32),
            base.init(low_rank_like(params, plans)),
            treedef.unflatten(projector),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params
        plans = _plans(fn, weight_dimension_numbers, updates, rank)
        refresh = state.count % update_proj_gap == 0
        leaves, treedef = jax.tree.flatten(updates, is_leaf=is_none)
        old = treedef.flatten_up_to(state.projector)
        low, projector = [], []
        for g, p, plan in zip(leaves, old, plans, strict=True):
            if g is None or plan is None:
                low.append(g)
                projector.append(p)
                continue
            mat = _to_matrix(g, plan)
            p = jax.lax.cond(refresh, _refreshed_projector, _same_projector, mat, p)
            projector.append(p)
            low.append(like(_project(mat, p, plan), g))
        low_out, base_state = base.update(
            treedef.unflatten(low), state.base_optimizer_state, None, **extra_args
        )
        outs = []
        for g, r, p, plan in zip(
            leaves, treedef.flatten_up_to(low_out), projector, plans, strict=True
        ):
            if g is None or plan is None:
                outs.append(r)
                continue
            full = _project_back(r, p, plan)
            outs.append(like(scale * _from_matrix(full, plan, jnp.shape(g)), g))
        new_state = GaLoreState(
            safe_increment(state.count), base_state, treedef.unflatten(projector)
        )
        return treedef.unflatten(outs), new_state

    return GradientTransformationExtraArgs(init_fn, update_fn)

"""Shampoo's linear algebra: block partitions, Kronecker-factor statistics, inverse roots.

Private helpers of :mod:`gradtx.transforms._shampoo`. A tensor of shape
``(d_1, ..., d_r)`` is cut along each preconditioned dimension into blocks of at most
``block_size`` entries; the last block of a dimension is zero-padded to full size, so
that all blocks of a tensor have one shape ``(b_1, ..., b_r)`` and stack into a batch
``(N, b_1, ..., b_r)`` whose statistics and roots are computed in one batched call.
Padding does not change the numbers: a padded block's statistic is block-diagonal,
``diag(S, 0)``, its inverse root is ``diag(root(S), c I)``, and the padded entries of
the gradient it multiplies are zero.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

HIGHEST = jax.lax.Precision.HIGHEST


class BlockPlan(NamedTuple):
    """How one parameter is partitioned and preconditioned (static, from its shape).

    Attributes:
      shape: the parameter's shape ``(d_1, ..., d_r)``.
      block: the block shape ``(b_1, ..., b_r)``: ``min(d_i, block_size)`` along a
        preconditioned dimension, ``d_i`` along the others.
      counts: the number of blocks ``n_i = ceil(d_i / b_i)`` along each dimension.
      dims: the preconditioned dimensions, in order (empty: the parameter is not
        preconditioned and takes the grafted update).
      exponent: ``p`` in the roots :math:`L_i^{-1/p}`.
    """

    shape: tuple[int, ...]
    block: tuple[int, ...]
    counts: tuple[int, ...]
    dims: tuple[int, ...]
    exponent: int

    @property
    def num_blocks(self) -> int:
        """``N``, the number of blocks."""
        return math.prod(self.counts)


def block_plan(
    shape: tuple[int, ...],
    block_size: int,
    skip_dim_size_gt: int,
    skip_rank_lt: int,
    exponent_override: int,
) -> BlockPlan:
    """The :class:`BlockPlan` of a parameter of ``shape``.

    A dimension is preconditioned when its size is at least 2 and at most
    ``skip_dim_size_gt``; none is when the rank is below ``skip_rank_lt`` (and a scalar
    never is). ``p = exponent_override`` if it is positive, else twice the number of
    preconditioned dimensions (Gupta et al. 2018, Algorithm 2).
    """
    rank = len(shape)
    dims: tuple[int, ...] = ()
    if rank >= max(skip_rank_lt, 1):
        dims = tuple(i for i, d in enumerate(shape) if 2 <= d <= skip_dim_size_gt)
    block = tuple(min(d, block_size) if i in dims else d for i, d in enumerate(shape))
    counts = tuple(-(-d // b) if b else 1 for d, b in zip(shape, block, strict=True))
    exponent = exponent_override if exponent_override > 0 else 2 * len(dims)
    return BlockPlan(tuple(shape), block, counts, dims, exponent)


def to_blocks(x: jax.Array, plan: BlockPlan) -> jax.Array:
    """``x`` of ``plan.shape`` as the stacked, zero-padded blocks ``(N, *plan.block)``."""
    pad = [(0, n * b - d) for d, b, n in zip(plan.shape, plan.block, plan.counts, strict=True)]
    if any(hi for _, hi in pad):
        x = jnp.pad(x, pad)
    rank = len(plan.shape)
    x = x.reshape([v for nb in zip(plan.counts, plan.block, strict=True) for v in nb])
    x = x.transpose([2 * i for i in range(rank)] + [2 * i + 1 for i in range(rank)])
    return x.reshape((plan.num_blocks, *plan.block))


def from_blocks(x: jax.Array, plan: BlockPlan) -> jax.Array:
    """The inverse of :func:`to_blocks`: blocks back to ``plan.shape`` (padding dropped)."""
    rank = len(plan.shape)
    x = x.reshape((*plan.counts, *plan.block))
    x = x.transpose([j for i in range(rank) for j in (i, rank + i)])
    x = x.reshape([n * b for n, b in zip(plan.counts, plan.block, strict=True)])
    return x[tuple(slice(0, d) for d in plan.shape)]


def gram(blocks: jax.Array, dim: int) -> jax.Array:
    """Each block's :math:`G_{(i)} G_{(i)}^\\top` for dimension ``dim``: ``(N, b_i, b_i)``.

    :math:`G_{(i)}` is the block unfolded along ``dim`` (rows indexed by that dimension,
    columns by all the others), so the product contracts every other dimension.
    """
    n = blocks.shape[0]
    y = jnp.moveaxis(blocks, dim + 1, 1).reshape(n, blocks.shape[dim + 1], -1)
    return jnp.einsum("nij,nkj->nik", y, y, precision=HIGHEST)


def mode_product(blocks: jax.Array, mats: jax.Array, dim: int) -> jax.Array:
    """Multiply each block along ``dim`` by its symmetric matrix (``(N, b_i, b_i)``)."""
    y = jnp.moveaxis(blocks, dim + 1, -1)
    shape = y.shape
    y = jnp.einsum("nmb,nbc->nmc", y.reshape(shape[0], -1, shape[-1]), mats, precision=HIGHEST)
    return jnp.moveaxis(y.reshape(shape), -1, dim + 1)


def inverse_pth_root(mats: jax.Array, p: int, epsilon: Any) -> jax.Array:
    """:math:`(S + \\epsilon\\lambda_{max} I)^{-1/p}` of a batch of symmetric PSD matrices.

    Computed from the eigendecomposition :math:`S = V \\operatorname{diag}(\\lambda)
    V^\\top` as :math:`V \\operatorname{diag}((\\max(\\lambda, 0) + r)^{-1/p}) V^\\top`
    with the ridge :math:`r = \\epsilon \\lambda_{max}` relative to each matrix's largest
    eigenvalue (:math:`r = \\epsilon` for a zero matrix). Eigenvalues below zero are
    rounding errors of a PSD matrix and are clamped to zero.
    """
    eigvals, eigvecs = jnp.linalg.eigh(mats)
    eigvals = jnp.maximum(eigvals, 0.0)
    top = jnp.max(eigvals, axis=-1, keepdims=True)
    eps = jnp.asarray(epsilon, mats.dtype)
    ridge = eps * jnp.where(top > 0, top, 1.0)
    scaled = eigvecs * (eigvals + ridge)[..., None, :] ** (-1.0 / p)
    return jnp.einsum("nij,nkj->nik", scaled, eigvecs, precision=HIGHEST)

"""8-bit optimizer state: blockwise dynamic quantization of a transformation's moments."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx._checks import check_transformation
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)

__all__ = ["QuantizedArray", "QuantizedState", "dynamic_code", "quantize_state"]


def dynamic_code(signed: bool = True, bits: int = 8) -> np.ndarray:
    """The sorted ``2**bits`` values of the dynamic (tree) quantization code in [-1, 1].

    A code word is read as: a sign bit (signed code only), then ``E`` zero bits giving
    the decimal exponent, a one bit ending them, and the remaining ``F`` bits a linear
    fraction. Its value is

    .. math::

       \\pm 10^{-E} \\left(0.1 + 0.9\\, \\frac{j + 1/2}{2^F}\\right),
       \\qquad j = 0, \\dots, 2^F - 1,

    the midpoints of :math:`2^F` equal bins of [0.1, 1], for ``E = 0 .. bits - 2``
    (``F = bits - 2 - E`` signed, ``bits - 1 - E`` unsigned: the unsigned code spends
    the sign bit on one more fraction bit). The values 0 and 1 complete the table, so
    zeros and each block's absolute maximum are stored exactly. Large values get a fine
    linear grid and small ones keep their relative precision down to about
    :math:`10^{-(bits-2)}` of the block's maximum.

    Args:
      signed: the signed code (for values of either sign) or the unsigned one (for
        non-negative values, twice as fine).
      bits: bits per code word.

    Returns:
      A sorted float32 NumPy array of ``2**bits`` distinct values.

    Reference: Dettmers 2016, "8-Bit Approximations for Parallelism in Deep Learning",
    arXiv 1511.04561 (dynamic tree quantization); Dettmers, Lewis, Shleifer &
    Zettlemoyer 2022, "8-bit Optimizers via Block-wise Quantization", arXiv 2110.02861,
    Section 2 (the unsigned variant for Adam's second moment).

    Example:
      >>> import gradtx
      >>> code = gradtx.dynamic_code(signed=False)
      >>> len(code), float(code[0]), float(code[-1]), float(code[-2])
      (256, 0.0, 1.0, 0.9964843988418579)
      >>> len(gradtx.dynamic_code(signed=True, bits=4))
      16
    """
    values = [0.0, 1.0]
    for e in range(bits - 1):
        f = bits - 2 - e if signed else bits - 1 - e
        mids = 0.1 + 0.9 * (np.arange(2**f) + 0.5) / 2**f
        values.extend(10.0**-e * mids)
        if signed:
            values.extend(-(10.0**-e) * mids)
    out = np.sort(np.asarray(values, np.float64)).astype(np.float32)
    assert out.size == 2**bits and np.unique(out).size == out.size
    return out


class QuantizedArray(NamedTuple):
    """A floating array stored in 8-bit blockwise form (a leaf of :class:`QuantizedState`).

    The array is flattened (row-major), cut into blocks of ``block_size`` elements (the
    last one padded with zeros), and each block stored as its absolute maximum and one
    code word per element: the index of the nearest value of the dynamic code (see
    :func:`dynamic_code`) to ``x / absmax``.

    Attributes:
      codes: uint8 array of the original array's shape: the code indices.
      scales: float32 array of shape ``(ceil(size / block_size),)``: each block's
        absolute maximum, negated for a block whose values are all non-negative (which
        uses the finer unsigned code; a signed block has a scale >= 0).
    """

    codes: jax.Array
    scales: jax.Array


class QuantizedState(NamedTuple):
    """State of :func:`quantize_state`.

    Attributes:
      inner_state: the wrapped transformation's state, with each quantized leaf
        replaced by a :class:`QuantizedArray` (its hyperparameters stay readable with
        :func:`gradtx.hyperparams` and settable with :func:`gradtx.set_hyperparams`).
    """

    inner_state: Any


_SIGNED = dynamic_code(signed=True)
_UNSIGNED = dynamic_code(signed=False)
# One table for dequantization: signed codes first, unsigned codes at +256.
_TABLE = np.concatenate([_SIGNED, _UNSIGNED])

# Nearest-code search without a binary search. A magnitude a in [0, 1] falls in one of
# 2**14 buckets given by the top bits of its float32 pattern (exponent and 7 mantissa
# bits: each bucket spans 0.8% or less of its values). The codes are sparser than that,
# so a bucket holds at most one midpoint between consecutive codes (checked below), and
# the number of midpoints below a is the count below its bucket's start plus one
# comparison. Three sorted code lists are searched by magnitude: the signed code for
# v >= 0, the negated signed code for v < 0 (index i there is 255 - i in the signed
# code), and the unsigned code.
_BUCKETS = 2**14
_BUCKET_SHIFT = 16


def _search_tables() -> tuple[np.ndarray, np.ndarray]:
    starts = (np.arange(_BUCKETS, dtype=np.uint32) << _BUCKET_SHIFT).view(np.float32)
    firsts, mids = [], []
    for code in (_SIGNED, np.sort(-_SIGNED), _UNSIGNED):
        mid = (code[1:] + code[:-1]) / np.float32(2)
        first = np.searchsorted(mid, starts, side="left")
        assert np.all(np.diff(first) <= 1)  # at most one midpoint per bucket
        firsts.append(first.astype(np.int32))
        mids.append(np.append(mid, np.float32(np.inf)))
    return np.concatenate(firsts), np.concatenate(mids).astype(np.float32)


_FIRST, _MIDS = _search_tables()


def _lookup(table: np.ndarray, index: jax.Array) -> jax.Array:
    """``table[index]`` for indices known to be in range (no clamping or wrapping)."""
    return jnp.asarray(table).at[index].get(mode="promise_in_bounds")


def _nearest_code(v: jax.Array, unsigned: jax.Array) -> jax.Array:
    """Index of the code value nearest to ``v`` in [-1, 1] (unsigned code where set)."""
    a = jnp.abs(v)
    bits = jax.lax.bitcast_convert_type(a, jnp.uint32) >> _BUCKET_SHIFT
    bucket = jnp.minimum(bits, _BUCKETS - 1).astype(jnp.int32)
    table = jnp.where(unsigned, 2, jnp.where(v < 0, 1, 0))
    first = _lookup(_FIRST, table * _BUCKETS + bucket)
    idx = first + (_lookup(_MIDS, table * 256 + first) < a)
    return jnp.where(table == 1, 255 - idx, idx)


def _blocks(x: jax.Array, block_size: int) -> jax.Array:
    flat = x.reshape(-1).astype(jnp.float32)
    n_blocks = -(-flat.size // block_size)
    flat = jnp.pad(flat, (0, n_blocks * block_size - flat.size))
    return flat.reshape(n_blocks, block_size)


def quantize(x: jax.Array, block_size: int) -> QuantizedArray:
    """Blockwise 8-bit form of ``x`` (see :class:`QuantizedArray`)."""
    b = _blocks(x, block_size)
    absmax = jnp.max(jnp.abs(b), axis=1, keepdims=True)
    unsigned = jnp.min(b, axis=1, keepdims=True) >= 0
    v = b / jnp.where(absmax > 0, absmax, 1.0)
    idx = _nearest_code(v, unsigned)
    codes = idx.astype(jnp.uint8).reshape(-1)[: x.size].reshape(x.shape)
    scales = jnp.where(unsigned, -absmax, absmax)[:, 0]
    return QuantizedArray(codes, scales)


def dequantize(q: QuantizedArray, block_size: int) -> jax.Array:
    """The float32 array a :class:`QuantizedArray` stands for."""
    b = _blocks(q.codes, block_size).astype(jnp.int32)
    scales = q.scales[:, None]
    values = _lookup(_TABLE, b + jnp.where(scales < 0, 256, 0)) * jnp.abs(scales)
    return values.reshape(-1)[: q.codes.size].reshape(q.codes.shape)


def _is_quantized(x: Any) -> bool:
    return isinstance(x, QuantizedArray)


def quantize_state(
    inner: GradientTransformation,
    *,
    bits: int = 8,
    block_size: int = 256,
    min_size: int = 4096,
) -> GradientTransformationExtraArgs:
    """``inner`` with its parameter-shaped floating state stored in 8 bits per element.

    Each floating (real) leaf of ``inner``'s state that has the shape of a parameter
    and at least ``min_size`` elements (Adam's ``mu`` and ``nu``, momentum buffers,
    accumulators) is kept as a :class:`QuantizedArray`: per block of ``block_size``
    elements, the absolute maximum :math:`s_b` in float32 and, per element, the index
    of the nearest value of the dynamic code :math:`Q` (:func:`dynamic_code`):

    .. math::

       c_i = \\operatorname{argmin}_k \\left| Q_k - x_i / s_b \\right|, \\qquad
       \\tilde x_i = s_b\\, Q_{c_i}, \\qquad
       |\\tilde x_i - x_i| \\le \\tfrac{1}{2}\\, s_b \\max_k (Q_{k+1} - Q_k).

    A block whose values are all non-negative (a second moment, an accumulator of
    squares) uses the unsigned code, twice as fine; others the signed one. The choice
    is made per block from the values at every step, so it needs no names and cannot
    clip a negative value; it is recorded as the sign of the stored scale. Each update
    dequantizes the leaves to float32, runs ``inner.update`` on them and quantizes the
    new state. Scalars (counts, hyperparameters), small leaves, integer and complex
    leaves, and leaves of other shapes (e.g. Adafactor's factored rows) stay as they
    are. For Adam-type optimizers that is about 2.03 bytes per parameter instead of 8.

    Every parameter-shaped leaf of ``inner``'s state is quantized, including copies of
    the parameters some wrappers keep (lookahead's slow weights, EMA averages); wrap
    only the optimizer, not such a wrapper, to keep those exact.

    Args:
      inner: any gradient transformation, e.g. ``gradtx.adamw(1e-3)``.
      bits: bits per stored element; only 8 is supported.
      block_size: elements per block (one float32 scale each), a positive int.
      min_size: leaves with fewer elements stay in their own dtype, an int >= 0.

    Returns:
      A transformation with :class:`QuantizedState`; extra arguments go to ``inner``.
      ``None`` leaves pass through and updates keep ``inner``'s dtypes.

    Reference: Dettmers, Lewis, Shleifer & Zettlemoyer 2022, "8-bit Optimizers via
    Block-wise Quantization", arXiv 2110.02861 (block-wise dynamic quantization; this
    wrapper leaves out the paper's stable embedding layer, a model change).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.quantize_state(gradtx.adamw(1e-3), min_size=4)
      >>> params = {"w": jnp.linspace(-1.0, 1.0, 8)}
      >>> state = tx.init(params)
      >>> u, state = tx.update({"w": jnp.linspace(-0.5, 1.0, 8)}, state, params)
      >>> mu = state.inner_state.inner_state[0].mu["w"]
      >>> mu.codes.dtype, mu.scales
      (dtype('uint8'), Array([0.1], dtype=float32))
      >>> gradtx.set_hyperparams(state, learning_rate=0.01) is not None
      True
    """
    check_transformation("quantize_state", "inner", inner)
    if bits != 8:
        raise ValueError(f"`quantize_state(bits=...)` supports only 8 bits; got {bits=}.")
    for name, value, low in (("block_size", block_size, 1), ("min_size", min_size, 0)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValueError(
                f"`quantize_state({name}=...)` must be an int >= {low}; got {name}={value!r}."
            )
    block_size = int(block_size)
    min_size = int(min_size)
    inner = with_extra_args_support(inner)

    def init_fn(params: Params) -> QuantizedState:
        shapes = {tuple(jnp.shape(p)) for p in jax.tree.leaves(params)}

        def encode(leaf: Any) -> Any:
            if (
                isinstance(leaf, jax.Array | np.ndarray)
                and jnp.issubdtype(leaf.dtype, jnp.floating)
                and leaf.size >= min_size
                and tuple(leaf.shape) in shapes
            ):
                return quantize(leaf, block_size)
            return leaf

        return QuantizedState(jax.tree.map(encode, inner.init(params)))

    def update_fn(
        updates: Updates, state: QuantizedState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, QuantizedState]:
        stored = state.inner_state
        decoded = jax.tree.map(
            lambda x: dequantize(x, block_size) if _is_quantized(x) else x,
            stored,
            is_leaf=_is_quantized,
        )
        updates, new = inner.update(updates, decoded, params, **extra_args)
        encoded = jax.tree.map(
            lambda old, x: quantize(x, block_size) if _is_quantized(old) else x,
            stored,
            new,
            is_leaf=_is_quantized,
        )
        return updates, QuantizedState(encoded)

    return GradientTransformationExtraArgs(init_fn, update_fn)

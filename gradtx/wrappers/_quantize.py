"""8-bit optimizer state: blockwise dynamic quantization of a transformation's moments."""

from __future__ import annotations

import functools
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
    if isinstance(bits, bool) or not isinstance(bits, int) or bits < 2:
        raise ValueError(f"`dynamic_code(bits=...)` must be an integer >= 2; got {bits=}.")
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

# Encoding and decoding are elementwise arithmetic, with no table lookup (a gather runs
# one element at a time on CPU). Both codes share a structure: the positive values of
# the signed code, in increasing order, are 0, then 2**m values for decades m = 0..6
# (10**(m - 6) * [0.1, 1], m fraction bits), then 1; the unsigned code has the same
# decades with one more fraction bit each (2**(m + 1) values). A magnitude's position
# in such a list is the number of midpoints between consecutive values below it: the
# 8 midpoints between decades (and next to 0 and 1) are compared directly, and the
# midpoints inside decade m are bin edges of a linear grid, counted with one floor.
# Signed values are stored at 127 +- position (sorted order of the signed code).
_SIGNED_POSITIVE = _SIGNED[127:]  # 0, 127 values, 1


def _decade_midpoints(code: np.ndarray, starts: list[int]) -> np.ndarray:
    mid = (code[1:] + code[:-1]) / np.float32(2)
    return np.asarray([mid[s - 1] for s in starts], np.float32)


# Midpoints below the first value of each decade, and below 1.
_SIGNED_EDGES = _decade_midpoints(_SIGNED_POSITIVE, [1, 2, 4, 8, 16, 32, 64, 128])
_UNSIGNED_EDGES = _decade_midpoints(_UNSIGNED, [1, 3, 7, 15, 31, 63, 127, 255])


def _nearest_code(v: jax.Array, unsigned: jax.Array) -> jax.Array:
    """Index of the code value nearest to ``v`` in [-1, 1] (unsigned code where set)."""
    a = jnp.abs(v)
    # Count bin edges on the unsigned grid, halved (one fraction bit fewer) if signed.
    half = jnp.where(unsigned, np.float32(1.0), np.float32(0.5))
    count = jnp.zeros(a.shape, jnp.float32)
    for s_edge, u_edge in zip(_SIGNED_EDGES, _UNSIGNED_EDGES, strict=True):
        edge = jnp.where(unsigned, u_edge, s_edge)
        count = count + (a > edge).astype(jnp.float32)
    for e in range(7):  # the decade 10**-e * [0.1, 1], 2**(7 - e) unsigned bins
        n = 2 ** (7 - e)
        z = (a * np.float32(10.0**e * n / 0.9) - np.float32(0.1 * n / 0.9)) * half
        count = count + jnp.clip(jnp.floor(z), 0.0, n * half - 1.0)
    pos = count.astype(jnp.int32)
    signed = jnp.where(v < 0, 127 - jnp.minimum(pos, 127), 127 + pos)
    return jnp.where(unsigned, pos, signed)


def _code_value(c: jax.Array, unsigned: jax.Array) -> jax.Array:
    """The code value of index ``c`` (int32) in the unsigned or signed code, exactly.

    The ``j``-th of the ``N = 2**L`` values of a decade is ``10**-e (0.1 + 0.9 (j +
    1/2) / N)``; with the position ``q = N + j`` that is the integer ``18 q - 16 N + 9``
    over ``5**(e + 1) * 2**(8 + unsigned)`` (``e = 6 - L``, ``7 - L`` unsigned): one
    correctly rounded division by an exact integer, as the table's float32 rounding.
    """
    q = jnp.where(unsigned, c + 1, jnp.abs(c - 127))  # position among the magnitudes
    lead = (jax.lax.bitcast_convert_type(q.astype(jnp.float32), jnp.int32) >> 23) - 127
    num = 18 * q - (16 << lead) + 9  # lead = floor(log2 q), 16 N = 16 << lead
    d = 7 - lead + unsigned.astype(jnp.int32)  # e + 1, in 1..7
    one = np.float32(1.0)
    den = (
        jnp.where(d & 1, np.float32(5.0), one)
        * jnp.where(d & 2, np.float32(25.0), one)
        * jnp.where(d & 4, np.float32(625.0), one)
    )
    value = (
        num.astype(jnp.float32)
        / den
        * jnp.where(unsigned, np.float32(2.0**-9), np.float32(2.0**-8))
    )
    value = jnp.where(c == 255, one, value)
    value = jnp.where(c == jnp.where(unsigned, 0, 127), np.float32(0.0), value)
    return jnp.where(unsigned | (c >= 127), value, -value)


def _block_stats(b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Each row's absolute maximum and whether it has no negative value, in one pass."""
    absmax, low = jax.lax.reduce(
        (jnp.abs(b), b),
        (np.float32(0.0), np.float32(np.inf)),
        lambda x, y: (jnp.maximum(x[0], y[0]), jnp.minimum(x[1], y[1])),
        (1,),
    )
    return absmax[:, None], low[:, None] >= 0


def _per_element(x: jax.Array, size: int, block_size: int) -> jax.Array:
    """A per-block (blocks, 1) array repeated over each block's elements, ``size`` long."""
    return jnp.broadcast_to(x, (x.shape[0], block_size)).reshape(-1)[:size]


# Jitted, so that an eager init or update runs one compiled program per shape instead
# of dispatching the ~100 operations of the code search one by one (2.5 s -> 0.3 s for
# the first eager init of an Adam state); under an enclosing jit they are inlined.
@functools.partial(jax.jit, static_argnames="block_size")
def quantize(x: jax.Array, block_size: int) -> QuantizedArray:
    """Blockwise 8-bit form of ``x`` (see :class:`QuantizedArray`)."""
    flat = x.reshape(-1).astype(jnp.float32)
    full = flat.size // block_size * block_size
    # Block statistics of the whole blocks and of the short last one, each without
    # padding (a padded copy puts a bounds check on every element of its loop).
    stats = []
    if full:
        stats.append(_block_stats(flat[:full].reshape(-1, block_size)))
    if full < flat.size:
        stats.append(_block_stats(flat[full:].reshape(1, -1)))
    absmax = jnp.concatenate([m for m, _ in stats]) if len(stats) > 1 else stats[0][0]
    unsigned = jnp.concatenate([u for _, u in stats]) if len(stats) > 1 else stats[0][1]
    inv = np.float32(1.0) / jnp.where(absmax > 0, absmax, np.float32(1.0))
    v = flat * _per_element(inv, flat.size, block_size)
    codes = _nearest_code(v, _per_element(unsigned, flat.size, block_size))
    return QuantizedArray(
        codes.astype(jnp.uint8).reshape(x.shape), jnp.where(unsigned, -absmax, absmax)[:, 0]
    )


@functools.partial(jax.jit, static_argnames="block_size")
def dequantize(q: QuantizedArray, block_size: int) -> jax.Array:
    """The float32 array a :class:`QuantizedArray` stands for."""
    flat = q.codes.reshape(-1)
    n_blocks = q.scales.shape[0]
    if n_blocks * block_size > flat.size:  # pad the bytes, not the floats
        flat = jnp.pad(flat, (0, n_blocks * block_size - flat.size))
    scales = q.scales[:, None]
    values = _code_value(flat.reshape(n_blocks, block_size).astype(jnp.int32), scales < 0)
    values = values * jnp.abs(scales)
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
    It trades time for memory: on CPU a step takes several times as long as the
    float32 step (docs/guide/quantized_state.md has the numbers).

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
                # never a scalar: with a scalar parameter, the hyperparameters would
                # have "the shape of a parameter" and be stored in 8 bits
                and leaf.ndim >= 1
                and leaf.size >= max(min_size, 1)
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

"""Small helpers shared by the transform modules (private)."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx._treeutil import is_none as is_none
from gradtx._treeutil import tmap as tmap


def like(x: jax.Array, ref: Any) -> jax.Array:
    """Cast ``x`` to the dtype of ``ref`` (keeps updates in the gradients' dtype)."""
    return jnp.asarray(x).astype(jnp.result_type(ref))


def zeros_state(params: Any, dtype: Any = None) -> Any:
    """Zeros shaped like ``params`` (or ``ShapeDtypeStruct`` leaves) in ``dtype``.

    With ``dtype=None`` each leaf keeps its parameter's dtype.
    """
    return tmap(lambda p: jnp.zeros(jnp.shape(p), dtype or jnp.result_type(p)), params)


def full_state(params: Any, value: Any, dtype: Any = None) -> Any:
    """A constant shaped like ``params``; complex params get a real accumulator."""

    def f(p: Any) -> jax.Array:
        dt = dtype or jnp.result_type(p)
        if jnp.issubdtype(dt, jnp.complexfloating) and dtype is None:
            dt = jnp.finfo(dt).dtype
        return jnp.full(jnp.shape(p), value, dt)

    return tmap(f, params)


def real_zeros_state(params: Any, dtype: Any = None) -> Any:
    """Zeros with the real dtype of each parameter (for second moments), or ``dtype``."""
    return full_state(params, 0.0, dtype)


def upcast(x: Any) -> jax.Array:
    """``x`` in at least float32, for arithmetic on moments stored in a narrower dtype.

    bfloat16/float16 leaves become float32; float32, float64 and complex leaves are
    unchanged. Results are stored back in the state's dtype with :func:`like`.
    """
    x = jnp.asarray(x)
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def times(c: Any, x: Any) -> Any:
    """``c * x``, or ``x`` itself when ``c`` is a Python/NumPy one.

    A multiplication by a literal one (an undamped momentum's ``1 - dampening``) would
    otherwise be traced once per leaf: XLA removes it, but only after compiling it.
    """
    if isinstance(c, (int, float, np.number)) and not isinstance(c, bool) and c == 1:
        return x
    return c * x


def require_params(fn: str, params: Any) -> None:
    """Raise a clear error when a transformation that reads params got none."""
    if params is None:
        raise ValueError(f"`{fn}` needs the parameters: call update(updates, state, params).")


def as_float(x: Any) -> jax.Array:
    """``x`` in JAX's default float dtype (float64 when x64 is on, else float32).

    Scalars such as ``1 - decay**t`` are computed in it, so that float64 moments are not
    corrected by a float32 factor (a hyperparameter stored in float32 stays rounded to
    float32, but the arithmetic on it is done at full precision).
    """
    return jnp.asarray(x, jnp.result_type(float))


def debias_factor(decay: Any, count: jax.Array) -> jax.Array:
    """The total weight ``1 - decay**count`` of an EMA started at zero."""
    # lax.pow with an integer exponent: a concrete count must not specialise the kernel
    # (``**`` would compile a new integer_pow for every step when run eagerly).
    return 1 - jax.lax.pow(as_float(decay), jnp.asarray(count))

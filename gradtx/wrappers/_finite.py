"""Non-finite gradients: skip them, replace them, or give up after too many."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_nonnegative, check_transformation
from gradtx._treeutil import tmap
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)
from gradtx.numerics import safe_increment
from gradtx.wrappers._accumulate import cast_tree_like

__all__ = [
    "ApplyIfFiniteState",
    "ZeroNansState",
    "apply_if_finite",
    "skip_large_updates",
    "skip_not_finite",
    "zero_nans",
]


def _leaves(tree: Any) -> list[jax.Array]:
    return [x for x in jax.tree.leaves(tree) if x is not None]


def _all_finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.asarray([jnp.all(jnp.isfinite(x)) for x in _leaves(tree)] or [True]))


def skip_not_finite(
    updates: Updates, gradient_step: jax.Array, params: Params | None
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Say to skip a gradient with any NaN or infinite entry (for :class:`MultiSteps`).

    Rule: skip :math:`\\iff \\exists i: g_i \\notin \\mathbb{R}` (NaN or :math:`\\pm\\infty`).

    Args:
      updates: the incoming gradient tree (``None`` leaves are ignored).
      gradient_step: unused (part of the ``should_skip_update_fn`` signature).
      params: unused.

    Returns:
      ``(should_skip, {"should_skip": should_skip, "num_not_finite": n})``, with ``n``
      the int32 number of non-finite entries.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> skip, info = gradtx.skip_not_finite({"w": jnp.array([1.0, jnp.nan])}, 0, None)
      >>> bool(skip), int(info["num_not_finite"])
      (True, 1)
    """
    del gradient_step, params
    n = sum(
        (jnp.sum(~jnp.isfinite(x), dtype=jnp.int32) for x in _leaves(updates)),
        jnp.zeros([], jnp.int32),
    )
    should_skip = n > 0
    return should_skip, {"should_skip": should_skip, "num_not_finite": n}


def skip_large_updates(
    updates: Updates,
    gradient_step: jax.Array,
    params: Params | None,
    max_squared_norm: jax.typing.ArrayLike,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Say to skip a gradient whose squared global norm is not below ``max_squared_norm``.

    Rule: skip :math:`\\iff \\neg(\\sum_i |g_i|^2 < \\tau)` with :math:`\\tau` =
    ``max_squared_norm``; a NaN norm is skipped too. Use it as ``MultiSteps(...,
    should_skip_update_fn=functools.partial(skip_large_updates, max_squared_norm=tau))``.

    Args:
      updates: the incoming gradient tree (``None`` leaves are ignored).
      gradient_step: unused (part of the ``should_skip_update_fn`` signature).
      params: unused.
      max_squared_norm: :math:`\\tau` >= 0.

    Returns:
      ``(should_skip, {"should_skip": should_skip, "norm_squared": s})``, with ``s``
      the squared norm, in float32 (or wider when the gradients are).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> skip, info = gradtx.skip_large_updates({"w": jnp.array([3.0, 4.0])}, 0, None, 20.0)
      >>> bool(skip), float(info["norm_squared"])
      (True, 25.0)
    """
    del gradient_step, params
    check_nonnegative("skip_large_updates", "max_squared_norm", max_squared_norm)
    leaves = _leaves(updates)
    dtype = jnp.result_type(jnp.float32, *(jnp.real(x).dtype for x in leaves))
    sq = sum(
        (jnp.sum(jnp.abs(x.astype(jnp.promote_types(x.dtype, dtype))) ** 2) for x in leaves),
        jnp.zeros([], dtype),
    ).astype(dtype)
    should_skip = jnp.logical_not(sq < max_squared_norm)
    return should_skip, {"should_skip": should_skip, "norm_squared": sq}


class ApplyIfFiniteState(NamedTuple):
    """State of :func:`apply_if_finite` (optax's fields, in its order).

    Attributes:
      notfinite_count: int32, the non-finite updates in a row since the last applied
        one (finite, or given up on).
      last_finite: bool, whether the last incoming update was finite.
      total_notfinite: int32, all non-finite updates seen.
      inner_state: the wrapped transformation's state.
    """

    notfinite_count: jax.Array
    last_finite: jax.Array
    total_notfinite: jax.Array
    inner_state: Any


def apply_if_finite(
    inner: GradientTransformation, max_consecutive_errors: int
) -> GradientTransformationExtraArgs:
    """Run ``inner`` only on finite updates; skip up to ``max_consecutive_errors`` in a row.

    Rule, with :math:`c` = ``notfinite_count`` and :math:`m` = ``max_consecutive_errors``:
    an update with a NaN or infinite entry raises :math:`c` by one and, while
    :math:`c \\le m`, is replaced by zeros with ``inner``'s state left as it was. A
    finite update, or the :math:`(m+1)`-th non-finite one in a row (the wrapper gives
    up and lets it through), goes through ``inner`` and sets :math:`c = 0`.

    optax 0.2.8 does not reset :math:`c` when it gives up, so after :math:`m`
    skips it lets *every* further non-finite update through until a finite one
    arrives (google-deepmind/optax pull request 1746). gradtx starts a fresh run of
    :math:`m` skips: it gives up on one update in every :math:`m + 1`.

    Args:
      inner: the transformation to protect.
      max_consecutive_errors: :math:`m` >= 0, the non-finite updates in a row to
        skip before letting one through.

    Returns:
      A transformation with :class:`ApplyIfFiniteState`; extra arguments go to
      ``inner``; ``None`` leaves pass through.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.apply_if_finite(gradtx.sgd(0.1), max_consecutive_errors=2)
      >>> s = tx.init(jnp.zeros(2))
      >>> u, s = tx.update(jnp.array([1.0, jnp.nan]), s)
      >>> u, int(s.notfinite_count), int(s.total_notfinite)
      (Array([0., 0.], dtype=float32), 1, 1)
      >>> u, s = tx.update(jnp.array([1.0, 2.0]), s)
      >>> u, int(s.notfinite_count)
      (Array([-0.1, -0.2], dtype=float32), 0)
    """
    check_transformation("apply_if_finite", "inner", inner)
    if isinstance(max_consecutive_errors, bool) or not isinstance(max_consecutive_errors, int):
        raise TypeError(
            "`apply_if_finite(max_consecutive_errors=...)` must be an int; "
            f"got {max_consecutive_errors=}."
        )
    check_nonnegative("apply_if_finite", "max_consecutive_errors", max_consecutive_errors)
    tx = with_extra_args_support(inner)

    def init_fn(params: Params) -> ApplyIfFiniteState:
        zero = jnp.zeros([], jnp.int32)
        return ApplyIfFiniteState(zero, jnp.ones([], bool), zero, tx.init(params))

    def update_fn(
        updates: Updates, state: ApplyIfFiniteState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, ApplyIfFiniteState]:
        finite = _all_finite(updates)
        count = jnp.where(finite, 0, safe_increment(state.notfinite_count))
        apply = jnp.logical_or(finite, count > max_consecutive_errors)

        # A select, not lax.cond: the inner step is cheap next to the gradient, and a
        # select does not retrace at every eager call.
        out, inner_state = tx.update(updates, state.inner_state, params, **extra_args)
        out = tmap(
            lambda o, u: jnp.where(apply, jnp.asarray(o).astype(u.dtype), jnp.zeros_like(u)),
            out,
            updates,
        )
        inner_state = jax.tree.map(
            lambda n, o: jnp.where(apply, n, o),
            cast_tree_like(inner_state, state.inner_state),
            state.inner_state,
        )
        total = jnp.where(finite, state.total_notfinite, safe_increment(state.total_notfinite))
        new = ApplyIfFiniteState(
            jnp.where(apply, 0, count).astype(jnp.int32), finite, total, inner_state
        )
        return out, new

    return GradientTransformationExtraArgs(init_fn, update_fn)


class ZeroNansState(NamedTuple):
    """State of :func:`zero_nans` (optax's field).

    Attributes:
      found_nan: a tree of bool scalars shaped like the params: whether the last
        update of that leaf had a NaN (``None`` for ``None`` leaves).
    """

    found_nan: Any


def zero_nans() -> GradientTransformationExtraArgs:
    """Replace NaN entries of the updates by zeros (infinities are kept).

    Update rule, entry by entry: :math:`u \\leftarrow 0` where :math:`u` is NaN, else
    :math:`u`. Put first in a chain, a NaN gradient entry then costs one zero step for
    that entry instead of poisoning the moments of the optimizer after it.

    Returns:
      A transformation with :class:`ZeroNansState`; ``None`` leaves pass through.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.zero_nans()
      >>> u, s = tx.update({"w": jnp.array([jnp.nan, 2.0])}, tx.init({"w": jnp.zeros(2)}))
      >>> u["w"], bool(s.found_nan["w"])
      (Array([0., 2.], dtype=float32), True)
    """

    def init_fn(params: Params) -> ZeroNansState:
        return ZeroNansState(tmap(lambda _: jnp.zeros([], bool), params))

    def update_fn(
        updates: Updates, state: ZeroNansState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, ZeroNansState]:
        del state, params, extra_args
        found = tmap(lambda u: jnp.any(jnp.isnan(u)), updates)
        out = tmap(lambda u: jnp.where(jnp.isnan(u), jnp.zeros_like(u), u), updates)
        return out, ZeroNansState(found)

    return GradientTransformationExtraArgs(init_fn, update_fn)

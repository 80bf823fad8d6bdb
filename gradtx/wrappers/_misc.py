"""Small wrappers: keep_params_nonnegative and flatten."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from gradtx._checks import check_transformation
from gradtx.base import (
    EmptyState,
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)
from gradtx.transforms._common import like, require_params

__all__ = ["flatten", "keep_params_nonnegative"]


def keep_params_nonnegative() -> GradientTransformationExtraArgs:
    """Change the updates so that the parameters stay at or above zero.

    Update rule: :math:`u \\leftarrow -\\theta` where :math:`\\theta + u < 0`, else
    :math:`u` (a parameter that would go negative is set to exactly 0). Put it last in a
    chain, after the learning rate; a parameter already negative is moved to 0.

    Returns:
      A transformation with an empty state; ``update`` needs the params.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.keep_params_nonnegative()
      >>> params = jnp.array([1.0, 2.0])
      >>> tx.update(jnp.array([-3.0, -1.0]), tx.init(params), params)[0]
      Array([-1., -1.], dtype=float32)
    """

    def update_fn(
        updates: Updates, state: EmptyState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, EmptyState]:
        del extra_args
        require_params("keep_params_nonnegative", params)
        out = jax.tree.map(
            lambda u, p: None if u is None else like(jnp.where(p + u < 0, -p, u), u),
            updates,
            params,
            is_leaf=lambda x: x is None,
        )
        return out, state

    return GradientTransformationExtraArgs(lambda params: EmptyState(), update_fn)


def flatten(inner: GradientTransformation) -> GradientTransformationExtraArgs:
    """Run ``inner`` on one flat vector holding every leaf.

    The updates (and params) are concatenated into a single 1-D array (in the leaves'
    common dtype), ``inner`` runs on it, and its output is split back into the tree, each
    leaf in its own dtype. Many small leaves then cost one kernel instead of one each;
    ``inner``'s state is flat too. Transformations that use the shape of a leaf (factored
    or matrix preconditioners, ``centralize``) see one vector instead.

    Args:
      inner: the transformation to run on the flat vector.

    Returns:
      A transformation whose state is ``inner``'s state on the flat vector.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.flatten(gradtx.scale_by_adam())
      >>> params = {"w": jnp.zeros((2, 2)), "b": jnp.zeros(2)}
      >>> tx.init(params).mu.shape
      (6,)
    """
    check_transformation("flatten", "inner", inner)
    inner = with_extra_args_support(inner)

    def init_fn(params: Params) -> Any:
        return inner.init(ravel_pytree(params)[0])

    def update_fn(
        updates: Updates, state: Any, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, Any]:
        flat, unravel = ravel_pytree(updates)
        flat_params = None if params is None else ravel_pytree(params)[0]
        new, state = inner.update(flat, state, flat_params, **extra_args)
        return unravel(new), state

    return GradientTransformationExtraArgs(init_fn, update_fn)

"""Sharpness-aware minimization: descend from the worst point of a neighbourhood."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from gradtx._checks import check_transformation
from gradtx._hyperparams import OptimizerState, holds_hyperparams
from gradtx._treeutil import tmap
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)

__all__ = ["NormalizeState", "SAMState", "normalize", "sam"]


class SAMState(NamedTuple):
    """State of :func:`sam` (optax's ``SAMState`` fields, in its order).

    Attributes:
      steps_since_sync: int32, the adversarial steps taken since the last outer
        update (0 at the start of each period; always 0 in opaque mode).
      opt_state: the outer optimizer's state.
      adv_state: the adversarial optimizer's state.
      cache: the true parameters, those at the start of the current period (the
        adversarial steps move away from them and the outer step starts from
        them); ``None`` in opaque mode, which needs no copy.
    """

    steps_since_sync: jax.Array
    opt_state: Any
    adv_state: Any
    cache: Any


class NormalizeState(NamedTuple):
    """State of :func:`normalize` (it keeps none)."""


def normalize() -> GradientTransformationExtraArgs:
    """Divide the updates by their global norm: SAM's adversarial direction.

    Update rule: :math:`u \\leftarrow u / \\|u\\|_2`, the norm over all leaves
    together; a zero update stays zero (optax's ``contrib.normalize`` gives NaN
    there). ``chain(normalize(), sgd(rho))`` as :func:`sam`'s ``adv_optimizer`` is
    the paper's ascent :math:`\\rho\\, g / \\|g\\|`.

    Returns:
      A stateless transformation (:class:`NormalizeState`).

    Reference: Foret, Kleiner, Mobahi & Neyshabur 2021, "Sharpness-Aware Minimization
    for Efficiently Improving Generalization", arXiv 2010.01412, eq. (2).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.normalize()
      >>> tx.update({"a": jnp.array([3.0]), "b": jnp.array([4.0])}, tx.init(None))[0]
      {'a': Array([0.6], dtype=float32), 'b': Array([0.8], dtype=float32)}
    """

    def init_fn(params: Params) -> NormalizeState:
        del params
        return NormalizeState()

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        leaves = [x for x in jax.tree.leaves(updates) if x is not None]
        sq = sum(
            (
                jnp.sum(jnp.abs(x.astype(jnp.promote_types(x.dtype, jnp.float32))) ** 2)
                for x in leaves
            ),
            jnp.zeros([], jnp.float32),
        )
        norm = jnp.sqrt(sq)
        inv = jnp.where(norm > 0, 1 / jnp.where(norm > 0, norm, 1), 0)
        return tmap(lambda x: (x * inv).astype(x.dtype), updates), state

    return GradientTransformationExtraArgs(init_fn, update_fn)


def _reinit(tx: GradientTransformation, params: Params, old: Any) -> Any:
    """``tx.init(params)``, keeping the hyperparameters set by hand in ``old``.

    A gradtx optimizer's state records its hyperparameters; a reset starts its
    moments and counts afresh but must not undo ``gradtx.set_hyperparams``.
    """
    fresh = tx.init(params)

    def keep(new: Any, prev: Any) -> Any:
        if not holds_hyperparams(new):
            return new
        kept = new._replace(
            hyperparams=prev.hyperparams, inner_state=keep_all(new.inner_state, prev.inner_state)
        )
        if isinstance(new, OptimizerState):
            kept = kept._replace(overrides=prev.overrides)
        return kept

    def keep_all(new: Any, prev: Any) -> Any:
        return jax.tree.map(keep, new, prev, is_leaf=holds_hyperparams)

    return keep_all(fresh, old)


def _cast_like(tree: Any, ref: Any) -> Any:
    return tmap(lambda x, r: jnp.asarray(x).astype(jnp.result_type(r)), tree, ref)


def sam(
    optimizer: GradientTransformation,
    adv_optimizer: GradientTransformation,
    sync_period: int = 2,
    reset_state: bool = True,
    opaque_mode: bool = False,
    batch_axis_name: str | None = None,
) -> GradientTransformationExtraArgs:
    """Sharpness-aware minimization (SAM): step from the parameters with the gradient
    taken at an adversarially perturbed point.

    Update rule for one period of :math:`k` = ``sync_period`` calls, from the true
    parameters :math:`\\theta` with :math:`\\tilde\\theta_0 = \\theta`: the first
    :math:`k - 1` calls *ascend* with ``adv_optimizer`` (:math:`A`), the last
    descends with ``optimizer`` (:math:`O`) from :math:`\\theta`:

    .. math::

       \\tilde\\theta_{i} = \\tilde\\theta_{i-1} - A(g(\\tilde\\theta_{i-1})),\\quad
       i = 1..k-1, \\qquad
       \\theta \\leftarrow \\theta + O(g(\\tilde\\theta_{k-1}))

    where :math:`A` and :math:`O` are the transformations' outputs (steps to *add*,
    so subtracting :math:`A`'s is an ascent). With ``adv_optimizer =
    chain(normalize, sgd(rho))`` (:math:`A(g) = -\\rho\\, g/\\|g\\|`) and ``k = 2``
    this is the paper's SAM: :math:`\\theta \\leftarrow \\theta + O(\\nabla
    L(\\theta + \\rho\\, g/\\|g\\|))`.

    By default (``opaque_mode=False``) each ``update`` is one of these calls: it takes
    the gradient at the parameters it is given and returns the step to apply to them,
    so the parameters visit :math:`\\tilde\\theta_1, \\dots, \\tilde\\theta_{k-1}`, and
    the last call returns :math:`\\theta + O(g) - \\tilde\\theta_{k-1}`. With
    ``opaque_mode=True`` one ``update`` does a whole period: it needs
    ``grad_fn=`` (a function ``(params, i) -> gradients``, called :math:`k - 1` times
    at :math:`\\tilde\\theta_{i+1}` with ``i = 0..k-2``) and returns the outer step
    :math:`O(g(\\tilde\\theta_{k-1}))`; the incoming ``updates`` are the gradient at
    :math:`\\theta`. ``reset_state`` re-initializes the adversarial optimizer after
    every outer step (hyperparameters set with :func:`gradtx.set_hyperparams` are
    kept).

    Matches ``optax.contrib.sam`` in both modes (tested in float64 to 1e-10), but for
    ``sync_period=1``: then every call is an outer step, and gradtx takes it from the
    parameters it is given (plain ``optimizer``), where optax takes it from the
    previous call's parameters.

    Args:
      optimizer: the outer transformation :math:`O`.
      adv_optimizer: the adversarial transformation :math:`A` (its output is
        subtracted).
      sync_period: :math:`k` >= 1, the calls per period (``k - 1`` adversarial steps).
      reset_state: re-initialize ``adv_optimizer``'s state after each outer step.
      opaque_mode: run a whole period in each ``update`` (needs ``grad_fn=``), so that
        the caller never sees the adversarial parameters (e.g. with BatchNorm
        statistics updated at each call).
      batch_axis_name: in opaque mode, the name of a mapped axis (``jax.pmap``,
        ``jax.vmap`` or ``shard_map``) over which every gradient from ``grad_fn`` is
        averaged (``lax.pmean``); ignored otherwise, where the caller averages.

    Returns:
      A transformation with :class:`SAMState`; ``update`` needs the params. Extra
      arguments go to both transformations.

    Reference: Foret, Kleiner, Mobahi & Neyshabur 2021, "Sharpness-Aware Minimization
    for Efficiently Improving Generalization", arXiv 2010.01412, Algorithm 1.

    Example:
      >>> import jax, jax.numpy as jnp, gradtx
      >>> loss = lambda w: jnp.sum(w**4) - jnp.sum(w**2)
      >>> adv = gradtx.chain(gradtx.normalize(), gradtx.sgd(0.1))
      >>> tx = gradtx.sam(gradtx.sgd(0.1), adv, opaque_mode=True)
      >>> w = jnp.array([1.0]); s = tx.init(w)
      >>> u, s = tx.update(jax.grad(loss)(w), s, w, grad_fn=lambda p, i: jax.grad(loss)(p))
      >>> u  # the gradient at 1.1 (not at 1) drives the step
      Array([-0.3124], dtype=float32)
    """
    check_transformation("sam", "optimizer", optimizer)
    check_transformation("sam", "adv_optimizer", adv_optimizer)
    if isinstance(sync_period, bool) or not isinstance(sync_period, int) or sync_period < 1:
        raise ValueError(f"`sam(sync_period=...)` must be an integer >= 1; got {sync_period=}.")
    opt = with_extra_args_support(optimizer)
    adv = with_extra_args_support(adv_optimizer)

    def init_fn(params: Params) -> SAMState:
        cache = None if opaque_mode else tmap(jnp.asarray, params)
        return SAMState(jnp.zeros([], jnp.int32), opt.init(params), adv.init(params), cache)

    def require_params(params: Params | None) -> None:
        if params is None:
            raise ValueError("`sam` needs the parameters: call update(updates, state, params).")

    def visible_update(
        updates: Updates, state: SAMState, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, SAMState]:
        require_params(params)
        start = state.steps_since_sync == 0
        # The true parameters: those given at the start of a period, else the cached ones.
        cache = tmap(lambda p, c: jnp.where(start, p, c), params, state.cache)

        def outer(_: Any) -> tuple[Any, Any, Any]:
            step, opt_state = opt.update(updates, state.opt_state, cache, **extra_args)
            out = tmap(lambda c, s, p: c + s - p, cache, step, params)
            adv_state = _reinit(adv, params, state.adv_state) if reset_state else state.adv_state
            return _cast_like(out, updates), opt_state, adv_state

        def ascend(_: Any) -> tuple[Any, Any, Any]:
            step, adv_state = adv.update(updates, state.adv_state, params, **extra_args)
            return _cast_like(tmap(jnp.negative, step), updates), state.opt_state, adv_state

        last = state.steps_since_sync >= sync_period - 1
        out, opt_state, adv_state = jax.lax.cond(last, outer, ascend, None)
        steps = jnp.where(last, 0, state.steps_since_sync + 1).astype(jnp.int32)
        return out, SAMState(steps, opt_state, adv_state, cache)

    def opaque_update(
        updates: Updates,
        state: SAMState,
        params: Params | None = None,
        *,
        grad_fn: Callable[[Params, int], Updates] | None = None,
        **extra_args: Any,
    ) -> tuple[Updates, SAMState]:
        require_params(params)
        if grad_fn is None and sync_period > 1:
            raise ValueError(
                "`sam(opaque_mode=True)` takes the adversarial gradients from grad_fn: call "
                "update(updates, state, params, grad_fn=lambda params, i: gradients)."
            )
        grads, adv_params, adv_state = updates, params, state.adv_state
        for i in range(sync_period - 1):
            step, adv_state = adv.update(grads, adv_state, adv_params, **extra_args)
            adv_params = _cast_like(tmap(jnp.subtract, adv_params, step), params)
            grads = grad_fn(adv_params, i)
            if batch_axis_name is not None:
                grads = jax.lax.pmean(grads, batch_axis_name)
        out, opt_state = opt.update(grads, state.opt_state, params, **extra_args)
        if reset_state:
            adv_state = _reinit(adv, params, adv_state)
        return out, SAMState(state.steps_since_sync, opt_state, adv_state, None)

    return GradientTransformationExtraArgs(
        init_fn, opaque_update if opaque_mode else visible_update
    )

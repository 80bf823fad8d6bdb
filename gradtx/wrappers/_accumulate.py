"""Gradient accumulation: one optimizer step for every k gradients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np

from gradtx._checks import check_transformation
from gradtx._treeutil import is_none, tmap
from gradtx.base import (
    GradientTransformation,
    GradientTransformationExtraArgs,
    Params,
    Updates,
    with_extra_args_support,
)
from gradtx.numerics import safe_increment

__all__ = [
    "ApplyEvery",
    "MultiSteps",
    "MultiStepsState",
    "ShouldSkipUpdateFunction",
    "apply_every",
]

ShouldSkipUpdateFunction: TypeAlias = Callable[
    [Updates, jax.Array, "Params | None"], "tuple[jax.Array, Any]"
]
"""``fn(updates, gradient_step, params) -> (should_skip, skip_state)`` (see
:func:`gradtx.skip_not_finite`): ``should_skip`` is a boolean scalar, ``skip_state`` any
pytree of arrays kept in :attr:`MultiStepsState.skip_state` for inspection."""


def cast_tree_like(new: Any, old: Any) -> Any:
    """``new`` with every array leaf cast to the dtype of the matching leaf of ``old``.

    Keeps a wrapped transformation's state (or a user's skip state) in the dtypes it had
    at ``init``, so the ``lax.cond`` branches that choose between old and new agree.
    """
    return jax.tree.map(
        lambda n, o: None if n is None else jnp.asarray(n).astype(jnp.result_type(o)),
        new,
        old,
        is_leaf=is_none,
    )


def check_every(fn: str, name: str, value: Any) -> None:
    """``value`` is an integer >= 1 (a Python or NumPy int)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{fn}({name}=...)` must be an integer >= 1; got {name}={value!r}.")


class MultiStepsState(NamedTuple):
    """State of :class:`MultiSteps` (optax's fields, in its order).

    Attributes:
      mini_step: int32, the gradients accumulated since the last inner step (0 right
        after one).
      gradient_step: int32, the inner optimizer steps taken so far.
      inner_opt_state: the wrapped optimizer's state.
      acc_grads: the sum of the gradients of the current period, one array per
        parameter, in ``promote_types(param dtype, accumulator_dtype)`` (float32 for
        bfloat16 and float32 parameters): the only parameter-sized buffer the wrapper
        adds.
      skip_state: what ``should_skip_update_fn`` returned last (``()`` without one).
    """

    mini_step: jax.Array
    gradient_step: jax.Array
    inner_opt_state: Any
    acc_grads: Any
    skip_state: Any = ()


class MultiSteps(GradientTransformationExtraArgs):
    """Accumulate the gradients of ``every_k_schedule`` calls, then step ``opt`` once.

    Update rule, with :math:`k` = ``every_k_schedule(gradient_step)`` and
    :math:`O` the wrapped optimizer: the calls :math:`1..k-1` of a period only add
    their gradient to the accumulator and return zero updates; call :math:`k` returns

    .. math::

       u = O\\Big(\\tfrac1k \\sum_{i=1}^{k} g_i\\Big)

    (the sum, without :math:`1/k`, when ``use_grad_mean=False``) and empties the
    accumulator. :math:`k` calls on micro-batches thus take the step of one call on
    their union, with the memory of one micro-batch: gradient accumulation.

    A ``MultiSteps`` *is* a gradient transformation (an ``(init, update)`` pair, a
    :class:`gradtx.GradientTransformationExtraArgs`), so it goes wherever one goes
    (``gradtx.chain``, ``optax.chain``, Flax ``TrainState``, ``nnx.Optimizer``);
    ``gradient_transformation()`` returns the same pair, for code written for optax,
    whose ``MultiSteps`` is not one itself.

    Memory: the state adds one parameter-sized buffer, ``acc_grads``, to the inner
    optimizer's state (4 bytes per parameter for bfloat16 or float32 parameters), and
    two int32 counters. Its dtype is ``promote_types(param dtype,
    accumulator_dtype)``: bfloat16 gradients accumulate in float32, float64 and
    complex ones keep their precision. The inner optimizer receives the mean in the
    gradients' dtype, and the updates keep it. (optax 0.2.8 stores ``acc_grads`` in
    ``accumulator_dtype`` whatever the parameters, dropping float64 precision and the
    imaginary part of complex gradients; with ``accumulator_dtype=jnp.float64`` for
    float64 parameters the two agree to 1e-10.)

    ``should_skip_update_fn`` (e.g. :func:`gradtx.skip_not_finite`) sees each incoming
    gradient; when it says skip, the call returns zeros and leaves the accumulator,
    counters and inner state as they were (only ``skip_state`` changes).

    Args:
      opt: the transformation to step every :math:`k` calls.
      every_k_schedule: :math:`k`, an integer >= 1, or a function of
        ``gradient_step`` (int32) returning it; read at the start of each period
        (values below 1 count as 1).
      use_grad_mean: step on the mean of the :math:`k` gradients (else their sum).
      should_skip_update_fn: optional ``fn(updates, gradient_step, params) ->
        (should_skip, skip_state)``; called once at ``init`` on zeros to build
        ``skip_state``.
      accumulator_dtype: the least precise dtype ``acc_grads`` may have.

    Returns:
      The transformation; its state is a :class:`MultiStepsState`. Extra arguments go
      to ``opt``. ``has_updated(state)`` says whether the last call stepped ``opt``.

    Reference: the technique is as old as minibatch SGD; see e.g. Goyal et al. 2017,
    "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", arXiv 1706.02677
    (the gradient of a large batch is the mean of its parts' gradients).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.MultiSteps(gradtx.sgd(1.0), every_k_schedule=2)
      >>> params = jnp.zeros(2)
      >>> state = tx.init(params)
      >>> u, state = tx.update(jnp.array([1.0, 2.0]), state, params)
      >>> u, bool(tx.has_updated(state))
      (Array([0., 0.], dtype=float32), False)
      >>> u, state = tx.update(jnp.array([3.0, 0.0]), state, params)
      >>> u, bool(tx.has_updated(state))  # one SGD step on the mean gradient
      (Array([-2., -1.], dtype=float32), True)
    """

    def __new__(
        cls,
        opt: GradientTransformation,
        every_k_schedule: int | Callable[[jax.Array], jax.typing.ArrayLike],
        use_grad_mean: bool = True,
        should_skip_update_fn: ShouldSkipUpdateFunction | None = None,
        accumulator_dtype: Any = jnp.float32,
    ) -> MultiSteps:
        check_transformation("MultiSteps", "opt", opt)
        if not callable(every_k_schedule):
            check_every("MultiSteps", "every_k_schedule", every_k_schedule)
        if not isinstance(use_grad_mean, bool):
            raise TypeError(
                f"`MultiSteps(use_grad_mean=...)` must be a bool; got {use_grad_mean=}."
            )
        if should_skip_update_fn is not None and not callable(should_skip_update_fn):
            raise TypeError(
                "`MultiSteps(should_skip_update_fn=...)` must be a function "
                "(updates, gradient_step, params) -> (should_skip, skip_state) or None; "
                f"got {should_skip_update_fn!r}."
            )
        try:
            acc_dtype = jnp.dtype(accumulator_dtype)
        except TypeError as e:
            raise TypeError(
                f"`MultiSteps(accumulator_dtype=...)` must be a dtype; got {accumulator_dtype!r}."
            ) from e
        inner = with_extra_args_support(opt)

        def k_at(gradient_step: jax.Array) -> jax.Array:
            if callable(every_k_schedule):
                k = jnp.asarray(every_k_schedule(gradient_step))
                if k.shape != ():
                    raise ValueError(
                        "`MultiSteps(every_k_schedule=...)` must return a scalar; got shape "
                        f"{k.shape}."
                    )
                return jnp.maximum(k.astype(jnp.int32), 1)
            return jnp.asarray(every_k_schedule, jnp.int32)

        def init_fn(params: Params) -> MultiStepsState:
            acc = tmap(
                lambda p: jnp.zeros(jnp.shape(p), jnp.promote_types(jnp.result_type(p), acc_dtype)),
                params,
            )
            step = jnp.zeros([], jnp.int32)
            skip_state = ()
            if should_skip_update_fn is not None:
                _, skip_state = should_skip_update_fn(acc, step, params)
            return MultiStepsState(step, step, inner.init(params), acc, skip_state)

        def update_fn(
            updates: Updates,
            state: MultiStepsState,
            params: Params | None = None,
            **extra_args: Any,
        ) -> tuple[Updates, MultiStepsState]:
            k = k_at(state.gradient_step)
            acc = tmap(lambda a, g: a + g.astype(a.dtype), state.acc_grads, updates)
            zeros = tmap(jnp.zeros_like, updates)

            def step(_: Any) -> tuple[Updates, MultiStepsState]:
                def mean(a: jax.Array, g: jax.Array) -> jax.Array:
                    if use_grad_mean:
                        a = a / k.astype(jnp.real(a).dtype)
                    return a.astype(g.dtype)

                grads = tmap(mean, acc, updates)
                out, inner_state = inner.update(grads, state.inner_opt_state, params, **extra_args)
                out = tmap(lambda o, g: jnp.asarray(o).astype(g.dtype), out, updates)
                new = MultiStepsState(
                    jnp.zeros([], jnp.int32),
                    safe_increment(state.gradient_step),
                    cast_tree_like(inner_state, state.inner_opt_state),
                    tmap(jnp.zeros_like, acc),
                    state.skip_state,
                )
                return out, new

            def accumulate(_: Any) -> tuple[Updates, MultiStepsState]:
                new = state._replace(mini_step=safe_increment(state.mini_step), acc_grads=acc)
                return zeros, new

            def proceed(_: Any) -> tuple[Updates, MultiStepsState]:
                return jax.lax.cond(state.mini_step + 1 >= k, step, accumulate, None)

            if should_skip_update_fn is None:
                return proceed(None)
            should_skip, skip_state = should_skip_update_fn(updates, state.gradient_step, params)
            should_skip = jnp.asarray(should_skip)
            if should_skip.shape != ():
                raise ValueError(
                    "`MultiSteps(should_skip_update_fn=...)` must return a scalar should_skip; "
                    f"got shape {should_skip.shape}."
                )
            out, new = jax.lax.cond(should_skip, lambda _: (zeros, state), proceed, None)
            return out, new._replace(skip_state=cast_tree_like(skip_state, state.skip_state))

        self = super().__new__(cls, init_fn, update_fn)
        self._opt = opt
        return self

    @property
    def inner_opt(self) -> GradientTransformation:
        """The wrapped optimizer ``opt``."""
        return self._opt

    def gradient_transformation(self) -> GradientTransformationExtraArgs:
        """This transformation as a plain ``GradientTransformationExtraArgs`` pair.

        Returns:
          ``GradientTransformationExtraArgs(self.init, self.update)`` (optax's
          ``MultiSteps`` needs this call; gradtx's is a transformation already).

        Example:
          >>> import gradtx
          >>> ms = gradtx.MultiSteps(gradtx.adam(1e-3), 4)
          >>> tx = ms.gradient_transformation()
          >>> tx.update is ms.update, type(tx).__name__
          (True, 'GradientTransformationExtraArgs')
        """
        return GradientTransformationExtraArgs(self.init, self.update)

    @staticmethod
    def has_updated(state: Any) -> jax.Array:
        """Whether the last ``update`` stepped the inner optimizer.

        Args:
          state: a :class:`MultiStepsState`, or a state tree holding exactly one (as in
            ``chain(clip, MultiSteps(...))``).

        Returns:
          A boolean scalar: ``mini_step == 0 and gradient_step > 0``.

        Example:
          >>> import jax.numpy as jnp, gradtx
          >>> tx = gradtx.chain(gradtx.clip(1.0), gradtx.MultiSteps(gradtx.sgd(0.1), 1))
          >>> s = tx.init(jnp.zeros(1))
          >>> bool(gradtx.MultiSteps.has_updated(tx.update(jnp.ones(1), s)[1]))
          True
        """
        if not isinstance(state, MultiStepsState):
            found = jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, MultiStepsState))
            found = [x for x in found if isinstance(x, MultiStepsState)]
            if len(found) != 1:
                raise ValueError(
                    "`MultiSteps.has_updated(state)` needs a MultiStepsState or a state tree "
                    f"holding exactly one; found {len(found)} in {type(state).__name__}."
                )
            state = found[0]
        return jnp.logical_and(state.mini_step == 0, state.gradient_step > 0)


# A MultiSteps is a NamedTuple (so JAX would rebuild it as MultiSteps(init, update),
# which is not its constructor's signature): as a pytree it is one static node.
jax.tree_util.register_pytree_node(MultiSteps, lambda tx: ((), tx), lambda tx, _: tx)


class ApplyEvery(NamedTuple):
    """State of :func:`apply_every` (optax's name and fields).

    Attributes:
      count: int32, the calls since the last emitted update, in ``0..k-1``.
      grad_acc: the sum of the gradients of the current period (the last period's
        sum right after an emission), in the parameters' dtype.
    """

    count: jax.Array
    grad_acc: Any


def apply_every(k: int = 1) -> GradientTransformationExtraArgs:
    """Sum the updates of ``k`` calls and emit the sum on every ``k``-th call.

    Update rule, for calls :math:`t = 1, 2, \\dots` with incoming updates :math:`u_t`:

    .. math::

       u'_t = \\begin{cases} \\sum_{i=t-k+1}^{t} u_i & k \\mid t \\\\ 0 & \\text{else}
       \\end{cases}

    Unlike :class:`MultiSteps`, it does not hold back the transformations before it
    in a chain (they see every gradient: ``chain(adam(lr), apply_every(k))`` steps
    Adam's moments at every call and applies the sum of its :math:`k` steps), and
    it sums rather than averages.

    Args:
      k: the period, an integer >= 1 (1 passes updates through).

    Returns:
      A transformation with :class:`ApplyEvery` state; ``None`` leaves pass through.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.apply_every(2)
      >>> s = tx.init(jnp.zeros(1))
      >>> u1, s = tx.update(jnp.array([1.0]), s)
      >>> u2, s = tx.update(jnp.array([2.0]), s)
      >>> u1, u2
      (Array([0.], dtype=float32), Array([3.], dtype=float32))
    """
    check_every("apply_every", "k", k)

    def init_fn(params: Params) -> ApplyEvery:
        return ApplyEvery(jnp.zeros([], jnp.int32), tmap(jnp.zeros_like, params))

    def update_fn(
        updates: Updates, state: ApplyEvery, params: Params | None = None, **extra_args: Any
    ) -> tuple[Updates, ApplyEvery]:
        del params, extra_args
        fresh = state.count == 0
        emit = state.count == k - 1

        def add(a: jax.Array, u: jax.Array) -> jax.Array:
            return jnp.where(fresh, jnp.zeros_like(a), a) + u.astype(a.dtype)

        acc = tmap(add, state.grad_acc, updates)
        out = tmap(lambda a, u: jnp.where(emit, a, jnp.zeros_like(a)).astype(u.dtype), acc, updates)
        count = jnp.where(emit, 0, state.count + 1).astype(jnp.int32)
        return out, ApplyEvery(count, acc)

    return GradientTransformationExtraArgs(init_fn, update_fn)

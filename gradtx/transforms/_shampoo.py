"""Shampoo: Kronecker-factored preconditioning, blocked, with grafting and lazy roots."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx._checks import check_decay, check_positive
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.numerics import safe_increment
from gradtx.transforms._common import as_float, is_none, like, tmap, upcast
from gradtx.transforms._matrix_roots import (
    BlockPlan,
    block_plan,
    from_blocks,
    gram,
    inverse_pth_root,
    mode_product,
    to_blocks,
)

__all__ = ["GRAFT_TYPES", "ShampooState", "scale_by_shampoo"]

GRAFT_TYPES = ("sgd", "adagrad", "rmsprop", "none")


class ShampooState(NamedTuple):
    """State of :func:`scale_by_shampoo`.

    Each field except ``count`` is a tree shaped like the parameters (``None`` where
    they are ``None``) whose leaves are tuples with one entry per preconditioned
    dimension ``i`` of that parameter (empty for a parameter that is not
    preconditioned).

    Attributes:
      count: int32 number of updates so far.
      stats: the statistics :math:`L_i` of every block, ``(N, b_i, b_i)`` arrays in
        the statistics dtype (float32, or float64 for float64 parameters).
      preconditioners: the inverse roots :math:`L_i^{-1/p}` last computed from
        ``stats`` (the identity before the first computation), same shapes and dtype.
      graft: the grafted optimizer's accumulator, shaped like the parameter in the
        statistics dtype: the sum of squared gradients (``'adagrad'``), their EMA
        (``'rmsprop'``), or an empty tuple (``'sgd'``, ``'none'``).
    """

    count: jax.Array
    stats: Any
    preconditioners: Any
    graft: Any


def _stats_dtype(x: Any) -> Any:
    """float32 at least: bfloat16/float16 statistics would lose the small eigenvalues."""
    return jnp.promote_types(jnp.result_type(x), jnp.float32)


def _require_real(fn: str, tree: Any, what: str) -> None:
    for path, x in jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_none)[0]:
        if x is not None and jnp.iscomplexobj(x):
            raise TypeError(
                f"`{fn}` preconditions with real symmetric matrices; got complex {what} at "
                f"{jax.tree_util.keystr(path)} (dtype {jnp.result_type(x)}). Optimize the "
                "real and imaginary parts as separate real parameters."
            )


def _check_int(fn: str, name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"`{fn}({name}=...)` must be an integer >= {low}; got {name}={value!r}.")


def check_shampoo_static(
    fn: str,
    *,
    block_size: Any,
    preconditioning_compute_steps: Any,
    start_preconditioning_step: Any,
    graft_type: Any,
    exponent_override: Any,
    skip_preconditioning_dim_size_gt: Any,
    skip_preconditioning_rank_lt: Any,
) -> None:
    """Validate the static (program-shaping) arguments of Shampoo (private)."""
    _check_int(fn, "block_size", block_size, 1)
    _check_int(fn, "preconditioning_compute_steps", preconditioning_compute_steps, 1)
    _check_int(fn, "start_preconditioning_step", start_preconditioning_step, 1)
    _check_int(fn, "exponent_override", exponent_override, 0)
    _check_int(fn, "skip_preconditioning_dim_size_gt", skip_preconditioning_dim_size_gt, 0)
    _check_int(fn, "skip_preconditioning_rank_lt", skip_preconditioning_rank_lt, 0)
    if graft_type not in GRAFT_TYPES:
        raise ValueError(f"`{fn}(graft_type=...)` must be one of {GRAFT_TYPES}; got {graft_type=}.")


def scale_by_shampoo(
    b2: jax.typing.ArrayLike = 0.999,
    matrix_epsilon: jax.typing.ArrayLike = 1e-6,
    diagonal_epsilon: jax.typing.ArrayLike = 1e-10,
    *,
    block_size: int = 1024,
    preconditioning_compute_steps: int = 1,
    start_preconditioning_step: int = 5,
    graft_type: str = "rmsprop",
    exponent_override: int = 0,
    skip_preconditioning_dim_size_gt: int = 4096,
    skip_preconditioning_rank_lt: int = 1,
    nu_dtype: Any = None,
) -> GradientTransformationExtraArgs:
    """Precondition each tensor by Kronecker-factored statistics, with grafted block norms.

    For a parameter of rank :math:`r` cut into blocks :math:`G` (see ``block_size``),
    step :math:`t` accumulates, for each preconditioned dimension :math:`i`, the
    statistic of :math:`G_{(i)}`, the block unfolded along dimension :math:`i`:

    .. math::

       L_i \\leftarrow \\beta_2 L_i + w\\, G_{(i)} G_{(i)}^\\top, \\qquad
       w = \\begin{cases} 1 & \\beta_2 = 1 \\text{ (a sum, the paper's Shampoo)} \\\\
                          1 - \\beta_2 & \\text{otherwise (an EMA)} \\end{cases}

    from :math:`L_i = 0`, and preconditions with the inverse roots last computed,
    :math:`P = G \\times_1 L_1^{-1/p} \\times_2 \\cdots \\times_r L_r^{-1/p}` (for a
    matrix :math:`P = L^{-1/p} G R^{-1/p}`), :math:`p` = ``exponent_override`` or
    :math:`2r`. The roots are recomputed at steps :math:`t = t_0, t_0 + k, t_0 + 2k,
    \\dots` (:math:`t_0` = ``start_preconditioning_step``, :math:`k` =
    ``preconditioning_compute_steps``) by an eigendecomposition in the statistics
    dtype, as :math:`(L + \\epsilon\\lambda_{max}(L) I)^{-1/p}` (``matrix_epsilon``
    relative to the largest eigenvalue; negative rounding eigenvalues clamped to 0);
    between recomputations they are held in the state, and ``lax.cond`` skips the
    eigendecompositions. Grafting (Agarwal et al. 2020, Anil et al. 2020) gives each
    block the direction of :math:`P` and the norm of the grafted optimizer's update
    :math:`D`:

    .. math::

       u = \\frac{\\lVert D \\rVert_F}{\\lVert P \\rVert_F}\\, P, \\qquad
       D = \\begin{cases} g & \\text{'sgd'} \\\\
          g / (\\sqrt{\\textstyle\\sum_{s \\le t} g_s^2} + \\epsilon_d) & \\text{'adagrad'}\\\\
          g / (\\sqrt{v_t / (1 - \\beta_2^t)} + \\epsilon_d) & \\text{'rmsprop'}
          \\end{cases}

    with :math:`v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2` (debiased as in Adam;
    with :math:`\\beta_2 = 1` it is Adagrad's sum) and :math:`\\epsilon_d` =
    ``diagonal_epsilon``; ``graft_type='none'`` takes :math:`u = P` (the original
    Shampoo of Gupta et al. with :math:`\\beta_2 = 1`). Before step :math:`t_0`, and
    for parameters that are not preconditioned (scalars, ranks below
    ``skip_preconditioning_rank_lt``, every dimension of size 1 or above
    ``skip_preconditioning_dim_size_gt``), the update is :math:`D` itself
    (:math:`g` for ``'none'``).

    Gupta et al. start from :math:`L_i = \\epsilon I`; here, as in Anil et al., the
    ridge is added when the root is taken, relative to the statistic's scale, so that
    it neither depends on the gradients' units nor fades as the sums grow. Blocks at
    the end of a dimension that does not divide by ``block_size`` are smaller; they
    are zero-padded internally (which gives the same numbers) so that all blocks of
    a tensor share one shape and their roots are one batched ``eigh``. The
    ``'rmsprop'`` graft is debiased as in Adam, so that its first steps are not up to
    :math:`1/\\sqrt{1-\\beta_2}` times too large. A dimension above
    ``skip_preconditioning_dim_size_gt`` gets the identity while the others are still
    preconditioned (the reference implementation skips the whole parameter).

    Statistics, roots and graft accumulators are kept in float32 (float64 for float64
    parameters), whatever the parameters' dtype: a bfloat16 statistic would lose the
    small eigenvalues that the inverse root magnifies. Only the graft's accumulator,
    shaped like the parameter, may be stored narrower (``nu_dtype``); it is upcast for
    the arithmetic. The update has the gradients'
    dtype. The output is the direction to *subtract*: chain a negative learning rate
    (:func:`gradtx.shampoo` adds momentum, weight decay and the rate).

    Args:
      b2: :math:`\\beta_2` in [0, 1], the decay of the statistics and of the
        ``'rmsprop'`` graft; 1 sums them.
      matrix_epsilon: :math:`\\epsilon` > 0, the ridge added to each statistic before
        its root, relative to its largest eigenvalue.
      diagonal_epsilon: :math:`\\epsilon_d` > 0 of the ``'adagrad'``/``'rmsprop'``
        grafts.
      block_size: dimensions larger than this are cut into blocks of this size (the
        last one smaller), each block with its own statistics and graft norm.
      preconditioning_compute_steps: :math:`k` >= 1, recompute the roots every
        :math:`k` steps.
      start_preconditioning_step: :math:`t_0` >= 1, the first step that uses (and
        computes) the roots.
      graft_type: ``'rmsprop'``, ``'adagrad'``, ``'sgd'`` or ``'none'``.
      exponent_override: :math:`p` if positive; 0 uses :math:`2r`, :math:`r` the
        number of preconditioned dimensions.
      skip_preconditioning_dim_size_gt: dimensions larger than this get no statistic
        (the identity); they are not blocked.
      skip_preconditioning_rank_lt: parameters of lower rank are not preconditioned
        (the default 1 preconditions vectors by full-matrix Adagrad, :math:`p = 2`).
      nu_dtype: dtype of the ``'rmsprop'``/``'adagrad'`` graft's accumulator; float32
        (or the parameters' dtype if wider) when ``None``.

    Returns:
      A transformation with :class:`ShampooState`. Complex parameters or gradients
      raise a ``TypeError`` naming the leaf.

    References:
      Gupta, Koren & Singer 2018, "Shampoo: Preconditioned Stochastic Tensor
      Optimization", arXiv 1802.09568, Algorithms 1-2; Anil, Gupta, Koren, Regan &
      Singer 2020, "Scalable Second Order Optimization for Deep Learning",
      arXiv 2002.09018 (blocking, grafting, EMA statistics, lazy roots); Agarwal,
      Anil, Hazan, Koren & Zhang 2020, "Disentangling Adaptive Gradient Methods from
      Learning Rates", arXiv 2002.11803 (grafting).

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_shampoo(
      ...     b2=1.0, matrix_epsilon=1e-12, start_preconditioning_step=1, graft_type="none"
      ... )
      >>> g = jnp.array([[1.0, 0.0], [0.0, 4.0]])
      >>> u, s = tx.update(g, tx.init(g))
      >>> u  # L^(-1/4) G R^(-1/4) with L = G G^T = R = diag(1, 16)
      Array([[1., 0.],
             [0., 1.]], dtype=float32)
      >>> s.stats[0]
      Array([[[ 1.,  0.],
              [ 0., 16.]]], dtype=float32)
    """
    fn = "scale_by_shampoo"
    check_decay(fn, "b2", b2)
    check_positive(fn, "matrix_epsilon", matrix_epsilon)
    check_positive(fn, "diagonal_epsilon", diagonal_epsilon)
    check_shampoo_static(
        fn,
        block_size=block_size,
        preconditioning_compute_steps=preconditioning_compute_steps,
        start_preconditioning_step=start_preconditioning_step,
        graft_type=graft_type,
        exponent_override=exponent_override,
        skip_preconditioning_dim_size_gt=skip_preconditioning_dim_size_gt,
        skip_preconditioning_rank_lt=skip_preconditioning_rank_lt,
    )
    config = _Config(
        int(block_size),
        int(preconditioning_compute_steps),
        int(start_preconditioning_step),
        graft_type,
        int(exponent_override),
        int(skip_preconditioning_dim_size_gt),
        int(skip_preconditioning_rank_lt),
    )

    def init_fn(params: Params) -> ShampooState:
        _require_real(fn, params, "parameters")

        def factors(p: Any, fill: Any) -> tuple[jax.Array, ...]:
            plan, dt = config.plan(p), _stats_dtype(p)
            return tuple(
                jnp.broadcast_to(fill(plan.block[i], dt), (plan.num_blocks, *(plan.block[i],) * 2))
                for i in plan.dims
            )

        def graft(p: Any) -> Any:
            if graft_type in ("sgd", "none"):
                return ()
            return jnp.zeros(jnp.shape(p), nu_dtype or _stats_dtype(p))

        return ShampooState(
            count=jnp.zeros([], jnp.int32),
            stats=tmap(lambda p: factors(p, lambda b, dt: jnp.zeros((b, b), dt)), params),
            preconditioners=tmap(lambda p: factors(p, lambda b, dt: jnp.eye(b, dtype=dt)), params),
            graft=tmap(graft, params),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del params, extra_args
        _require_real(fn, updates, "gradients")
        return _step(config, updates, state, b2, matrix_epsilon, diagonal_epsilon)

    return GradientTransformationExtraArgs(init_fn, update_fn)


class _Config(NamedTuple):
    """The static settings of :func:`scale_by_shampoo` (hashable: a jit cache key)."""

    block_size: int
    every: int
    start: int
    graft_type: str
    exponent_override: int
    skip_dim_size_gt: int
    skip_rank_lt: int

    def plan(self, x: Any) -> BlockPlan:
        return block_plan(
            tuple(jnp.shape(x)),
            self.block_size,
            self.skip_dim_size_gt,
            self.skip_rank_lt,
            self.exponent_override,
        )


# One program per configuration and tree of shapes, shared by every instance (an alias
# rebuilds its chain at each update): run eagerly, a step compiles once instead of
# dispatching dozens of small operations per leaf; inside an outer jit it is inlined.
@functools.partial(jax.jit, static_argnums=0)
def _step(
    config: _Config,
    updates: Any,
    state: ShampooState,
    b2: Any,
    matrix_epsilon: Any,
    diagonal_epsilon: Any,
) -> tuple[Any, ShampooState]:
    """One update of :func:`scale_by_shampoo`."""
    graft_type, start = config.graft_type, config.start
    t = safe_increment(state.count)
    beta = as_float(b2)
    weight = jnp.where(beta == 1, 1.0, 1 - beta)

    def grafted(g: jax.Array, acc: Any) -> tuple[jax.Array, Any]:
        g = g.astype(_stats_dtype(g))
        if graft_type in ("sgd", "none"):
            return g, acc
        if graft_type == "adagrad":
            new = upcast(acc) + g * g
            return g / (jnp.sqrt(new) + diagonal_epsilon), new.astype(acc.dtype)
        new = beta * upcast(acc) + weight * g * g
        debias = jnp.where(beta == 1, 1.0, 1 - jax.lax.pow(beta, t.astype(beta.dtype)))
        return g / (jnp.sqrt(new / debias) + diagonal_epsilon), new.astype(acc.dtype)

    def new_stats(g: jax.Array, stats: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
        plan = config.plan(g)
        if not plan.dims:
            return stats
        blocks = to_blocks(g.astype(stats[0].dtype), plan)
        return tuple(
            (beta * s + weight * gram(blocks, i)).astype(s.dtype)
            for i, s in zip(plan.dims, stats, strict=True)
        )

    stats = tmap(new_stats, updates, state.stats)

    def roots(stats_tree: Any) -> Any:
        def leaf(g: jax.Array, ss: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
            p = config.plan(g).exponent
            return tuple(inverse_pth_root(s, p, matrix_epsilon) for s in ss)

        return tmap(leaf, updates, stats_tree)

    due = (t >= start) & ((t - start) % config.every == 0)
    preconditioners = jax.lax.cond(due, roots, lambda _: state.preconditioners, stats)

    def direction(g: jax.Array, precs: tuple[jax.Array, ...], acc: Any) -> tuple[Any, Any]:
        plan = config.plan(g)
        d, acc = grafted(g, acc)
        if not plan.dims:
            return like(d, g), acc
        blocks = to_blocks(g.astype(d.dtype), plan)
        for i, root in zip(plan.dims, precs, strict=True):
            blocks = mode_product(blocks, root, i)
        if graft_type != "none":
            axes = tuple(range(1, blocks.ndim))
            d_norm = jnp.sqrt(jnp.sum(jnp.square(to_blocks(d, plan)), axis=axes))
            p_norm = jnp.sqrt(jnp.sum(jnp.square(blocks), axis=axes))
            ratio = jnp.where(p_norm > 0, d_norm / jnp.where(p_norm > 0, p_norm, 1.0), 0.0)
            blocks = blocks * ratio.reshape((-1,) + (1,) * (blocks.ndim - 1))
        out = jnp.where(t >= start, from_blocks(blocks, plan), d)
        return like(out, g), acc

    pairs = tmap(direction, updates, preconditioners, state.graft)
    out = tmap(lambda g, pair: pair[0], updates, pairs)
    graft = tmap(lambda g, pair: pair[1], updates, pairs)
    return out, ShampooState(t, stats, preconditioners, graft)

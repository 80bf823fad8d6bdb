"""Muon's direction: momentum orthogonalized by a Newton-Schulz iteration."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradtx._checks import check_decay, check_nonnegative
from gradtx._treeutil import is_none
from gradtx.base import GradientTransformationExtraArgs, Params
from gradtx.numerics import safe_increment
from gradtx.transforms._common import like, tmap, zeros_state

__all__ = [
    "MuonDimensionNumbers",
    "MuonState",
    "scale_by_muon",
]

# Named coefficient sets for ``ns_coeffs``: one triple repeated ``ns_steps`` times, or
# one triple per iteration (then ``ns_steps`` is ignored).
NS_PRESETS: dict[str, tuple[tuple[float, float, float], ...]] = {
    # Jordan 2024 (modded-nanogpt): the quintic tuned for a steep slope at 0.
    "standard": ((3.4445, -4.775, 2.0315),),
    # Ahn et al. 2025 (Dion, arXiv 2504.05295): five tuned triples, one per iteration.
    "dion": (
        (4.0848, -6.8946, 2.9270),
        (3.9505, -6.3029, 2.6377),
        (3.7418, -5.5913, 2.3037),
        (2.8769, -3.1427, 1.2046),
        (2.8366, -3.0525, 1.2012),
    ),
}
PRECONDITIONINGS = ("frobenius", "spectral", "aol", "schatten")
MOMENTUM_FORMS = ("debiased", "ema", "sum")

Orthogonalizer = Callable[[jax.Array], jax.Array]


class MuonDimensionNumbers(NamedTuple):
    """Which axes of a parameter form the rows and the columns of Muon's matrix.

    A weight used as :math:`y = x W` has a reduction (input) axis, summed over, and an
    output axis: the default ``MuonDimensionNumbers(0, 1)`` is a ``(fan_in, fan_out)``
    matrix. For a parameter of any rank >= 2 the reshape rule is: the
    ``reduction_axis`` axes, in the order given, are flattened into the rows; the
    ``output_axis`` axes, in the order given, into the columns; every other axis is a
    batch axis, and each batch slice is orthogonalized on its own. Negative axes count
    from the end. A torch ``Linear`` weight, ``(fan_out, fan_in)``, is
    ``MuonDimensionNumbers(reduction_axis=1, output_axis=0)``.

    Attributes:
      reduction_axis: an axis or a sequence of axes, flattened into the rows.
      output_axis: an axis or a sequence of axes, flattened into the columns.

    Example:
      >>> import gradtx
      >>> conv = gradtx.MuonDimensionNumbers(reduction_axis=(0, 1, 2), output_axis=3)
      >>> conv.output_axis
      3
    """

    reduction_axis: Sequence[int] | int = 0
    output_axis: Sequence[int] | int = 1


class MuonState(NamedTuple):
    """State of :func:`scale_by_muon`.

    Attributes:
      count: int32 number of updates so far (for the bias correction).
      mu: the momentum, in ``mu_dtype``.
      ns_coeffs: the Newton-Schulz coefficients, shape ``(3,)`` (one triple used at
        every iteration) or ``(k, 3)`` (one triple per iteration), in JAX's default
        float dtype. The update reads them from here.
    """

    count: jax.Array
    mu: Any
    ns_coeffs: jax.Array


def _is_dims(x: Any) -> bool:
    """A spec leaf: ``None`` or a ``MuonDimensionNumbers`` (optax's too, by its fields)."""
    return x is None or (hasattr(x, "reduction_axis") and hasattr(x, "output_axis"))


def _axes(value: Sequence[int] | int) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)):
        return (int(value),)
    return tuple(int(a) for a in value)


def resolve_ns_coeffs(fn: str, ns_coeffs: Any, ns_steps: Any) -> np.ndarray:
    """``ns_coeffs`` (a preset name, a triple or a sequence of triples) as an array.

    Returns shape ``(3,)`` for one triple or ``(k, 3)`` for one triple per iteration.
    """
    if isinstance(ns_coeffs, str):
        if ns_coeffs not in NS_PRESETS:
            raise ValueError(
                f"`{fn}(ns_coeffs=...)` names no known preset; got {ns_coeffs=}. Use one "
                f"of {sorted(NS_PRESETS)} or give the coefficients (a, b, c)."
            )
        table = NS_PRESETS[ns_coeffs]
        coeffs = np.asarray(table[0] if len(table) == 1 else table, dtype=float)
    else:
        try:
            coeffs = np.asarray(ns_coeffs, dtype=float)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"`{fn}(ns_coeffs=...)` must be a triple (a, b, c), a sequence of triples "
                f"or a preset name; got {ns_coeffs=}."
            ) from err
    if coeffs.ndim not in (1, 2) or coeffs.shape[-1] != 3 or coeffs.size == 0:
        raise ValueError(
            f"`{fn}(ns_coeffs=...)` must be a triple (a, b, c) or a sequence of triples "
            f"(shape (3,) or (k, 3)); got shape {coeffs.shape}."
        )
    if coeffs.ndim == 1 and ns_steps is not None:
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, (int, np.integer)):
            raise ValueError(f"`{fn}(ns_steps=...)` must be an integer; got {ns_steps=}.")
        if ns_steps < 0:
            raise ValueError(f"`{fn}(ns_steps=...)` must be >= 0; got {ns_steps=}.")
    return coeffs


def check_muon_options(fn: str, preconditioning: str, momentum_form: str) -> None:
    """The string options of :func:`scale_by_muon` and ``muon``."""
    if preconditioning not in PRECONDITIONINGS:
        raise ValueError(
            f"`{fn}(preconditioning=...)` must be one of {PRECONDITIONINGS}; "
            f"got {preconditioning=}."
        )
    if momentum_form not in MOMENTUM_FORMS:
        raise ValueError(
            f"`{fn}(momentum_form=...)` must be one of {MOMENTUM_FORMS}; got {momentum_form=}."
        )


def resolve_dims(fn: str, dims: Any, tree: Any, *, default_2d: bool) -> Any:
    """One ``MuonDimensionNumbers`` (or ``None``) per leaf of ``tree``.

    ``dims`` is ``None``, a tree of specs (a prefix of ``tree``, ``None`` leaves
    allowed) or a function of ``tree`` returning one. With ``dims=None`` every leaf is
    a 2-D matrix (``default_2d=False``: others raise) or, with ``default_2d=True``,
    rank-2 leaves get the default spec and the others ``None``.
    """
    if dims is None:

        def default(path: Any, x: Any) -> MuonDimensionNumbers | None:
            if jnp.ndim(x) == 2:
                return MuonDimensionNumbers()
            if default_2d:
                return None
            raise ValueError(
                f"`{fn}`: the leaf at {jax.tree_util.keystr(path)} has shape "
                f"{jnp.shape(x)}; without `weight_dimension_numbers` every parameter must "
                "be a matrix. Pass MuonDimensionNumbers for it (or use `muon`, which "
                "sends the other parameters to AdamW)."
            )

        return jax.tree_util.tree_map_with_path(default, tree)
    spec = dims(tree) if callable(dims) else dims
    try:
        return jax.tree.map(
            lambda d, sub: jax.tree.map(lambda _: d, sub, is_leaf=is_none),
            spec,
            tree,
            is_leaf=_is_dims,
        )
    except ValueError as err:
        raise ValueError(
            f"`{fn}`: the dimension numbers must be a tree of MuonDimensionNumbers (or None) "
            f"with the structure of the parameters, or a prefix of it: {err}"
        ) from err


def _layout(fn: str, shape: tuple[int, ...], d: MuonDimensionNumbers, where: str) -> Any:
    """Axes permutation and matrix shape for ``shape`` under the spec ``d``."""
    nd = len(shape)
    if nd < 2:
        raise ValueError(
            f"`{fn}`: Muon orthogonalizes matrices; the leaf at {where} has shape {shape} "
            "(rank < 2). Leave it to AdamW (a None dimension number in `muon`)."
        )
    red, out = _axes(d.reduction_axis), _axes(d.output_axis)
    for name, axes in (("reduction_axis", red), ("output_axis", out)):
        if not axes:
            raise ValueError(f"`{fn}`: {name} is empty for the leaf at {where}; got {d}.")
        if any(not -nd <= a < nd for a in axes):
            raise ValueError(
                f"`{fn}`: {name} of {d} is out of range for the leaf at {where} of shape {shape}."
            )
    red = tuple(a % nd for a in red)
    out = tuple(a % nd for a in out)
    if len(set(red + out)) != len(red) + len(out):
        raise ValueError(
            f"`{fn}`: the reduction and output axes of {d} must be distinct axes; the "
            f"leaf at {where} has shape {shape}."
        )
    batch = tuple(a for a in range(nd) if a not in red + out)
    perm = batch + red + out
    rows = math.prod(shape[a] for a in red)
    cols = math.prod(shape[a] for a in out)
    return perm, (math.prod(shape[a] for a in batch), rows, cols)


def fans(fn: str, shape: tuple[int, ...], d: MuonDimensionNumbers, where: str) -> tuple[int, int]:
    """``(fan_in, fan_out)``: the sizes of the rows and the columns of Muon's matrix."""
    _, (_, rows, cols) = _layout(fn, shape, d, where)
    return rows, cols


def gram(y: jax.Array) -> jax.Array:
    """``Y Y^H`` over the last two axes."""
    return y @ jnp.swapaxes(y, -1, -2).conj()


def _newton_schulz_iteration(y: jax.Array, abc: jax.Array) -> tuple[jax.Array, None]:
    """One quintic Newton-Schulz step ``aY + (bG + cG^2) Y`` with ``G = Y Y^H``."""
    g = gram(y)
    return abc[0] * y + (abc[1] * g + abc[2] * (g @ g)) @ y, None


def _newton_schulz(
    x: jax.Array, coeffs: jax.Array, ns_steps: int, eps: Any, preconditioning: str
) -> jax.Array:
    """Orthogonalize a stack of wide matrices ``x`` (shape ``(batch, r, c)``, r <= c)."""

    def safe_inv(v: jax.Array) -> jax.Array:
        pos = v > 0
        return jnp.where(pos, 1 / jnp.where(pos, v, 1), 0)

    if preconditioning == "frobenius":
        norm = jnp.sqrt(jnp.sum(jnp.abs(x) ** 2, axis=(-2, -1), keepdims=True))
        x = x / (norm + eps)
    elif preconditioning == "spectral":
        sigma = jnp.linalg.norm(x, ord=2, axis=(-2, -1), keepdims=True)
        x = x / (sigma + eps)
    elif preconditioning == "schatten":
        # ||X||_{S4} = ||X X^T||_F ** (1/2) >= sigma_max.
        s4_sq = jnp.sqrt(jnp.sum(jnp.abs(gram(x)) ** 2, axis=(-2, -1), keepdims=True))
        x = x * jnp.sqrt(safe_inv(s4_sq))
    else:  # aol: rows scaled by (sum_j |X X^T|_ij) ** -1/2, so that sigma_max <= 1
        rowsum = jnp.sum(jnp.abs(gram(x)), axis=-1, keepdims=True)
        x = x * jnp.sqrt(safe_inv(rowsum))

    # A scan, not an unrolled loop: one iteration is compiled, whatever ns_steps. Its
    # body is a module-level function, so that scan's cache holds across eager calls.
    table = coeffs if coeffs.ndim == 2 else jnp.broadcast_to(coeffs, (ns_steps, 3))
    return jax.lax.scan(_newton_schulz_iteration, x, table)[0]


def orthogonalize(
    m: jax.Array,
    d: MuonDimensionNumbers,
    *,
    coeffs: jax.Array,
    ns_steps: int,
    eps: Any,
    preconditioning: str,
    orthogonalize_fn: Orthogonalizer | None,
    where: str,
) -> jax.Array:
    """Reshape ``m`` to matrices by ``d``, orthogonalize each, and reshape back."""
    shape = jnp.shape(m)
    perm, mat = _layout("scale_by_muon", shape, d, where)
    x = jnp.transpose(m, perm).reshape(mat)
    # bfloat16/float16 momenta are orthogonalized in float32 (cast back by the caller).
    x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
    if orthogonalize_fn is not None:
        y = jax.vmap(orthogonalize_fn)(x)
        if jnp.shape(y) != mat:
            raise ValueError(
                "`scale_by_muon(orthogonalize_fn=...)` must return a matrix of the shape it "
                f"gets; got {jnp.shape(y)[1:]} for {mat[1:]} at {where}."
            )
    else:
        tall = mat[1] > mat[2]
        if tall:
            x = jnp.swapaxes(x, -1, -2)
        y = _newton_schulz(x, coeffs.astype(x.dtype), ns_steps, eps, preconditioning)
        if tall:
            y = jnp.swapaxes(y, -1, -2)
    permuted = tuple(shape[a] for a in perm)
    return jnp.transpose(y.reshape(permuted), np.argsort(perm))


def scale_by_muon(
    ns_coeffs: Any = (3.4445, -4.775, 2.0315),
    ns_steps: int = 5,
    beta: jax.typing.ArrayLike = 0.95,
    eps: jax.typing.ArrayLike = 1e-8,
    mu_dtype: Any = None,
    *,
    nesterov: bool = True,
    adaptive: bool = False,
    preconditioning: str = "frobenius",
    weight_dimension_numbers: Any = None,
    momentum_form: str = "debiased",
    orthogonalize_fn: Orthogonalizer | None = None,
) -> GradientTransformationExtraArgs:
    """Replace each matrix's update by its orthogonalized (Nesterov) momentum.

    Update rule, per matrix, from :math:`m_0 = 0` (default ``momentum_form="debiased"``):

    .. math::

       m_t = \\beta m_{t-1} + (1-\\beta) g_t, \\quad
       \\hat m_t = \\begin{cases}
          \\frac{\\beta m_t}{1-\\beta^{t+1}} + \\frac{(1-\\beta) g_t}{1-\\beta^t}
             & \\text{nesterov} \\\\
          \\frac{m_t}{1-\\beta^t} & \\text{otherwise} \\end{cases}, \\quad
       u_t = \\operatorname{NS}(\\hat m_t)

    (times :math:`\\langle \\hat m_t, \\operatorname{NS}(\\hat m_t)\\rangle`, the dual
    norm, when ``adaptive``). ``NS`` first rescales :math:`X = \\hat m_t` so that its
    singular values are at most about 1 (``preconditioning``), transposing a tall
    matrix to a wide one, then iterates the odd quintic

    .. math::

       X \\leftarrow a X + b (X X^\\top) X + c (X X^\\top)^2 X

    ``ns_steps`` times, which drives every singular value towards 1: the result
    approximates the polar factor :math:`U V^\\top` of :math:`\\hat m_t = U S V^\\top`.

    Preconditionings (all four match optax): ``"frobenius"``
    :math:`X / (\\|X\\|_F + \\epsilon)`; ``"spectral"``
    :math:`X / (\\sigma_{\\max}(X) + \\epsilon)` (an exact SVD norm, costly);
    ``"schatten"`` :math:`X / \\|X\\|_{S_4}`, :math:`\\|X\\|_{S_4} =
    \\|X X^\\top\\|_F^{1/2}` (Grishina et al. 2025); ``"aol"``
    :math:`\\operatorname{diag}(\\sum_j |X X^\\top|_{ij})^{-1/2} X` (Boissin et al.
    2025). The last two ignore ``eps`` and map a zero matrix (or row) to zero.

    Parameters of rank >= 2 are reshaped to matrices by their
    :class:`MuonDimensionNumbers`: reduction axes flattened into rows, output axes
    into columns, other axes batched (each slice orthogonalized on its own; the
    ``adaptive`` dual norm is summed over the whole parameter, as in optax).

    ``momentum_form`` picks the momentum: ``"debiased"`` (above; optax's),
    ``"ema"`` (:math:`m_t` as above without bias correction, Nesterov
    :math:`\\beta m_t + (1-\\beta) g_t`; Jordan's reference code) or ``"sum"``
    (:math:`B_t = \\beta B_{t-1} + g_t`, Nesterov :math:`g_t + \\beta B_t`;
    ``torch.optim.Muon``). With the Frobenius rescaling ``"ema"`` and ``"sum"`` differ
    only through ``eps`` (one is :math:`1-\beta` times the other), and so does
    ``"debiased"`` without Nesterov; with Nesterov the debiased form weights the
    gradient differently in the first steps.

    Args:
      ns_coeffs: the coefficients :math:`(a, b, c)`; a sequence of triples (one per
        iteration, ``ns_steps`` ignored); or a preset: ``"standard"`` (the default
        triple) or ``"dion"`` (Dion's five triples).
      ns_steps: the number of iterations, an integer >= 0 (static).
      beta: the momentum decay :math:`\\beta` in [0, 1].
      eps: added to the norm in the ``"frobenius"`` and ``"spectral"`` rescalings,
        >= 0.
      mu_dtype: dtype of ``mu``; the parameters' dtype when ``None``.
      nesterov: use the Nesterov look-ahead momentum.
      adaptive: multiply the update by :math:`\\langle \\hat m_t, u_t\\rangle`
        (Bernstein & Newhouse 2024).
      preconditioning: ``"frobenius"``, ``"spectral"``, ``"schatten"`` or ``"aol"``.
      weight_dimension_numbers: a tree of :class:`MuonDimensionNumbers` like the
        parameters (a prefix of it; ``None`` leaves pass through unchanged), or a
        function of the parameters returning one. ``None``: every parameter must be a
        matrix, used as is.
      momentum_form: ``"debiased"``, ``"ema"`` or ``"sum"`` (keyword-only, gradtx's
        addition), see above.
      orthogonalize_fn: a function from a ``(fan_in, fan_out)`` matrix (the
        momentum :math:`\\hat m_t`, reshaped) to its orthogonalized update of the same
        shape, used instead of the rescaling and Newton-Schulz (keyword-only, gradtx's
        addition); batch slices are mapped with ``jax.vmap``.

    Returns:
      A transformation with :class:`MuonState`. Updates keep the gradients' dtype;
      the iteration runs in the momentum's dtype, at least float32.

    References:
      Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks",
      kellerjordan.github.io/posts/muon; Bernstein & Newhouse 2024, "Old Optimizer,
      New Norm: An Anthology", arXiv 2409.20325; Grishina et al. 2025, "Accelerating
      Newton-Schulz Iteration for Orthogonalization via Chebyshev-type Polynomials",
      arXiv 2506.10935; Boissin et al. 2025, "Turbo-Muon: Accelerating
      Orthogonality-Based Optimization with Pre-Conditioning", arXiv 2512.04632; Ahn
      et al. 2025, "Dion: Distributed Orthonormalized Updates", arXiv 2504.05295.

    Example:
      >>> import jax.numpy as jnp, gradtx
      >>> tx = gradtx.scale_by_muon(ns_steps=20, ns_coeffs=(1.5, -0.5, 0.0))
      >>> g = jnp.array([[3.0, 0.0], [0.0, 0.5]])
      >>> u, s = tx.update(g, tx.init(g))
      >>> u.round(4)
      Array([[1., 0.],
             [0., 1.]], dtype=float32)
    """
    fn = "scale_by_muon"
    coeffs = resolve_ns_coeffs(fn, ns_coeffs, ns_steps)
    check_decay(fn, "beta", beta)
    check_nonnegative(fn, "eps", eps)
    check_muon_options(fn, preconditioning, momentum_form)
    if orthogonalize_fn is not None and not callable(orthogonalize_fn):
        raise ValueError(f"`{fn}(orthogonalize_fn=...)` must be callable; got {orthogonalize_fn=}.")

    def init_fn(params: Params) -> MuonState:
        resolve_dims(fn, weight_dimension_numbers, params, default_2d=False)
        return MuonState(
            jnp.zeros([], jnp.int32),
            zeros_state(params, mu_dtype),
            jnp.asarray(coeffs, jnp.result_type(float)),
        )

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        dims = resolve_dims(
            fn, weight_dimension_numbers, updates if params is None else params, default_2d=False
        )
        count = safe_increment(state.count)
        if momentum_form == "sum":
            mu = tmap(lambda g, m: beta * m + g, updates, state.mu)
        else:
            mu = tmap(lambda g, m: beta * m + (1 - beta) * g, updates, state.mu)
        if momentum_form == "debiased":
            c1 = 1 - jax.lax.pow(jnp.asarray(beta, jnp.result_type(float)), count)
            c1_next = 1 - jax.lax.pow(
                jnp.asarray(beta, jnp.result_type(float)), safe_increment(count)
            )
            if nesterov:
                m_hat = tmap(lambda g, m: beta * m / c1_next + (1 - beta) * g / c1, updates, mu)
            else:
                m_hat = tmap(lambda m: m / c1, mu)
        elif nesterov:
            scale_g = 1.0 if momentum_form == "sum" else 1 - beta
            m_hat = tmap(lambda g, m: beta * m + scale_g * g, updates, mu)
        else:
            m_hat = mu

        flat, treedef = jax.tree_util.tree_flatten_with_path(updates, is_leaf=is_none)
        hats = treedef.flatten_up_to(m_hat)
        specs = treedef.flatten_up_to(dims)
        out = []
        for (path, g), h, d in zip(flat, hats, specs, strict=True):
            if g is None or d is None:
                out.append(g)
                continue
            o = orthogonalize(
                h,
                d,
                coeffs=state.ns_coeffs,
                ns_steps=coeffs.shape[0] if coeffs.ndim == 2 else ns_steps,
                eps=eps,
                preconditioning=preconditioning,
                orthogonalize_fn=orthogonalize_fn,
                where=jax.tree_util.keystr(path),
            )
            if adaptive:
                o = o * jnp.sum(jnp.real(jnp.conj(h) * o))
            out.append(like(o, g))
        new_mu = tmap(like, mu, state.mu)
        return treedef.unflatten(out), MuonState(count, new_mu, state.ns_coeffs)

    return GradientTransformationExtraArgs(init_fn, update_fn)

"""State precision: the dtype arguments of every optimizer that keeps parameter-shaped state.

Moments may be stored narrower (bfloat16) or wider (float32) than the parameters; the
arithmetic always runs in at least float32 and only the stored value is rounded. Every
name in ``gradtx.optimizers.__all__`` is either in ``ENTRIES`` (with its dtype arguments)
or in ``EXEMPT`` (with the reason), and ``test_every_optimizer_is_registered`` fails for
a new optimizer until it is placed in one of them; an exempt optimizer that grows
parameter-shaped state fails ``test_exempt_optimizers_keep_no_moments``.
"""

from __future__ import annotations

import inspect
import pathlib
import re
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

import gradtx

BF16 = jnp.bfloat16
# Distinct shapes, so that no reduced statistic is mistaken for a parameter-shaped leaf.
SHAPES = {"w": (3, 5), "b": (4,)}
A = {
    "w": np.linspace(0.5, 2.0, 15, dtype=np.float32).reshape(3, 5),
    "b": np.array([1.0, 2.0, 0.5, 1.5], np.float32),
}


class Entry(NamedTuple):
    """One optimizer configuration and what its dtype arguments must do.

    ``untouched`` counts the parameter-shaped floating leaves (over both parameters) that
    no dtype argument covers: copies of the parameters (``x0``) and previous gradients,
    which keep the parameters' or the gradients' dtype by design. ``tol`` bounds the
    relative distance between the bfloat16-state and float32-state runs (see
    ``test_state_precision``).
    """

    factory: Any
    kwargs: dict
    dtype_args: tuple[str, ...]
    untouched: int = 0
    tol: float = 1e-2
    extra: str = ""  # "value": update needs the loss; "obj_fn": the objective; "batched"


MU_NU = ("mu_dtype", "nu_dtype")
G = gradtx
# fmt: off
ENTRIES = [
    pytest.param(Entry(G.acprop, dict(learning_rate=0.1), MU_NU), id="acprop"),
    pytest.param(Entry(G.adabelief, dict(learning_rate=0.1), MU_NU), id="adabelief"),
    pytest.param(Entry(G.adadelta, dict(learning_rate=10.0), ("nu_dtype",)), id="adadelta"),
    pytest.param(Entry(G.adafactor, dict(learning_rate=0.1, momentum=0.9),
                       ("dtype_momentum", "nu_dtype")), id="adafactor-momentum"),
    pytest.param(Entry(G.adagrad, dict(learning_rate=0.5), ("nu_dtype",)), id="adagrad"),
    pytest.param(Entry(G.adam, dict(learning_rate=0.1), MU_NU), id="adam"),
    # adam_mini's second moment is one number per block (not parameter-shaped).
    pytest.param(Entry(G.adam_mini, dict(learning_rate=0.1), ("mu_dtype",)), id="adam_mini"),
    pytest.param(Entry(G.adamax, dict(learning_rate=0.1), MU_NU), id="adamax"),
    pytest.param(Entry(G.adamaxw, dict(learning_rate=0.1), MU_NU), id="adamaxw"),
    pytest.param(Entry(G.adamw, dict(learning_rate=0.1, weight_decay=0.01), MU_NU), id="adamw"),
    # adan keeps the previous gradient ``g`` in the gradients' dtype.
    pytest.param(Entry(G.adan, dict(learning_rate=0.1), MU_NU, 2), id="adan"),
    pytest.param(Entry(G.ademamix, dict(learning_rate=0.1), MU_NU), id="ademamix"),
    pytest.param(Entry(G.adopt, dict(learning_rate=0.1), MU_NU), id="adopt"),
    pytest.param(Entry(G.amsgrad, dict(learning_rate=0.1), MU_NU), id="amsgrad"),
    # cocob keeps its starting point w_1 (a copy of the parameters).
    pytest.param(Entry(G.cocob, {}, ("accumulator_dtype",), 2), id="cocob"),
    pytest.param(Entry(G.dadapt_adamw, dict(estim_lr0=0.1), MU_NU), id="dadapt_adamw"),
    pytest.param(Entry(G.dpsgd, dict(learning_rate=0.1, l2_norm_clip=10.0, noise_multiplier=0.0,
                                     seed=0, momentum=0.9),
                       ("accumulator_dtype",), extra="batched"), id="dpsgd-momentum"),
    pytest.param(Entry(G.galore, dict(learning_rate=0.1, rank=1), MU_NU), id="galore"),
    pytest.param(Entry(G.lamb, dict(learning_rate=0.05, weight_decay=0.01), MU_NU), id="lamb"),
    pytest.param(Entry(G.lars, dict(learning_rate=1.0, trust_coefficient=0.1),
                       ("accumulator_dtype",)), id="lars"),
    pytest.param(Entry(G.lion, dict(learning_rate=0.01), ("mu_dtype",)), id="lion"),
    # madgrad keeps its dual-averaging anchor x_0 (a copy of the parameters).
    pytest.param(Entry(G.madgrad, dict(learning_rate=0.1), MU_NU, 2), id="madgrad"),
    # mars keeps the previous gradient in the gradients' dtype.
    pytest.param(Entry(G.mars, dict(learning_rate=0.1), MU_NU, 2), id="mars"),
    pytest.param(Entry(G.momo, dict(learning_rate=1.0), ("mu_dtype",), extra="value"),
                 id="momo"),
    pytest.param(Entry(G.momo_adam, dict(learning_rate=0.1), MU_NU, extra="value"),
                 id="momo_adam"),
    pytest.param(Entry(G.muon, dict(learning_rate=0.1), MU_NU, tol=3e-2), id="muon"),
    pytest.param(Entry(G.nadam, dict(learning_rate=0.1), MU_NU), id="nadam"),
    pytest.param(Entry(G.nadam, dict(learning_rate=0.1, momentum_decay=4e-3), MU_NU),
                 id="nadam-torch"),
    pytest.param(Entry(G.nadamw, dict(learning_rate=0.1), MU_NU), id="nadamw"),
    pytest.param(Entry(G.novograd, dict(learning_rate=0.1), ("mu_dtype",)), id="novograd"),
    # the optimistic step keeps the previous direction in the gradients' dtype.
    pytest.param(Entry(G.optimistic_adam, dict(learning_rate=0.1), MU_NU, 2),
                 id="optimistic_adam"),
    pytest.param(Entry(G.optimistic_adam_v2, dict(learning_rate=0.1), MU_NU, 2),
                 id="optimistic_adam_v2"),
    # prodigy keeps x_0 (a copy of the parameters).
    pytest.param(Entry(G.prodigy, dict(estim_lr0=0.1), MU_NU, 2), id="prodigy"),
    pytest.param(Entry(G.radam, dict(learning_rate=0.1), MU_NU), id="radam"),
    pytest.param(Entry(G.rmsprop, dict(learning_rate=0.05), ("nu_dtype",)), id="rmsprop"),
    pytest.param(Entry(G.rmsprop, dict(learning_rate=0.01, centered=True, momentum=0.9), MU_NU),
                 id="rmsprop-centered-momentum"),
    pytest.param(Entry(G.rprop, dict(learning_rate=0.1), ("accumulator_dtype",)), id="rprop"),
    pytest.param(Entry(G.schedule_free_adamw, dict(learning_rate=0.1),
                       ("state_dtype", "nu_dtype"), tol=3e-2), id="schedule_free_adamw"),
    pytest.param(Entry(G.schedule_free_sgd, dict(learning_rate=0.1), ("state_dtype",)),
                 id="schedule_free_sgd"),
    pytest.param(Entry(G.sgd, dict(learning_rate=0.05, momentum=0.9), ("accumulator_dtype",)),
                 id="sgd-momentum"),
    pytest.param(Entry(G.shampoo, dict(learning_rate=0.1, start_preconditioning_step=2), MU_NU),
                 id="shampoo"),
    pytest.param(Entry(G.signum, dict(learning_rate=0.01), ("accumulator_dtype",)), id="signum"),
    pytest.param(Entry(G.simplified_ademamix, dict(learning_rate=0.01), MU_NU),
                 id="simplified_ademamix"),
    pytest.param(Entry(G.sm3, dict(learning_rate=0.1), MU_NU), id="sm3"),
    pytest.param(Entry(G.soap, dict(learning_rate=0.1, precondition_frequency=2), MU_NU,
                       tol=2e-2),
                 id="soap"),
    pytest.param(Entry(G.sophia, dict(learning_rate=0.1, update_interval=1), MU_NU,
                       extra="obj_fn"), id="sophia"),
    pytest.param(Entry(G.yogi, dict(learning_rate=0.1), MU_NU), id="yogi"),
]

# Optimizers without a dtype argument, why, their constructor arguments and how many
# parameter-shaped floating leaves (over both parameters) they keep all the same.
EXEMPT = {
    "fromage": ("stateless", dict(learning_rate=0.1), 0),
    "sign_sgd": ("stateless", dict(learning_rate=0.1), 0),
    "polyak_sgd": ("stateless (a step size from the loss)", {}, 0),
    "noisy_sgd": ("its state is a PRNG key", dict(learning_rate=0.1, seed=0), 0),
    "dog": ("keeps only x_0, a copy of the parameters, and scalars", {}, 2),
    "dowg": ("keeps only x_0, a copy of the parameters, and scalars", {}, 2),
    "optimistic_gradient_descent": (
        "keeps only the previous gradient, in the gradients' dtype (as adan, mars)",
        dict(learning_rate=0.1), 2,
    ),
    "mechanize": (
        "wraps a base optimizer, which takes its own dtype arguments; keeps x_0",
        dict(base_optimizer=gradtx.sgd(0.1)), 2,
    ),
}

# The primitives behind the aliases, with the dtype arguments they must take.
PRIMITIVES = {
    "scale_by_acprop": MU_NU, "scale_by_adadelta": ("nu_dtype",), "scale_by_rss": ("nu_dtype",),
    "scale_by_factored_rms": ("nu_dtype",), "scale_by_simplified_ademamix": MU_NU,
    "scale_by_madgrad": MU_NU, "scale_by_ademamix": MU_NU, "scale_by_adopt": MU_NU,
    "scale_by_mars": MU_NU, "scale_by_momo": ("mu_dtype",), "scale_by_momo_adam": MU_NU,
    "scale_by_sophia": MU_NU, "scale_by_prodigy": MU_NU, "scale_by_dadapt_adamw": MU_NU,
    "scale_by_cocob": ("accumulator_dtype",), "scale_by_rprop": ("accumulator_dtype",),
    "scale_by_sm3": MU_NU, "scale_by_shampoo": ("nu_dtype",), "scale_by_soap": MU_NU,
    "scale_by_novograd": ("mu_dtype",), "scale_by_adam": MU_NU, "scale_by_amsgrad": MU_NU,
    "scale_by_adamax": MU_NU, "scale_by_radam": MU_NU, "scale_by_nadam": MU_NU,
    "scale_by_belief": MU_NU, "scale_by_yogi": MU_NU, "scale_by_adan": MU_NU,
    "scale_by_rms": ("nu_dtype",), "scale_by_stddev": MU_NU, "scale_by_lion": ("mu_dtype",),
    "scale_by_adam_mini": ("mu_dtype",), "scale_by_muon": ("mu_dtype",),
    "trace": ("accumulator_dtype",), "ema": ("accumulator_dtype",),
    "scale_by_momentum": ("accumulator_dtype",), "schedule_free": ("state_dtype",),
}
# fmt: on


def _loss(p):
    return sum(0.5 * jnp.sum(jnp.asarray(A[k]) * (p[k].astype(jnp.float32) - 1) ** 2) for k in p)


def _grad(p):
    """Gradient of the separable quadratic ``_loss``, in the params' dtype."""
    return {k: (A[k] * (p[k].astype(jnp.float32) - 1)).astype(p[k].dtype) for k in p}


def _params(dtype):
    w = np.linspace(-1.0, 2.0, 15, dtype=np.float32).reshape(3, 5)
    b = np.linspace(-0.5, 0.75, 4, dtype=np.float32)
    return {"w": jnp.asarray(w, dtype), "b": jnp.asarray(b, dtype)}


def _moment_leaves(state):
    shapes = set(SHAPES.values())
    return [
        leaf
        for leaf in jax.tree.leaves(state)
        if jnp.shape(leaf) in shapes and jnp.issubdtype(leaf.dtype, jnp.floating)
    ]


def _update(entry, tx, state, p):
    """One update of ``tx`` at ``p`` on the quadratic (with the extra arguments it needs)."""
    g = _grad(p)
    extra = {}
    if entry.extra == "value":
        extra["value"] = _loss(p)
    elif entry.extra == "obj_fn":
        extra["obj_fn"] = _loss
    elif entry.extra == "batched":  # two per-example gradients averaging to g
        g = jax.tree.map(lambda x: jnp.stack([0.5 * x, 1.5 * x]), g)
    return tx.update(g, state, p, **extra)


# Only the dtypes and a few rounded steps are under test: skip XLA's costly optimization
# passes, which take most of this module's time (one compile per optimizer).
_FAST_COMPILE = {"xla_backend_optimization_level": 0, "xla_llvm_disable_expensive_passes": True}


def _runs(entry, txs, params, steps=3):
    """``steps`` updates of each transformation from ``params``, in one jitted program.

    ``lax.scan`` carries the state, so a state whose dtypes or shapes changed in
    ``update`` would fail to trace. Returns, for each, (params, state, stacked updates).
    """

    def run(tx):
        def body(carry, _):
            p, s = carry
            u, s = _update(entry, tx, s, p)
            return (gradtx.apply_updates(p, u), s), u

        (p, s), us = jax.lax.scan(body, (params, tx.init(params)), None, length=steps)
        return p, s, us

    return jax.jit(lambda: [run(tx) for tx in txs]).lower().compile(_FAST_COMPILE)()


def _rel_distance(p, q, start):
    """Largest distance between two runs, relative to how far the reference moved."""
    num = max(float(jnp.max(jnp.abs(p[k].astype(float) - q[k].astype(float)))) for k in p)
    den = max(float(jnp.max(jnp.abs(q[k].astype(float) - start[k].astype(float)))) for k in q)
    return num / den


def _dtypes(state):
    return jax.tree.map(lambda x: x.dtype, state)


def _count(state, dtype):
    dtypes = [leaf.dtype for leaf in _moment_leaves(state)]
    return dtypes.count(jnp.dtype(dtype)), len(dtypes)


@pytest.mark.parametrize("entry", ENTRIES)
def test_state_precision(entry):
    start = _params(jnp.float32)
    narrow = entry.factory(**entry.kwargs, **{a: BF16 for a in entry.dtype_args})
    (p32, _, _), (p16, s16, updates) = _runs(entry, [entry.factory(**entry.kwargs), narrow], start)

    # bfloat16 state, float32 params: the requested dtype after init and after 3 jitted
    # updates (scan keeps it fixed), float32 updates, and within bf16 rounding of the
    # float32-state run. Storing a moment in bfloat16 rounds it by at most 2**-9 relative
    # per step; over 3 steps the params of the two runs differ by at most 2.8e-3 of the
    # distance the float32 run moved for all but three optimizers (measured), and by
    # 8.7e-3 (soap: the rotated second moment), 1.6e-2 (muon: Newton-Schulz amplifies the
    # rounding of the momentum) and 1.6e-2 (schedule_free_adamw: rounded z); these have
    # their own bound (factor ~2 over the measurement), the others 1e-2 (factor >3).
    # A state left in float32 would pass the distance bound: the counts prove the rounding.
    init = jax.eval_shape(narrow.init, start)
    bf16, total = _count(init, BF16)
    assert bf16 == total - entry.untouched >= 2, _dtypes(init)
    assert _dtypes(s16) == _dtypes(init)
    assert all(u.dtype == jnp.float32 for u in jax.tree.leaves(updates))
    assert _rel_distance(p16, p32, start) < entry.tol

    # float32 state, bfloat16 params: the state stays float32 through an update (checked
    # on the abstract values: no compile), and the updates are bfloat16.
    wide = entry.factory(**entry.kwargs, **{a: jnp.float32 for a in entry.dtype_args})
    start16 = _params(BF16)
    init = jax.eval_shape(wide.init, start16)
    f32, total = _count(init, jnp.float32)
    assert f32 == total - entry.untouched >= 2, _dtypes(init)
    updates, after = jax.eval_shape(lambda s, p: _update(entry, wide, s, p), init, start16)
    assert _dtypes(after) == _dtypes(init)
    assert all(u.dtype == BF16 for u in jax.tree.leaves(updates))


def _registered_names():
    return {p.values[0].factory.__name__ for p in ENTRIES}


def test_every_optimizer_is_registered():
    names = set(gradtx.optimizers.__all__)
    registered = _registered_names()
    assert not registered & set(EXEMPT), registered & set(EXEMPT)
    missing = names - registered - set(EXEMPT)
    assert not missing, (
        f"{sorted(missing)}: add each to ENTRIES with its dtype arguments (mu_dtype, nu_dtype, "
        "accumulator_dtype, ...) or, if it keeps no moments, to EXEMPT with the reason."
    )
    assert registered | set(EXEMPT) <= names


@pytest.mark.parametrize("entry", ENTRIES)
def test_dtype_arguments_are_in_the_signature_with_optax_names(entry):
    import optax

    params = inspect.signature(entry.factory).parameters
    assert set(entry.dtype_args) <= set(params), entry.dtype_args
    for a in entry.dtype_args:
        assert params[a].default in (None, jnp.float32), a
    # Where optax has a dtype argument, gradtx has it under the same name (and position
    # kind): e.g. mu_dtype, accumulator_dtype, state_dtype, dtype_momentum.
    name = entry.factory.__name__
    ref = getattr(optax, name, None) or getattr(optax.contrib, name, None)
    if ref is not None:
        theirs = {k: v for k, v in inspect.signature(ref).parameters.items() if "dtype" in k}
        for k, v in theirs.items():
            assert k in params, (name, k)
            assert params[k].kind == v.kind, (name, k)
        # a gradtx-only dtype argument is keyword-only (no positional clash with optax)
        for a in set(entry.dtype_args) - set(theirs):
            assert params[a].kind is inspect.Parameter.KEYWORD_ONLY, (name, a)


@pytest.mark.parametrize("name", sorted(EXEMPT))
def test_exempt_optimizers_keep_no_moments(name):
    _, kwargs, allowed = EXEMPT[name]
    state = getattr(gradtx, name)(**kwargs).init(_params(jnp.float32))
    assert len(_moment_leaves(state)) == allowed, (
        f"{name} now keeps parameter-shaped state: give it a dtype argument and move it "
        "from EXEMPT to ENTRIES."
    )


PRIMITIVE_KWARGS = {
    "scale_by_madgrad": dict(learning_rate=0.1),
    "scale_by_rprop": dict(learning_rate=0.1),
    "trace": dict(decay=0.9),
    "ema": dict(decay=0.9),
    "scale_by_momentum": dict(decay=0.9),
    "schedule_free": dict(base_optimizer=gradtx.sgd(0.1), learning_rate=0.1),
}


@pytest.mark.parametrize("name", sorted(PRIMITIVES))
def test_primitives_take_the_dtype_arguments(name):
    factory = getattr(gradtx, name)
    assert set(PRIMITIVES[name]) <= set(inspect.signature(factory).parameters), name
    # each argument reaches at least one parameter-shaped leaf of the state (abstractly)
    kwargs = PRIMITIVE_KWARGS.get(name, {})
    params = _params(jnp.float32)
    if name == "scale_by_muon":  # matrices only
        params = {"w": params["w"]}
    for arg in PRIMITIVES[name]:
        tx = factory(**kwargs, **{arg: jnp.float16})
        state = jax.eval_shape(tx.init, params)
        assert _count(state, jnp.float16)[0] >= 1, (name, arg, _dtypes(state))


def test_galore_dtypes_reach_the_projected_moments_and_refuse_a_custom_base():
    tx = gradtx.galore(0.1, rank=1, mu_dtype=BF16, nu_dtype=jnp.float16)
    base = tx.init(_params(jnp.float32)).inner_state[0].base_optimizer_state
    assert {x.dtype for x in jax.tree.leaves(base.mu)} == {jnp.dtype(BF16)}
    assert {x.dtype for x in jax.tree.leaves(base.nu)} == {jnp.dtype(jnp.float16)}
    assert base.mu["w"].shape == (3, 1)  # projected, and still in the requested dtype
    with pytest.raises(ValueError, match=r"galore\(mu_dtype=\.\.\., nu_dtype=\.\.\.\)"):
        gradtx.galore(0.1, base_optimizer=gradtx.scale_by_adam(), mu_dtype=BF16)


def test_dtype_arguments_reach_the_state_separately():
    # mu_dtype and nu_dtype are independent: float16 first moments, float32 second.
    for factory in (gradtx.adamaxw, gradtx.nadamw, gradtx.acprop, gradtx.shampoo, gradtx.soap):
        state = factory(0.1, mu_dtype=jnp.float16, nu_dtype=jnp.float32).init(_params(BF16))
        dtypes = sorted(str(leaf.dtype) for leaf in _moment_leaves(state))
        assert dtypes == ["float16"] * 2 + ["float32"] * 2, (factory.__name__, dtypes)


def _numpy_adam_bf16(grads, b1, b2, eps, lr, round_moments=True):
    """Adam in float64 with the moments rounded to bfloat16 after every step."""

    def store(x):
        return x.astype(ml_dtypes.bfloat16).astype(np.float64) if round_moments else x

    m = np.zeros_like(grads[0], np.float64)
    v = np.zeros_like(grads[0], np.float64)
    out = []
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        m_new = b1 * m + (1 - b1) * g
        v_new = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m_new / (1 - b1**t), v_new / (1 - b2**t)
        out.append(-lr * m_hat / (np.sqrt(v_hat) + eps))
        m, v = store(m_new), store(v_new)
    return out, m, v


def test_adam_bf16_moments_match_numpy_float32_maths(rng):
    grads = [rng.normal(size=7).astype(np.float32) * 10.0**k for k in (0, -1, 1, 0, -2, 0)]
    # Betas exact in float32 (the optimizer keeps its hyperparameters in float32).
    b1, b2, eps, lr = 0.875, 1 - 2.0**-7, 1e-8, 0.1
    tx = gradtx.adam(lr, b1, b2, eps, mu_dtype=BF16, nu_dtype=BF16)
    step = jax.jit(tx.update)
    state = tx.init(jnp.zeros(7))
    got = []
    for g in grads:
        u, state = step(jnp.asarray(g), state)
        got.append(np.asarray(u))
    inner = state.inner_state[0]
    assert inner.mu.dtype == BF16 and inner.nu.dtype == BF16
    want, m, v = _numpy_adam_bf16(grads, b1, b2, eps, lr)
    for u, w in zip(got, want, strict=True):
        np.testing.assert_allclose(u, w, rtol=1e-6, atol=0)
    np.testing.assert_array_equal(np.asarray(inner.mu, np.float64), m)
    np.testing.assert_array_equal(np.asarray(inner.nu, np.float64), v)
    # The rounding is visible: the same run without it differs by far more than 1e-6.
    unrounded, _, _ = _numpy_adam_bf16(grads, b1, b2, eps, lr, round_moments=False)
    assert max(np.max(np.abs(u / w - 1)) for u, w in zip(got, unrounded, strict=True)) > 1e-4


PAGE = pathlib.Path(__file__).resolve().parents[1] / "docs" / "guide" / "state_precision.md"


def test_guide_page_snippet_runs_and_prints_what_it_says():
    import contextlib
    import io

    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    assert len(blocks) == 1
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks[0], str(PAGE), "exec"), {})  # noqa: S102 - the page's code
    assert out.getvalue().splitlines() == ["bfloat16 bfloat16", "float32"]


def test_guide_page_table_lists_every_optimizer_and_its_arguments():
    """The page's table is the registry: same optimizers, same dtype arguments."""
    rows = re.findall(r"^\| (`[^|]*`) \| ([^|]*) \|$", PAGE.read_text(), flags=re.M)
    table = {}
    for names, args in rows:
        for name in re.findall(r"`(\w+)`", names):
            table[name] = set(re.findall(r"`(\w+_dtype|dtype_momentum)`", args))
    want: dict[str, set[str]] = {}
    for p in ENTRIES:
        entry = p.values[0]
        want.setdefault(entry.factory.__name__, set()).update(entry.dtype_args)
    assert table == want

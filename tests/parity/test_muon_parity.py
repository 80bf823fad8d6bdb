"""gradtx.muon / scale_by_muon against optax.contrib and torch.optim.Muon, in float64.

optax: every case is one call built twice (``m = gradtx.contrib`` and ``m =
optax.contrib``), run on the same parameters and gradients; the parameter trajectories
and the steps must agree to rtol 1e-10. The parameter tree mixes matrices (wide and
tall), a vector and a scalar (so AdamW's fallback runs too) and, with dimension numbers,
3-D and 4-D tensors.

torch: ``torch.optim.Muon`` on 2-D parameters is ``gradtx.muon`` with
``momentum_form="sum"``, ``eps=1e-30`` (torch divides by ``max(norm, eps)``), torch's
``weight_decay``, and
``MuonDimensionNumbers(reduction_axis=1, output_axis=0)`` (torch's ``(out, in)``
layout, so that the width scaling is torch's ``"original"`` ``adjust_lr_fn``);
``consistent_rms=0.2`` is ``adjust_lr_fn="match_rms_adamw"``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import assert_trajectories_close, run_torch, to_jax, to_numpy, x64

optax_contrib = pytest.importorskip("optax.contrib")

RTOL = 1e-10
N_STEPS = 4

SHAPES = {"w": (3, 5), "tall": (6, 4), "b": (4,), "s": ()}
SHAPES_ND = {"k3": (3, 2, 4), "k4": (2, 3, 2, 2), "b": (4,)}


def _data(shapes, n_steps=N_STEPS, seed=0):
    rng = np.random.default_rng(seed)
    params = {k: rng.normal(size=s) + 0.5 for k, s in shapes.items()}
    grads = []
    for _ in range(n_steps):
        scale = 10.0 ** rng.uniform(-2, 1)
        grads.append({k: rng.normal(size=s) * scale for k, s in shapes.items()})
    return params, grads


def _dims(m):
    return {
        "k3": m.MuonDimensionNumbers(reduction_axis=0, output_axis=2),
        "k4": m.MuonDimensionNumbers(reduction_axis=(1, 3), output_axis=-2),
        "b": None,
    }


def _dims_fn(m):
    return lambda params: jax.tree.map(
        lambda x: m.MuonDimensionNumbers(0, 1) if jnp.ndim(x) == 2 else None, params
    )


def run_optax_like(tx, params, grads):
    """The parameters after every step, with one jitted update (eager Newton-Schulz is slow)."""
    update = jax.jit(tx.update)
    p = to_jax(params)
    state = tx.init(p)
    traj = [to_numpy(p)]
    for g in grads:
        g = to_jax(g)
        updates, state = update(g, state, p)
        for u, gl in zip(jax.tree.leaves(updates), jax.tree.leaves(g), strict=True):
            assert u.dtype == gl.dtype
        p = jax.tree.map(jnp.add, p, updates)
        traj.append(to_numpy(p))
    return traj


def sched(count):
    return 0.05 / (1.0 + 0.5 * count)


# (id, shapes, builder(m)) with m = gradtx.contrib or optax_contrib. Options are
# combined so that every one runs in some case while the cases (each a compilation in
# both libraries) stay few.
CASES = [
    ("defaults", SHAPES, lambda m: m.muon(0.05)),
    (
        "no-nesterov-adaptive-rms",
        SHAPES,
        lambda m: m.muon(0.05, nesterov=False, adaptive=True, consistent_rms=0.2),
    ),
    (
        "decay-mask-adam-args-schedule",
        SHAPES,
        lambda m: m.muon(
            sched,
            beta=0.8,
            eps=1e-3,
            weight_decay=0.1,
            weight_decay_mask={"w": True, "tall": False, "b": True, "s": True},
            adam_b1=0.8,
            adam_b2=0.99,
            adam_eps_root=1e-4,
            adam_weight_decay=0.05,
            adam_learning_rate=0.01,
        ),
    ),
    ("spectral", SHAPES, lambda m: m.muon(0.05, preconditioning="spectral", eps=1e-2)),
    ("schatten-3-steps", SHAPES, lambda m: m.muon(0.05, preconditioning="schatten", ns_steps=3)),
    ("aol-dion", SHAPES, lambda m: m.muon(0.05, preconditioning="aol", ns_coeffs="dion")),
    (
        "per-step-coeffs",
        SHAPES,
        lambda m: m.muon(0.05, ns_coeffs=((3.0, -3.2, 1.2), (2.0, -1.5, 0.5), (1.5, -0.5, 0.0))),
    ),
    (
        "dims-3d-4d-adaptive",
        SHAPES_ND,
        lambda m: m.muon(
            0.05, adaptive=True, consistent_rms=0.3, muon_weight_dimension_numbers=_dims(m)
        ),
    ),
    ("dims-fn", SHAPES, lambda m: m.muon(0.05, muon_weight_dimension_numbers=_dims_fn(m))),
    (
        "scale_by_muon-dims",
        {"k3": (3, 2, 4), "k4": (2, 3, 2, 2), "tall": (6, 4)},
        lambda m: m.scale_by_muon(
            ns_coeffs="standard" if m is gradtx.contrib else (3.4445, -4.775, 2.0315),
            ns_steps=3,
            beta=0.9,
            nesterov=False,
            weight_dimension_numbers={
                "k3": m.MuonDimensionNumbers(0, 2),
                "k4": m.MuonDimensionNumbers((1, 3), -2),
                "tall": m.MuonDimensionNumbers(),
            },
        ),
    ),
]


@pytest.mark.parametrize(("shapes", "build"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_muon_matches_optax(shapes, build):
    params, grads = _data(shapes)
    with x64():
        got = run_optax_like(build(gradtx.contrib), params, grads)
        want = run_optax_like(build(optax_contrib), params, grads)
    assert_trajectories_close(got, want, rtol=RTOL)


def test_state_fields_match_optax():
    params = {"w": jnp.zeros((3, 4))}
    tx = gradtx.scale_by_muon(ns_coeffs="dion")
    ours, theirs = tx.init(params), optax_contrib.scale_by_muon().init(params)
    assert ours._fields == theirs._fields == ("count", "mu", "ns_coeffs")
    want = optax_contrib.muon(0.1, ns_coeffs="dion").init(params)
    (want_coeffs,) = [
        x for x in jax.tree.leaves(want) if jnp.ndim(x) == 2 and jnp.shape(x)[-1] == 3
    ]
    np.testing.assert_array_equal(ours.ns_coeffs, want_coeffs)


# ---------------------------------------------------------------------------------------
# torch.optim.Muon

TORCH_SHAPES = {"w": (3, 5), "tall": (6, 4)}
TORCH_CASES = [
    ("defaults", dict(lr=0.05), {}),
    ("no-nesterov", dict(lr=0.05, nesterov=False, momentum=0.9), {}),
    (
        "wd-steps-coeffs-match-rms",
        dict(
            lr=0.02,
            weight_decay=0.3,
            ns_steps=3,
            eps=1e-3,
            ns_coefficients=(2.0, -1.5, 0.5),
            adjust_lr_fn="match_rms_adamw",
        ),
        {"consistent_rms": 0.2},
    ),
]
# torch.optim.Muon (2.13, CPU) runs Newton-Schulz in bfloat16 whatever the parameters'
# dtype (its float64 updates are bfloat16 numbers), so its steps carry bfloat16 rounding:
# measured 1.1e-2 .. 2.9e-2 normwise step error against gradtx's float64 steps. A wrong
# configuration is far off: the debiased momentum 0.16-0.23, optax's default dimension
# numbers (torch's "original" scaling transposed) 0.27-0.32.
TORCH_STEP_RTOL = 5e-2


def _torch_config(kw, extra, **override):
    """The documented gradtx configuration of ``torch.optim.Muon(**kw)``."""
    config = dict(
        ns_coeffs=kw.get("ns_coefficients", (3.4445, -4.775, 2.0315)),
        ns_steps=kw.get("ns_steps", 5),
        beta=kw.get("momentum", 0.95),
        # torch divides by max(norm, eps), gradtx by norm + eps: equal (to rounding)
        # with a tiny eps whenever the norm exceeds torch's eps.
        eps=1e-30,
        weight_decay=kw.get("weight_decay", 0.1),
        nesterov=kw.get("nesterov", True),
        momentum_form="sum",
        muon_weight_dimension_numbers=gradtx.MuonDimensionNumbers(reduction_axis=1, output_axis=0),
    )
    return gradtx.muon(kw["lr"], **{**config, **extra, **override})


def _step_error(got, want):
    """Largest normwise relative error of the steps theta_t - theta_{t-1}."""
    worst = 0.0
    for t in range(1, len(want)):
        for k in want[0]:
            dg, dw = got[t][k] - got[t - 1][k], want[t][k] - want[t - 1][k]
            worst = max(worst, float(np.linalg.norm(dg - dw) / np.linalg.norm(dw)))
    return worst


@pytest.mark.parametrize(
    ("kw", "extra"), [c[1:] for c in TORCH_CASES], ids=[c[0] for c in TORCH_CASES]
)
def test_muon_matches_torch(kw, extra):
    torch = pytest.importorskip("torch")
    params, grads = _data(TORCH_SHAPES, n_steps=6, seed=3)
    with x64():
        got = run_optax_like(_torch_config(kw, extra), params, grads)
    want = run_torch(torch.optim.Muon, params, grads, **kw)
    assert _step_error(got, want) < TORCH_STEP_RTOL


def test_torch_check_tells_wrong_configurations():
    """The bfloat16-level tolerance still rejects a wrong momentum form or layout."""
    torch = pytest.importorskip("torch")
    kw = dict(lr=0.05)
    params, grads = _data(TORCH_SHAPES, n_steps=6, seed=3)
    want = run_torch(torch.optim.Muon, params, grads, **kw)
    with x64():
        debiased = run_optax_like(_torch_config(kw, {}, momentum_form="debiased"), params, grads)
        # Transposed dimension numbers scale the wide and the tall matrix wrongly.
        dims = run_optax_like(
            _torch_config(kw, {}, muon_weight_dimension_numbers=None), params, grads
        )
    assert _step_error(debiased, want) > 0.1
    assert _step_error(dims, want) > 0.1


def test_optax_dimension_numbers_are_accepted():
    """optax's MuonDimensionNumbers work in gradtx (read by their fields)."""
    params, grads = _data(SHAPES_ND, n_steps=2)
    with x64():
        ours = run_optax_like(
            gradtx.muon(0.05, muon_weight_dimension_numbers=_dims(gradtx)), params, grads
        )
        theirs = run_optax_like(
            gradtx.muon(0.05, muon_weight_dimension_numbers=_dims(optax_contrib)), params, grads
        )
    assert_trajectories_close(ours, theirs, rtol=0.0)


def _float64_newton_schulz(torch):
    """Newton-Schulz as gradtx documents it, in float64 (written for this test)."""

    def orthogonalize(grad, ns_coefficients, ns_steps, eps):
        a, b, c = ns_coefficients
        x = grad.to(torch.float64)
        x = x / torch.linalg.matrix_norm(x).clamp(min=eps)
        tall = x.shape[0] > x.shape[1]
        if tall:
            x = x.T
        for _ in range(ns_steps):
            gram = x @ x.T
            x = a * x + (b * gram + c * gram @ gram) @ x
        return x.T if tall else x

    return orthogonalize


@pytest.mark.parametrize(
    ("kw", "extra"), [c[1:] for c in TORCH_CASES], ids=[c[0] for c in TORCH_CASES]
)
def test_muon_matches_torch_with_float64_newton_schulz(kw, extra, monkeypatch):
    """With torch's bfloat16 Newton-Schulz swapped for a float64 one, the rest of
    torch's update (summed momentum, Nesterov, the shape-dependent learning rate, weight
    decay, the (out, in) layout) matches the documented configuration to rtol 1e-10."""
    torch = pytest.importorskip("torch")
    muon_module = pytest.importorskip("torch.optim._muon")
    if not hasattr(muon_module, "_zeropower_via_newtonschulz"):
        pytest.fail("torch.optim._muon no longer has _zeropower_via_newtonschulz to swap")
    monkeypatch.setattr(muon_module, "_zeropower_via_newtonschulz", _float64_newton_schulz(torch))
    params, grads = _data(TORCH_SHAPES, n_steps=6, seed=3)
    with x64():
        got = run_optax_like(_torch_config(kw, extra), params, grads)
    want = run_torch(torch.optim.Muon, params, grads, **kw)
    assert _step_error(got, want) < RTOL

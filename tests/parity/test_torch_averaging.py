"""param_ema(debias=False) and swa against torch.optim.swa_utils.AveragedModel, float64.

torch trains a module with ``torch.optim.SGD`` and calls ``update_parameters(model)``
after the steps the gradtx transform averages; gradtx runs ``chain(sgd, avg)`` on the
same gradients. The averages must agree to rtol 1e-10 after every step (SGD's
parameters agree to rounding, and both sides average the post-step parameters).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import gradtx

from ._sequences import gradient_sequence, initial_params, x64

torch = pytest.importorskip("torch")
swa_utils = pytest.importorskip("torch.optim.swa_utils")

RTOL = 1e-10
N_STEPS = 8
LR, MOMENTUM = 0.125, 0.875


class _Module(torch.nn.Module):
    def __init__(self, params):
        super().__init__()
        for k, v in params.items():
            self.register_parameter(k, torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)))


def _torch_averages(params, grads, make_averaged, joins):
    model = _Module(params)
    averaged = make_averaged(model)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    out = []
    for t, g in enumerate(grads, start=1):
        for name, p in model.named_parameters():
            p.grad = torch.tensor(g[name], dtype=torch.float64)
        opt.step()
        if joins(t):
            averaged.update_parameters(model)
        out.append({k: v.detach().numpy().copy() for k, v in averaged.module.named_parameters()})
    return out


def _gradtx_averages(params, grads, avg):
    tx = gradtx.chain(gradtx.sgd(LR, momentum=MOMENTUM), avg)
    p = {k: jnp.asarray(v) for k, v in params.items()}
    state, out = tx.init(p), []
    for g in grads:
        u, state = tx.update({k: jnp.asarray(v) for k, v in g.items()}, state, p)
        p = gradtx.apply_updates(p, u)
        out.append({k: np.asarray(v) for k, v in gradtx.averaged_params(state).items()})
    return out


def _assert_close(got, want):
    for step, (a, b) in enumerate(zip(got, want, strict=True), start=1):
        for k in b:
            assert a[k].dtype == np.float64
            np.testing.assert_allclose(a[k], b[k], rtol=RTOL, atol=1e-14, err_msg=f"{step=} {k}")


@pytest.mark.parametrize("decay", [0.875, 0.5])
def test_param_ema_matches_averaged_model_ema(decay):
    params, grads = initial_params(), gradient_sequence(N_STEPS)
    with x64():
        got = _gradtx_averages(params, grads, gradtx.param_ema(decay, debias=False))
    want = _torch_averages(
        params,
        grads,
        lambda m: swa_utils.AveragedModel(m, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(decay)),
        lambda t: True,
    )
    _assert_close(got, want)


def test_debiased_param_ema_differs_from_torch_after_the_first_step():
    params, grads = initial_params(), gradient_sequence(3)
    with x64():
        got = _gradtx_averages(params, grads, gradtx.param_ema(0.875))
    want = _torch_averages(
        params,
        grads,
        lambda m: swa_utils.AveragedModel(m, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.875)),
        lambda t: True,
    )
    _assert_close(got[:1], want[:1])  # both copy the first post-step parameters
    assert not np.allclose(got[1]["w"], want[1]["w"], rtol=1e-4)


@pytest.mark.parametrize(("start_step", "every_k"), [(0, 1), (3, 2)])
def test_swa_matches_averaged_model(start_step, every_k):
    params, grads = initial_params(), gradient_sequence(N_STEPS)
    with x64():
        got = _gradtx_averages(params, grads, gradtx.swa(start_step, every_k))
    want = _torch_averages(
        params,
        grads,
        swa_utils.AveragedModel,
        lambda t: t > start_step and (t - start_step) % every_k == 0,
    )
    _assert_close(got, want)

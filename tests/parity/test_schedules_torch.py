"""gradtx schedules against torch.optim.lr_scheduler, called as a black box, in float64.

The learning rate torch uses at step ``t`` is read as ``optimizer.param_groups[0]["lr"]``
before the ``t``-th ``scheduler.step()`` (after ``optimizer.step()``, as torch expects);
gradtx's schedule is evaluated at count ``t``. torch's schedulers are mostly recursive
(``lr_t = lr_{t-1} * ratio``), so the two agree to float64 rounding, not bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gradtx.schedules import (
    cosine_decay_schedule,
    cosine_onecycle_schedule,
    cosine_restarts_schedule,
    cyclic_schedule,
    exponential_decay,
    inverse_time_decay,
    linear_onecycle_schedule,
    linear_schedule,
    multistep_schedule,
    piecewise_interpolate_schedule,
    polynomial_schedule,
    step_schedule,
)

torch = pytest.importorskip("torch")
lr_scheduler = torch.optim.lr_scheduler

RTOL = 1e-10
ATOL = 1e-14


@pytest.fixture(autouse=True)
def _float64() -> Iterator[None]:
    with jax.enable_x64(True):
        yield


def torch_lrs(make_scheduler: Callable, steps: int, lr: float = 1.0) -> np.ndarray:
    """The learning rates a plain torch SGD uses at steps ``0 .. steps - 1``."""
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.SGD([param], lr=lr)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.asarray(lrs)


# One shape for every evaluation, so that JAX compiles each operation once for the file.
COUNTS = 128


def gradtx_lrs(schedule: Callable, steps: int) -> np.ndarray:
    assert steps <= COUNTS
    values = schedule(jnp.arange(COUNTS))
    assert values.dtype == jnp.float64
    return np.asarray(values)[:steps]


def assert_same(schedule: Callable, make_scheduler: Callable, steps: int, lr: float) -> None:
    np.testing.assert_allclose(
        gradtx_lrs(schedule, steps), torch_lrs(make_scheduler, steps, lr), rtol=RTOL, atol=ATOL
    )


@pytest.mark.parametrize("step_size,gamma", [(3, 0.5), (1, 0.9), (4, 0.1)])
def test_step_schedule_is_step_lr(step_size: int, gamma: float) -> None:
    assert_same(
        step_schedule(0.3, step_size, gamma),
        lambda opt: lr_scheduler.StepLR(opt, step_size, gamma),
        steps=20,
        lr=0.3,
    )


@pytest.mark.parametrize("milestones,gamma", [([2, 5, 9], 0.3), ([0, 1, 10], 0.1), ([], 0.5)])
def test_multistep_schedule_is_multistep_lr(milestones: list[int], gamma: float) -> None:
    assert_same(
        multistep_schedule(0.3, milestones, gamma),
        lambda opt: lr_scheduler.MultiStepLR(opt, milestones, gamma),
        steps=15,
        lr=0.3,
    )


@pytest.mark.parametrize("gamma", [0.9, 0.5, 1.05])
def test_exponential_decay_is_exponential_lr(gamma: float) -> None:
    assert_same(
        exponential_decay(0.2, transition_steps=1, decay_rate=gamma),
        lambda opt: lr_scheduler.ExponentialLR(opt, gamma),
        steps=30,
        lr=0.2,
    )


@pytest.mark.parametrize("t_max,eta_min", [(10, 0.0), (10, 0.01), (7, 0.3)])
def test_cosine_decay_schedule_is_cosine_annealing_lr(t_max: int, eta_min: float) -> None:
    lr = 0.5
    assert_same(
        cosine_decay_schedule(lr, t_max, alpha=eta_min / lr),
        lambda opt: lr_scheduler.CosineAnnealingLR(opt, t_max, eta_min),
        steps=t_max + 1,
        lr=lr,
    )


@pytest.mark.parametrize("total_iters,power", [(5, 1.0), (6, 2.0), (9, 0.5)])
def test_polynomial_schedule_is_polynomial_lr(total_iters: int, power: float) -> None:
    assert_same(
        polynomial_schedule(2.0, 0.0, power, total_iters),
        lambda opt: lr_scheduler.PolynomialLR(opt, total_iters=total_iters, power=power),
        steps=total_iters + 4,
        lr=2.0,
    )


@pytest.mark.parametrize("start,end,total", [(1 / 3, 1.0, 5), (0.25, 0.75, 4), (1.0, 0.1, 7)])
def test_linear_schedule_is_linear_lr(start: float, end: float, total: int) -> None:
    lr = 2.0
    assert_same(
        linear_schedule(lr * start, lr * end, total),
        lambda opt: lr_scheduler.LinearLR(
            opt, start_factor=start, end_factor=end, total_iters=total
        ),
        steps=total + 4,
        lr=lr,
    )


@pytest.mark.parametrize(
    "mode,up,down,gamma",
    [
        ("triangular", 3, 2, 1.0),
        ("triangular", 4, None, 1.0),
        ("triangular2", 3, None, 1.0),
        ("triangular2", 2, 5, 1.0),
        ("exp_range", 3, None, 0.9),
        ("exp_range", 2, 3, 0.99),
        ("triangular", 3, 0, 1.0),
    ],
)
def test_cyclic_schedule_is_cyclic_lr(mode: str, up: int, down: int | None, gamma: float) -> None:
    assert_same(
        cyclic_schedule(0.1, 1.0, up, down, mode=mode, gamma=gamma),
        lambda opt: lr_scheduler.CyclicLR(
            opt,
            base_lr=0.1,
            max_lr=1.0,
            step_size_up=up,
            step_size_down=down,
            mode=mode,
            gamma=gamma,
            cycle_momentum=False,
        ),
        steps=40,
        lr=0.1,
    )


@pytest.mark.parametrize(
    "t_0,t_mult,eta_min", [(3, 1, 0.1), (2, 2, 0.1), (1, 2, 0.0), (2, 3, 0.05)]
)
def test_cosine_restarts_schedule_is_cosine_annealing_warm_restarts(
    t_0: int, t_mult: int, eta_min: float
) -> None:
    assert_same(
        cosine_restarts_schedule(0.7, t_0, t_mult, eta_min),
        lambda opt: lr_scheduler.CosineAnnealingWarmRestarts(opt, t_0, t_mult, eta_min),
        steps=80,
        lr=0.7,
    )


@pytest.mark.parametrize("lr,lr_decay", [(0.5, 0.1), (0.01, 0.005), (1.0, 0.0)])
def test_inverse_time_decay_is_adagrad_lr_decay(lr: float, lr_decay: float) -> None:
    """Measures the step size torch's Adagrad takes (gradient 1, eps 0, accumulator 0).

    Then the accumulator after ``k`` steps is ``k`` and the update is ``lr_k / sqrt(k)``,
    so ``lr_k = (p_{k-1} - p_k) * sqrt(k)``.
    """
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = torch.optim.Adagrad([param], lr=lr, lr_decay=lr_decay, eps=0.0)
    measured, previous = [], 0.0
    for k in range(1, 21):
        param.grad = torch.ones(1, dtype=torch.float64)
        optimizer.step()
        current = param.item()
        measured.append((previous - current) * math.sqrt(k))
        previous = current
    np.testing.assert_allclose(
        gradtx_lrs(inverse_time_decay(lr, lr_decay), 20), measured, rtol=1e-12
    )


@pytest.mark.parametrize(
    "total,pct,div,final", [(100, 0.3, 25.0, 1e4), (12, 0.25, 10.0, 100.0), (8, 0.5, 4.0, 10.0)]
)
def test_cosine_onecycle_schedule_is_one_cycle_lr(
    total: int, pct: float, div: float, final: float
) -> None:
    """torch's phases end at ``pct*total - 1`` and ``total - 1``: use ``total - 1`` steps."""
    assert_same(
        cosine_onecycle_schedule(total - 1, 0.8, pct, div, final),
        lambda opt: lr_scheduler.OneCycleLR(
            opt,
            max_lr=0.8,
            total_steps=total,
            pct_start=pct,
            div_factor=div,
            final_div_factor=final,
            cycle_momentum=False,
        ),
        steps=total,
        lr=0.8,
    )


@pytest.mark.parametrize("total,pct", [(100, 0.3), (12, 0.25)])
def test_linear_onecycle_schedule_is_three_phase_linear_one_cycle_lr(
    total: int, pct: float
) -> None:
    """The recipe of the docstring: ``linear_onecycle_schedule(N - 1, ...)`` with
    ``pct_start=(p*N - 0.5)/(N - 1)`` and ``pct_final=(2*p*N - 1.5)/(N - 1)``."""
    schedule = linear_onecycle_schedule(
        total - 1,
        0.8,
        pct_start=(pct * total - 0.5) / (total - 1),
        pct_final=(2 * pct * total - 1.5) / (total - 1),
    )
    assert_same(
        schedule,
        lambda opt: lr_scheduler.OneCycleLR(
            opt,
            max_lr=0.8,
            total_steps=total,
            pct_start=pct,
            anneal_strategy="linear",
            three_phase=True,
            cycle_momentum=False,
        ),
        steps=total,
        lr=0.8,
    )


@pytest.mark.parametrize("total,pct", [(100, 0.3), (12, 0.25)])
def test_piecewise_interpolate_is_two_phase_linear_one_cycle_lr(total: int, pct: float) -> None:
    """torch's two-phase linear one-cycle anneals straight to its floor; the documented
    counterpart is a linear ``piecewise_interpolate_schedule`` through its three knots."""
    start, div, final = 0.8 / 25.0, 25.0, 1e4
    schedule = piecewise_interpolate_schedule(
        "linear", start, {round(pct * total) - 1: div, total - 1: 1 / (div * final)}
    )
    assert_same(
        schedule,
        lambda opt: lr_scheduler.OneCycleLR(
            opt,
            max_lr=0.8,
            total_steps=total,
            pct_start=pct,
            anneal_strategy="linear",
            cycle_momentum=False,
        ),
        steps=total,
        lr=0.8,
    )


def test_cosine_onecycle_schedule_with_the_same_length_is_one_step_late() -> None:
    """The documented difference for ``transition_steps = total_steps``: torch peaks at step 29
    of 100 and reaches its floor at step 99; gradtx at steps 30 and 100."""
    torch_values = torch_lrs(
        lambda opt: lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=100), 100
    )
    ours = gradtx_lrs(cosine_onecycle_schedule(100, 1.0), 101)
    assert int(np.argmax(torch_values)) == 29
    assert int(np.argmax(ours)) == 30
    np.testing.assert_allclose([torch_values[99], ours[100]], [4e-6, 4e-6], rtol=1e-12)
    assert ours[99] > 4e-6

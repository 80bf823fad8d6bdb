"""Conformance entries for monitoring and clipping wrappers (see tests/_catalogue.py).

``reduce_on_plateau`` is not registered: its ``update`` needs ``value=loss``, which the
conformance checks do not pass (tests/wrappers/test_plateau.py runs it under jit, scan
and ``lax.cond`` instead). ``keep_params_nonnegative`` is not either: the problems'
minimizers have negative coordinates.
"""

import pytest
from _conformance_kit import Tuning, _with_lr

import gradtx


def norms_adam(learning_rate, **kwargs):
    return gradtx.monitoring.norms(gradtx.adam(learning_rate, **kwargs))


def monitor_sgd(learning_rate, **kwargs):
    return gradtx.chain(
        gradtx.monitor(
            {"norm": gradtx.tree.norm, "ema": gradtx.measure_with_ema(gradtx.tree.norm, 0.9)}
        ),
        gradtx.sgd(learning_rate, **kwargs),
        gradtx.snapshot("step", gradtx.tree.norm),
    )


def flatten_adam(learning_rate, **kwargs):
    return gradtx.flatten(gradtx.adam(learning_rate, **kwargs))


def stateful_sgd(learning_rate, **kwargs):
    return gradtx.inject_stateful_hyperparams(gradtx.sgd)(learning_rate, **kwargs)


# The monitors pass updates through and flatten/injection do not change the numbers: the
# entries keep their optimizer's tuning (the core registry's GD and ADAM). Measured:
# adam-based entries end 4.5e-7 from Rosenbrock's minimum (quadratic 5.5e-15 of its
# initial loss), sgd-based ones 8.7e-5 (quadratic 6.2e-15).
GD = Tuning(0.15, 200, 1e-3, 40000)
ADAM = Tuning(0.1, 500, 0.02, 8000)
# AGC with clipping 1 limits each step to lr * max(|theta|, eps): from the quadratic's
# start at 0 the steps stay ~1.5e-4 until |theta| passes eps=1e-3, then grow by (1 + lr)
# per step, so it gets 300 steps; it then ends where plain GD does (measured 6.2e-15 of
# the quadratic's initial loss, 8.7e-5 from Rosenbrock's minimum: both settle at the
# same float32 fixed point).
AGC = Tuning(0.15, 300, 1e-3, 40000)

ENTRIES = [
    pytest.param(norms_adam, {}, ADAM, id="monitoring.norms-adam"),
    pytest.param(monitor_sgd, {}, GD, id="monitor-snapshot-sgd"),
    pytest.param(flatten_adam, {}, ADAM, id="flatten-adam"),
    pytest.param(stateful_sgd, {}, GD, id="inject_stateful_hyperparams-sgd"),
    pytest.param(
        _with_lr(gradtx.adaptive_grad_clip), {"clipping": 1.0}, AGC, id="adaptive_grad_clip"
    ),
]

"""Schedules: functions from the step count to a value (a learning rate, a momentum, ...).

Every schedule here is a pure function ``count -> value`` of an integer (or float) step
count, scalar or array: it runs under ``jax.jit`` and ``jax.vmap``, never branches in
Python on the count, returns float32 (or the promoted dtype of its values) and stays
finite for any count up to ``2**31 - 1``. The names, signatures and numbers of optax's
schedules are kept; torch's schedulers have counterparts under their own names
(``step_schedule`` is ``StepLR``, ``cyclic_schedule`` is ``CyclicLR``, ...), and
``per_epoch`` drives an epoch-indexed schedule by the step count.
"""

from gradtx.schedules._basic import constant_schedule as constant_schedule
from gradtx.schedules._basic import cosine_decay_schedule as cosine_decay_schedule
from gradtx.schedules._basic import exponential_decay as exponential_decay
from gradtx.schedules._basic import inverse_time_decay as inverse_time_decay
from gradtx.schedules._basic import linear_schedule as linear_schedule
from gradtx.schedules._basic import polynomial_schedule as polynomial_schedule
from gradtx.schedules._combinators import join_schedules as join_schedules
from gradtx.schedules._combinators import per_epoch as per_epoch
from gradtx.schedules._cyclic import cosine_restarts_schedule as cosine_restarts_schedule
from gradtx.schedules._cyclic import cyclic_schedule as cyclic_schedule
from gradtx.schedules._cyclic import sgdr_schedule as sgdr_schedule
from gradtx.schedules._onecycle import cosine_onecycle_schedule as cosine_onecycle_schedule
from gradtx.schedules._onecycle import linear_onecycle_schedule as linear_onecycle_schedule
from gradtx.schedules._piecewise import multistep_schedule as multistep_schedule
from gradtx.schedules._piecewise import (
    piecewise_constant_schedule as piecewise_constant_schedule,
)
from gradtx.schedules._piecewise import (
    piecewise_interpolate_schedule as piecewise_interpolate_schedule,
)
from gradtx.schedules._piecewise import step_schedule as step_schedule
from gradtx.schedules._warmup import inverse_sqrt_schedule as inverse_sqrt_schedule
from gradtx.schedules._warmup import warmup_constant_schedule as warmup_constant_schedule
from gradtx.schedules._warmup import (
    warmup_cosine_decay_schedule as warmup_cosine_decay_schedule,
)
from gradtx.schedules._warmup import (
    warmup_exponential_decay_schedule as warmup_exponential_decay_schedule,
)
from gradtx.schedules._warmup import (
    warmup_stable_decay_schedule as warmup_stable_decay_schedule,
)

__all__ = [
    "constant_schedule",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "cosine_restarts_schedule",
    "cyclic_schedule",
    "exponential_decay",
    "inverse_sqrt_schedule",
    "inverse_time_decay",
    "join_schedules",
    "linear_onecycle_schedule",
    "linear_schedule",
    "multistep_schedule",
    "per_epoch",
    "piecewise_constant_schedule",
    "piecewise_interpolate_schedule",
    "polynomial_schedule",
    "sgdr_schedule",
    "step_schedule",
    "warmup_constant_schedule",
    "warmup_cosine_decay_schedule",
    "warmup_exponential_decay_schedule",
    "warmup_stable_decay_schedule",
]

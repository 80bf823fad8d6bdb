"""The classic optimizers, each a short chain of primitives with hyperparameters in state."""

from gradtx.optimizers._adam import adam as adam
from gradtx.optimizers._adam import adamax as adamax
from gradtx.optimizers._adam import adamaxw as adamaxw
from gradtx.optimizers._adam import adamw as adamw
from gradtx.optimizers._adam import amsgrad as amsgrad
from gradtx.optimizers._adam import nadam as nadam
from gradtx.optimizers._adam import nadamw as nadamw
from gradtx.optimizers._adam import radam as radam
from gradtx.optimizers._rms import adadelta as adadelta
from gradtx.optimizers._rms import adagrad as adagrad
from gradtx.optimizers._rms import rmsprop as rmsprop
from gradtx.optimizers._sgd import sgd as sgd

# Issue 3 families: each adds its import lines directly above its own marker.
# [family:sign]
# [family:belief]
# [family:trust]
# [family:factored]

__all__ = [
    "adadelta",
    "adagrad",
    "adam",
    "adamax",
    "adamaxw",
    "adamw",
    "amsgrad",
    "nadam",
    "nadamw",
    "radam",
    "rmsprop",
    "sgd",
    # Issue 3 families: each adds its names directly above its own marker.
    # [names:sign]
    # [names:belief]
    # [names:trust]
    # [names:factored]
]

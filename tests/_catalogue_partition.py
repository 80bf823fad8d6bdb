"""Conformance entries for partition and selective_transform (see tests/_catalogue.py)."""

import pytest
from _conformance_kit import Tuning

import gradtx

# Heavy-ball momentum's tuning from tests/test_conformance.py, unchanged: on the
# quadratic, "w" goes to Adam and "b" to heavy-ball SGD; Rosenbrock's single array (path
# "") takes the default label, heavy-ball SGD. Measured: quadratic 5.0e-14 of its initial
# loss, 1.1e-6 from Rosenbrock's minimum (heavy ball alone: the same 1.1e-6).
HEAVY_BALL = Tuning(0.05, 300, 1e-3, 8000)
# Adam's tuning, unchanged; the mask freezes nothing here (no path contains "frozen"
# but the None leaf of the quadratic, which passes through), so every leaf trains.
# Measured: quadratic 5.5e-15, Rosenbrock 4.5e-7 (as adam alone).
ADAM = Tuning(0.1, 500, 0.02, 8000)


def adam_and_momentum(learning_rate):
    return gradtx.partition(
        {
            "adam": gradtx.adam(learning_rate),
            "momentum": gradtx.sgd(learning_rate, momentum=0.9),
        },
        gradtx.labels_by_path({"*w*": "adam"}, default="momentum"),
    )


def selective_adam(learning_rate):
    return gradtx.selective_transform(
        gradtx.adam(learning_rate), freeze_mask=gradtx.masks.by_path("*frozen*")
    )


ENTRIES = [
    pytest.param(adam_and_momentum, {}, HEAVY_BALL, id="partition-adam-momentum"),
    pytest.param(selective_adam, {}, ADAM, id="selective_transform-adam"),
]

"""Conformance entries for fuse_leaves (see tests/_catalogue.py)."""

import pytest
from _conformance_kit import Tuning

import gradtx


def fuse_leaves_adam(learning_rate, **kwargs):
    return gradtx.fuse_leaves(gradtx.adam(learning_rate, **kwargs))


def fuse_leaves_sgd(learning_rate, **kwargs):
    return gradtx.fuse_leaves(gradtx.sgd(learning_rate, **kwargs))


# fuse_leaves does not change an elementwise optimizer's numbers (tests/wrappers/
# test_fuse.py checks 1e-6), so the entries keep the core registry's ADAM and
# heavy-ball tuning.
ADAM = Tuning(0.1, 500, 0.02, 8000)
HEAVY_BALL = Tuning(0.05, 300, 1e-3, 8000)

ENTRIES = [
    pytest.param(fuse_leaves_adam, {}, ADAM, id="fuse_leaves-adam"),
    pytest.param(
        fuse_leaves_sgd, {"momentum": 0.9, "nesterov": True}, HEAVY_BALL, id="fuse_leaves-sgd"
    ),
]

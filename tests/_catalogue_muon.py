"""Conformance entries for Muon (see tests/_catalogue.py).

The conformance problems (the quadratic's ``(4,)`` and ``()`` leaves, Rosenbrock's
``(2,)``) have no matrix, so ``muon`` sends every parameter to its AdamW fallback (NAdamW,
since ``nesterov=True``): these entries check the fallback and the plumbing (masking,
state, dtypes, jit, hyperparameters in state). Muon's own step on matrices is tested in
tests/optimizers/test_muon.py (a matrix least-squares problem) and tests/parity.
``scale_by_muon`` is not registered: it takes matrices only and raises on these leaves.
"""

import pytest
from _conformance_kit import Tuning

import gradtx

# NAdam-like: measured quadratic loss below 1e-3 of its initial value after 40 steps at
# rate 0.1 (5.5e-15 after 500); Rosenbrock 3.3e-4 from the minimum after 20000 steps at
# rate 5e-3 (nadam's tuning: at 0.02 the look-ahead keeps bouncing in the valley).
MUON = Tuning(0.1, 500, 5e-3, 20000)

ENTRIES = [
    pytest.param(gradtx.muon, {}, MUON, id="muon"),
]

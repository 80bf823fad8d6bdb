"""Conformance entries for SOAP (see tests/_catalogue.py)."""

import pytest
from _conformance_kit import Tuning, _with_lr

import gradtx

# The conformance problems have vector parameters only, which SOAP does not rotate: there
# it is Adam with b1 = b2 = 0.95 whose first step only builds the (empty) bases. Its
# rotations are tested against the NumPy reference in tests/optimizers/test_soap.py.
# Measured with soap's defaults (weight_decay=0.01): the quadratic's loss is 2.6e-5 of
# its initial value after 200 steps at rate 0.1; Rosenbrock ends 1.9e-3 from its minimum
# after 4000 steps at rate 5e-3 (4e-3 at rate 0.01: the fast b2 keeps the steps noisy).
SOAP = Tuning(0.1, 200, 5e-3, 4000)

ENTRIES = [
    pytest.param(gradtx.soap, {}, SOAP, id="soap"),
    pytest.param(_with_lr(gradtx.scale_by_soap), {}, SOAP, id="scale_by_soap"),
]

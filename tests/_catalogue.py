"""Conformance-registry entries for the optimizer catalogue (issue 3), one list per family.

``tests/test_conformance.py`` runs every entry through the same checks as the core
optimizers. Each family's list lives in its own module ``tests/_catalogue_<family>.py``.
"""

from _catalogue_accumulate import ENTRIES as ACCUMULATE
from _catalogue_averaging import ENTRIES as AVERAGING
from _catalogue_belief import ENTRIES as BELIEF
from _catalogue_factored import ENTRIES as FACTORED
from _catalogue_free import ENTRIES as FREE
from _catalogue_fuse import ENTRIES as FUSE
from _catalogue_lbfgs import ENTRIES as LBFGS
from _catalogue_lowmem import ENTRIES as LOWMEM
from _catalogue_mix import ENTRIES as MIX
from _catalogue_momo import ENTRIES as MOMO
from _catalogue_monitoring import ENTRIES as MONITORING
from _catalogue_muon import ENTRIES as MUON
from _catalogue_newton import ENTRIES as NEWTON
from _catalogue_partition import ENTRIES as PARTITION
from _catalogue_schedfree import ENTRIES as SCHEDFREE
from _catalogue_shampoo import ENTRIES as SHAMPOO
from _catalogue_sign import ENTRIES as SIGN
from _catalogue_soap import ENTRIES as SOAP
from _catalogue_trust import ENTRIES as TRUST
from _catalogue_wrappers import ENTRIES as WRAPPERS

CATALOGUE = [
    *SIGN,
    *BELIEF,
    *TRUST,
    *FACTORED,
    *SCHEDFREE,
    *MIX,
    *FREE,
    *MOMO,
    *LOWMEM,
    *SHAMPOO,
    *SOAP,
    *MUON,
    *ACCUMULATE,  # MultiSteps, apply_if_finite, zero_nans, apply_every, conditionally_mask
    *WRAPPERS,  # cautious and sam, around optimizers above
    *MONITORING,  # norms, monitor, snapshot, flatten, stateful injection, AGC
    *PARTITION,  # partition and selective_transform, around optimizers above
    *FUSE,  # fuse_leaves around adam and sgd-nesterov
    *AVERAGING,  # param_ema, swa and scale_by_tree chained after optimizers
    *NEWTON,  # newton and newton_cg (issue 5), given the objective as value_fn
    *LBFGS,  # lbfgs with zoom / backtracking line searches (issue 5), given value_fn
]

"""Conformance-registry entries for the optimizer catalogue (issue 3), one list per family.

``tests/test_conformance.py`` runs every entry through the same checks as the core
optimizers. Each family's list lives in its own module ``tests/_catalogue_<family>.py``.
"""

from _catalogue_belief import ENTRIES as BELIEF
from _catalogue_factored import ENTRIES as FACTORED
from _catalogue_free import ENTRIES as FREE
from _catalogue_mix import ENTRIES as MIX
from _catalogue_momo import ENTRIES as MOMO
from _catalogue_schedfree import ENTRIES as SCHEDFREE
from _catalogue_sign import ENTRIES as SIGN
from _catalogue_trust import ENTRIES as TRUST

CATALOGUE = [*SIGN, *BELIEF, *TRUST, *FACTORED, *SCHEDFREE, *MIX, *FREE, *MOMO]

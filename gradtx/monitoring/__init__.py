"""Monitoring built into the step: norms and counts recorded in the optimizer state.

Nothing here calls back to the host: the numbers are arrays in the state, computed with
the update, and read by name with :func:`gradtx.tree.get` when (and if) you log them.
See also :func:`gradtx.clip_by_global_norm` (records the norm before clipping) and
:func:`gradtx.snapshot`, :func:`gradtx.monitor` for measurements of your own.
"""

from gradtx.monitoring._norms import NormsState as NormsState
from gradtx.monitoring._norms import norms as norms

__all__ = ["NormsState", "norms"]

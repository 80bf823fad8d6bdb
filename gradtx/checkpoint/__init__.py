"""Checkpoints of optimizer states (and any pytree of arrays) keyed by path name.

:func:`save` writes a NumPy ``.npz`` atomically, each leaf under its path name;
:func:`restore` reads it back into the structure of a template, concrete or abstract,
after checking that every path, shape, dtype and state type matches. See the guide page
"Checkpointing".
"""

from gradtx.checkpoint._checkpoint import restore as restore
from gradtx.checkpoint._checkpoint import save as save

__all__ = ["restore", "save"]

"""Masks and labels chosen by parameter path.

:func:`by_path` builds a mask function from glob patterns over parameter paths, for
every ``mask=`` argument (:func:`gradtx.masked`, :func:`gradtx.freeze`,
:func:`gradtx.adamw`, ...); :func:`labels_by_path` builds the labels of
:func:`gradtx.partition`; :func:`paths` lists the path texts the patterns are matched
against.
"""

from gradtx.masks._by_path import by_path as by_path
from gradtx.masks._by_path import labels_by_path as labels_by_path
from gradtx.masks._by_path import paths as paths

__all__ = ["by_path", "labels_by_path", "paths"]

"""The file format of :mod:`gradtx.checkpoint`: a NumPy ``.npz`` written atomically.

This module knows arrays and files, not pytrees (so it needs NumPy only). A checkpoint
is an ordinary ``.npz`` (``numpy.load`` opens it): one ``.npy`` member per leaf, named by
the leaf's path, plus a JSON header member ``__gradtx__`` with the format version, the
paths in order and, per leaf, its dtype name, shape and the state types along its path.
Dtypes NumPy cannot store (``bfloat16``, ``float8_*``, ``int4``: the ``ml_dtypes``
extension types) are stored as their raw bits (an unsigned integer array of the same
item size) and recovered from the dtype name in the header.

Writes are atomic: the archive goes to a temporary file in the destination's folder,
which is flushed and ``fsync``-ed, then renamed over the destination with
``os.replace``, and the folder is ``fsync``-ed so that the rename itself is durable. A
crash at any point leaves either the previous file or the new one, never a mix; at most
a stray ``.<name>.<random>.tmp`` file remains next to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import zipfile
from collections.abc import Iterable
from typing import Any

import numpy as np

FORMAT = "gradtx.checkpoint"
VERSION = 1
HEADER = "__gradtx__"
ROOT = "<root>"  # the member name of a tree that is a single leaf (its path is "")

_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _is_native(dtype: np.dtype) -> bool:
    """Whether ``.npy`` stores ``dtype`` faithfully (NumPy's own numeric dtypes)."""
    return dtype.kind in "biufc" and dtype.type.__module__ == "numpy"


def encode(array: np.ndarray) -> tuple[np.ndarray, str]:
    """``array`` as ``.npy`` can store it, and the name of its true dtype."""
    dtype = array.dtype
    if _is_native(dtype):
        return array, dtype.name
    if dtype.itemsize not in _BITS or dtype.kind not in "fiuV":
        raise TypeError(f"cannot store an array of dtype {dtype} in a checkpoint.")
    return np.array(array, order="C").view(_BITS[dtype.itemsize]), dtype.name


def decode(stored: np.ndarray, dtype_name: str) -> np.ndarray:
    """The array ``encode`` stored, in the dtype named ``dtype_name``."""
    if stored.dtype.name == dtype_name:
        return stored
    import ml_dtypes  # JAX's extension dtypes; imported only when a file needs them

    dtype = np.dtype(getattr(ml_dtypes, dtype_name))
    if stored.dtype != _BITS.get(dtype.itemsize):
        raise ValueError(f"a {dtype_name} leaf is stored as {stored.dtype}, not as its bits")
    return stored.view(dtype)


def member_name(path: str) -> str:
    """The archive member (without ``.npy``) that holds the leaf at ``path``."""
    return path or ROOT


def write_atomic(
    path: str | os.PathLike[str],
    header: dict[str, Any],
    arrays: Iterable[tuple[str, np.ndarray]],
) -> None:
    """Write an ``.npz`` with ``header`` (as JSON) and ``arrays`` to ``path``, atomically.

    Args:
      path: the destination; its folder must exist. An existing file is replaced only
        once the new one is complete and on disk.
      header: JSON-serialisable metadata, stored as the member ``__gradtx__``.
      arrays: ``(member name, array)`` pairs in the order to store them.
    """
    path = os.path.abspath(os.fspath(path))
    folder, base = os.path.split(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save {path!r}: the folder {folder!r} does not exist.")
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never clobber another writer's temporary file; 0o666 & ~umask as open() does.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                text = json.dumps(header, separators=(",", ":")).encode()
                _write_member(zf, HEADER, np.frombuffer(text, np.uint8))
                for name, array in arrays:
                    _write_member(zf, name, array)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _write_member(zf: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with zf.open(name + ".npy", "w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)


def _fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; its renames are journaled
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _valid_leaf(entry: Any) -> bool:
    """Whether a header's leaf entry has the fields and types that ``save`` writes."""
    return (
        isinstance(entry, dict)
        and all(isinstance(entry.get(k), str) for k in ("path", "dtype", "types"))
        and isinstance(entry.get("shape"), list)
        and all(type(n) is int and n >= 0 for n in entry["shape"])
    )


class Reader:
    """An open checkpoint: its header, and its leaves read on demand (``read(name)``)."""

    def __init__(self, path: str | os.PathLike[str], caller: str) -> None:
        self.path = os.fspath(path)
        self.caller = caller
        try:
            self._zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
            raise self.error(
                "is not a readable .npz archive (a truncated file, or another format)", e
            ) from e
        try:
            self.header = self._read_header()
        except BaseException:
            self._zip.close()
            raise

    def error(self, what: str, cause: BaseException | None = None) -> ValueError:
        detail = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        return ValueError(f"`{self.caller}`: the file {self.path!r} {what}{detail}.")

    def _read_header(self) -> dict[str, Any]:
        if HEADER + ".npy" not in self._zip.namelist():
            raise self.error(
                f"has no {HEADER!r} header: it is not a gradtx checkpoint (an .npz written "
                "by something else?)"
            )
        raw = self._read_raw(HEADER)  # raises its own error, naming the member
        try:
            header = json.loads(raw.tobytes().decode())
        except (ValueError, UnicodeDecodeError) as e:
            raise self.error("has a corrupt header", e) from e
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise self.error("is not a gradtx checkpoint (its header names another format)")
        version = header.get("version")
        if not isinstance(version, int) or version > VERSION:
            raise self.error(
                f"was written in checkpoint format version {version!r}; this gradtx reads "
                f"versions up to {VERSION} (upgrade gradtx)"
            )
        leaves = header.get("leaves")
        if not isinstance(leaves, list) or not all(map(_valid_leaf, leaves)):
            raise self.error("has a corrupt header (no valid list of leaves)")
        paths = [x["path"] for x in leaves]
        if header.get("paths") != paths or len(set(paths)) != len(paths):
            raise self.error("has a corrupt header (its paths and its leaves disagree)")
        return header

    def _read_raw(self, name: str) -> np.ndarray:
        try:
            with self._zip.open(name + ".npy") as member:
                return np.lib.format.read_array(member, allow_pickle=False)
        except KeyError as e:
            raise self.error(f"lacks the member {name!r} its header lists", e) from e
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise self.error(f"has a corrupt member {name!r}", e) from e
        except (NotImplementedError, RuntimeError) as e:  # a compression, version or
            # encryption flag this zipfile does not support (a damaged or foreign file)
            raise self.error(f"has a member {name!r} that cannot be read", e) from e

    def read(self, leaf: dict[str, Any]) -> np.ndarray:
        """The array of one of the header's ``leaves``, checked against the header."""
        name = member_name(leaf["path"])
        stored = self._read_raw(name)
        shape = tuple(leaf["shape"])
        if leaf.get("key_impl"):  # a typed PRNG key, stored as its key data
            if stored.shape[: len(shape)] != shape:
                raise self.error(f"has a member {name!r} that does not match its header")
            return stored
        try:
            array = decode(stored, leaf["dtype"])
        except (ValueError, AttributeError, TypeError) as e:
            raise self.error(f"has a member {name!r} that does not match its header", e) from e
        if array.shape != shape:
            raise self.error(
                f"has a member {name!r} of shape {array.shape}; its header says {shape}"
            )
        return array

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Save and restore pytrees (optimizer states, parameters, training state) by path name."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gradtx.checkpoint import _npz

_PY_SCALARS = (bool, int, float, complex)


def _walk(tree: Any) -> Iterator[tuple[str, tuple[str, ...], Any]]:
    """Each leaf of ``tree`` in flattening order: (path name, NamedTuple types above it, leaf).

    The path name is ``jax.tree_util.keystr`` of the leaf's key path: ``.mu`` for a
    NamedTuple field, ``['w']`` for a dict key (a :class:`gradtx.HyperparamsDict` too),
    ``[0]`` for a list or tuple entry. The types are the class names of the NamedTuples
    the path goes through (``OptimizerState``, ``ScaleByAdamState``...), which tell two
    states with the same field names apart.
    """

    def visit(node: Any, path: tuple[Any, ...], types: tuple[str, ...]) -> Iterator[Any]:
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            types = (*types, type(node).__name__)
        children, _ = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)
        if len(children) == 1 and children[0][0] == () and children[0][1] is node:
            yield jax.tree_util.keystr(path), types, node
            return
        for sub, child in children:
            yield from visit(child, path + sub, types)

    yield from visit(tree, (), ())


def _is_key(x: Any) -> bool:
    dtype = getattr(x, "dtype", None)
    return dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)


def _dtype_name(x: Any) -> str:
    if _is_key(x):
        return str(x.dtype)
    return np.dtype(x.dtype).name


def _describe(dtype: str, shape: Any) -> str:
    return f"{dtype}{list(shape)}"


def _flatten(tree: Any, caller: str) -> tuple[list[tuple[str, tuple[str, ...], Any]], Any]:
    walked = list(_walk(tree))
    leaves, treedef = jax.tree.flatten(tree)
    if len(leaves) != len(walked) or any(
        a is not b for a, (_, _, b) in zip(leaves, walked, strict=False)
    ):
        raise ValueError(f"`{caller}`: cannot name the leaves of this tree ({treedef}).")
    seen: dict[str, int] = {}
    for path, _, _ in walked:
        seen[path] = seen.get(path, 0) + 1
    twice = sorted(p for p, n in seen.items() if n > 1)
    if twice:
        raise ValueError(
            f"`{caller}`: several leaves share the path names {twice}; a checkpoint keys "
            "leaves by path, so give them distinct dict keys or field names."
        )
    return walked, treedef


def save(path: str | os.PathLike[str], state: Any) -> None:
    """Write a pytree of arrays to ``path`` as an ``.npz``, atomically, keyed by path name.

    Each leaf is stored under its path name (``jax.tree_util.keystr`` of its key path,
    e.g. ``[0].inner_state[0].mu['w']`` in an optimizer state), with its exact dtype
    (``bfloat16`` and the other ``ml_dtypes`` as raw bits; int32 counts, uint32 and
    typed PRNG keys, bools and complex numbers as they are), its shape, and the
    NamedTuple state types along its path. The file also records the format version
    and the list of paths. ``numpy.load`` opens it.

    The write is atomic: a temporary file in the same folder is written, flushed and
    fsync-ed, then renamed over ``path`` (``os.replace``), and the folder is fsync-ed.
    A crash or an exception mid-save leaves the previous file at ``path`` intact.

    Args:
      path: the file to write (its folder must exist); no suffix is added.
      state: a pytree whose leaves are arrays (``jax.Array``, NumPy), NumPy scalars or
        Python numbers, e.g. ``{"params": params, "opt_state": opt_state, "epoch": 3}``.
        ``None`` leaves are kept by the structure of the template at restore.

    Every leaf is copied to the host whole, so the state must fit in one host's memory
    and its arrays must be fully addressable from this process (for multi-host
    checkpoints, use Orbax: gradtx states are plain pytrees to it).

    Raises:
      ValueError: when a leaf is not a number or an array, or two leaves have the same
        path name.
      FileNotFoundError: when the folder of ``path`` does not exist.

    Example:
      >>> import os, tempfile, jax.numpy as jnp, gradtx
      >>> params = {"w": jnp.ones(3, jnp.bfloat16)}
      >>> state = gradtx.adam(1e-3).init(params)
      >>> path = os.path.join(tempfile.mkdtemp(), "opt.npz")
      >>> gradtx.checkpoint.save(path, state)
      >>> arrays = gradtx.checkpoint.restore(path)  # no template: {path name: array}
      >>> for name in (".step", ".hyperparams['learning_rate']", ".inner_state[0].mu['w']"):
      ...     print(name, arrays[name].dtype, arrays[name].shape)
      .step int32 ()
      .hyperparams['learning_rate'] float32 ()
      .inner_state[0].mu['w'] bfloat16 (3,)
    """
    caller = "gradtx.checkpoint.save"
    walked, _ = _flatten(state, caller)
    host = jax.device_get([leaf for _, _, leaf in walked])  # one transfer, before the disk
    leaves_meta, arrays = [], []
    for (name, types, leaf), value in zip(walked, host, strict=True):
        entry: dict[str, Any] = {"path": name, "types": "/".join(types)}
        if _is_key(leaf):
            entry["key_impl"] = str(jax.random.key_impl(leaf))
            entry["dtype"] = str(leaf.dtype)
            entry["shape"] = list(leaf.shape)
            stored = np.asarray(jax.device_get(jax.random.key_data(leaf)))
        else:
            try:
                stored, entry["dtype"] = _npz.encode(np.asarray(value))
            except TypeError as e:
                raise ValueError(
                    f"`{caller}`: the leaf at {name or 'the root'} is a "
                    f"{type(leaf).__name__} ({e}); a checkpoint holds numbers and arrays."
                ) from None
            entry["shape"] = list(np.shape(value))
        leaves_meta.append(entry)
        arrays.append((_npz.member_name(name), stored))
    header = {
        "format": _npz.FORMAT,
        "version": _npz.VERSION,
        "paths": [e["path"] for e in leaves_meta],
        "leaves": leaves_meta,
    }
    _npz.write_atomic(path, header, arrays)


def _expected(leaf: Any, name: str, caller: str) -> tuple[str, tuple[int, ...]]:
    """(dtype name, shape) a template leaf asks for."""
    if isinstance(leaf, _PY_SCALARS) or isinstance(leaf, np.generic):
        arr = np.asarray(leaf)
        return arr.dtype.name, ()
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return _dtype_name(leaf), tuple(leaf.shape)
    raise ValueError(
        f"`{caller}`: the template leaf at {name or 'the root'} is a {type(leaf).__name__};"
        " `like` must hold arrays, jax.ShapeDtypeStruct or numbers."
    )


def restore(
    path: str | os.PathLike[str],
    like: Any = None,
    *,
    shardings: Any = None,
) -> Any:
    """Read a checkpoint written by :func:`save` into the structure of ``like``.

    Leaves are matched by path name, not by position. Before any array is read, the
    file is checked against ``like``: every path missing from the file, every path of
    the file that ``like`` lacks, and every leaf whose shape, dtype or state type
    differs is listed, by path, in one ``ValueError``.

    Args:
      path: a file written by :func:`save`.
      like: a template with the structure wanted, e.g. the state ``tx.init(params)``
        returns, or an abstract one, ``jax.eval_shape(tx.init, params)``
        (``jax.ShapeDtypeStruct`` leaves). Its non-array parts (``None`` leaves,
        NamedTuple types, :class:`gradtx.HyperparamsDict`'s record of scheduled
        names) are taken from it. When ``None``, a flat ``{path name: NumPy array}``
        dict of the file's contents is returned, to inspect or migrate a checkpoint.
      shardings: where to put the restored arrays: a ``jax.sharding.Sharding`` for all
        leaves, or a tree with the structure of ``like`` of shardings (``None`` for
        the default). When not given, a leaf goes where its template leaf is (the
        ``.sharding`` of a ``jax.Array`` or a ``ShapeDtypeStruct``), else to the
        default device.

    Returns:
      A tree with the structure of ``like``: ``jax.Array`` leaves where ``like`` has
      arrays or ``ShapeDtypeStruct`` leaves, NumPy arrays where it has NumPy arrays, and
      Python numbers where it has Python numbers.

    Raises:
      FileNotFoundError: when ``path`` does not exist.
      ValueError: when the file is truncated, corrupt or not a gradtx checkpoint (the
        message names the file), or does not match ``like`` (every mismatch is listed).

    Example:
      >>> import os, tempfile, jax, jax.numpy as jnp, gradtx
      >>> params = {"w": jnp.ones(3)}
      >>> tx = gradtx.adam(1e-3)
      >>> state = tx.update(params, tx.init(params), params)[1]
      >>> path = os.path.join(tempfile.mkdtemp(), "opt.npz")
      >>> gradtx.checkpoint.save(path, state)
      >>> restored = gradtx.checkpoint.restore(path, like=jax.eval_shape(tx.init, params))
      >>> restored.inner_state[0].mu["w"], gradtx.hyperparams(restored)["learning_rate"]
      (Array([0.1, 0.1, 0.1], dtype=float32), Array(0.001, dtype=float32))
      >>> gradtx.checkpoint.restore(path, like=gradtx.sgd(0.1).init(params))
      Traceback (most recent call last):
      ...
      ValueError: `gradtx.checkpoint.restore`: the checkpoint ... does not match `like` ...
    """
    caller = "gradtx.checkpoint.restore"
    with _npz.Reader(path, caller) as reader:
        saved = {e["path"]: e for e in reader.header["leaves"]}
        if like is None:
            return {name: _from_file(reader, e, None, np.ndarray) for name, e in saved.items()}
        walked, treedef = _flatten(like, caller)
        problems = _mismatches(saved, walked, caller)
        if problems:
            raise ValueError(
                f"`{caller}`: the checkpoint {reader.path!r} does not match `like` "
                f"({len(problems)} mismatches, by path):\n  "
                + "\n  ".join(problems)
                + "\nWas it saved from another optimizer or model? Build `like` the way the "
                "saved state was built (e.g. jax.eval_shape(tx.init, params) with the same "
                "tx), or pass like=None to read the file's arrays by path."
            )
        targets = _shardings(shardings, walked, treedef, caller)
        out = [
            _from_file(reader, saved[name], target, leaf)
            for (name, _, leaf), target in zip(walked, targets, strict=True)
        ]
    return jax.tree.unflatten(treedef, out)


def _mismatches(
    saved: dict[str, dict[str, Any]], walked: list[tuple[str, tuple[str, ...], Any]], caller: str
) -> list[str]:
    problems = []
    wanted = {}
    for name, types, leaf in walked:
        dtype, shape = _expected(leaf, name, caller)
        wanted[name] = dtype, shape, "/".join(types)
    shown = [(n or "<root>") for n in wanted]
    for name, show in zip(wanted, shown, strict=True):
        dtype, shape, types = wanted[name]
        entry = saved.get(name)
        if entry is None:
            problems.append(f"missing from the file: {show} ({_describe(dtype, shape)})")
            continue
        got_shape = tuple(entry["shape"])
        if got_shape != shape:
            problems.append(f"shape: {show} is {got_shape} in the file, {shape} in `like`")
        if entry["dtype"] != dtype:
            problems.append(f"dtype: {show} is {entry['dtype']} in the file, {dtype} in `like`")
        if entry["types"] != types:
            problems.append(
                f"state type: {show} lies in {entry['types'] or 'no NamedTuple'} in the file, "
                f"in {types or 'no NamedTuple'} in `like`"
            )
    for name, entry in saved.items():
        if name not in wanted:
            problems.append(
                f"not in `like`: {name or '<root>'} ({_describe(entry['dtype'], entry['shape'])})"
            )
    return problems


def _shardings(shardings: Any, walked: list[Any], treedef: Any, caller: str) -> list[Any]:
    if shardings is None:
        return [getattr(leaf, "sharding", None) for _, _, leaf in walked]
    if isinstance(shardings, jax.sharding.Sharding):
        return [shardings] * len(walked)
    try:
        return treedef.flatten_up_to(shardings)
    except (ValueError, TypeError) as e:
        raise ValueError(
            f"`{caller}(shardings=...)` must be a Sharding or a tree with the structure of "
            f"`like`; {e}"
        ) from None


def _from_file(reader: _npz.Reader, entry: dict[str, Any], sharding: Any, like: Any) -> Any:
    array = reader.read(entry)
    if entry.get("key_impl"):
        key = jax.random.wrap_key_data(jnp.asarray(array), impl=entry["key_impl"])
        return key if sharding is None else jax.device_put(key, sharding)
    if like is np.ndarray or isinstance(like, np.ndarray):
        return np.array(array)
    if isinstance(like, np.generic):
        return array[()]
    if isinstance(like, _PY_SCALARS):
        return type(like)(array.item())
    if sharding is not None:
        return jax.device_put(array, sharding)
    return jnp.asarray(array)

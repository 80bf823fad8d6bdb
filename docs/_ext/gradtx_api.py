"""Write the API reference from the package's ``__all__`` lists.

The reference lists every public name of ``gradtx``, ``gradtx.tree`` and
``gradtx.schedules`` (and of any other subpackage that ``gradtx.__all__`` exports
with an ``__all__`` of its own), grouped by the module that defines it. Nothing is
listed by hand, so a name added to an ``__all__`` shows up at the next build.

At ``config-inited`` this writes one page per namespace into ``docs/api/``
(``api/gradtx.rst``, ``api/gradtx.tree.rst``, ...). Each page holds
``autosummary`` tables, from which ``sphinx.ext.autosummary`` generates one stub
page per name in ``docs/api/_autosummary/``. Type aliases have no docstring of
their own at run time, so their documentation is read from the string literal that
follows their assignment in the source and written out as ``py:data`` entries.

An object exported under several public names (a schedule re-exported at the top
level, say) is documented once, and the other names point to it; documenting it
twice would register the same canonical name twice.

The functions here import no Sphinx, so ``tests/test_public_api_docs.py`` uses
them too: the test and the reference agree on what "public" means.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pathlib
import re
import types
from collections.abc import Iterator

PACKAGE = "gradtx"
NAMESPACES = ("gradtx", "gradtx.tree", "gradtx.schedules")
OUT_DIR = "api"  # relative to the Sphinx source directory
STUB_DIR = "_autosummary"  # relative to OUT_DIR

# Sections come in this order (by the first component after ``gradtx.``); the rest
# follow alphabetically.
_SECTION_ORDER = (
    "base",
    "combine",
    "apply",
    "optimizers",
    "transforms",
    "wrappers",
    "second_order",
    "schedules",
    "tree",
    "numerics",
    "init",
)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One public name.

    Attributes:
      namespace: the public module that exports it, e.g. ``"gradtx.tree"``.
      name: the exported name.
      obj: the object itself.
      kind: ``"function"``, ``"class"``, ``"module"`` or ``"alias"`` (a type alias
        or other data; its docstring lives in the source, after the assignment).
      home: the module that defines it (the section it is listed in).
      doc: its own docstring, ``""`` when it has none.
      same_as: the ``namespace.name`` under which the same object is documented,
        when this name is a second name for it; ``None`` otherwise.
      value: for an alias, the source text of its value; ``""`` otherwise.
    """

    namespace: str
    name: str
    obj: object
    kind: str
    home: str
    doc: str
    same_as: str | None = None
    value: str = ""

    @property
    def fullname(self) -> str:
        return f"{self.namespace}.{self.name}"


def _module_sources(package: str = PACKAGE) -> Iterator[tuple[str, pathlib.Path]]:
    pkg = importlib.import_module(package)
    for root in pkg.__path__:
        root_path = pathlib.Path(root)
        for path in sorted(root_path.rglob("*.py")):
            parts = path.relative_to(root_path).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join((package, *parts)), path


def attribute_docs(package: str = PACKAGE) -> dict[str, list[tuple[str, str, str]]]:
    """Map each name assigned at module level to its ``(module, docstring, value)``.

    Only assignments followed by a string literal (an attribute docstring, as in
    ``Params: TypeAlias = Any`` then ``\"\"\"A pytree of parameters.\"\"\"``) count.
    """
    found: dict[str, list[tuple[str, str, str]]] = {}
    for modname, path in _module_sources(package):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        body = tree.body
        for node, nxt in zip(body, body[1:], strict=False):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if not isinstance(target, ast.Name):
                continue
            if not (
                isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                continue
            doc = inspect.cleandoc(nxt.value.value)
            found.setdefault(target.id, []).append((modname, doc, ast.unparse(value)))
    return found


MIRRORS = frozenset({"gradtx.contrib"})


def public_namespaces() -> list[str]:
    """The public modules with an ``__all__``: :data:`NAMESPACES` and any module
    that one of them exports by name."""
    seen: list[str] = []
    todo = list(NAMESPACES)
    while todo:
        modname = todo.pop(0)
        if modname in seen:
            continue
        seen.append(modname)
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name, None)
            if isinstance(obj, types.ModuleType) and hasattr(obj, "__all__"):
                todo.append(obj.__name__)
    return seen


def _defined_here(obj: object) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.split(".")[0] == PACKAGE


def kind_of(obj: object) -> str:
    """``"module"``, ``"class"``, ``"function"`` (any other callable defined in the
    package), or ``"alias"`` (type aliases and everything else)."""
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj) and _defined_here(obj):
        return "class"
    if callable(obj) and not inspect.isclass(obj) and _defined_here(obj):
        return "function"
    return "alias"


def own_docstring(obj: object, kind: str) -> str:
    """The docstring written for ``obj`` itself, ``""`` when there is none.

    A class does not inherit its parent's docstring here, and the docstring that
    ``NamedTuple`` and ``dataclass`` make up (``Name(field, ...)``) does not count.
    """
    if kind == "class":
        doc = obj.__dict__.get("__doc__") or ""
        first = doc.strip()
        if "\n" not in first and re.fullmatch(rf"{re.escape(obj.__name__)}\(.*\)", first):
            return ""
        return inspect.cleandoc(doc) if doc else ""
    doc = getattr(obj, "__doc__", None) or ""
    return inspect.cleandoc(doc) if doc else ""


def _home_and_alias_doc(
    namespace: str, name: str, attr_docs: dict[str, list[tuple[str, str, str]]]
) -> tuple[str, str, str]:
    candidates = attr_docs.get(name, [])
    if not candidates:
        return namespace, "", ""
    # Prefer a definition inside the exporting namespace, then the shallowest module.
    inside = [c for c in candidates if c[0] == namespace or c[0].startswith(namespace + ".")]
    best = min(inside or candidates, key=lambda c: (c[0].count("."), c[0]))
    return best


def collect() -> list[Entry]:
    """Every public name, in namespace order and then ``__all__`` order."""
    attr_docs = attribute_docs()
    namespaces = public_namespaces()
    entries: list[Entry] = []
    for modname in namespaces:
        module = importlib.import_module(modname)
        for name in module.__all__:
            obj = getattr(module, name)
            kind = kind_of(obj)
            if kind == "alias":
                home, doc, value = _home_and_alias_doc(modname, name, attr_docs)
                entries.append(Entry(modname, name, obj, kind, home, doc, value=value))
            elif kind == "module":
                entries.append(
                    Entry(modname, name, obj, kind, obj.__name__, own_docstring(obj, kind))
                )
            else:
                entries.append(
                    Entry(modname, name, obj, kind, obj.__module__, own_docstring(obj, kind))
                )

    # Document each function or class once. Its home is the deepest namespace that
    # exports it (``gradtx.schedules.x`` rather than ``gradtx.x``), then the first name.
    # ``gradtx.contrib`` only mirrors optax's layout: never the home of a name.
    depth = {ns: -1 if ns in MIRRORS else ns.count(".") for ns in namespaces}
    primary: dict[int, Entry] = {}
    for entry in sorted(entries, key=lambda e: -depth[e.namespace]):
        if entry.kind in ("function", "class"):
            primary.setdefault(id(entry.obj), entry)
    result = []
    for entry in entries:
        first = primary.get(id(entry.obj)) if entry.kind in ("function", "class") else None
        if first is not None and first is not entry:
            entry = dataclasses.replace(entry, same_as=first.fullname)
        result.append(entry)
    return result


# --------------------------------------------------------------------------- rst


def _section_key(home: str) -> tuple[int, str]:
    parts = home.split(".")
    head = parts[1] if len(parts) > 1 else ""
    rank = _SECTION_ORDER.index(head) if head in _SECTION_ORDER else len(_SECTION_ORDER)
    return rank, home


def _section_title(home: str, namespace: str) -> str:
    parts = [p.lstrip("_").replace("_", " ") for p in home.split(".")[1:]]
    if home == namespace or not parts:
        return "Overview" if home == namespace else home
    ns_parts = [p.replace("_", " ") for p in namespace.split(".")[1:]]
    if parts[: len(ns_parts)] == ns_parts and len(parts) > len(ns_parts):
        parts = parts[len(ns_parts) :]
    text = " — ".join(parts)
    return text[0].upper() + text[1:]


def _first_paragraph(doc: str) -> str:
    return doc.strip().split("\n\n")[0].strip() if doc else ""


def _underline(text: str, char: str) -> str:
    return f"{text}\n{char * len(text)}\n"


def _indent(text: str, prefix: str = "   ") -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


def namespace_page(namespace: str, entries: list[Entry]) -> str:
    """The rst page for one namespace."""
    module = importlib.import_module(namespace)
    mine = [e for e in entries if e.namespace == namespace]
    lines = [
        ".. This file is written by docs/_ext/gradtx_api.py at each build; do not edit.",
        "",
        _underline(f"``{namespace}``", "="),
        f".. currentmodule:: {namespace}",
        "",
    ]
    intro = _first_paragraph(own_docstring(module, "module"))
    if intro:
        lines += [intro, ""]

    sections: dict[str, list[Entry]] = {}
    for entry in mine:
        if entry.kind == "module" or entry.same_as is not None:
            continue
        sections.setdefault(entry.home, []).append(entry)

    for home in sorted(sections, key=_section_key):
        group = sections[home]
        lines.append(_underline(_section_title(home, namespace), "-"))
        try:
            home_doc = _first_paragraph(own_docstring(importlib.import_module(home), "module"))
        except ImportError:
            home_doc = ""
        if home_doc and home != namespace:
            lines += [home_doc, ""]
        documented = [e for e in group if e.kind in ("function", "class")]
        if documented:
            lines += [".. autosummary::", f"   :toctree: {STUB_DIR}", "   :nosignatures:", ""]
            lines += [f"   {e.name}" for e in documented]
            lines.append("")
        for entry in (e for e in group if e.kind == "alias"):
            lines.append(f".. py:data:: {entry.name}")
            if entry.value:
                lines.append(f"   :value: {entry.value}")
            lines.append("")
            lines.append(_indent(entry.doc or "(undocumented)"))
            lines.append("")

    submodules = [e for e in mine if e.kind == "module"]
    others = [e for e in mine if e.same_as is not None]
    if submodules or others:
        lines.append(_underline("Other names", "-"))
    if submodules:
        lines.append("Subpackages, each with its own page:")
        lines.append("")
        lines += [f"- ``{e.fullname}``: :doc:`{e.obj.__name__}`" for e in submodules]
        lines.append("")
    if others:
        lines.append("These names are the same objects as ones documented under another name:")
        lines.append("")
        for e in others:
            lines.append(f"- ``{e.fullname}`` is :py:obj:`{e.same_as}`")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_pages(srcdir: pathlib.Path) -> list[str]:
    """Write ``api/<namespace>.rst`` for every namespace; return the docnames.

    Files are rewritten only when their text changes (so incremental builds stay
    incremental), and stub pages of names that left the ``__all__`` lists are
    removed (else Sphinx warns that they are in no toctree).
    """
    out = srcdir / OUT_DIR
    out.mkdir(exist_ok=True)
    entries = collect()
    namespaces = public_namespaces()
    for namespace in namespaces:
        path = out / f"{namespace}.rst"
        text = namespace_page(namespace, entries)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    for path in out.glob("*.rst"):
        if path.stem not in namespaces:
            path.unlink()
    stubs = {e.fullname for e in entries if e.kind in ("function", "class") and e.same_as is None}
    stub_dir = out / STUB_DIR
    if stub_dir.is_dir():
        for path in stub_dir.glob("*.rst"):
            if path.stem not in stubs:
                path.unlink()
    return [f"{OUT_DIR}/{ns}" for ns in namespaces]


# ------------------------------------------------------------------------ sphinx


def _on_config_inited(app, config) -> None:
    write_pages(pathlib.Path(app.srcdir))


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
    # NamedTuple fields are documented in the class's ``Attributes:`` section; the
    # generated accessors only say "Alias for field number N".
    doc = getattr(obj, "__doc__", None) or ""
    if doc.startswith("Alias for field number"):
        return True
    return None


def setup(app):
    app.connect("config-inited", _on_config_inited)
    app.connect("autodoc-skip-member", _skip_namedtuple_fields)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

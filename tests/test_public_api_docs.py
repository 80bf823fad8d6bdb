"""Every public name is documented, and the package stays free of reference libraries.

"Public" means listed in ``gradtx.__all__``, ``gradtx.tree.__all__`` or
``gradtx.schedules.__all__`` (or in the ``__all__`` of another subpackage that
``gradtx.__all__`` exports). The rules are the docs' own: this test reads the lists
with the same code (``docs/_ext/gradtx_api.py``) that writes the API reference.
"""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import re
import subprocess
import sys
from collections import Counter

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
REFERENCE_LIBRARIES = ("optax", "torch", "scipy")


def _load_api_helpers():
    path = ROOT / "docs" / "_ext" / "gradtx_api.py"
    spec = importlib.util.spec_from_file_location("_gradtx_api_for_tests", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


api = _load_api_helpers()


@pytest.fixture(scope="module")
def namespaces() -> list[str]:
    if importlib.util.find_spec("gradtx.schedules") is None:
        pytest.skip("gradtx.schedules does not exist yet; nothing to check against it")
    return api.public_namespaces()


@pytest.fixture(scope="module")
def entries(namespaces):
    return api.collect()


def _report(problems: list[str]) -> str:
    return f"{len(problems)} problem(s):\n  " + "\n  ".join(problems)


def test_the_three_namespaces_are_public(namespaces):
    for name in api.NAMESPACES:
        assert name in namespaces
        assert isinstance(importlib.import_module(name).__all__, list | tuple), name


def test_all_lists_have_no_duplicates(namespaces):
    problems = []
    for modname in namespaces:
        names = importlib.import_module(modname).__all__
        dups = sorted(n for n, c in Counter(names).items() if c > 1)
        if dups:
            problems.append(f"{modname}.__all__ lists {dups} more than once")
    assert not problems, _report(problems)


def test_every_public_name_exists(namespaces):
    problems = []
    for modname in namespaces:
        module = importlib.import_module(modname)
        for name in module.__all__:
            if not isinstance(name, str):
                problems.append(f"{modname}.__all__ holds a non-string: {name!r}")
            elif not hasattr(module, name):
                problems.append(f"{modname}.__all__ lists {name!r}, which {modname} lacks")
    assert not problems, _report(problems)


def test_every_public_name_has_a_docstring(entries):
    problems = []
    for e in entries:
        if e.doc.strip():
            continue
        if e.kind == "alias":
            hint = (
                "a type alias or constant needs a string literal right after its assignment "
                f"(searched the package; found none for {e.name!r})"
            )
        elif e.kind == "class":
            hint = (
                "the class has no docstring of its own (inherited or generated ones do not count)"
            )
        else:
            hint = "no docstring"
        problems.append(f"{e.fullname} ({e.kind}): {hint}")
    assert not problems, _report(problems)


_EXAMPLE_HEADER = re.compile(r"^\s*Examples?:\s*$", re.MULTILINE)


def test_every_public_function_has_an_example(entries):
    """Each public function (classes and type aliases aside) shows a runnable example."""
    problems = []
    for e in entries:
        if e.kind != "function" or e.same_as is not None or not e.doc.strip():
            continue  # classes and aliases are exempt; missing docstrings fail above
        match = _EXAMPLE_HEADER.search(e.doc)
        if match is None:
            problems.append(f"{e.fullname}: no 'Example:' section")
        elif ">>>" not in e.doc[match.end() :]:
            problems.append(f"{e.fullname}: its 'Example:' section has no '>>>' line")
    assert not problems, _report(problems)


def test_api_reference_lists_every_public_name(entries, namespaces):
    """The generated reference pages mention every public name once."""
    pages = {ns: api.namespace_page(ns, entries) for ns in namespaces}
    problems = []
    for e in entries:
        page = pages[e.namespace]
        if e.kind == "module":
            listed = f"``{e.fullname}``" in page
        elif e.same_as is not None:
            listed = f"``{e.fullname}`` is :py:obj:`{e.same_as}`" in page
        elif e.kind == "alias":
            listed = re.search(rf"^\.\. py:data:: {re.escape(e.name)}$", page, re.M) is not None
        else:
            listed = re.search(rf"^   {re.escape(e.name)}$", page, re.M) is not None
        if not listed:
            problems.append(f"{e.fullname} is missing from the API reference page {e.namespace}")
    assert not problems, _report(problems)


def test_package_imports_no_reference_libraries():
    code = (
        "import gradtx, sys; "
        f"print(any(m.split('.')[0] in {set(REFERENCE_LIBRARIES)!r} for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False", (
        f"`import gradtx` imported one of {REFERENCE_LIBRARIES}; they are test-only references."
    )

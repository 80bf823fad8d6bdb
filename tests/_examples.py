"""Helpers for the tests that run ``examples/*.py`` in-process and read what they print."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str, module_name: str | None = None) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (registered, so dataclasses work)."""
    module_name = module_name or f"_example_{name}"
    spec = importlib.util.spec_from_file_location(module_name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def markdown_table(text: str) -> dict[str, list[str]]:
    """The rows of the (only) printed markdown table: first cell -> the other cells."""
    rows = [line for line in text.splitlines() if line.startswith("| ")][1:]  # no header
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    return {c[0]: c[1:] for c in cells}

"""Run a docs page's code blocks the way a reader would: in order, in one namespace.

Every page under ``docs/`` with ```` ```python ```` blocks has a test that calls
:func:`run_page` and asserts on what the page prints (``tests/test_docs_pages.py``
checks that each page has one).
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import re
from typing import Any

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def code_blocks(page: pathlib.Path) -> list[str]:
    """The page's ```` ```python ```` blocks, in order."""
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


def shown_output(page: str | pathlib.Path) -> list[str]:
    """The lines of the page's ```` ```text ```` blocks (what it says its code prints)."""
    page = pathlib.Path(page)
    if not page.is_absolute():
        page = DOCS / page
    return "".join(re.findall(r"```text\n(.*?)```", page.read_text(), flags=re.S)).splitlines()


def run_page(
    page: str | pathlib.Path, expected_blocks: int | None = None
) -> tuple[list[str], dict[str, Any]]:
    """Execute every python block of ``page`` (a path, or relative to ``docs/``).

    Returns the printed lines and the namespace the blocks shared. With
    ``expected_blocks``, first checks the page still has that many blocks (so a test does
    not silently stop covering a block that was added).
    """
    page = pathlib.Path(page)
    if not page.is_absolute():
        page = DOCS / page
    blocks = code_blocks(page)
    if expected_blocks is not None:
        assert len(blocks) == expected_blocks, f"{page.name} has {len(blocks)} python blocks"
    out = io.StringIO()
    namespace: dict[str, Any] = {"__name__": f"docs_{page.stem}"}
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, str(page), "exec"), namespace)  # noqa: S102 - the page's code
    return out.getvalue().splitlines(), namespace

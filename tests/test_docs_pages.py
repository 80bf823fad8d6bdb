"""Every docs page with Python code has a test that runs it (through tests/_guides.py)."""

from __future__ import annotations

import pathlib

from _guides import DOCS, code_blocks

TESTS = pathlib.Path(__file__).resolve().parent


def _pages_with_code() -> list[pathlib.Path]:
    pages = []
    for page in sorted(DOCS.rglob("*.md")):
        if {"_build", "_generated"} & set(page.relative_to(DOCS).parts):
            continue
        if code_blocks(page):
            pages.append(page)
    return pages


def test_every_page_with_code_is_run_by_a_test():
    sources = "\n".join(
        p.read_text() for p in TESTS.rglob("test_*.py") if p.name != "test_docs_pages.py"
    )
    missing = []
    for page in _pages_with_code():
        rel = page.relative_to(DOCS).as_posix()
        name = page.name
        if rel not in sources and f'"{name}"' not in sources:
            missing.append(rel)
    assert not missing, f"docs pages whose code no test runs: {missing}"


def test_the_check_sees_the_pages():
    pages = {p.relative_to(DOCS).as_posix() for p in _pages_with_code()}
    assert {"index.md", "guide/masks.md", "guide/sharding.md"} <= pages

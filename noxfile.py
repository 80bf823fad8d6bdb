"""Development sessions: ``nox -s tests``, ``parity``, ``lint``, ``docs``, ``examples``,
``bench``.

``nox`` alone runs tests, lint and docs. Arguments after ``--`` go to the tool, e.g.
``nox -s tests -- -k adam`` or ``nox -s lint -- --fix`` (ruff check only).
"""

from __future__ import annotations

import pathlib

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["tests", "lint", "docs"]

ROOT = pathlib.Path(__file__).parent
LINT_PATHS = ("gradtx", "tests", "examples", "benchmarks", "docs", "noxfile.py")


def _extra(name: str) -> list[str]:
    """The requirements of one optional-dependency group of pyproject.toml."""
    pyproject = nox.project.load_toml(ROOT / "pyproject.toml")
    return pyproject["project"]["optional-dependencies"][name]


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests, parity tests and doctests, as CI runs them."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-n", "2", *session.posargs)


@nox.session
def parity(session: nox.Session) -> None:
    """Black-box comparisons against optax, torch.optim and scipy."""
    session.install("-e", ".[test,parity]")
    session.run("python", "-m", "pytest", "tests/parity", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(*_extra("lint"))
    paths = [p for p in LINT_PATHS if (ROOT / p).exists()]
    session.run("ruff", "check", *paths, *session.posargs)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML docs into docs/_build/html; any warning fails the build."""
    session.install("-e", ".[docs]")
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "-b",
        "html",
        "docs",
        "docs/_build/html",
        *session.posargs,
    )


@nox.session
def bench(session: nox.Session) -> None:
    """gradtx against optax and torch.optim; ``-- --quick`` or ``-- --write-docs``."""
    session.install("-e", ".[test,parity]")
    session.run("python", "-m", "benchmarks.run", *session.posargs)


@nox.session
def examples(session: nox.Session) -> None:
    """Run every examples/*.py with --quick (a short version of each)."""
    scripts = sorted((ROOT / "examples").glob("*.py"))
    if not scripts:
        session.error("no examples/*.py to run")
    session.install("-e", ".[examples]")
    for script in scripts:
        session.run("python", str(script.relative_to(ROOT)), "--quick")

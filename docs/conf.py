"""Sphinx configuration for the gradtx documentation.

Build with ``nox -s docs`` or, from the repository root,
``sphinx-build -W --keep-going -b html docs docs/_build/html``.
"""

from __future__ import annotations

import pathlib
import sys

DOCS = pathlib.Path(__file__).resolve().parent
# Document the checkout this file belongs to, installed or not.
sys.path.insert(0, str(DOCS.parent))
sys.path.insert(0, str(DOCS / "_ext"))

import gradtx  # noqa: E402  (needs the sys.path entries above)

project = "gradtx"
author = "The gradtx developers"
copyright = "the gradtx developers"
version = release = getattr(gradtx, "__version__", "")

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "gradtx_api",  # docs/_ext/gradtx_api.py: writes api/*.rst from the __all__ lists
    "gradtx_catalogue",  # docs/_ext/gradtx_catalogue.py: the catalogue table
    "gradtx_schedules",  # docs/_ext/gradtx_schedules.py: the schedules gallery
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]
nitpicky = False

# -- autodoc / autosummary / napoleon ------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_member_order = "bysource"
autodoc_typehints = "description"
# Types go next to the arguments the docstring describes; a NamedTuple state's fields
# are described in its ``Attributes:`` section instead.
autodoc_typehints_description_target = "documented"
# Show the aliases by name, not expanded into their unions.
autodoc_type_aliases = {
    "ArrayLike": "jax.typing.ArrayLike",
    "jax.typing.ArrayLike": "jax.typing.ArrayLike",
    "DTypeLike": "jax.typing.DTypeLike",
    "jax.typing.DTypeLike": "jax.typing.DTypeLike",
    "Num": "jax.typing.ArrayLike",  # the optimizers modules' shorthand
    "Params": "gradtx.Params",
    "Updates": "gradtx.Updates",
    "OptState": "gradtx.OptState",
    "Schedule": "gradtx.Schedule",
    "ScalarOrSchedule": "gradtx.ScalarOrSchedule",
}
autodoc_typehints_format = "short"
autodoc_default_options = {"show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Render ``Attributes:`` as a field list: as ``.. attribute::`` entries they would
# clash with the members autodoc documents.
napoleon_use_ivar = True
napoleon_use_rtype = False
# Attribute types come from the prose; annotations like jax.Array print as internal paths.
napoleon_attr_annotations = False

# -- MyST ----------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- HTML ----------------------------------------------------------------------
html_theme = "furo"
html_title = f"gradtx {release}".strip()
html_static_path: list[str] = []

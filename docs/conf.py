"""Sphinx configuration of the inafaceanalyzer documentation.

Build it from the repository root (see README, "Documentation"):

    sphinx-build -W --keep-going -b html docs docs/_build/html

Nothing is fetched from the network: no intersphinx, no remote images.

Three things are generated at each build, into git-ignored folders, so that
the site cannot drift from the code and the README:

- ``docs/_generated/readme_*.md``: the sections of the README that the site
  shows as they are (introduction, quick start, usage, columns, Python API),
  cut out by their headings (``_ext/readme_sections.py``); the README is the
  short user guide, the detail (method, every number) lives in the pages;
- ``docs/_generated/columns.md``: the columns of every table, in order, from
  the package's own constants;
- ``docs/_generated/architecture_graph.md``: the folder dependency graph (an
  inline SVG and a table), read from the code (``_ext/import_graph.py``);
- ``docs/tutorials/``: the notebooks of ``tutorials/``, executed at each
  build (an error in a cell fails the build), so that the site shows their
  tables and figures.

The command-line reference is rendered from each command's own parser
(``_ext/cli_reference.py``), and the API reference from the docstrings.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import inafaceanalyzer

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))


def _execute_tutorials() -> None:
    """Execute ``tutorials/*.ipynb`` and store the executed copies in ``docs/tutorials/``.

    Each notebook runs from its own folder, as a reader would run it, in a
    kernel of this interpreter; its files go to a temporary folder. Any error
    in any cell fails the build with the cell and its traceback, so the site
    always shows outputs of the code it documents.
    """
    import os
    import tempfile

    import nbformat
    from nbclient import NotebookClient

    target = DOCS / "tutorials"
    target.mkdir(exist_ok=True)
    sources = sorted((REPO / "tutorials").glob("*.ipynb"))
    names = {source.name for source in sources}
    for stale in target.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
    saved_tmpdir = os.environ.get("TMPDIR")
    with tempfile.TemporaryDirectory(prefix="inafaceanalyzer-docs-") as scratch:
        os.environ["TMPDIR"] = scratch  # the kernel's tempfile folder
        try:
            for source in sources:
                notebook = nbformat.read(source, as_version=4)
                NotebookClient(
                    notebook, timeout=300, startup_timeout=120, kernel_name="python3",
                    resources={"metadata": {"path": str(source.parent)}},
                ).execute()
                nbformat.write(notebook, target / source.name)
        finally:
            if saved_tmpdir is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = saved_tmpdir


def _write_generated() -> None:
    """The README's sections, the table of columns and the import graph, into ``docs/_generated/``."""
    from import_graph import write_architecture
    from readme_sections import Section, write_sections
    from table_columns import write_columns

    generated = DOCS / "_generated"
    generated.mkdir(exist_ok=True)
    write_sections(
        REPO / "README.md",
        generated,
        {
            "readme_intro": Section("inafaceanalyzer", lead_only=True),
            "readme_quickstart": Section("Quick start"),
            "readme_usage": Section("Usage", lead_only=True),
            "readme_columns": Section("Columns"),
            "readme_python_api": Section("Python API"),
        },
    )
    write_columns(generated / "columns.md")
    write_architecture(generated / "architecture_graph.md")


_execute_tutorials()
_write_generated()

# -- project ------------------------------------------------------------------

project = "inafaceanalyzer"
author = "inafaceanalyzer developers"
copyright = "inafaceanalyzer developers, MIT licence"
release = inafaceanalyzer.__version__
version = release

# -- general ------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinxarg.ext",
    "myst_nb",
    "cli_reference",  # docs/_ext: the CLI reference, from each command's own parser
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store", "tutorials/.ipynb_checkpoints"]
root_doc = "index"
language = "en"
nitpicky = False
smartquotes = False  # flags stay as typed: --fps, not an en dash
highlight_language = "text"  # usage lines and unmarked blocks are not Python

# -- MyST and notebooks ---------------------------------------------------------

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # executed above, from their own folder; the site shows the stored outputs
nb_merge_streams = True

# -- autodoc --------------------------------------------------------------------

autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# "Attributes:" sections become fields of their class, so that the fields of a
# dataclass are not described twice (once by napoleon, once by autodoc).
napoleon_use_ivar = True
napoleon_attr_annotations = True

# -- HTML -----------------------------------------------------------------------

html_theme = "furo"
html_title = f"inafaceanalyzer {release}"
html_static_path = ["_static"]
html_css_files = ["wrap.css"]  # long code lines wrap instead of being clipped
html_show_sourcelink = True


# -- extensions' hooks ----------------------------------------------------------

_PROSE = re.compile(r"^[A-Z][^\[\]`:]* [^\[\]`:]*$")


def _keep_property_summaries(app, what, name, obj, options, lines) -> None:
    """Undo napoleon's reading of a property's ``Summary: details`` line as ``type: description``.

    The toolbox's properties and attributes start with a sentence, not a type; napoleon moves
    the words before the colon into a ``:type:`` field. Put them back in front.
    """
    if what not in ("property", "attribute"):
        return
    for index, line in enumerate(lines):
        if line.startswith(":type: ") and _PROSE.match(line[len(":type: "):]):
            summary = line[len(":type: "):]
            del lines[index]
            while lines and not lines[-1].strip():
                lines.pop()
            if lines:
                lines[0] = f"{summary}: {lines[0]}"
            else:
                lines.append(summary)
            return


def setup(app):
    app.connect("autodoc-process-docstring", _keep_property_summaries, priority=600)  # after napoleon (500)

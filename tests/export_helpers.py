"""Helpers of the export and report tests: small synthetic clips and result tables.

Clips are encoded with PyAV into the test's tmp_path (no system FFmpeg);
tables have the columns the engines write, built from plain lists.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from inafaceanalyzer.pipeline.results import COLUMNS, format_bbox

from .clips import write_clip

RENDER = shutil.which("ina_face_render") or "ina_face_render"
ANALYZER = shutil.which("ina_face_analyzer.py") or "ina_face_analyzer.py"


def run(command: str, *args: object, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a console script of the package."""
    return subprocess.run([command, "--no_progress", *map(str, args)], capture_output=True, text=True, timeout=timeout)


def frame_image(index: int, width: int, height: int) -> np.ndarray:
    """A grey gradient frame whose brightness follows ``index``, with a red top-left corner."""
    x = np.linspace(40, 200, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 30, height, dtype=np.float32)[:, None, None]
    image = np.broadcast_to(x + y + (index % 10), (height, width, 3)).astype(np.uint8).copy()
    image[: height // 4, : width // 4] = (220, 30, 30)
    return image


def make_clip(
    path: Path,
    n: int,
    rate: Fraction = Fraction(25),
    size: tuple[int, int] = (96, 64),
    *,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    codec: str = "mpeg4",
    rotation: int | None = None,
    audio: str | None = None,
    audio_seconds: float | None = None,
) -> Path:
    """Encode ``n`` frames of ``size`` (width, height) at ``rate`` (or at ``pts`` in ``time_base``).

    Args:
        rotation: counter-clockwise display rotation written in the container (as phones do).
        audio: ``"aac"`` or ``"pcm_s16le"``: add a 440 Hz tone as long as the video.
    """
    width, height = size
    time_base = time_base or 1 / rate
    pts = list(pts) if pts is not None else list(range(n))
    return write_clip(path, (frame_image(i, width, height) for i in range(len(pts))), rate=rate, codec=codec,
                      pts=pts, time_base=time_base, rotation=rotation, audio=audio, audio_seconds=audio_seconds)


def table(
    times: Sequence[float],
    boxes: Sequence[Sequence[tuple[float, float, float, float]]],
    *,
    genders: Sequence[Sequence[str]] | None = None,
    ages: Sequence[Sequence[float]] | None = None,
    ids: Sequence[Sequence[int]] | None = None,
    frames: Sequence[int] | None = None,
) -> pd.DataFrame:
    """A video results table: ``boxes[i]`` are the faces of the frame at ``times[i]``.

    With ``ids``, the table is a tracked one: ``face_id`` and ``*_avg``
    columns (the average of each track's values) are added.
    """
    rows = []
    for i, (t, faces) in enumerate(zip(times, boxes, strict=True)):
        for j, box in enumerate(faces):
            gender = genders[i][j] if genders else ("f" if j % 2 == 0 else "m")
            age = ages[i][j] if ages else 30.0 + j
            decfunc = 2.0 if gender == "m" else -2.0
            rows.append({
                "frame": frames[i] if frames else i,
                "bbox": format_bbox(box),
                "detect_conf": 0.99,
                "sex_decfunc": decfunc,
                "age_decfunc": age / 10 - 0.5,
                "sex_label": gender,
                "age_label": age,
                "time_s": float(t),
                "face_size": float(box[2] - box[0]),
                "sex_prob_male": 1 / (1 + np.exp(-decfunc)),
                "age_std": 3.0,
                **({"face_id": ids[i][j]} if ids else {}),
            })
    df = pd.DataFrame(rows, columns=list(COLUMNS["video"]) + (["face_id"] if ids else []))
    if ids:
        groups = df.groupby("face_id")
        df["sex_decfunc_avg"] = groups["sex_decfunc"].transform("mean")
        df["age_label_avg"] = groups["age_label"].transform("mean")
        df["sex_label_avg"] = np.where(df["sex_decfunc_avg"] > 0, "m", "f")
    return df

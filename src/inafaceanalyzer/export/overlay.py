"""What to draw on a video: boxes and labels per analysed frame, from a results table.

Subtitles (:mod:`.ass`) and the annotated video (:mod:`.video`) draw the
same :class:`OverlayFrame` objects, built here from a results table (any
video engine's: ``video``, ``videokeyframes`` or ``videotracking``) and the
video's :class:`~.timeline.AnalysedFrames`. Each analysed frame's faces are
shown from its time until the next analysed frame.

Labels read ``#id F 93% 34 y``: the track id (tracked tables), the gender
and the probability the model gives it, and the age. Tracked tables
(``*_avg`` columns) show the values smoothed along the track.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .timeline import SAME_FRAME_S, AnalysedFrames

__all__ = [
    "GENDER_COLOURS",
    "GENDER_NAMES",
    "FaceMark",
    "OverlayFrame",
    "build_overlay",
    "face_labels",
    "gender_column",
    "overlay_at",
    "parse_bboxes",
]

#: RGB colour of each gender label ('' when unknown); the report uses the same.
GENDER_COLOURS: dict[str, tuple[int, int, int]] = {
    "f": (255, 140, 26),  # orange
    "m": (64, 170, 255),  # blue
    "": (210, 210, 210),  # grey
}
#: Words for the gender labels, for people.
GENDER_NAMES: dict[str, str] = {"f": "women", "m": "men", "": "unknown"}


@dataclass(frozen=True, slots=True)
class FaceMark:
    """One face to draw.

    Attributes:
        box: ``(left, top, right, bottom)`` in pixels of the upright frame.
        label: the text to show.
        gender: ``"f"``, ``"m"`` or ``""`` (unknown), which picks the colour.
        face_id: the track id, or ``None`` for untracked tables.
    """

    box: tuple[float, float, float, float]
    label: str
    gender: str
    face_id: int | None = None


@dataclass(frozen=True, slots=True)
class OverlayFrame:
    """The faces of one analysed frame and the time span they are shown.

    Attributes:
        start: the frame's time, seconds from the first frame (``time_s``).
        end: the next analysed frame's time (or the end of the video).
        faces: what to draw.
    """

    start: float
    end: float
    faces: tuple[FaceMark, ...]


def parse_bboxes(values: pd.Series) -> NDArray[np.float64]:
    """``"(left, top, right, bottom)"`` strings as an ``(N, 4)`` float array."""
    if not len(values):
        return np.zeros((0, 4), np.float64)
    parts = values.astype(str).str.strip("()[] ").str.split(",", expand=True)
    if parts.shape[1] != 4:
        raise ValueError("bbox values must read (left, top, right, bottom)")
    return parts.astype(np.float64).to_numpy()


def _column(table: pd.DataFrame, *names: str) -> pd.Series | None:
    """The first of ``names`` that the table has, its missing values filled from the next ones."""
    found = [table[name] for name in names if name in table.columns]
    if not found:
        return None
    series = found[0]
    for other in found[1:]:
        series = series.where(series.notna(), other)
    return series


def gender_column(table: pd.DataFrame) -> pd.Series:
    """Each row's gender, ``"f"``, ``"m"`` or ``""``: smoothed along its track when the table has it."""
    labels = _column(table, "sex_label_avg", "sex_label")
    if labels is None:
        return pd.Series([""] * len(table), index=table.index, dtype=object)
    labels = labels.astype(object).where(labels.notna(), "")
    return labels.map(lambda value: value if value in ("f", "m") else "")


def _probability_male(table: pd.DataFrame) -> pd.Series | None:
    """P(male) of each row, smoothed when the table has ``*_avg`` columns."""
    candidates: list[pd.Series] = []
    for name in ("sex_prob_male_avg", "sex_decfunc_avg", "sex_prob_male", "sex_decfunc"):
        if name in table.columns:
            values = pd.to_numeric(table[name], errors="coerce")
            candidates.append(values if "prob" in name else 1.0 / (1.0 + np.exp(-values)))
    if not candidates:
        return None
    series = candidates[0]
    for other in candidates[1:]:
        series = series.where(series.notna(), other)
    return series


def face_labels(table: pd.DataFrame) -> list[str]:
    """The label of each row: ``#id F 93% 34 y`` (parts the table lacks are left out)."""
    n = len(table)
    genders = gender_column(table).tolist()
    p_male = _probability_male(table)
    p_list = p_male.tolist() if p_male is not None else [None] * n
    age = _column(table, "age_label_avg", "age_label")
    ages = pd.to_numeric(age, errors="coerce").tolist() if age is not None else [None] * n
    ids = table["face_id"].tolist() if "face_id" in table.columns else [None] * n
    labels = []
    for face_id, gender, p, years in zip(ids, genders, p_list, ages, strict=True):
        parts = []
        if face_id is not None and pd.notna(face_id):
            parts.append(f"#{int(face_id)}")
        if gender:
            text = gender.upper()
            if p is not None and pd.notna(p):
                text += f" {(p if gender == 'm' else 1.0 - p):.0%}"
            parts.append(text)
        if years is not None and pd.notna(years):
            parts.append(f"{years:.0f} y")
        labels.append(" ".join(parts))
    return labels


def build_overlay(table: pd.DataFrame, analysed: AnalysedFrames) -> list[OverlayFrame]:
    """The faces to draw at each analysed frame that has some, in time order.

    Args:
        table: a video results table (needs ``time_s`` and ``bbox``).
        analysed: the analysed frames; each frame's faces are shown until the
            next one, the last until ``analysed.end``.

    Raises:
        ValueError: the table is not a video table.
    """
    missing = {"time_s", "bbox"} - set(table.columns)
    if missing:
        raise ValueError(f"not a video results table: no {', '.join(sorted(missing))} column")
    if not len(table):
        return []
    table = table.reset_index(drop=True)
    times = pd.to_numeric(table["time_s"], errors="coerce").to_numpy(np.float64)
    if np.isnan(times).any():
        raise ValueError("time_s has empty cells")
    boxes = parse_bboxes(table["bbox"])
    labels = face_labels(table)
    genders = gender_column(table).tolist()
    ids = table["face_id"].tolist() if "face_id" in table.columns else [None] * len(table)

    order = np.argsort(times, kind="stable")
    starts = _frame_starts(times[order])
    unique_starts = np.unique(starts)
    ends = dict(zip(unique_starts.tolist(), analysed.hold_ends(unique_starts).tolist(), strict=True))
    frames: list[OverlayFrame] = []
    marks: list[FaceMark] = []
    current = float(starts[0])
    for position, row in enumerate(order):
        start = float(starts[position])
        if start != current:
            frames.append(OverlayFrame(current, ends[current], tuple(marks)))
            marks, current = [], start
        face_id = ids[row]
        marks.append(
            FaceMark(
                box=tuple(float(v) for v in boxes[row]),  # type: ignore[arg-type]
                label=labels[row],
                gender=genders[row],
                face_id=None if face_id is None or pd.isna(face_id) else int(face_id),
            )
        )
    frames.append(OverlayFrame(current, ends[current], tuple(marks)))
    return frames


def _frame_starts(sorted_times: NDArray[np.float64]) -> NDArray[np.float64]:
    """Times that differ by less than :data:`SAME_FRAME_S` from the previous one are its frame."""
    new_frame = np.empty(len(sorted_times), bool)
    new_frame[:1] = True
    new_frame[1:] = np.diff(sorted_times) >= SAME_FRAME_S
    firsts = np.flatnonzero(new_frame)
    return sorted_times[firsts][np.cumsum(new_frame) - 1]


def overlay_at(frames: Sequence[OverlayFrame], time_s: float, hint: int = 0) -> tuple[OverlayFrame | None, int]:
    """The overlay shown at ``time_s`` and the position to start from next time (times increasing)."""
    position = hint
    while position < len(frames) and frames[position].end <= time_s + SAME_FRAME_S:
        position += 1
    if position < len(frames) and frames[position].start <= time_s + SAME_FRAME_S:
        return frames[position], position
    return None, position

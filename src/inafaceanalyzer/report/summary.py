"""The numbers of a report, computed from a results table (and its tracks, where they exist).

Measures, by gender (``f``, ``m``, or unknown):

- **detections**: face rows of the table (one per face per analysed frame);
- **tracks**: faces followed through time (``videotracking``), from the
  ``<name>.tracks.csv`` beside the table, else from its ``face_id`` column;
- **face-seconds** (screen time): with tracks, the sum of their
  ``duration_s``; without, each row counts the time from its frame to the
  next analysed frame;
- **ages**: one per track (its smoothed age), else one per detection.

Tracked tables give each row the gender and age smoothed along its track
(``*_avg`` columns); these are the ones counted.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..export.overlay import gender_column
from ..export.render import Sampling, resolve_analysed_frames
from ..export.table import find_tracks_file, read_table, table_stem
from ..export.timeline import AnalysedFrames, VideoTiming, read_timing
from ..stats import face_statistics

__all__ = [
    "AGE_BUCKETS",
    "GENDERS",
    "VideoData",
    "VideoSummary",
    "find_tracks_file",
    "load_video_data",
    "video_data",
]

#: Gender keys in display order.
GENDERS: tuple[str, ...] = ("f", "m", "")
#: Age buckets (years, lower bound included, upper excluded), FairFace's.
AGE_BUCKETS: tuple[tuple[float, float, str], ...] = (
    (0, 3, "0-2"), (3, 10, "3-9"), (10, 20, "10-19"), (20, 30, "20-29"), (30, 40, "30-39"),
    (40, 50, "40-49"), (50, 60, "50-59"), (60, 70, "60-69"), (70, math.inf, "70+"),
)


def _by_gender(values: pd.Series, genders: pd.Series) -> dict[str, float]:
    sums = values.groupby(genders.to_numpy()).sum()
    return {g: float(sums.get(g, 0.0)) for g in GENDERS}


def age_histogram(ages: pd.Series, genders: pd.Series) -> dict[str, list[int]]:
    """Counts per :data:`AGE_BUCKETS` bucket for each gender (missing ages are left out)."""
    ages = pd.to_numeric(ages, errors="coerce").to_numpy(np.float64)
    bounds = [low for low, _, _ in AGE_BUCKETS[1:]]
    bucket = np.searchsorted(bounds, ages, side="right")
    histogram = {}
    for g in GENDERS:
        keep = (genders.to_numpy() == g) & ~np.isnan(ages)
        histogram[g] = np.bincount(bucket[keep], minlength=len(AGE_BUCKETS)).astype(int).tolist()
    return histogram


@dataclass
class VideoSummary:
    """The totals of one video (what a batch report lists).

    Attributes:
        name: the video's name (its table's stem).
        duration_s: length of the video, seconds.
        analysed_frames: number of analysed frames (``None`` when not known).
        detections: face rows by gender.
        tracks: tracks by gender, or ``None`` when the table is not tracked.
        face_seconds: screen time by gender, seconds.
        face_seconds_from: ``"tracks"`` or ``"frames"`` (see the module's doc).
        ages: counts per age bucket by gender (of tracks when tracked, else of detections).
        report: file name of the video's own report, when written.
        stats: the video's statistics table (:func:`inafaceanalyzer.stats.face_statistics`:
            shares of reliable faces' screen time by age band, with intervals).
    """

    name: str
    duration_s: float
    analysed_frames: int | None
    detections: dict[str, int]
    tracks: dict[str, int] | None
    face_seconds: dict[str, float]
    face_seconds_from: str
    ages: dict[str, list[int]]
    report: str | None = None
    stats: pd.DataFrame | None = None

    @property
    def age_unit(self) -> str:
        return "tracks" if self.tracks is not None else "detections"


@dataclass
class VideoData:
    """Everything a video's report shows.

    Attributes:
        summary: the totals.
        table: the results, with ``gender``, ``age`` and ``hold_s`` (seconds
            the row is shown: to the next analysed frame) columns added.
        tracks: one row per track (``face_id, start_s, end_s, duration_s,
            gender, age, n``), or ``None``.
        analysed: the analysed frames.
        source: the video, if known (for thumbnails).
    """

    summary: VideoSummary
    table: pd.DataFrame
    tracks: pd.DataFrame | None
    analysed: AnalysedFrames
    source: str | None = None
    notes: list[str] = field(default_factory=list)


def _row_holds(times: np.ndarray, analysed: AnalysedFrames) -> np.ndarray:
    """Seconds each row is shown: from its frame to the next analysed frame."""
    return analysed.hold_durations(times)


def _tracks_from_file(tracks: pd.DataFrame) -> pd.DataFrame:
    """The tracking engine's tracks table, with the columns a report uses."""
    out = pd.DataFrame({"face_id": tracks["face_id"]})
    out["gender"] = gender_column(tracks).to_numpy()
    for column in ("start_s", "end_s"):
        out[column] = pd.to_numeric(tracks[column], errors="coerce") if column in tracks else np.nan
    if "duration_s" in tracks:
        out["duration_s"] = pd.to_numeric(tracks["duration_s"], errors="coerce")
    else:
        out["duration_s"] = out["end_s"] - out["start_s"]
    age = next((tracks[c] for c in ("age_label_avg", "age_label") if c in tracks), None)
    out["age"] = pd.to_numeric(age, errors="coerce") if age is not None else np.nan
    count = next((tracks[c] for c in ("n_frames", "n_detections") if c in tracks), None)
    out["n"] = count if count is not None else np.nan
    return out.reset_index(drop=True)


def _tracks_from_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Tracks rebuilt from a tracked table's rows (when no tracks file is found)."""
    rows = table[table["face_id"].notna()]
    groups = rows.groupby("face_id", sort=True)
    out = pd.DataFrame({
        "start_s": groups["time_s"].min(),
        "end_s": groups.apply(lambda g: float((g["time_s"] + g["hold_s"]).max()), include_groups=False),
        "duration_s": groups["hold_s"].sum(),
        "gender": groups["gender"].agg(lambda g: g.mode().iloc[0] if len(g.mode()) else ""),
        "age": groups["age"].mean(),
        "n": groups.size(),
    })
    out.index.name = "face_id"
    return out.reset_index()


def video_data(
    name: str,
    table: pd.DataFrame | str | os.PathLike[str],
    analysed: AnalysedFrames,
    *,
    tracks: pd.DataFrame | str | os.PathLike[str] | None = None,
    duration_s: float | None = None,
    source: str | None = None,
) -> VideoData:
    """Compute a video's report data.

    Args:
        name: the video's name.
        table: its results (DataFrame, or CSV or Parquet file).
        analysed: its analysed frames (:func:`~inafaceanalyzer.export.render.resolve_analysed_frames`).
        tracks: its tracks table (or file), if the tracking engine wrote one.
        duration_s: the video's length (default: ``analysed.end``).
        source: the video, for thumbnails.
    """
    if not isinstance(table, pd.DataFrame):
        table = read_table(table)
    if tracks is not None and not isinstance(tracks, pd.DataFrame):
        tracks = read_table(tracks)
    table = table.reset_index(drop=True).copy()
    if "time_s" not in table.columns:
        raise ValueError(f"{name}: not a video results table (no time_s column)")
    stats = face_statistics(table, tracks, analysed=analysed, name=name)
    times = pd.to_numeric(table["time_s"], errors="coerce").to_numpy(np.float64)
    table["gender"] = gender_column(table).to_numpy()
    age = next((table[c] for c in ("age_label_avg", "age_label") if c in table.columns), None)
    table["age"] = pd.to_numeric(age, errors="coerce") if age is not None else np.nan
    table["hold_s"] = _row_holds(times, analysed)
    notes = []

    track_table: pd.DataFrame | None = None
    if tracks is not None and "face_id" in tracks.columns:
        track_table = _tracks_from_file(tracks)
        notes.append("Tracks come from the tracking engine's tracks table")
    elif "face_id" in table.columns and table["face_id"].notna().any():
        track_table = _tracks_from_rows(table)
        notes.append("Tracks were rebuilt from the face_id column (no tracks table was found)")

    genders = table["gender"]
    detections = {g: int((genders == g).sum()) for g in GENDERS}
    if track_table is not None:
        face_seconds = _by_gender(track_table["duration_s"].fillna(0.0), track_table["gender"])
        tracks_by_gender: dict[str, int] | None = {g: int((track_table["gender"] == g).sum()) for g in GENDERS}
        ages = age_histogram(track_table["age"], track_table["gender"])
        source_of_time = "tracks"
    else:
        face_seconds = _by_gender(table["hold_s"], genders)
        tracks_by_gender = None
        ages = age_histogram(table["age"], genders)
        source_of_time = "frames"
    summary = VideoSummary(
        name=name,
        duration_s=float(duration_s if duration_s is not None else analysed.end),
        analysed_frames=int(len(np.union1d(analysed.times, np.unique(times)))) if analysed.exact else None,
        detections=detections,
        tracks=tracks_by_gender,
        face_seconds=face_seconds,
        face_seconds_from=source_of_time,
        ages=ages,
        stats=stats,
    )
    return VideoData(summary, table, track_table, analysed, source, notes)


def load_video_data(
    table: pd.DataFrame | str | os.PathLike[str],
    *,
    name: str | None = None,
    source: str | os.PathLike[str] | None = None,
    analysed: AnalysedFrames | Sequence[float] | None = None,
    sampling: Sampling | None = None,
    timing: VideoTiming | None = None,
    tracks: pd.DataFrame | str | os.PathLike[str] | None = None,
) -> VideoData:
    """A video's report data from its table (and source): the analysed frames resolved, tracks found.

    Args:
        table: the results (DataFrame, or CSV or Parquet file; a file's
            ``<name>.tracks.csv`` is found beside it).
        name: the video's name (default: the table file's stem).
        source: the video (for its timing and thumbnails), if available.
        analysed: the times of all analysed frames, when known (live runs).
        sampling: else the sampling the analysis used; if neither, it is inferred.
        timing: the source's timing, if already read.
        tracks: the tracks table (default: found beside the table file).

    Raises:
        MediaError: the source cannot be read.
    """
    table_path = None if isinstance(table, pd.DataFrame) else Path(table)
    if table_path is not None:
        table = read_table(table_path)
        if tracks is None:
            tracks = find_tracks_file(table_path)
    if name is None:
        name = table_stem(table_path) if table_path is not None else "video"
    source_text = os.fspath(source) if source is not None else None
    if source_text is not None and (timing is None or (analysed is None and not timing.frame_count)):
        timing = read_timing(source_text, packets=analysed is None)
    frames = resolve_analysed_frames(table, timing, analysed, sampling)  # type: ignore[arg-type]
    duration = float(timing.end) if timing is not None else None
    return video_data(name, table, frames, tracks=tracks, duration_s=duration, source=source_text)

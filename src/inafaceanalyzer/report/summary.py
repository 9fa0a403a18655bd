"""The numbers of a report, computed from a results table (and its tracks, where they exist).

Measures, by gender (``f``, ``m``, or unknown):

- **detections**: face rows of the table (one per face per analysed frame);
- **tracks**: faces followed through time (``videotracking``), from the
  ``<name>.tracks.csv`` beside the table, else from its ``face_id`` column;
- **face-seconds** (screen time): with tracks, the sum of their
  ``duration_s``; without, each row counts the time from its frame to the
  next analysed frame;
- **ages**: one per track (its smoothed age), else one per detection.
- **people** (``person_id`` in the tables, :mod:`inafaceanalyzer.identity`): one row per
  person, :func:`people_from_rows`, for the report's gallery by person.

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

from ..export.overlay import gender_column, parse_bboxes
from ..export.render import Sampling, resolve_analysed_frames
from ..export.sidecar import read_meta
from ..export.table import find_tracks_file, read_table, table_stem
from ..export.timeline import AnalysedFrames
from ..io.packets import VideoTiming, read_timing
from ..stats import face_statistics

__all__ = [
    "AGE_BUCKETS",
    "GENDERS",
    "VideoData",
    "VideoSummary",
    "find_tracks_file",
    "load_video_data",
    "people_from_rows",
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
        people: one row per person when the table has ``person_id``
            (:func:`people_from_rows`), else ``None``.
    """

    summary: VideoSummary
    table: pd.DataFrame
    tracks: pd.DataFrame | None
    analysed: AnalysedFrames
    source: str | None = None
    notes: list[str] = field(default_factory=list)
    people: pd.DataFrame | None = None


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
    if "person_id" in tracks:
        out["person_id"] = pd.to_numeric(tracks["person_id"], errors="coerce")
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
    if "person_id" in rows.columns:
        out["person_id"] = pd.to_numeric(rows["person_id"], errors="coerce").groupby(rows["face_id"]).first()
    out.index.name = "face_id"
    return out.reset_index()


def people_from_rows(table: pd.DataFrame, tracks: pd.DataFrame | None) -> pd.DataFrame | None:
    """One row per person of a table with ``person_id`` (from the frame table and its tracks), else ``None``.

    ``table`` is :func:`video_data`'s (``gender``, ``age`` and ``hold_s``
    added). Columns, as ``<name>.people.csv`` computes them
    (:meth:`~inafaceanalyzer.identity.PersonLinker.people`):

    - ``person_id``, ``n_tracks``, ``face_ids`` (the person's tracks, by start);
    - ``screen_time_s``: the sum of the tracks' ``duration_s`` (of the rows'
      display times for rows without a track); ``start_s``, ``end_s``: first
      and last appearance (the end of the last track's last period);
    - ``gender``, ``age``, ``p_male``: smoothed over all the person's faces,
      weighted by their ``avg_weight`` (``sex_prob_male`` and ``age_label``);
      a person corrected by the user (``person_override``) shows the
      corrected value, the one all their rows carry;
    - ``thumbnail_row``: the row of the person's best face (largest
      ``avg_weight``, else largest box); ``corrected``.

    Ordered by screen time, most first.
    """
    if "person_id" not in table.columns:
        return None
    person = pd.to_numeric(table["person_id"], errors="coerce")
    if not person.notna().any():
        return None
    rows = table[person.notna()].assign(person_id=person[person.notna()].astype(np.int64))
    weight = (pd.to_numeric(rows["avg_weight"], errors="coerce") if "avg_weight" in rows.columns
              else pd.Series(np.nan, index=rows.index))
    p_male = pd.to_numeric(rows["sex_prob_male"], errors="coerce") if "sex_prob_male" in rows.columns else None
    if p_male is None and "sex_decfunc" in rows.columns:
        p_male = 1.0 / (1.0 + np.exp(-pd.to_numeric(rows["sex_decfunc"], errors="coerce")))
    raw_age = pd.to_numeric(rows["age_label"], errors="coerce") if "age_label" in rows.columns else None
    boxes = parse_bboxes(rows["bbox"]) if "bbox" in rows.columns else None
    area = (pd.Series((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), index=rows.index)
            if boxes is not None else pd.Series(0.0, index=rows.index))
    by_track = None
    if tracks is not None and "person_id" in tracks.columns:
        by_track = tracks[tracks["person_id"].notna()].astype({"person_id": np.int64})
    corrected_flag = rows["person_override"].fillna(False).astype(bool) if "person_override" in rows.columns else None
    out = []
    for pid, group in rows.groupby("person_id", sort=True):
        w = weight[group.index]
        usable = w.notna() & (w > 0)
        p = age = np.nan
        if usable.any():
            if p_male is not None and p_male[group.index][usable].notna().all():
                p = float(np.dot(w[usable], p_male[group.index][usable]) / w[usable].sum())
            if raw_age is not None and raw_age[group.index][usable].notna().all():
                age = float(np.dot(w[usable], raw_age[group.index][usable]) / w[usable].sum())
            gender = "" if p != p else ("m" if p > 0.5 else "f")
        else:  # no weights: the rows' own smoothed values, most common gender, mean age
            modes = group["gender"].mode()
            gender = str(modes.iloc[0]) if len(modes) else ""
            age = float(group["age"].mean()) if group["age"].notna().any() else np.nan
        corrected = bool(corrected_flag is not None and corrected_flag[group.index].any())
        if corrected:  # the user's values, the same on every row of the person
            if group["gender"].nunique() == 1:
                gender = str(group["gender"].iloc[0])
            if group["age"].nunique(dropna=False) == 1:
                age = float(group["age"].iloc[0])
        if by_track is not None:
            own = by_track[by_track["person_id"] == pid].sort_values("start_s", kind="stable")
        else:
            own = None
        if own is not None and len(own):
            face_ids = [int(f) for f in own["face_id"]]
            screen = float(own["duration_s"].fillna(0.0).sum())
            start = float(own["start_s"].min())
            end = float((own["start_s"] + own["duration_s"].fillna(0.0)).max())
        else:
            ids = group["face_id"].dropna().drop_duplicates() if "face_id" in group.columns else pd.Series([])
            face_ids = [int(f) for f in ids]
            screen = float(group["hold_s"].sum())
            start = float(group["time_s"].min())
            end = float((group["time_s"] + group["hold_s"]).max())
        best = w.idxmax() if usable.any() else area[group.index].idxmax()
        out.append({"person_id": int(pid), "n_tracks": len(face_ids), "face_ids": face_ids,
                    "screen_time_s": screen, "start_s": start, "end_s": end, "gender": gender,
                    "age": age, "p_male": p, "thumbnail_row": int(table.index.get_loc(best)),
                    "corrected": corrected})
    people = pd.DataFrame(out, columns=["person_id", "n_tracks", "face_ids", "screen_time_s", "start_s", "end_s",
                                        "gender", "age", "p_male", "thumbnail_row", "corrected"])
    return people.sort_values(["screen_time_s", "person_id"], ascending=[False, True], kind="stable").reset_index(
        drop=True)


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
    people = people_from_rows(table, track_table)
    return VideoData(summary, table, track_table, analysed, source, notes, people)


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
            ``<name>.tracks.csv`` is found beside it, and its
            ``<name>.meta.json`` gives the analysed frames).
        name: the video's name (default: the table file's stem).
        source: the video (for its timing and thumbnails), if available.
        analysed: the times of all analysed frames, when known (a run; else
            those of the table file's sidecar).
        sampling: else the sampling the analysis used; if neither, it is inferred.
        timing: the source's timing, if already read.
        tracks: the tracks table (default: found beside the table file).

    Raises:
        MediaError: the source cannot be read.
        ValueError: the table's sidecar cannot be read.
    """
    table_path = None if isinstance(table, pd.DataFrame) else Path(table)
    if table_path is not None:
        table = read_table(table_path)
        if tracks is None:
            tracks = find_tracks_file(table_path)
        if analysed is None and sampling is None and (meta := read_meta(table_path)) is not None:
            analysed = meta.analysed
    if name is None:
        name = table_stem(table_path) if table_path is not None else "video"
    source_text = os.fspath(source) if source is not None else None
    if source_text is not None and (timing is None or (analysed is None and not timing.frame_count)):
        timing = read_timing(source_text, packets=analysed is None)
    frames = resolve_analysed_frames(table, timing, analysed, sampling)  # type: ignore[arg-type]
    duration = float(timing.end) if timing is not None else (frames.end if frames.exact else None)
    return video_data(name, table, frames, tracks=tracks, duration_s=duration, source=source_text)

"""The faces a statistic counts: one row per face of a results table, with its weight in time.

A face stands for its analysis period: from its frame's time to the next
analysed frame (:meth:`~inafaceanalyzer.export.timeline.AnalysedFrames.hold_durations`,
the rule of the report's face-seconds and of the exports), so the sum over a
track is its screen time. Image tables count each face once.

Each face gets the gender and age that a study counts: smoothed along its
track (``*_avg`` columns, ``videotracking``) when the table has them, else
its own; its probability of being a woman (calibrated ``sex_prob_male``, or
the logistic of the score); its face size; whether it is ``reliable``; and
the independent unit it belongs to for the bootstrap (:mod:`.units`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..export.overlay import gender_column
from ..export.timeline import AnalysedFrames

__all__ = ["FACE_COLUMNS", "face_rows", "is_video_table", "reliable_column"]

#: Columns of :func:`face_rows`' result.
FACE_COLUMNS = ("gender", "age", "p_female", "weight", "reliable", "face_size", "track", "person", "time_s", "image")


def is_video_table(table: pd.DataFrame) -> bool:
    """Whether ``table`` is a video engine's (it has frame times)."""
    return "time_s" in table.columns


def reliable_column(table: pd.DataFrame) -> np.ndarray:
    """``reliable`` as booleans; a missing column or empty cell (unknown) counts as reliable."""
    if "reliable" not in table.columns:
        return np.ones(len(table), bool)
    values = table["reliable"]
    if values.dtype == bool:
        return values.to_numpy()
    text = values.astype(str).str.strip().str.lower()
    return ~text.isin(("false", "0", "0.0", "no")).to_numpy()


def _numeric(table: pd.DataFrame, *names: str) -> np.ndarray:
    """The first of ``names`` the table has, its missing values filled from the next ones (NaN if none)."""
    out = np.full(len(table), np.nan)
    for name in reversed(names):
        if name in table.columns:
            values = pd.to_numeric(table[name], errors="coerce").to_numpy(np.float64)
            out = np.where(np.isnan(values), out, values)
    return out


def _p_female(table: pd.DataFrame, tracks: pd.DataFrame | None) -> np.ndarray:
    """P(woman) of each face: the track's (tracks table, or its smoothed score), else the face's own."""
    own = _numeric(table, "sex_prob_male")
    own = np.where(np.isnan(own), 1.0 / (1.0 + np.exp(-_numeric(table, "sex_decfunc"))), own)
    p_male = own
    if "sex_decfunc_avg" in table.columns:
        smoothed = 1.0 / (1.0 + np.exp(-_numeric(table, "sex_decfunc_avg")))
        p_male = np.where(np.isnan(smoothed), p_male, smoothed)
    if tracks is not None and "face_id" in table.columns and {"face_id", "sex_prob_male_avg"} <= set(tracks.columns):
        by_track = pd.Series(pd.to_numeric(tracks["sex_prob_male_avg"], errors="coerce").to_numpy(),
                             index=pd.to_numeric(tracks["face_id"], errors="coerce").to_numpy())
        by_track = by_track[~by_track.index.duplicated()]
        exact = pd.to_numeric(table["face_id"], errors="coerce").map(by_track).to_numpy(np.float64)
        p_male = np.where(np.isnan(exact), p_male, exact)
    return 1.0 - p_male


def face_rows(
    table: pd.DataFrame, analysed: AnalysedFrames | None = None, tracks: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per face of ``table`` (:data:`FACE_COLUMNS`), ready to count.

    Args:
        table: a results table (any engine's).
        analysed: the video's analysed frames (video tables; see
            :func:`~inafaceanalyzer.export.render.resolve_analysed_frames`).
        tracks: the table of tracks, when the tracking engine wrote one
            (its exact smoothed probabilities are used).

    ``weight`` is the face's seconds on screen (videos) or 1 (images).
    """
    table = table.reset_index(drop=True)
    out = pd.DataFrame(index=table.index)
    out["gender"] = gender_column(table).to_numpy()
    out["age"] = _numeric(table, "age_label_avg", "age_label")
    out["p_female"] = _p_female(table, tracks)
    if is_video_table(table):
        if analysed is None:
            raise ValueError("a video table needs its analysed frames to weigh faces in time")
        times = pd.to_numeric(table["time_s"], errors="coerce").to_numpy(np.float64)
        out["weight"] = analysed.hold_durations(times)
        out["time_s"] = times
        out["image"] = None
    else:
        out["weight"] = 1.0
        out["time_s"] = np.nan
        name = next((c for c in ("frame", "filename") if c in table.columns), None)
        out["image"] = table[name].astype(str).to_numpy() if name else np.arange(len(table)).astype(str)
    out["reliable"] = reliable_column(table)
    out["face_size"] = _numeric(table, "face_size")
    out["track"] = _numeric(table, "face_id")
    out["person"] = _numeric(table, "person_id")
    return out

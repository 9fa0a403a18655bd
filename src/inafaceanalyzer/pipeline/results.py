"""Results of one analysed frame or image, and their rows in the seed's tables.

Every engine yields :class:`FrameResult` objects; :func:`result_rows` turns
one into table rows whose first columns are exactly the seed's
(``frame,bbox,detect_conf,sex_decfunc,age_decfunc,sex_label,age_label``),
followed by extra columns. A table's header is assembled from the engine's
columns and the classifier's (:func:`table_columns`); :data:`COLUMNS` gives
each engine's header with the default classifier.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..classification import CLASSIFIERS, DEFAULT_CLASSIFIER, PREDICTION_COLUMNS
from ..detections import Detections
from ..options import CLASSIFIER_EXTRAS, ENGINES, PREDICTIONS

__all__ = ["FrameResult", "COLUMNS", "BOX_COLUMNS", "result_rows", "results_dataframe", "format_bbox",
           "format_timecode", "table_columns"]

#: The box as four integer columns (the same rounding as the seed's ``bbox`` string).
BOX_COLUMNS: tuple[str, ...] = ("left", "top", "right", "bottom")


def table_columns(engine: str, classifier: str = DEFAULT_CLASSIFIER) -> tuple[str, ...]:
    """The header of the table of ``engine`` with ``classifier``: the engine's
    :attr:`~inafaceanalyzer.options.EngineSpec.columns`, the classifier's seed
    columns where they say :data:`~inafaceanalyzer.options.PREDICTIONS` and
    its other columns where they say
    :data:`~inafaceanalyzer.options.CLASSIFIER_EXTRAS`."""
    produced = CLASSIFIERS[classifier].columns
    parts = {
        PREDICTIONS: tuple(c for c in produced if c in PREDICTION_COLUMNS),
        CLASSIFIER_EXTRAS: tuple(c for c in produced if c not in PREDICTION_COLUMNS),
    }
    return tuple(c for column in ENGINES[engine].columns for c in parts.get(column, (column,)))


COLUMNS: dict[str, tuple[str, ...]] = {engine: table_columns(engine) for engine in ENGINES}
"""The header of each engine's table. Seed columns first, then extras:

- ``left``, ``top``, ``right``, ``bottom``: the box of ``bbox`` as integers (pixels).
- ``time_s``: presentation time of the frame in seconds from the first frame.
- ``timecode``: the same time as ``HH:MM:SS.mmm`` (truncated to the millisecond,
  so that it never names a time after the frame's).
- ``face_size``: longer side of the detector's raw box, in pixels.
- ``sex_prob_male``: probability that the face is a man's.
- ``age_std``: standard deviation of the predicted age distribution (years).
- ``reliable``: ``False`` for a face too small (under ``min_reliable_face_px``,
  30 pixels by default) or too blurred to judge; studies
  can exclude these rows (see :mod:`inafaceanalyzer.classification.cydral`).
- ``avg_weight``, ``person_id``, ``classified`` (``videotracking``): the row's
  weight in its track's ``*_avg`` values, the person its track belongs to,
  and whether the classifier ran on it (else its per-frame values are those
  of its track's nearest classified frame: ``classify_period``).
"""


@dataclass(frozen=True, slots=True)
class FrameResult:
    """The faces of one analysed frame or image.

    Attributes:
        frame: the frame index (videos) or the file path (images).
        time_s: presentation time in seconds (videos), else ``None``.
        faces: the faces, with prediction columns in ``faces.data``.
    """

    frame: int | str
    time_s: float | None
    faces: Detections


def _pixel(value: float) -> int:
    return int(math.floor(value + 0.5))


def format_bbox(box: Iterable[float]) -> str:
    """A box as the seed wrote it: ``"(left, top, right, bottom)"`` in whole pixels."""
    return "(" + ", ".join(str(_pixel(v)) for v in box) + ")"


def format_timecode(seconds: float) -> str:
    """``HH:MM:SS.mmm`` of a time in seconds, truncated to the millisecond.

    The time is the float of an exact presentation time; a float a hair
    below a whole millisecond (``0.999999...``) counts as that millisecond.
    """
    milliseconds = int(math.floor(seconds * 1000 + 1e-6))
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def result_rows(result: FrameResult, engine: str, classifier: str = DEFAULT_CLASSIFIER) -> Iterator[dict[str, Any]]:
    """One row per face of ``result``, with the columns of ``engine`` and ``classifier`` (:func:`table_columns`)."""
    faces = result.faces
    raw = faces.data.get("raw_xyxy", faces.xyxy)
    sizes = np.maximum(raw[:, 2] - raw[:, 0], raw[:, 3] - raw[:, 1]) if len(faces) else np.zeros(0)
    columns = table_columns(engine, classifier)
    for i in range(len(faces)):
        row: dict[str, Any] = {}
        for column in columns:
            if column in ("frame", "filename"):
                row[column] = result.frame
            elif column == "bbox":
                row[column] = format_bbox(faces.xyxy[i])
            elif column in BOX_COLUMNS:
                row[column] = _pixel(faces.xyxy[i][BOX_COLUMNS.index(column)])
            elif column == "detect_conf":
                conf = faces.confidence[i]
                row[column] = None if np.isnan(conf) else float(conf)
            elif column == "time_s":
                row[column] = result.time_s
            elif column == "timecode":
                row[column] = None if result.time_s is None else format_timecode(result.time_s)
            elif column == "face_size":
                row[column] = float(sizes[i])
            elif column in ("reliable", "person_id") and column not in faces.data:
                row[column] = None  # faces not from the classifier or not linked into people: unknown
            else:
                value = faces.data[column][i]
                row[column] = value.item() if isinstance(value, np.generic) else value
        yield row


def results_dataframe(
    results: Iterable[FrameResult], engine: str, classifier: str = DEFAULT_CLASSIFIER
) -> pd.DataFrame:
    """A table of all faces of ``results``, with the columns of ``engine`` and ``classifier``."""
    rows = [row for result in results for row in result_rows(result, engine, classifier)]
    return pd.DataFrame(rows, columns=list(table_columns(engine, classifier)))

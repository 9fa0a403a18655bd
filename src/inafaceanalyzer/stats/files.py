"""Results tables in, statistics table out: the files side of :mod:`inafaceanalyzer.stats`.

- :func:`stats_inputs` reads results tables (CSV or Parquet) with the table
  of tracks found beside each; the analysed frames are those its sidecar
  ``<name>.meta.json`` lists (:mod:`~inafaceanalyzer.export.sidecar`), else
  inferred from the table (a table written before sidecars existed);
- :func:`read_groups` reads a user's CSV that maps each video to a group;
- :func:`write_statistics` writes the table (CSV or Parquet, complete or
  absent) and its metadata as ``<name>.meta.json`` beside it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import pandas as pd

from .._version import __version__
from ..export.atomic import atomic_path
from ..export.sidecar import read_meta
from ..export.table import find_tracks_file, read_table, table_stem
from ..export.timeline import AnalysedFrames
from ..options import DEFAULT_CLASSIFIER
from .correction import default_error_rates
from .table import StatsInput, batch_statistics

__all__ = [
    "DERIVED_SUFFIXES",
    "AnalysedTable",
    "is_results_table",
    "meta_path",
    "read_groups",
    "stats_inputs",
    "write_batch_statistics",
    "write_image_statistics",
    "write_statistics",
    "write_video_statistics",
]

log = logging.getLogger(__name__)

#: Tables written beside a results table that are not results tables themselves.
DERIVED_SUFFIXES = (".tracks", ".stats", ".people")


def is_results_table(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` may be a results table (not a tracks, stats or people table; not ``batch.stats``)."""
    return not table_stem(path).endswith(DERIVED_SUFFIXES)


def stats_inputs(paths: Sequence[str | os.PathLike[str]]) -> list[StatsInput]:
    """The results tables at ``paths``, each with its tracks table when one is beside it.

    Raises:
        ValueError: a file is not a results table (named).
        OSError: a file cannot be read.
    """
    inputs = []
    for path in paths:
        path = Path(path)
        try:
            frames = read_table(path)
        except (ValueError, pd.errors.ParserError) as error:
            raise ValueError(f"{path}: not a results table: {error}") from error
        if "bbox" not in frames.columns and "filename" not in frames.columns:
            raise ValueError(f"{path}: not a results table (no bbox or filename column)")
        tracks_file = find_tracks_file(path)
        tracks = read_table(tracks_file) if tracks_file is not None else None
        meta = read_meta(path)
        if meta is None:
            log.warning("%s: no %s.meta.json beside it: its analysed frames are inferred from the table",
                        path, table_stem(path))
        inputs.append(StatsInput(table_stem(path), frames, tracks, meta.analysed if meta is not None else None))
    return inputs


def read_groups(path: str | os.PathLike[str], column: str | None = None) -> tuple[dict[str, str], str]:
    """The group of each video from a CSV: its first column names the video, ``column`` the group.

    The video is named as its table (``out/clip.csv`` -> ``clip``); a file
    name or path with an extension is accepted too. ``column`` defaults to
    the second column.

    Returns:
        the mapping, and the group column's name.

    Raises:
        ValueError: the file has no such column, or names a video twice with different groups.
    """
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ValueError(f"{path}: cannot read the groups file: {error}") from error
    if table.shape[1] < 2:
        raise ValueError(f"{path}: a groups file needs a video column and a group column")
    column = column or table.columns[1]
    if column not in table.columns:
        raise ValueError(f"{path}: no column {column!r} (columns: {', '.join(table.columns)})")
    mapping: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for video, group in zip(table.iloc[:, 0], table[column], strict=True):
        name = os.path.basename(video.strip())
        if mapping.get(name, group) != group:
            raise ValueError(f"{path}: {name} is in two groups ({mapping[name]!r} and {group!r})")
        mapping[name] = group
        aliases.setdefault(Path(name).stem, group)  # clip.mp4 names the table clip.csv
    return {**aliases, **mapping}, column


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


def meta_path(path: str | os.PathLike[str]) -> Path:
    """``out/clip.stats.csv`` -> ``out/clip.stats.meta.json``."""
    path = Path(path)
    return path.with_name(f"{table_stem(path)}.meta.json")


def write_statistics(table: pd.DataFrame, path: str | os.PathLike[str], **meta) -> Path:
    """Write the statistics table (Parquet for ``.parquet``, else CSV) and ``<name>.meta.json`` beside it.

    Both are written under temporary names and renamed once complete.
    ``meta`` adds entries to the sidecar (e.g. the inputs).
    """
    path = Path(path)
    document = {"generator": f"inafaceanalyzer {__version__}", **_jsonable(dict(table.attrs)), **_jsonable(meta)}
    with atomic_path(meta_path(path)) as temporary:
        temporary.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    with atomic_path(path) as temporary:
        if path.suffix.lower() == ".parquet":
            plain = table.copy()
            plain.attrs = {}
            plain.to_parquet(temporary, index=False)
        else:
            table.to_csv(temporary, index=False, float_format="%.6g")
    return path


@dataclass(frozen=True)
class AnalysedTable:
    """A results table written by a run, and the frames that run analysed (to count again later)."""

    name: str
    table: Path
    analysed: AnalysedFrames

    def load(self) -> StatsInput:
        tracks_file = find_tracks_file(self.table)
        tracks = read_table(tracks_file) if tracks_file is not None else None
        return StatsInput(self.name, read_table(self.table), tracks, self.analysed)


def write_video_statistics(
    name: str, table: Path, analysed: Sequence[float] | AnalysedFrames, end: Fraction | float | None, path: Path,
    classifier: str = DEFAULT_CLASSIFIER,
) -> AnalysedTable:
    """Write the statistics of one analysed video (the batch's ``--stats``), from its table.

    ``analysed``: the analysed frames, or the times of every analysed frame
    with ``end``, the video's end (the last analysed frame holds until then).
    """
    if not isinstance(analysed, AnalysedFrames):
        end_s = float(end) if end is not None else (max(analysed) if len(analysed) else 0.0)
        analysed = AnalysedFrames.from_times(list(analysed), end_s)
    item = AnalysedTable(name, Path(table), analysed)
    stats = batch_statistics([item.load()], None, total=False, error_rates=default_error_rates(classifier))
    write_statistics(stats, path, inputs=[str(table)])
    return item


def write_batch_statistics(items: Sequence[AnalysedTable], path: Path, classifier: str = DEFAULT_CLASSIFIER) -> Path:
    """Write the statistics of a run's videos together (``batch.stats.csv``): each video, and all."""
    stats = batch_statistics([item.load() for item in items], None, error_rates=default_error_rates(classifier))
    return write_statistics(stats, path, inputs=[str(item.table) for item in items])


def write_image_statistics(table: Path, classifier: str = DEFAULT_CLASSIFIER) -> Path:
    """Write the statistics of an image engine's table beside it: ``faces.csv`` -> ``faces.stats.csv``.

    Image tables count faces (``measure`` ``faces``), each image a unit.
    """
    table = Path(table)
    stem = table_stem(table)
    suffix = table.name[len(stem):] or ".csv"
    stats = batch_statistics([StatsInput(stem, read_table(table))], None, total=False,
                             error_rates=default_error_rates(classifier))
    return write_statistics(stats, table.with_name(f"{stem}.stats{suffix}"), inputs=[str(table)])

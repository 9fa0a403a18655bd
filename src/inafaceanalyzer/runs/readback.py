"""A results folder read back in one call: :func:`read_results`.

>>> from inafaceanalyzer import read_results
>>> results = read_results("out/")                              # doctest: +SKIP
>>> results.frames.groupby("video").size()                      # faces per video
>>> results.meta["clip"].sampling, results.meta["clip"].analysed.times

The folder is what ``ina_face_analyzer.py -o out/`` (or a distributed run
whose tables share a folder) wrote: results tables ``<name>.csv`` or
``<name>.parquet``, with ``<name>.tracks.*``, ``<name>.people.*``,
``<name>.stats.*`` and the sidecar ``<name>.meta.json`` beside each, and the
batch's ``batch.stats.*``. Each kind of table comes back as one DataFrame
whose first column, ``video``, names the table it came from.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import OptionsError
from ..export.options import BATCH_STATS_STEM
from ..export.sidecar import ResultsMeta, read_meta
from ..export.table import TABLE_FORMATS, read_table, table_stem

__all__ = ["Results", "read_results"]

log = logging.getLogger(__name__)

_SUFFIXES = tuple(TABLE_FORMATS.values())
_KINDS = ("tracks", "people", "stats")


@dataclass(frozen=True)
class Results:
    """The tables of a results folder and the metadata of the runs that wrote them.

    Attributes:
        folder: the folder read.
        frames: every results table (one row per face), ``video`` first.
        tracks: every table of tracks (``videotracking``), ``video`` first;
            empty when there is none.
        people: every table of people, ``video`` first; empty when none.
        stats: the batch's statistics table (``batch.stats.*``) when there is
            one, else the videos' statistics tables together, else ``None``.
        meta: each video's sidecar (:class:`~inafaceanalyzer.export.sidecar.ResultsMeta`:
            sampling, options, model files, analysed frames), by video name;
            a table without one (an older run) is missing here.
    """

    folder: Path
    frames: pd.DataFrame
    tracks: pd.DataFrame
    people: pd.DataFrame
    stats: pd.DataFrame | None
    meta: Mapping[str, ResultsMeta] = field(default_factory=dict)

    @property
    def videos(self) -> list[str]:
        """The names of the results tables, sorted."""
        return sorted(self.frames["video"].unique()) if "video" in self.frames else []


def _kind(path: Path) -> tuple[str, str | None]:
    """``(video name, kind)`` of a table file: kind ``None`` for a results table."""
    stem = table_stem(path)
    for kind in _KINDS:
        if stem.endswith(f".{kind}"):
            return stem[: -len(kind) - 1], kind
    return stem, None


def _together(tables: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    if not tables:
        return pd.DataFrame({"video": pd.Series(dtype=str)})
    return pd.concat([table.assign(video=name)[["video", *table.columns]] for name, table in tables],
                     ignore_index=True)


def read_results(folder: str | os.PathLike[str]) -> Results:
    """Read a results folder back: frames, tracks, people and statistics, with each table's sidecar.

    Raises:
        OptionsError: ``folder`` is not a folder, or holds no results table.
        ValueError: a table or a sidecar cannot be read (names the file).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise OptionsError(f"{folder}: not a folder of results")
    files = sorted(p for p in folder.iterdir()
                   if p.suffix.lower() in _SUFFIXES and p.is_file() and not p.name.startswith("."))
    found: dict[str | None, list[tuple[str, pd.DataFrame]]] = {None: [], **{kind: [] for kind in _KINDS}}
    batch_stats = None
    for path in files:
        name, kind = _kind(path)
        try:
            table = read_table(path)
        except (OSError, ValueError, pd.errors.ParserError) as error:
            raise ValueError(f"{path}: cannot read this table: {error}") from error
        if kind == "stats" and name == BATCH_STATS_STEM.removesuffix(".stats"):
            batch_stats = table
            continue
        found[kind].append((name, table))
    if not found[None]:
        raise OptionsError(f"{folder}: no results table (<name>.csv or <name>.parquet) in this folder")
    meta = {}
    for name, _ in found[None]:
        sidecar = next((read_meta(folder / f"{name}{suffix}") for suffix in _SUFFIXES
                        if (folder / f"{name}{suffix}").is_file()), None)
        if sidecar is None:
            log.warning("%s: no %s.meta.json: its sampling and analysed frames are not known", folder / name, name)
        else:
            meta[name] = sidecar
    stats = batch_stats if batch_stats is not None else (_together(found["stats"]) if found["stats"] else None)
    return Results(folder, _together(found[None]), _together(found["tracks"]), _together(found["people"]), stats,
                   meta)

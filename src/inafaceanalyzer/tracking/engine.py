"""The ``videotracking`` engine: a video decoded, its faces tracked, a table of tracks beside it.

:class:`TrackingAnalysis` offers what every video engine offers
(:class:`~inafaceanalyzer.pipeline.engines.VideoAnalysis`: ``info`` at once,
:class:`~inafaceanalyzer.pipeline.results.FrameResult` objects when
iterated, ``columns``, ``expected_frames``, ``dataframe()``); decoding runs
in a background thread and the frames go to the pure
:class:`~.stream.TrackingStream`. After iteration, :attr:`TrackingAnalysis.tracks`
holds one row per face track, and :meth:`TrackingAnalysis.write_extras`
writes it as ``<name>.tracks.csv`` beside the frame table ``<name>.csv``
(``<name>.tracks.parquet`` beside a Parquet table), with the table of
people ``<name>.people.csv`` (:mod:`inafaceanalyzer.identity`: tracks linked
into people by their face embeddings; the embeddings themselves are written,
to ``<name>.embeddings.npz``, only with ``options.embeddings``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pandas as pd

from ..export.table import CsvTableWriter
from ..identity.embedders import hse_embedder
from ..identity.people import PersonLinker, embeddings_path, people_path, write_embeddings, write_people
from ..options import AnalysisOptions
from ..pipeline.analyzer import FaceAnalyzer
from ..pipeline.engines import VideoAnalysis
from ..pipeline.results import FrameResult
from .smoothing import TRACK_COLUMNS, averages_of
from .stream import TrackingStream

__all__ = ["TrackingAnalysis", "tracks_path", "write_tracks"]


def tracks_path(table_path: str | os.PathLike[str]) -> Path:
    """Where the table of tracks of a frame table goes, in the same format.

    ``out/clip.csv`` -> ``out/clip.tracks.csv``; ``out/clip.parquet`` -> ``out/clip.tracks.parquet``.
    """
    table_path = Path(table_path)
    suffix = ".parquet" if table_path.suffix.lower() == ".parquet" else ".csv"
    stem = table_path.stem if table_path.suffix else table_path.name
    return table_path.with_name(f"{stem}.tracks{suffix}")


def write_tracks(tracks: pd.DataFrame, destination: str | os.PathLike[str]) -> Path:
    """Write a table of tracks atomically (complete or absent): Parquet for ``.parquet``, else CSV."""
    destination = Path(destination)
    if destination.suffix.lower() == ".parquet":
        from ..export.table import ParquetTableWriter

        writer_class: type = ParquetTableWriter
    else:
        writer_class = CsvTableWriter
    with writer_class(destination, TRACK_COLUMNS) as writer:
        writer.write_rows(_records(tracks))
    return destination


def _records(tracks: pd.DataFrame) -> Iterator[dict[str, object]]:
    for row in tracks.itertuples(index=False):
        yield {
            column: (value.item() if hasattr(value, "item") else value)
            for column, value in zip(tracks.columns, row, strict=True)
        }


class TrackingAnalysis(VideoAnalysis):
    """The analysis of one video with face tracking.

    Args:
        source: path or URL of the video.
        options: analysis settings (``engine`` is taken as ``videotracking``).
        analyzer: models to use (built from ``options`` if not given).

    Attributes:
        tracks: after a complete iteration, one row per face track
            (:data:`~.smoothing.TRACK_COLUMNS`), else ``None``.
        people: after a complete iteration, one row per person
            (:data:`~inafaceanalyzer.identity.PEOPLE_COLUMNS`), else ``None``.
        cut_frames: after iteration, the frames found to start a new shot.
    """

    def __init__(self, source: str, options: AnalysisOptions, analyzer: FaceAnalyzer | None = None) -> None:
        if options.engine != "videotracking":
            options = options.replace(engine="videotracking")
        super().__init__(source, options, analyzer)
        self.tracks: pd.DataFrame | None = None
        self.people: pd.DataFrame | None = None
        self.cut_frames: list[int] = []
        self._linker: PersonLinker | None = None

    @property
    def analysis_period(self) -> Fraction:
        """Seconds between analysed frames: ``1 / fps``, or one frame at the native rate."""
        return self.sampling.period(self.info.frame_rate)

    def __iter__(self) -> Iterator[FrameResult]:
        self.tracks = self.people = self._linker = None
        linker = PersonLinker(hse_embedder(self.options.threads, self.options.device), averages_of)
        stream = TrackingStream(
            self.analyzer, self.options, last_period=self.analysis_period, end_time=self.info.duration,
            people=linker,
        )
        yield from stream(self.frames())
        self.tracks = stream.tracks()
        self.people, self._linker = linker.people(), linker
        self.cut_frames = list(stream.cut_frames)

    def write_extras(self, table_path: Path) -> None:
        """Write the tables of tracks and people beside the frame table (after a complete iteration).

        Paths: :func:`tracks_path`, :func:`~inafaceanalyzer.identity.people_path`, and with
        ``options.embeddings`` :func:`~inafaceanalyzer.identity.people.embeddings_path`.
        """
        if self.tracks is None or self.people is None or self._linker is None:
            raise RuntimeError("the table of tracks is known once the video has been analysed")
        write_tracks(self.tracks, tracks_path(table_path))
        write_people(self.people, people_path(table_path))
        if self.options.embeddings:
            write_embeddings(self._linker, embeddings_path(table_path))

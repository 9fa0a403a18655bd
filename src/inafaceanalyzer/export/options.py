"""Which outputs a batch run writes besides its tables.

Kept apart from :class:`~inafaceanalyzer.options.AnalysisOptions`: outputs do
not change what the analysis finds, and every output can be made again
later from the tables (``ina_face_render``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import OptionsError
from .table import TABLE_FORMATS

__all__ = ["BATCH_REPORT_NAME", "BATCH_STATS_STEM", "ExportOptions", "VideoOutputs"]

#: File name of a batch's report, in the output directory.
BATCH_REPORT_NAME = "batch_report.html"
#: Stem of a batch's statistics table (``batch.stats.csv``), in the output directory.
BATCH_STATS_STEM = "batch.stats"


@dataclass(frozen=True)
class VideoOutputs:
    """The files written for one video (``None``: not asked for)."""

    table: Path
    ass: Path | None = None
    mp4: Path | None = None
    report: Path | None = None
    stats: Path | None = None


@dataclass(frozen=True)
class ExportOptions:
    """Outputs of a run.

    Attributes:
        table_format: ``csv`` (default) or ``parquet``.
        ass: write ``<name>.ass`` subtitles that draw the faces (video engines).
        mp4: write ``<name>.mp4``, the video with the faces drawn (video engines).
        html_report: write ``<name>.html`` per video, and ``batch_report.html`` when
            there are several videos.
        stats: write ``<name>.stats.csv`` per video and ``batch.stats.csv`` for
            the run (:mod:`inafaceanalyzer.stats`; ``.parquet`` with that format).
        skip_existing: leave an input whose outputs asked for all exist, with a
            sidecar ``<name>.meta.json`` of the same analysis (engine,
            sampling, options, model files): it is not analysed again
            (:func:`inafaceanalyzer.runs.is_finished`).
    """

    table_format: str = "csv"
    ass: bool = False
    mp4: bool = False
    html_report: bool = False
    stats: bool = False
    skip_existing: bool = False

    def __post_init__(self) -> None:
        if self.table_format not in TABLE_FORMATS:
            raise OptionsError(f"output format must be one of {', '.join(TABLE_FORMATS)}, not {self.table_format!r}")

    @property
    def table_suffix(self) -> str:
        """``.csv`` or ``.parquet``."""
        return TABLE_FORMATS[self.table_format]

    @property
    def any_video_export(self) -> bool:
        """Whether anything besides the tables is asked for."""
        return self.ass or self.mp4 or self.html_report

    def video_outputs(self, directory: Path, stem: str) -> VideoOutputs:
        """The files of the video named ``stem`` in ``directory``."""
        return VideoOutputs(
            table=directory / f"{stem}{self.table_suffix}",
            ass=directory / f"{stem}.ass" if self.ass else None,
            mp4=directory / f"{stem}.mp4" if self.mp4 else None,
            report=directory / f"{stem}.html" if self.html_report else None,
            stats=directory / f"{stem}.stats{self.table_suffix}" if self.stats else None,
        )

"""A batch run that behaves: every input is tried, failures are named, outputs are whole.

Video engines write one table per input into an output directory; image
engines write one table for all inputs. Models load once for the batch. An
input that cannot be read (missing, empty, truncated, not media, dead URL)
or whose output cannot be written (full disk) is recorded with its reason in
the :class:`BatchReport` while the other inputs go on; its output is not left
half-written.
"""

from __future__ import annotations

import logging
import os
import posixpath
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..errors import MediaError, OptionsError
from ..export.options import BATCH_REPORT_NAME, ExportOptions
from ..export.table import open_table_writer
from ..io import DecodingGap, is_url
from ..options import AnalysisOptions
from .analyzer import FaceAnalyzer
from .engines import VideoAnalysis, iter_images
from .results import COLUMNS, FrameResult, result_rows

__all__ = [
    "BatchReport",
    "Failure",
    "InputWarning",
    "analyze_video_to_files",
    "output_stem",
    "run_batch",
    "video_output_paths",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Failure:
    """An input that could not be analysed, and why."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class InputWarning:
    """An input analysed with a reservation (a stretch of video that could not be decoded)."""

    source: str
    message: str


@dataclass
class BatchReport:
    """What a batch run did.

    Attributes:
        outputs: tables written, in input order.
        failures: inputs that failed, with their reasons.
        faces: number of face rows written.
        seconds: wall time of the run.
        warnings: inputs analysed with gaps (damaged or missing video data),
            one entry per gap; their tables hold every frame that decoded.
    """

    outputs: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    faces: int = 0
    seconds: float = 0.0
    warnings: list[InputWarning] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every input was analysed."""
        return not self.failures

    def fail(self, source: str, reason: str) -> None:
        """Record a failure and log it at once."""
        log.error("%s: %s", source, reason)
        self.failures.append(Failure(str(source), reason))


def output_stem(source: str) -> str:
    """The output base name of an input: its file name without extension (URLs too)."""
    if is_url(source):
        path = urllib.parse.urlparse(source).path
        name = posixpath.basename(path.rstrip("/")) or urllib.parse.urlparse(source).netloc
    else:
        name = os.path.basename(os.fspath(source).rstrip("/"))
    stem, _ = os.path.splitext(name)
    return stem or name


def video_output_paths(sources: Sequence[str], directory: Path, suffix: str = ".csv") -> dict[str, Path]:
    """One output path per input in ``directory``; two inputs may not share one."""
    paths: dict[str, Path] = {}
    owners: dict[Path, str] = {}
    for source in sources:
        path = directory / (output_stem(source) + suffix)
        if path in owners and owners[path] != source:
            raise OptionsError(f"inputs {owners[path]} and {source} would both write {path}: rename one")
        owners[path] = source
        paths[source] = path
    return paths


VideoEngine = Callable[[str, AnalysisOptions, FaceAnalyzer], VideoAnalysis]


def _video_engine(options: AnalysisOptions) -> VideoEngine:
    if options.engine == "videotracking":
        from ..tracking.engine import TrackingAnalysis

        return TrackingAnalysis
    return VideoAnalysis


def run_batch(
    inputs: Sequence[str],
    output: str | os.PathLike[str],
    options: AnalysisOptions,
    progress: bool = False,
    *,
    exports: ExportOptions | None = None,
) -> BatchReport:
    """Analyse ``inputs`` and write the tables; never raises for a bad input.

    Args:
        inputs: paths or URLs.
        output: the output directory (video engines, created if missing) or
            the table file (image engines: ``.csv`` or ``.parquet``).
        options: analysis settings.
        progress: show progress bars on stderr.
        exports: the table format, and the subtitles, annotated videos and
            HTML reports to write beside the tables (video engines).
    """
    started = time.perf_counter()
    report = BatchReport()
    exports = exports or ExportOptions()
    analyzer = FaceAnalyzer(options)
    if options.is_video:
        _run_videos(inputs, Path(output), options, analyzer, report, progress, exports)
    else:
        _run_images(inputs, Path(output), options, analyzer, report, progress)
    report.seconds = time.perf_counter() - started
    return report


def analyze_video_to_files(
    source: str,
    destination: Path,
    options: AnalysisOptions,
    analyzer: FaceAnalyzer,
    progress: bool = False,
    label: str | None = None,
    *,
    ass_path: Path | None = None,
    mp4_path: Path | None = None,
    report_path: Path | None = None,
    gaps: list[DecodingGap] | None = None,
) -> int:
    """Analyse one video and write its table at ``destination`` (and the files beside it).

    This is the unit of work of a batch run and of a distributed job. Each
    output is written under a temporary name and renamed once complete; the
    table first, then the subtitles, the annotated video and the report,
    drawn from the table and the times of every analysed frame.

    Args:
        destination: the table, ``.csv`` or ``.parquet`` (by its suffix).
        ass_path: also write ASS subtitles that draw the faces there.
        mp4_path: also write the video with the faces drawn there (H.264 MP4).
        report_path: also write the video's HTML report there.
        gaps: receives the stretches of the video that could not be decoded
            (``options.strict_decoding`` off: the table holds every frame
            that decoded).

    Returns:
        the number of face rows written.

    Raises:
        MediaError: the video cannot be read.
        OptionsError: ``mp4_path`` is the source video.
        OSError: an output cannot be written.
    """
    if mp4_path is not None:
        from ..export.render import check_not_source

        check_not_source(source, mp4_path)
    analysis = _video_engine(options)(source, options, analyzer)
    bar = tqdm(
        total=analysis.expected_frames,
        desc=label or output_stem(source),
        unit="frame",
        disable=not progress,
        leave=False,
    )
    analysed: list[float] = []
    with bar, open_table_writer(destination, analysis.columns) as writer:
        for result in analysis:
            writer.write_rows(result_rows(result, options.engine))
            analysed.append(float(result.time_s or 0.0))
            bar.update(1)
    if gaps is not None:
        gaps.extend(analysis.gaps)
    analysis.write_extras(destination)
    if ass_path is not None or mp4_path is not None or report_path is not None:
        _write_exports(source, destination, analysed, ass_path, mp4_path, report_path, progress)
    return writer.rows_written


def _write_exports(
    source: str,
    table: Path,
    analysed: list[float],
    ass_path: Path | None,
    mp4_path: Path | None,
    report_path: Path | None,
    progress: bool,
) -> None:
    """The subtitles, annotated video and report of an analysed video, from its table."""
    from ..export.render import export_annotations
    from ..export.table import read_table

    results = read_table(table)
    rendered = export_annotations(
        source, results, ass_path=ass_path, mp4_path=mp4_path, analysed=analysed, progress=progress
    )
    if report_path is not None:
        from ..report import find_tracks_file, load_video_data, write_video_report

        data = load_video_data(results, name=output_stem(source), source=source, analysed=rendered.analysed,
                               timing=rendered.timing, tracks=find_tracks_file(table))
        write_video_report(report_path, data)
        log.info("wrote %s", report_path)


def _run_videos(
    inputs: Sequence[str],
    directory: Path,
    options: AnalysisOptions,
    analyzer: FaceAnalyzer,
    report: BatchReport,
    progress: bool,
    exports: ExportOptions,
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    paths = video_output_paths(inputs, directory, exports.table_suffix)
    if exports.html_report and any(output_stem(source) + ".html" == BATCH_REPORT_NAME for source in inputs):
        raise OptionsError(f"an input's report would be {BATCH_REPORT_NAME}, the batch report: rename the input")
    summaries = []
    for number, source in enumerate(inputs, start=1):
        destination = paths[source]
        outputs = exports.video_outputs(directory, output_stem(source))
        log.info("analysing video %d/%d: %s -> %s", number, len(inputs), source, destination)
        gaps: list[DecodingGap] = []
        try:
            rows = analyze_video_to_files(
                source, destination, options, analyzer, progress, label=f"[{number}/{len(inputs)}] {output_stem(source)}",
                ass_path=outputs.ass, mp4_path=outputs.mp4, report_path=outputs.report, gaps=gaps,
            )
        except MediaError as error:
            report.fail(source, error.reason)
            continue
        except OptionsError as error:
            report.fail(source, str(error))
            continue
        except OSError as error:
            report.fail(source, f"cannot write {destination}: {error.strerror or error}")
            continue
        report.faces += rows
        report.outputs.append(destination)
        report.warnings.extend(InputWarning(source, gap.describe()) for gap in gaps)
        if exports.html_report:
            try:
                summaries.append(_summary(source, destination, options, outputs.report))
            except (MediaError, OSError, ValueError) as error:
                log.warning("%s: left out of the batch report: %s", source, error)
    if exports.html_report and len(inputs) > 1 and summaries:
        from ..report import write_batch_report

        write_batch_report(directory / BATCH_REPORT_NAME, summaries, title=f"{len(summaries)} videos")
        log.info("wrote %s", directory / BATCH_REPORT_NAME)


def _summary(source: str, table: Path, options: AnalysisOptions, report_path: Path | None):
    """A video's totals for the batch report, from its table (the sampling is the options')."""
    from ..export.render import Sampling
    from ..report import load_video_data

    sampling = Sampling(fps=options.fps, keyframes=options.engine == "videokeyframes", known=True)
    summary = load_video_data(table, name=output_stem(source), source=source, sampling=sampling).summary
    summary.report = report_path.name if report_path is not None else None
    return summary


def _run_images(
    inputs: Sequence[str],
    destination: Path,
    options: AnalysisOptions,
    analyzer: FaceAnalyzer,
    report: BatchReport,
    progress: bool,
) -> None:
    preprocessed = options.engine == "preprocessed_image"
    on_error = lambda error: report.fail(error.source, error.reason)  # noqa: E731
    try:
        with (
            tqdm(total=len(inputs), desc="images", unit="image", disable=not progress) as bar,
            open_table_writer(destination, COLUMNS[options.engine]) as writer,
        ):
            result: FrameResult
            for result in iter_images(inputs, analyzer, on_error, preprocessed=preprocessed):
                writer.write_rows(result_rows(result, options.engine))
                bar.update(1)
    except OSError as error:
        report.fail(str(destination), f"cannot write: {error.strerror or error}")
        return
    report.faces += writer.rows_written
    report.outputs.append(destination)

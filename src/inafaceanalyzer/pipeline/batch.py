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
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..errors import MediaError, OptionsError, OutputError
from ..export.atomic import OutputSet, directory_error, remove_stale_temporaries
from ..export.options import BATCH_REPORT_NAME, BATCH_STATS_STEM, ExportOptions
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
    "as_sources",
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
        written: every file written (tables, tracks, subtitles, videos,
            reports), in order.
        in_progress: the input being analysed (``None`` between inputs); an
            interrupted run left nothing of it.
        warnings: inputs analysed with gaps (damaged or missing video data),
            one entry per gap; their tables hold every frame that decoded.
    """

    outputs: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    faces: int = 0
    seconds: float = 0.0
    written: list[Path] = field(default_factory=list)
    in_progress: str | None = None
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


def _tracks_path(table: Path) -> Path:
    from ..tracking.engine import tracks_path

    return tracks_path(table)


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
    report: BatchReport | None = None,
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
        report: the report to fill as the run goes (by default a new one): a
            caller that may interrupt the run reads what was finished there.

    Raises:
        OptionsError: the inputs and outputs contradict each other (two
            inputs would write the same table).
        OutputError: the output directory cannot be created.
    """
    started = time.perf_counter()
    report = report if report is not None else BatchReport()
    exports = exports or ExportOptions()
    inputs = as_sources(inputs)
    try:
        if options.is_video:
            directory = Path(output)
            _make_directory(directory)
            analyzer = FaceAnalyzer(options)
            _run_videos(inputs, directory, options, analyzer, report, progress, exports)
        else:
            analyzer = FaceAnalyzer(options)
            _run_images(inputs, Path(output), options, analyzer, report, progress)
            if exports.stats and report.outputs:
                from ..stats.files import write_image_statistics

                try:
                    write_image_statistics(report.outputs[0], options.classifier)
                except (OSError, ValueError) as error:
                    report.fail(str(output), f"cannot write its statistics: {getattr(error, 'strerror', None) or error}")
    finally:
        report.seconds = time.perf_counter() - started
    return report


def as_sources(sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """The inputs as a list of strings; one path (or URL) alone is a list of one.

    Raises:
        TypeError: ``sources`` is neither a path nor an iterable of paths.
    """
    if isinstance(sources, (str, os.PathLike)):
        return [os.fspath(sources)]
    if isinstance(sources, bytes) or not isinstance(sources, Iterable):
        raise TypeError(f"inputs must be a path or URL, or a list of them, not {type(sources).__name__}")
    listed = []
    for source in sources:
        if not isinstance(source, (str, os.PathLike)):
            raise TypeError(f"each input must be a path or URL (str or PathLike), not {type(source).__name__}: "
                            f"{source!r}")
        listed.append(os.fspath(source))
    return listed


def _make_directory(directory: Path) -> None:
    """Create the output directory of a video batch, or say why it cannot be."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(directory, f"cannot create this directory: {directory_error(directory, error)}",
                          error.errno) from error


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
    written: list[Path] | None = None,
    stats_path: Path | None = None,
    stats_runs: list | None = None,
    gaps: list[DecodingGap] | None = None,
) -> int:
    """Analyse one video and write its table at ``destination`` (and the files beside it).

    This is the unit of work of a batch run and of a distributed job. Its
    outputs are all or nothing: each is written under a temporary name, and
    they are renamed together (:class:`~inafaceanalyzer.export.atomic.OutputSet`)
    once every one is complete: the table, the table of tracks
    (``videotracking``), then the subtitles, the annotated video and the
    report, drawn from the table and the times of every analysed frame. If
    any of them fails, or the run is interrupted, none appears. Temporary
    files that an earlier, killed run left for these outputs are removed
    first.

    Args:
        destination: the table, ``.csv`` or ``.parquet`` (by its suffix).
        ass_path: also write ASS subtitles that draw the faces there.
        mp4_path: also write the video with the faces drawn there (H.264 MP4).
        report_path: also write the video's HTML report there.
        written: the files written are appended there, once committed.
        stats_path: also write the video's statistics table there
            (:mod:`inafaceanalyzer.stats`); ``stats_runs`` collects what the batch's needs.
        gaps: receives the stretches of the video that could not be decoded
            (``options.strict_decoding`` off: the table holds every frame
            that decoded).

    Returns:
        the number of face rows written.

    Raises:
        MediaError: the video cannot be read.
        OptionsError: ``mp4_path`` is the source video.
        OutputError: an output cannot be written; it names that output.
    """
    if mp4_path is not None:
        from ..export.render import check_not_source

        check_not_source(source, mp4_path)
    extras = [_tracks_path(destination)] if options.engine == "videotracking" else []
    embeddings = _embeddings_writer(destination, options, analyzer)
    if embeddings is not None:
        extras.append(embeddings.destination)
    for stale in remove_stale_temporaries([destination, *extras, ass_path, mp4_path, report_path]):
        log.warning("removed %s, left by an interrupted run", stale)
    analysis = _video_engine(options)(source, options, analyzer)
    bar = tqdm(
        total=analysis.expected_frames,
        desc=label or output_stem(source),
        unit="frame",
        disable=not progress,
        leave=False,
    )
    analysed: list[float] = []
    with OutputSet() as outputs:
        with bar, open_table_writer(destination, analysis.columns) as writer, embeddings or nullcontext():
            for result in analysis:
                writer.write_rows(result_rows(result, options.engine))
                if embeddings is not None:
                    embeddings.write(result.faces)
                analysed.append(float(result.time_s or 0.0))
                bar.update(1)
        if gaps is not None:
            gaps.extend(analysis.gaps)
        analysis.write_extras(destination)
        if stats_path is not None:
            from ..stats.files import write_video_statistics

            run = write_video_statistics(output_stem(source), destination, analysed, analysis.info.duration,
                                         stats_path, classifier=options.classifier)
        if ass_path is not None or mp4_path is not None or report_path is not None:
            _write_exports(source, destination, outputs, analysed, ass_path, mp4_path, report_path, progress)
    if written is not None:
        written.extend(outputs.committed)
    if stats_path is not None and stats_runs is not None:
        stats_runs.append(run)  # once every output of the video is written
    return writer.rows_written


def _embeddings_writer(destination: Path, options: AnalysisOptions, analyzer: FaceAnalyzer):
    """The writer of ``<name>.embeddings.npy`` when ``options.embeddings`` asks for the rows' embeddings."""
    if not options.embeddings or options.engine == "videotracking":  # videotracking: one per track, its own file
        return None
    from ..export.embeddings import EmbeddingsWriter, face_embeddings_path

    return EmbeddingsWriter(face_embeddings_path(destination), analyzer.classifier.embedding_dim)


def _write_exports(
    source: str,
    table: Path,
    outputs: OutputSet,
    analysed: list[float],
    ass_path: Path | None,
    mp4_path: Path | None,
    report_path: Path | None,
    progress: bool,
) -> None:
    """The subtitles, annotated video and report of an analysed video, from its table (not committed yet)."""
    from ..export.render import export_annotations
    from ..export.table import read_table

    results = read_table(outputs.pending(table), name=table)
    rendered = export_annotations(
        source, results, ass_path=ass_path, mp4_path=mp4_path, analysed=analysed, progress=progress
    )
    if report_path is not None:
        from ..report import load_video_data, write_video_report

        tracks_file = _tracks_path(table)
        tracks = read_table(outputs.pending(tracks_file), name=tracks_file) if tracks_file in outputs else None
        data = load_video_data(results, name=output_stem(source), source=source, analysed=rendered.analysed,
                               timing=rendered.timing, tracks=tracks)
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
    paths = video_output_paths(inputs, directory, exports.table_suffix)
    if exports.html_report and any(output_stem(source) + ".html" == BATCH_REPORT_NAME for source in inputs):
        raise OptionsError(f"an input's report would be {BATCH_REPORT_NAME}, the batch report: rename the input")
    if exports.stats and any(output_stem(source) == BATCH_STATS_STEM for source in inputs):
        raise OptionsError(f"an input's statistics would be {BATCH_STATS_STEM}, the batch's: rename the input")
    summaries, stats_runs = [], []
    for number, source in enumerate(inputs, start=1):
        destination = paths[source]
        outputs = exports.video_outputs(directory, output_stem(source))
        log.info("analysing video %d/%d: %s -> %s", number, len(inputs), source, destination)
        report.in_progress = source
        gaps: list[DecodingGap] = []
        try:
            rows = analyze_video_to_files(
                source, destination, options, analyzer, progress, label=f"[{number}/{len(inputs)}] {output_stem(source)}",
                ass_path=outputs.ass, mp4_path=outputs.mp4, report_path=outputs.report, written=report.written,
                stats_path=outputs.stats, stats_runs=stats_runs, gaps=gaps,
            )
        except MediaError as error:
            report.fail(source, error.reason)
            continue
        except (OptionsError, OutputError) as error:
            report.fail(source, str(error))
            continue
        except OSError as error:
            report.fail(source, f"cannot write {error.filename or destination}: {error.strerror or error}")
            continue
        except Exception as error:  # a bug or an input no check foresaw: this input fails, the batch goes on
            log.debug("%s: unexpected failure", source, exc_info=True)
            report.fail(source, f"{type(error).__name__}: {error}")
            continue
        report.faces += rows
        report.outputs.append(destination)
        report.warnings.extend(InputWarning(source, gap.describe()) for gap in gaps)
        if exports.html_report:
            try:
                summaries.append(_summary(source, destination, options, outputs.report))
            except (MediaError, OSError, ValueError) as error:
                log.warning("%s: left out of the batch report: %s", source, error)
    report.in_progress = None  # left set when an interrupt ends the loop: that input left nothing
    if stats_runs:
        from ..stats.files import write_batch_statistics

        target = directory / f"{BATCH_STATS_STEM}{exports.table_suffix}"
        try:
            write_batch_statistics(stats_runs, target, options.classifier)
        except (OSError, ValueError) as error:
            report.fail(str(target), f"cannot write: {getattr(error, 'strerror', None) or error}")
    if exports.html_report and len(inputs) > 1 and summaries:
        from ..report import write_batch_report

        batch_report = directory / BATCH_REPORT_NAME
        remove_stale_temporaries([batch_report])
        try:
            write_batch_report(batch_report, summaries, title=f"{len(summaries)} videos")
        except OutputError as error:
            report.fail(str(batch_report), str(error))
            return
        report.written.append(batch_report)
        log.info("wrote %s", batch_report)


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
    embeddings = _embeddings_writer(destination, options, analyzer)
    extras = [embeddings.destination] if embeddings is not None else []
    for stale in remove_stale_temporaries([destination, *extras]):
        log.warning("removed %s, left by an interrupted run", stale)
    report.in_progress = str(destination)
    try:
        with (
            OutputSet() as outputs,
            tqdm(total=len(inputs), desc="images", unit="image", disable=not progress) as bar,
            open_table_writer(destination, COLUMNS[options.engine]) as writer,
            embeddings or nullcontext(),
        ):
            result: FrameResult
            for result in iter_images(inputs, analyzer, on_error, preprocessed=preprocessed):
                writer.write_rows(result_rows(result, options.engine))
                if embeddings is not None:
                    embeddings.write(result.faces)
                bar.update(1)
    except OutputError as error:
        report.in_progress = None
        report.fail(str(destination), str(error))
        return
    except OSError as error:
        report.in_progress = None
        report.fail(str(destination), f"cannot write: {error.strerror or error}")
        return
    except Exception as error:  # a bug no check foresaw: the table is not written, the error is named
        report.in_progress = None
        log.debug("%s: unexpected failure", destination, exc_info=True)
        report.fail(str(destination), f"{type(error).__name__}: {error}")
        return
    report.in_progress = None
    report.faces += writer.rows_written
    report.outputs.append(destination)
    report.written.extend(outputs.committed)

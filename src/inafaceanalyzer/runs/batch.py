"""A batch run that behaves: every input is tried, failures are named, outputs are whole.

Video engines write one table per input into an output directory, with its
sidecar and the exports asked for (:func:`~.unit.analyze_to_outputs`, the
unit of work a distributed job runs too); image engines write one table for
all inputs. Models load once for the batch. An input that cannot be read
(missing, empty, truncated, not media, dead URL) or whose output cannot be
written (full disk) is recorded with its reason in the :class:`BatchReport`
while the other inputs go on; its output is not left half-written. With
``skip_existing``, an input whose outputs are all there from the same
analysis (:func:`~.unit.is_finished`) is not analysed again.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from .. import interrupts
from ..errors import InaFaceAnalyzerError, MediaError, OptionsError, OutputError
from ..export.atomic import OutputSet, directory_error, remove_stale_temporaries
from ..export.options import BATCH_REPORT_NAME, BATCH_STATS_STEM, ExportOptions
from ..export.table import open_table_writer
from ..models.integrity import ModelIntegrityError
from ..options import AnalysisOptions
from ..pipeline.analyzer import FaceAnalyzer
from ..pipeline.engines import iter_images
from ..pipeline.results import FrameResult, result_rows, table_columns
from .names import as_sources, output_stem, video_output_paths
from .unit import InputOutcome, analyze_to_outputs, face_embeddings_writer, finished_outcome, is_finished

__all__ = ["BatchReport", "Failure", "InputWarning", "run_batch"]

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
        skipped: inputs found finished (``skip_existing``), not analysed again.
    """

    outputs: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    faces: int = 0
    seconds: float = 0.0
    written: list[Path] = field(default_factory=list)
    in_progress: str | None = None
    warnings: list[InputWarning] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every input was analysed."""
        return not self.failures

    def fail(self, source: str, reason: str) -> None:
        """Record a failure and log it at once."""
        log.error("%s: %s", source, reason)
        self.failures.append(Failure(str(source), reason))



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
        exports: the table format, the subtitles, annotated videos, HTML
            reports and statistics to write beside the tables (video
            engines), and whether finished inputs are skipped.
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
            _run_videos(inputs, directory, options, report, progress, exports)
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


def _make_directory(directory: Path) -> None:
    """Create the output directory of a video batch, or say why it cannot be."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(directory, f"cannot create this directory: {directory_error(directory, error)}",
                          error.errno) from error


class _Models:
    """The batch's models, loaded at the first input that needs them (none when every input is skipped)."""

    def __init__(self, options: AnalysisOptions) -> None:
        self.options = options
        self._analyzer: FaceAnalyzer | None = None

    def get(self) -> FaceAnalyzer:
        if self._analyzer is None:
            self._analyzer = FaceAnalyzer(self.options)
        return self._analyzer


def _run_videos(
    inputs: Sequence[str],
    directory: Path,
    options: AnalysisOptions,
    report: BatchReport,
    progress: bool,
    exports: ExportOptions,
) -> None:
    video_output_paths(inputs, directory, exports.table_suffix)  # refuses two inputs that would share a table
    if exports.html_report and any(output_stem(source) + ".html" == BATCH_REPORT_NAME for source in inputs):
        raise OptionsError(f"an input's report would be {BATCH_REPORT_NAME}, the batch report: rename the input")
    if exports.stats and any(output_stem(source) == BATCH_STATS_STEM for source in inputs):
        raise OptionsError(f"an input's statistics would be {BATCH_STATS_STEM}, the batch's: rename the input")
    models = _Models(options)
    if not exports.skip_existing:
        models.get()  # the models' own errors come before any input's
    outcomes: list[InputOutcome] = []
    for number, source in enumerate(inputs, start=1):
        interrupts.check()
        outputs = exports.video_outputs(directory, output_stem(source))
        report.in_progress = source
        try:
            if exports.skip_existing and is_finished(outputs, options):
                log.info("video %d/%d: %s finished already (%s): skipped", number, len(inputs), source, outputs.table)
                outcome = finished_outcome(source, outputs)
            else:
                analyzer = models.get()  # outside the analysis: a model that fails stops the batch
                log.info("analysing video %d/%d: %s -> %s", number, len(inputs), source, outputs.table)
                outcome = analyze_to_outputs(source, outputs, options, analyzer=analyzer, progress=progress,
                                             label=f"[{number}/{len(inputs)}] {output_stem(source)}")
        except InaFaceAnalyzerError as error:
            if isinstance(error, ModelIntegrityError):
                raise
            report.fail(source, error.reason if isinstance(error, MediaError) else str(error))
            continue
        except OSError as error:
            report.fail(source, f"cannot write {error.filename or outputs.table}: {error.strerror or error}")
            continue
        except Exception as error:  # a bug or an input no check foresaw: this input fails, the batch goes on
            log.debug("%s: unexpected failure", source, exc_info=True)
            report.fail(source, f"{type(error).__name__}: {error}")
            continue
        outcomes.append(outcome)
        report.written.extend(outcome.written)
        report.faces += outcome.rows
        report.outputs.append(outputs.table)
        if outcome.skipped:
            report.skipped.append(source)
        report.warnings.extend(InputWarning(source, gap.describe()) for gap in outcome.gaps)
    report.in_progress = None  # left set when an interrupt ends the loop: that input left nothing
    _write_batch_files(outcomes, directory, options, report, exports, len(inputs))


def _write_batch_files(outcomes: Sequence[InputOutcome], directory: Path, options: AnalysisOptions,
                       report: BatchReport, exports: ExportOptions, count: int) -> None:
    """The batch's statistics table and report, from the finished inputs (analysed now or before)."""
    stats_runs = [outcome.stats for outcome in outcomes if outcome.stats is not None]
    if stats_runs:
        from ..stats.files import write_batch_statistics

        target = directory / f"{BATCH_STATS_STEM}{exports.table_suffix}"
        remove_stale_temporaries([target])
        try:
            write_batch_statistics(stats_runs, target, options.classifier)
        except (OSError, ValueError) as error:
            report.fail(str(target), f"cannot write: {getattr(error, 'strerror', None) or error}")
    summaries = [outcome.summary for outcome in outcomes if outcome.summary is not None]
    if exports.html_report and count > 1 and summaries:
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


def _run_images(
    inputs: Sequence[str],
    destination: Path,
    options: AnalysisOptions,
    analyzer: FaceAnalyzer,
    report: BatchReport,
    progress: bool,
) -> None:
    preprocessed = not options.engine_spec.detects
    on_error = lambda error: report.fail(error.source, error.reason)  # noqa: E731
    embeddings = face_embeddings_writer(destination, options)
    extras = [embeddings.destination] if embeddings is not None else []
    for stale in remove_stale_temporaries([destination, *extras]):
        log.warning("removed %s, left by an interrupted run", stale)
    report.in_progress = str(destination)
    try:
        with (
            OutputSet() as outputs,
            tqdm(total=len(inputs), desc="images", unit="image", disable=not progress) as bar,
            open_table_writer(destination, table_columns(options.engine, options.classifier)) as writer,
            embeddings or nullcontext(),
        ):
            result: FrameResult
            for result in iter_images(inputs, analyzer, on_error, preprocessed=preprocessed):
                writer.write_rows(result_rows(result, options.engine, options.classifier))
                if embeddings is not None:
                    embeddings.write(result.faces)
                bar.update(1)
                interrupts.check()
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

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
from ..export.table import CsvTableWriter
from ..io import is_url
from ..options import AnalysisOptions
from .analyzer import FaceAnalyzer
from .engines import VideoAnalysis, iter_images
from .results import COLUMNS, FrameResult, result_rows

__all__ = [
    "BatchReport",
    "Failure",
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


@dataclass
class BatchReport:
    """What a batch run did.

    Attributes:
        outputs: tables written, in input order.
        failures: inputs that failed, with their reasons.
        faces: number of face rows written.
        seconds: wall time of the run.
    """

    outputs: list[Path] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    faces: int = 0
    seconds: float = 0.0

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
) -> BatchReport:
    """Analyse ``inputs`` and write the tables; never raises for a bad input.

    Args:
        inputs: paths or URLs.
        output: the output directory (video engines, created if missing) or
            the CSV file (image engines).
        options: analysis settings.
        progress: show progress bars on stderr.
    """
    started = time.perf_counter()
    report = BatchReport()
    analyzer = FaceAnalyzer(options)
    if options.is_video:
        _run_videos(inputs, Path(output), options, analyzer, report, progress)
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
) -> int:
    """Analyse one video and write its table at ``destination`` (and the files beside it).

    This is the unit of work of a batch run and of a distributed job. The
    table is written under a temporary name and renamed once complete.

    Returns:
        the number of face rows written.

    Raises:
        MediaError: the video cannot be read.
        OSError: an output cannot be written.
    """
    analysis = _video_engine(options)(source, options, analyzer)
    bar = tqdm(
        total=analysis.expected_frames,
        desc=label or output_stem(source),
        unit="frame",
        disable=not progress,
        leave=False,
    )
    with bar, CsvTableWriter(destination, analysis.columns) as writer:
        for result in analysis:
            writer.write_rows(result_rows(result, options.engine))
            bar.update(1)
    analysis.write_extras(destination)
    return writer.rows_written


def _run_videos(
    inputs: Sequence[str],
    directory: Path,
    options: AnalysisOptions,
    analyzer: FaceAnalyzer,
    report: BatchReport,
    progress: bool,
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    paths = video_output_paths(inputs, directory)
    for number, source in enumerate(inputs, start=1):
        destination = paths[source]
        log.info("analysing video %d/%d: %s -> %s", number, len(inputs), source, destination)
        try:
            rows = analyze_video_to_files(
                source, destination, options, analyzer, progress, label=f"[{number}/{len(inputs)}] {output_stem(source)}"
            )
        except MediaError as error:
            report.fail(source, error.reason)
            continue
        except OSError as error:
            report.fail(source, f"cannot write {destination}: {error.strerror or error}")
            continue
        report.faces += rows
        report.outputs.append(destination)


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
            CsvTableWriter(destination, COLUMNS[options.engine]) as writer,
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

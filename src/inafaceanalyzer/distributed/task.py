"""The task a worker runs for one job; models are loaded once per worker thread.

Failure policy (one job's trouble never stops the others):

* the job contradicts itself (:class:`~inafaceanalyzer.errors.OptionsError`,
  e.g. ``dest_mp4`` is the source): a ``failed`` record at once;
* the input cannot be read (:class:`~inafaceanalyzer.errors.MediaError`:
  missing, empty, not media, truncated, dead URL): tried again on the same
  worker ``retries`` more times, after ``retry_delay``, then twice that, ...
  seconds (a dead URL may come back); then the task *returns* a ``failed``
  record with the reason and the traceback, so Dask does not retry it again;
* anything else (an output that cannot be written, a bug, a worker out of
  memory): the task raises :class:`JobError`, which carries the reason,
  the traceback and the worker's name; the caller submits the task with
  Dask ``retries``, so it runs again, possibly on another worker;
* the worker process dies mid-job: Dask runs the job again on another
  worker (up to ``distributed.scheduler.allowed-failures`` deaths); the
  rerun first removes the dead attempt's temporary files.

The job's outputs are written by the same unit of work as a local batch's
(:func:`inafaceanalyzer.runs.analyze_to_outputs`): all together, with the
table's sidecar, the report and statistics when the job asks for them, and
the stretches that could not be decoded in the record's ``warnings``.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import dask.config

from .._version import __version__
from ..errors import MediaError, OptionsError
from ..export.atomic import remove_stale_temporaries
from ..options import AnalysisOptions
from ..pipeline.analyzer import FaceAnalyzer
from ..runs import analyze_to_outputs, is_finished, planned_files
from .jobs import Job, JobListError
from .record import JobRecord

__all__ = [
    "THREADS_CONFIG",
    "JobError",
    "model_cache",
    "remove_partials",
    "run_job",
]

log = logging.getLogger(__name__)

#: Dask configuration key a worker command sets with ``--threads``; it
#: overrides the campaign's ``threads`` option on that worker.
THREADS_CONFIG = "inafaceanalyzer.worker-threads"


class JobError(Exception):
    """A job failed on a worker for a reason other than its input; Dask may retry it.

    Attributes:
        source: the job's source path or URL.
        reason: what went wrong, in words.
        worker: the worker's name.
        duration_s: how long the attempt ran.
        traceback: the worker's formatted traceback.
    """

    def __init__(self, source: str, reason: str, worker: str = "", duration_s: float | None = None,
                 traceback: str = "") -> None:
        super().__init__(source, reason, worker, duration_s, traceback)
        self.source = source
        self.reason = reason
        self.worker = worker
        self.duration_s = duration_s
        self.traceback = traceback

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


class _ModelCache(threading.local):
    """One :class:`FaceAnalyzer` per thread and per set of options (the last one used)."""

    def __init__(self) -> None:
        self.options: AnalysisOptions | None = None
        self.analyzer: FaceAnalyzer | None = None
        self.loads = 0

    def get(self, options: AnalysisOptions) -> FaceAnalyzer:
        if self.analyzer is None or self.options != options:
            log.info("loading the models (%s, %s)", options.face_detector, options.classifier)
            self.analyzer = FaceAnalyzer(options)
            self.options = options
            self.loads += 1
        return self.analyzer


#: The models of this process's worker threads (a worker runs one thread).
model_cache = _ModelCache()


def remove_partials(job: Job, options: AnalysisOptions | None = None) -> list[Path]:
    """Delete the temporary files an interrupted attempt left beside the job's outputs.

    Only files named as temporaries of the job's outputs, its sidecar and
    the tables beside its table
    (:func:`~inafaceanalyzer.export.atomic.remove_stale_temporaries`).
    """
    return remove_stale_temporaries([*job.outputs, *planned_files(job.video_outputs(), options or AnalysisOptions())])


def _worker_name() -> str:
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return ""
    return str(worker.name)


def _options_here(options: dict[str, Any]) -> AnalysisOptions:
    values = AnalysisOptions.from_dict(options)
    threads = dask.config.get(THREADS_CONFIG, None)
    return values.replace(threads=int(threads)) if threads else values


def run_job(
    job: Job,
    options: dict[str, Any],
    retries: int = 2,
    retry_delay: float = 1.0,
    version: str = __version__,
) -> JobRecord:
    """Analyse one job's video and write its outputs; the task of a distributed run.

    Args:
        job: what to analyse and where to write.
        options: :meth:`AnalysisOptions.to_dict` of the campaign.
        retries: further tries on this worker when the input cannot be read.
        retry_delay: seconds before the first retry (doubled each time).
        version: the caller's inafaceanalyzer version; a worker of another
            version refuses the job (its results could differ).

    Returns:
        a ``done``, ``skipped`` or ``failed`` (unreadable input) record.

    Raises:
        JobError: any other failure, for Dask to retry.
    """
    started = time.perf_counter()
    worker = _worker_name()
    if version != __version__:
        raise JobError(job.source_path, f"worker {worker} runs inafaceanalyzer {__version__}, the server "
                       f"{version}: install the same version everywhere", worker, 0.0)
    try:
        job.check_outputs()  # on this worker's file system, where links and mounts may differ
    except JobListError as error:
        log.error("%s", error)
        return JobRecord(job, "failed", worker, time.perf_counter() - started, error=str(error))
    try:
        settings = _options_here(options)
        outputs = job.video_outputs()
        if is_finished(outputs, settings):
            return JobRecord(job, "skipped", worker, time.perf_counter() - started)
        for removed in remove_partials(job, settings):
            log.warning("removed %s, left by an interrupted attempt", removed)
        analyzer = model_cache.get(settings)
        for attempt in range(retries + 1):
            log.info("analysing %s -> %s", job.source_path, job.dest_csv)
            try:
                outcome = analyze_to_outputs(job.source_path, outputs, settings, analyzer=analyzer)
            except OptionsError as error:  # e.g. dest_mp4 is the source: no retry can help
                log.error("%s: %s", job.source_path, error)
                return JobRecord(job, "failed", worker, time.perf_counter() - started,
                                 error=str(error), traceback=traceback.format_exc())
            except MediaError as error:
                if attempt < retries:
                    delay = retry_delay * 2**attempt
                    log.warning("%s (try %d of %d, again in %.3g s)", error, attempt + 1, retries + 1, delay)
                    time.sleep(delay)
                    continue
                log.error("%s", error)
                return JobRecord(job, "failed", worker, time.perf_counter() - started,
                                 error=error.reason, traceback=traceback.format_exc())
            log.info("wrote %s (%d face rows)", job.dest_csv, outcome.rows)
            warnings = tuple(gap.describe() for gap in outcome.gaps)
            for warning in warnings:
                log.warning("%s: %s", job.source_path, warning)
            return JobRecord(job, "done", worker, time.perf_counter() - started, faces=outcome.rows,
                             warnings=warnings)
    except Exception as error:
        reason = f"{type(error).__name__}: {error}"
        log.error("%s: %s", job.source_path, reason)
        raise JobError(job.source_path, reason, worker, time.perf_counter() - started,
                       traceback.format_exc()) from None
    raise AssertionError("unreachable")  # pragma: no cover

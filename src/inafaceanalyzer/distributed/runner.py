"""Run a list of jobs on a Dask cluster: the engine of the server command and of notebooks.

>>> from distributed import Client, LocalCluster
>>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
>>> report = analyze_many([("a.mp4", "out/a.csv")], AnalysisOptions(fps=1), client)
"""

from __future__ import annotations

import logging
import os
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ..errors import OptionsError
from ..options import AnalysisOptions
from .jobs import Job, as_job, check_destinations
from .record import JobRecord, RecordWriter
from .task import JobError, run_job

__all__ = ["RunReport", "analyze_many", "check_jobs"]

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    """What a distributed run did.

    Attributes:
        records: one per job, in the order of the job list.
        seconds: wall time of the run.
        record_path: the CSV record written, if any.
    """

    records: list[JobRecord] = field(default_factory=list)
    seconds: float = 0.0
    record_path: Path | None = None

    def _with(self, status: str) -> list[JobRecord]:
        return [r for r in self.records if r.status == status]

    @property
    def done(self) -> list[JobRecord]:
        """Jobs analysed in this run."""
        return self._with("done")

    @property
    def skipped(self) -> list[JobRecord]:
        """Jobs whose outputs all existed already."""
        return self._with("skipped")

    @property
    def failed(self) -> list[JobRecord]:
        """Jobs that failed, with their reasons."""
        return self._with("failed")

    @property
    def ok(self) -> bool:
        """Whether no job failed."""
        return not self.failed

    def summary(self) -> str:
        """One line: how many jobs were done, skipped and failed, and how long it took."""
        return (f"{len(self.records)} job(s): {len(self.done)} done, {len(self.skipped)} skipped, "
                f"{len(self.failed)} failed, {self.seconds:.1f} s")


def check_jobs(jobs: Iterable[Job], options: AnalysisOptions) -> None:
    """Raise when the jobs cannot run with ``options`` (before anything is submitted)."""
    if not options.is_video:
        raise OptionsError(f"distributed jobs analyse videos: the {options.engine} engine cannot run them")
    jobs = list(jobs)
    extra = None
    if options.engine_spec.tracks:  # the table of tracks goes beside each table
        from ..tracking.engine import tracks_path

        def extra(job: Job) -> list[tuple[str, str]]:
            return [("tracks table of dest_csv", str(tracks_path(job.dest_csv)))]
    check_destinations(jobs, extra)


def analyze_many(
    jobs: Iterable[Job | Mapping[str, str | None] | tuple[str, ...]],
    options: AnalysisOptions | None = None,
    client: object | None = None,
    *,
    retries: int = 2,
    retry_delay: float = 1.0,
    record: str | os.PathLike[str] | None = None,
    progress: bool = False,
    shuffle: bool = True,
    skip_existing: bool = True,
    max_in_flight: int = 1000,
) -> RunReport:
    """Analyse many videos on a Dask cluster; never raises for a job that fails.

    Each job is one task (see :mod:`.task` for the failure policy). Jobs
    whose outputs all exist are skipped without a task, so that a stopped
    campaign restarts where it was. Tasks are submitted in random order
    (long and short videos, local files and URLs are mixed over the run) and
    at most ``max_in_flight`` at a time (the scheduler stays light with
    hundreds of thousands of jobs).

    Args:
        jobs: :class:`Job` objects, dicts with the job-list columns, or
            ``(source_path, dest_csv[, dest_ass, dest_mp4])`` tuples. Paths
            must be valid on the workers.
        options: the analysis settings (a video engine); default options if
            ``None``.
        client: a ``distributed.Client``; the default client if ``None``
            (none is needed when every job is skipped).
        retries: how many more times a failed job is tried: on the same
            worker when its input cannot be read, as a Dask retry otherwise.
        retry_delay: seconds before the first retry of an unreadable input,
            doubled at each retry.
        record: path of a CSV record of the run (status, worker, duration,
            error, traceback of each job); ``None`` writes none.
        progress: show a progress bar on stderr.
        shuffle: submit the jobs in random order.
        skip_existing: skip finished jobs: outputs all there, with a sidecar
            of the same analysis (:func:`inafaceanalyzer.runs.is_finished`).
        max_in_flight: jobs submitted to the scheduler at once.

    Returns:
        a :class:`RunReport` with one record per job, in job-list order.
    """
    started = time.perf_counter()
    options = options or AnalysisOptions()
    job_list = [as_job(job) for job in jobs]
    check_jobs(job_list, options)
    if retries < 0:
        raise OptionsError(f"retries must be >= 0, not {retries}")

    records: dict[int, JobRecord] = {}
    writer = RecordWriter(record) if record is not None else None
    try:
        to_run = []
        for index, job in enumerate(job_list):
            if skip_existing and job.is_complete(options):
                records[index] = JobRecord(job, "skipped")
                if writer:
                    writer.add(records[index])
            else:
                to_run.append(index)
        log.info("%d job(s): %d to run, %d skipped (finished)", len(job_list), len(to_run), len(records))
        if shuffle:
            random.shuffle(to_run)
        if to_run and client is None:
            from distributed import default_client

            client = default_client()
        failures = 0
        with tqdm(total=len(job_list), initial=len(records), desc="jobs", unit="job", disable=not progress,
                  dynamic_ncols=True) as bar:
            for index, outcome in _run(client, job_list, to_run, options, retries, retry_delay, max_in_flight):
                records[index] = outcome
                if writer:
                    writer.add(outcome)
                if outcome.status == "failed":
                    failures += 1
                    log.error("%s: %s", outcome.job.source_path, outcome.error)
                    log.debug("%s failed on %s:\n%s", outcome.job.source_path, outcome.worker, outcome.traceback)
                else:
                    log.debug("%s: %s on %s in %.1f s", outcome.job.source_path, outcome.status, outcome.worker,
                              outcome.duration_s or 0.0)
                bar.update(1)
                bar.set_postfix(failed=failures, refresh=False)
        report = RunReport([records[i] for i in range(len(job_list))], time.perf_counter() - started)
    except BaseException:
        if writer:
            writer.close()
        raise
    if writer:
        writer.close(report.records)
        report.record_path = writer.path
    return report


def _run(client, jobs, order, options, retries, retry_delay, max_in_flight):  # type: ignore[no-untyped-def]
    """Yield ``(index, record)`` as the tasks of ``order`` end, keeping ``max_in_flight`` submitted."""
    if not order:
        return
    from distributed import as_completed

    run_id = uuid.uuid4().hex[:12]
    values = options.to_dict()
    waiting = iter(order)
    index_of: dict[str, int] = {}
    completed = as_completed()

    def submit_next() -> None:
        index = next(waiting, None)
        if index is None:
            return
        future = client.submit(
            run_job, jobs[index], values, retries, retry_delay,
            key=f"inafaceanalyzer-job-{run_id}-{index}", retries=retries, pure=False,
        )
        index_of[future.key] = index
        completed.add(future)

    for _ in range(max(1, max_in_flight)):
        submit_next()
    for future in completed:
        index = index_of.pop(future.key)
        outcome = _outcome(future, jobs[index])
        future.release()
        submit_next()
        yield index, outcome


def _outcome(future, job: Job) -> JobRecord:  # type: ignore[no-untyped-def]
    """The record of a finished task: its own, or one made from the error it ended with."""
    if future.status == "finished":
        return future.result()
    if future.status == "cancelled":
        return JobRecord(job, "failed", error="cancelled before it ran (the scheduler was lost?)")
    error = future.exception()
    if isinstance(error, JobError):
        return JobRecord(job, "failed", error.worker, error.duration_s, error=error.reason, traceback=error.traceback)
    from distributed import KilledWorker

    if isinstance(error, KilledWorker):
        last = getattr(error.last_worker, "address", error.last_worker)
        return JobRecord(
            job, "failed", str(last),
            error=f"its worker died {error.allowed_failures + 1} times while running it (it may crash workers: "
            "out of memory? a decoder crash?)",
        )
    import traceback

    text = "".join(traceback.format_exception(type(error), error, future.traceback()))
    return JobRecord(job, "failed", error=f"{type(error).__name__}: {error}", traceback=text)

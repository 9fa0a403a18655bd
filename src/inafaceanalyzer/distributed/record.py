"""What happened to each job of a run, and the CSV record written next to the job list."""

from __future__ import annotations

import csv
import datetime
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from ..export.atomic import atomic_path
from .jobs import JOB_COLUMNS, Job

__all__ = ["RECORD_COLUMNS", "JobRecord", "RecordWriter", "record_path_for"]

Status = Literal["done", "skipped", "failed"]

RECORD_COLUMNS: tuple[str, ...] = (
    *JOB_COLUMNS, "status", "worker", "duration_s", "faces", "warnings", "error", "traceback",
)


@dataclass(frozen=True, slots=True)
class JobRecord:
    """The outcome of one job.

    Attributes:
        job: the job.
        status: ``done`` (outputs written), ``skipped`` (they all existed
            already) or ``failed``.
        worker: name of the worker that ran it last (empty when skipped by
            the server).
        duration_s: wall time of the last attempt on the worker.
        faces: face rows written (``done`` only).
        warnings: stretches of the video that could not be decoded (the
            table holds every frame that did), in words; ``" | "``-joined in the record.
        error: why it failed, in words a user can act on.
        traceback: the worker's traceback of the failure.
    """

    job: Job
    status: Status
    worker: str = ""
    duration_s: float | None = None
    faces: int | None = None
    warnings: tuple[str, ...] = ()
    error: str = ""
    traceback: str = ""

    @property
    def ok(self) -> bool:
        """Whether the job's outputs exist (done or skipped)."""
        return self.status != "failed"

    def row(self) -> dict[str, object]:
        """The record as a row of the run's CSV record."""
        duration = "" if self.duration_s is None else f"{self.duration_s:.3f}"
        faces = "" if self.faces is None else self.faces
        return {
            **self.job.row(), "status": self.status, "worker": self.worker, "duration_s": duration,
            "faces": faces, "warnings": " | ".join(self.warnings), "error": self.error, "traceback": self.traceback,
        }


def record_path_for(job_list: str | os.PathLike[str], when: datetime.datetime | None = None) -> Path:
    """``jobs.csv`` -> ``jobs.run-20260131-235959.csv`` beside it (one record per run)."""
    job_list = Path(job_list)
    when = when or datetime.datetime.now()
    return job_list.with_name(f"{job_list.stem}.run-{when:%Y%m%d-%H%M%S}.csv")


class RecordWriter:
    """The run's CSV record: a row appended as each job ends, then the whole record, atomically.

    While the run goes on, the file at ``path`` grows by one flushed row per
    finished job, so an interrupted run still says what it did. :meth:`close`
    replaces it with the complete record in job-list order, written under a
    temporary name and renamed.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle: IO[str] | None = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._handle, RECORD_COLUMNS)
        self._writer.writeheader()
        self._handle.flush()

    def add(self, record: JobRecord) -> None:
        """Append one finished job."""
        if self._handle is None:
            raise ValueError("the record is closed")
        self._writer.writerow(record.row())
        self._handle.flush()

    def close(self, records: Iterable[JobRecord] | None = None) -> None:
        """Stop appending; with ``records``, write the complete record atomically."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        if records is None:
            return
        with atomic_path(self.path) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, RECORD_COLUMNS)
            writer.writeheader()
            writer.writerows(record.row() for record in records)

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

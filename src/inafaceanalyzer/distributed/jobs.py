"""Jobs of a distributed campaign: one video in, one table (and optional exports) out.

A job list is a CSV file with the seed's columns: ``source_path`` and
``dest_csv`` are required, ``dest_ass``, ``dest_mp4``, ``dest_html`` (the
video's report) and ``dest_stats`` (its statistics table) are optional (an
empty cell asks for no such export); any other column is an error, so that a
typo does not silently drop an output. Every job also writes its table's
sidecar, ``<name>.meta.json`` beside ``dest_csv``.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InaFaceAnalyzerError
from ..io import is_url

__all__ = ["JOB_COLUMNS", "Job", "JobListError", "as_job", "check_destinations", "read_jobs"]

log = logging.getLogger(__name__)

REQUIRED_COLUMNS: tuple[str, ...] = ("source_path", "dest_csv")
JOB_COLUMNS: tuple[str, ...] = (*REQUIRED_COLUMNS, "dest_ass", "dest_mp4", "dest_html", "dest_stats")
_DESTINATIONS: tuple[str, ...] = JOB_COLUMNS[1:]


class JobListError(InaFaceAnalyzerError, ValueError):
    """A job list that cannot be run: missing or unknown columns, empty cells, shared outputs."""


@dataclass(frozen=True, slots=True)
class Job:
    """One video to analyse and where its outputs go.

    Attributes:
        source_path: path or ``http(s)://`` URL of the video, as workers see it.
        dest_csv: the table to write.
        dest_ass: ASS subtitles to write, or ``None``.
        dest_mp4: MP4 video with the faces drawn, or ``None``.
        dest_html: the video's HTML report, or ``None``.
        dest_stats: the video's statistics table (``.csv`` or ``.parquet``), or ``None``.
        line: the job's line in its job list, when read from one (for messages).
    """

    source_path: str
    dest_csv: str
    dest_ass: str | None = None
    dest_mp4: str | None = None
    dest_html: str | None = None
    dest_stats: str | None = None
    line: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.source_path:
            raise JobListError("a job needs a source_path")
        if not self.dest_csv:
            raise JobListError(f"{self.source_path}: a job needs a dest_csv")

    @property
    def outputs(self) -> tuple[Path, ...]:
        """Every file the job asks for (the sidecar and the tables beside the table come with them)."""
        return tuple(Path(getattr(self, c)) for c in _DESTINATIONS if getattr(self, c))

    def video_outputs(self):  # noqa: ANN201 - export.options imported lazily
        """The job's outputs as the runs layer takes them (:class:`~inafaceanalyzer.export.options.VideoOutputs`)."""
        from ..export.options import VideoOutputs

        def path(value: str | None) -> Path | None:
            return Path(value) if value else None

        return VideoOutputs(table=Path(self.dest_csv), ass=path(self.dest_ass), mp4=path(self.dest_mp4),
                            report=path(self.dest_html), stats=path(self.dest_stats))

    @property
    def label(self) -> str:
        """How messages name the job: its line in the job list, or its source."""
        return f"line {self.line} ({self.source_path})" if self.line else self.source_path

    def destinations(self) -> tuple[tuple[str, str], ...]:
        """``(column, path)`` of every output the job asks for."""
        return tuple((c, getattr(self, c)) for c in _DESTINATIONS if getattr(self, c))

    def check_outputs(self) -> None:
        """Refuse the job, as this machine sees its files, when an output is its source or a directory.

        Raises:
            JobListError: naming the output.
        """
        source = None if is_url(self.source_path) else _file_keys(self.source_path)
        for column, path in self.destinations():
            if source and source & _file_keys(path):
                raise JobListError(f"{self.label}: {column} {path} is the job's source_path: it would be "
                                   "overwritten; write the outputs elsewhere")
            if os.path.isdir(path):
                raise JobListError(f"{self.label}: {column} {path} is a directory; give the file to write")

    def is_complete(self, options=None) -> bool:  # noqa: ANN001 - AnalysisOptions
        """Whether the job is finished (the skip rule of a restarted campaign).

        With ``options``, the rule of every run (:func:`inafaceanalyzer.runs.is_finished`):
        its outputs all exist with a sidecar of the same analysis; without,
        only that its outputs exist.
        """
        if options is None:
            return all(path.is_file() for path in self.outputs)
        from ..runs import is_finished

        return is_finished(self.video_outputs(), options)

    def row(self) -> dict[str, str]:
        """The job as a row of a job list (empty cells for absent exports)."""
        return {column: getattr(self, column) or "" for column in JOB_COLUMNS}


def as_job(value: Job | Mapping[str, str | None] | tuple[str, ...]) -> Job:
    """A :class:`Job` from a Job, a mapping with the job-list columns, or a tuple in column order."""
    if isinstance(value, Job):
        return value
    if isinstance(value, Mapping):
        unknown = set(value) - set(JOB_COLUMNS)
        if unknown:
            raise JobListError(f"unknown job field(s): {', '.join(sorted(unknown))}; known: {', '.join(JOB_COLUMNS)}")
        return Job(**{key: (str(v) if v else None) for key, v in value.items()})  # type: ignore[arg-type]
    if isinstance(value, tuple | list) and 2 <= len(value) <= len(JOB_COLUMNS):
        return Job(*(str(v) if v else None for v in value))  # type: ignore[arg-type]
    raise JobListError(f"not a job: {value!r} (give a Job, a dict or a (source_path, dest_csv, ...) tuple)")


def _resolve(value: str, base: Path) -> str:
    if is_url(value) or os.path.isabs(value):
        return value
    return str((base / value).resolve())


def read_jobs(path: str | os.PathLike[str]) -> list[Job]:
    """The jobs of a job-list CSV file.

    Cells are stripped; relative paths are taken from the job list's own
    directory (workers get absolute paths); rows repeated word for word are
    kept once.

    Raises:
        JobListError: a required column is missing, a column is unknown, a
            required cell is empty, or two jobs would write the same file.
        OSError: the file cannot be read.
    """
    path = Path(path)
    base = path.resolve().parent
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise JobListError(
                f"{path}: missing column(s) {', '.join(missing)}; a job list has the columns "
                f"{', '.join(JOB_COLUMNS)} (the last two optional), found: {', '.join(columns) or 'none'}"
            )
        unknown = [c for c in columns if c not in JOB_COLUMNS]
        if unknown:
            raise JobListError(
                f"{path}: unknown column(s) {', '.join(unknown)}; a job list has the columns "
                f"{', '.join(JOB_COLUMNS)} (the last two optional)"
            )
        reader.fieldnames = columns
        jobs: list[Job] = []
        seen: set[Job] = set()
        for line, row in enumerate(reader, start=2):
            if None in row:
                raise JobListError(f"{path}, line {line}: more cells than columns")
            cells = {key: (value or "").strip() for key, value in row.items()}
            if not any(cells.values()):
                continue
            for column in REQUIRED_COLUMNS:
                if not cells[column]:
                    raise JobListError(f"{path}, line {line}: empty {column}")
            job = Job(**{key: _resolve(value, base) if value else None for key, value in cells.items()}, line=line)
            if job in seen:
                log.info("%s, line %d: repeats an earlier job, kept once", path, line)
                continue
            seen.add(job)
            jobs.append(job)
    check_destinations(jobs)
    return jobs


def _file_keys(path: str | os.PathLike[str]) -> set[tuple]:
    """What identifies a file: its resolved path (links followed), and its device and inode when it exists
    (hard links, other spellings of one mount)."""
    real = os.path.realpath(path)
    keys: set[tuple] = {("path", os.path.normcase(real))}
    with contextlib.suppress(OSError, ValueError):
        status = os.stat(real)
        keys.add(("inode", status.st_dev, status.st_ino))
    return keys


def check_destinations(
    jobs: Iterable[Job], extra_outputs: Callable[[Job], Iterable[tuple[str, str]]] | None = None
) -> None:
    """Refuse a job list in which a job would write over an input or over another output.

    Every destination of every job (and ``extra_outputs``, e.g. the tracks
    table beside a table) must differ from every job's ``source_path`` and
    from every other destination, after resolving links (``realpath``) and,
    for files that exist, by device and inode (hard links). Nothing runs
    before this passes.

    Raises:
        JobListError: naming each offending row (up to 10) and the file.
    """
    jobs = list(jobs)
    owners: dict[tuple, tuple[int, str]] = {}  # file -> (index of its job, column)
    for index, job in enumerate(jobs):
        if not is_url(job.source_path):
            for key in _file_keys(job.source_path):
                owners.setdefault(key, (index, "source_path"))
    problems: list[str] = []
    for index, job in enumerate(jobs):
        outputs = [*job.destinations(), *(extra_outputs(job) if extra_outputs else ())]
        for column, output in outputs:
            keys = _file_keys(output)
            clash = next((owners[k] for k in keys if k in owners), None)
            if clash is None:
                owners.update(dict.fromkeys(keys, (index, column)))
                continue
            other, role = clash
            if role == "source_path":
                where = "its own source_path" if other == index else f"the source_path of {jobs[other].label}"
                problems.append(f"{job.label}: {column} {output} is {where}: it would be overwritten")
            else:
                where = f"its own {role}" if other == index else f"the {role} of {jobs[other].label}, an output of two jobs"
                problems.append(f"{job.label}: {column} {output} is also {where}")
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise JobListError(f"{len(problems)} output(s) of the job list would overwrite an input or another "
                           f"output (every output must be a file of its own, not a source): {shown}")

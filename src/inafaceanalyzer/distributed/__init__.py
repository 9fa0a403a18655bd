"""Distributed analysis on a Dask cluster: many videos, many machines, one job per video.

- :func:`analyze_many`: run jobs on a ``distributed.Client`` (a notebook's
  ``LocalCluster`` or a real cluster) and get a :class:`RunReport`.
- :class:`Job`, :func:`read_jobs`: what to analyse and where to write it;
  job lists are CSV files with the seed's columns.
- :class:`JobRecord`: the outcome of a job (done, skipped or failed, worker,
  duration, error and traceback).
- :func:`run_job`: the task a worker runs (models loaded once per worker).
- :func:`start_scheduler`, :func:`make_security`: what the server and worker
  commands are made of.
"""

from __future__ import annotations

from .cluster import DEFAULT_PORT, start_scheduler
from .jobs import JOB_COLUMNS, Job, JobListError, read_jobs
from .record import JobRecord, record_path_for
from .runner import RunReport, analyze_many
from .security import make_security
from .task import JobError, run_job

__all__ = [
    "DEFAULT_PORT",
    "JOB_COLUMNS",
    "Job",
    "JobError",
    "JobListError",
    "JobRecord",
    "RunReport",
    "analyze_many",
    "make_security",
    "read_jobs",
    "record_path_for",
    "run_job",
    "start_scheduler",
]

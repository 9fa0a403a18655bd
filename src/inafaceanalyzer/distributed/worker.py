"""Set-up of a worker process, run by Dask as a preload (``preload=["inafaceanalyzer.distributed.worker"]``).

A nanny starts its worker in a fresh process; this gives the toolbox's
messages (models loaded, job started, retries) a handler there, at the level
the worker command was given, and says what the worker will compute on.
"""

from __future__ import annotations

import logging
import os
import sys

import dask.config

__all__ = ["LOG_LEVEL_CONFIG", "dask_setup"]

#: Dask configuration key the worker command sets to its log level.
LOG_LEVEL_CONFIG = "inafaceanalyzer.log-level"

log = logging.getLogger("inafaceanalyzer")


def dask_setup(worker) -> None:  # type: ignore[no-untyped-def]
    """Called by Dask in the worker process before it joins the scheduler."""
    level = dask.config.get(LOG_LEVEL_CONFIG, None)
    if level and not log.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(level)
    from ..models import available_threads
    from .task import THREADS_CONFIG

    threads = dask.config.get(THREADS_CONFIG, None)
    log.info(
        "worker %s: one job at a time; CPU threads for the networks: %s; CUDA_VISIBLE_DEVICES=%s",
        worker.name, threads or f"the server's --threads, else {available_threads()}",
        os.environ.get("CUDA_VISIBLE_DEVICES", "(unset)"),
    )

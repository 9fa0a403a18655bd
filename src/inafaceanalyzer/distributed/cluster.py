"""The Dask scheduler a server command starts in its own process, bound to one host."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import dask.config

__all__ = ["DEFAULT_PORT", "SCHEDULER_CONFIG", "start_scheduler"]

log = logging.getLogger(__name__)

#: Dask's usual scheduler port.
DEFAULT_PORT = 8786

#: Settings of the scheduler a server starts. Each worker runs one job at a
#: time and is sent its next job only when it is free, so a worker that dies
#: holds one job and idle workers are never left waiting behind a busy one.
SCHEDULER_CONFIG = {"distributed.scheduler.worker-saturation": 1.0}


@contextlib.contextmanager
def start_scheduler(host: str, port: int = DEFAULT_PORT, security=None,  # type: ignore[no-untyped-def]
                    dashboard_port: int | None = None) -> Iterator[str]:
    """Run a Dask scheduler listening on ``host:port`` only; yields its address.

    Args:
        host: the name or address of the interface to listen on (the
            address workers will reach).
        port: its port; 0 takes a free one.
        security: a ``distributed.security.Security``; with
            ``require_encryption`` the scheduler speaks mutual TLS (``tls://``).
        dashboard_port: serve the scheduler's HTTP pages (``/info``,
            ``/metrics``; Dask's dashboard with bokeh installed) on
            ``host:dashboard_port`` (0: a free port), in HTTPS with client
            certificates under TLS; ``None`` (the default) serves none.

    Raises:
        OSError: the scheduler cannot start (address in use, unknown host).
    """
    from distributed import SpecCluster
    from distributed.comm.addressing import unparse_host_port
    from distributed.security import Security

    from .network import Scheduler

    security = security or Security()
    protocol = "tls://" if security.require_encryption else "tcp://"
    # the scheduler's HTTP server (health, metrics; the dashboard with bokeh), when asked for, on the host too
    dashboard = unparse_host_port(host, dashboard_port or 0)
    http = dashboard_port is not None
    options = {"host": host, "port": port, "protocol": protocol, "security": security, "http": http,
               "dashboard_address": dashboard if http else None, "dashboard": None if http else False}
    try:
        with dask.config.set(SCHEDULER_CONFIG):
            cluster = SpecCluster(workers={}, scheduler={"cls": Scheduler, "options": options}, security=security,
                                  name="inafaceanalyzer")
    except (RuntimeError, OSError) as error:
        cause: BaseException = error
        while cause.__cause__ is not None:
            cause = cause.__cause__
        raise OSError(f"cannot start a Dask scheduler on {host}:{port}: {cause}") from error
    try:
        log.info("Dask scheduler listening at %s", cluster.scheduler_address)
        yield cluster.scheduler_address
    finally:
        cluster.close()

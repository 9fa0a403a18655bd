"""``ina_face_analyzer_distributed_worker.py``: join a server's cluster and run its jobs.

One worker runs one job at a time and loads the models once; its networks
use the cores it is given (``taskset``, cgroups) or ``--threads``, and the
GPU that ``CUDA_VISIBLE_DEVICES`` names: start one worker per GPU. By
default a nanny process watches the worker and starts it again if it dies
(its job goes to another worker). The worker stops when the server ends.

Exit status: 0 when it stopped normally (server gone, SIGINT, SIGTERM), 1
when it could not join the scheduler, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from ..errors import InaFaceAnalyzerError
from .arguments import add_logging_arguments, new_parser, setup_logging

__all__ = ["build_parser", "main"]

log = logging.getLogger("inafaceanalyzer")

PROG = "ina_face_analyzer_distributed_worker.py"


def build_parser() -> argparse.ArgumentParser:
    """The parser of the worker command."""
    from ..distributed.security import add_tls_arguments

    parser = new_parser(
        "Join the cluster of ina_face_analyzer_distributed_server.py and analyse its jobs, one at a time. "
        "Start one per GPU (set CUDA_VISIBLE_DEVICES), or one per CPU machine.",
        prog=PROG,
    )
    parser.add_argument("scheduler", metavar="ADDRESS",
                        help="the address the server printed, e.g. tcp://myhost:8786 or tls://myhost:8786")
    group = parser.add_argument_group("worker")
    group.add_argument("--name", default=None, help="name in the run's record (default: the worker's address)")
    group.add_argument("--threads", type=int, default=None,
                       help="CPU threads for the networks, instead of the server's --threads "
                       "(default: the server's, else every core this process may use)")
    group.add_argument("--listen_address", "--host", dest="host", default=None, metavar="ADDRESS",
                       help="address the worker (and its nanny) listen on; default: the local address that reaches "
                       "the scheduler (127.0.0.1 for a scheduler on 127.0.0.1), never every interface")
    group.add_argument("--http_port", type=int, default=None,
                       help="serve the worker's HTTP pages (health, metrics; Dask's dashboard with bokeh) on its "
                       "listen address at this port (0: a free one); HTTPS with client certificates under TLS. "
                       "Default: no HTTP server")
    group.add_argument("--death_timeout", type=float, default=60.0,
                       help="seconds to try to reach the scheduler before giving up")
    group.add_argument("--memory_limit", default="0",
                       help="restart the worker above this memory (e.g. 8GB); 0: no limit")
    group.add_argument("--no_nanny", dest="nanny", action="store_false",
                       help="run the worker in this process, without a nanny process to restart it")
    add_tls_arguments(parser)
    add_logging_arguments(parser)
    return parser


async def _serve(args: argparse.Namespace, security, host: str) -> int:  # type: ignore[no-untyped-def]
    from distributed import Nanny
    from distributed.comm.addressing import unparse_host_port

    from ..distributed.network import Worker

    keywords = {"worker_class": Worker} if args.nanny else {}
    server = (Nanny if args.nanny else Worker)(
        args.scheduler, nthreads=1, name=args.name, host=host, security=security,
        death_timeout=args.death_timeout, memory_limit=args.memory_limit,
        preload=["inafaceanalyzer.distributed.worker"],
        dashboard_address=unparse_host_port(host, args.http_port or 0), **keywords,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async def run() -> None:
        await server
        log.info("worker %s joined %s", server.address, args.scheduler)
        await server.finished()

    running = asyncio.create_task(run())
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if stopping in done:
        log.info("stopping the worker")
        await server.close(timeout=10, reason="signal")
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        return 0
    stopping.cancel()
    running.result()  # raises when it could not start
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be >= 1, not {args.threads}")
    if args.http_port is not None and not 0 <= args.http_port <= 65535:
        parser.error(f"--http_port must be within [0, 65535], not {args.http_port}")

    import dask.config

    from ..distributed.network import WORKER_HTTP_CONFIG, local_address_towards
    from ..distributed.security import make_security
    from ..distributed.task import THREADS_CONFIG
    from ..distributed.worker import LOG_LEVEL_CONFIG

    try:
        security = make_security(args.tls_ca_file, args.tls_cert, args.tls_key, "worker")
    except InaFaceAnalyzerError as error:
        parser.error(str(error))
    try:
        host = args.host or local_address_towards(args.scheduler)
    except (OSError, ValueError) as error:
        log.error("cannot reach the scheduler at %s (%s); give --listen_address", args.scheduler, error)
        return 1
    level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
    settings = {THREADS_CONFIG: args.threads, LOG_LEVEL_CONFIG: level, WORKER_HTTP_CONFIG: args.http_port is not None}
    with dask.config.set(settings):  # a nanny passes its config on
        try:
            return asyncio.run(_serve(args, security, host))
        except (TimeoutError, OSError, RuntimeError) as error:
            cause = error.__cause__ or error
            log.error("could not join the scheduler at %s (%s): is the server running, is the address right, "
                      "does the worker have a TLS certificate signed by the server's CA?",
                      args.scheduler, str(cause) or type(cause).__name__)
            return 1


if __name__ == "__main__":
    sys.exit(main())

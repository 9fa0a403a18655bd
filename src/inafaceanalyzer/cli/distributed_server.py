"""``ina_face_analyzer_distributed_server.py``: run a job list on workers over the network.

Starts a Dask scheduler on the given host (or uses an existing cluster with
``--scheduler``), prints the address workers connect to, submits one task per
job, and exits when every job is done, skipped or failed.

Exit status: 0 when no job failed, 1 when any failed (each named on stderr
with its reason, all of them in the run's CSV record), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import InaFaceAnalyzerError
from .arguments import (
    add_analysis_arguments,
    add_logging_arguments,
    new_parser,
    options_from_args,
    print_failures,
    setup_logging,
)

__all__ = ["build_parser", "main"]

log = logging.getLogger("inafaceanalyzer")

PROG = "ina_face_analyzer_distributed_server.py"
USAGE = f"""{PROG} [options] HOST [PORT] JOBS_CSV
       {PROG} [options] --scheduler ADDRESS JOBS_CSV"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of the server command."""
    from ..distributed.cluster import DEFAULT_PORT
    from ..distributed.security import add_tls_arguments

    parser = new_parser(
        "Distribute the analysis of a list of videos to workers over the network (a Dask cluster). "
        "Workers need the same view of the inputs and outputs (shared storage, URLs). "
        "To be used with ina_face_analyzer_distributed_worker.py.",
        prog=PROG,
    )
    parser.usage = USAGE
    place = parser.add_argument_group("server")
    place.add_argument(
        "positionals", nargs="+", metavar="HOST [PORT] JOBS_CSV",
        help="HOST: name or address the scheduler listens on and workers reach (only this interface). "
        f"PORT: its port (default {DEFAULT_PORT}, 0 for any free one). JOBS_CSV: one line per video, columns "
        "source_path and dest_csv (required), dest_ass and dest_mp4 (optional); relative paths are taken "
        "from the CSV's directory. A job whose outputs all exist is skipped.",
    )
    place.add_argument("--scheduler", metavar="ADDRESS",
                       help="use the existing Dask scheduler at ADDRESS (e.g. one started by dask-jobqueue) "
                       "instead of starting one; then give JOBS_CSV only")
    place.add_argument("--retries", type=int, default=2,
                       help="further tries of a failed job before it is recorded as failed")
    place.add_argument("--retry_delay", type=float, default=1.0,
                       help="seconds before retrying an input that could not be read (doubled each time)")
    place.add_argument("--record", metavar="CSV",
                       help="the run's record (job, status, worker, duration, error) "
                       "(default: JOBS.run-DATE-TIME.csv beside JOBS_CSV)")
    place.add_argument("--dashboard_port", type=int, default=None,
                       help="serve the scheduler's HTTP pages (/info, /metrics; Dask's dashboard with the bokeh "
                       "package) on HOST at this port (0: a free one); HTTPS with client certificates under TLS. "
                       "Default: no HTTP server")
    add_tls_arguments(parser)
    add_analysis_arguments(parser)
    add_logging_arguments(parser)
    return parser


def _place(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str | None, int, Path]:
    """``(host, port, jobs_csv)`` from the positional arguments."""
    from ..distributed.cluster import DEFAULT_PORT

    values = list(args.positionals)
    if args.scheduler:
        if len(values) != 1:
            parser.error("with --scheduler, give JOBS_CSV only")
        return None, 0, Path(values[0])
    if len(values) == 2:
        return values[0], DEFAULT_PORT, Path(values[1])
    if len(values) == 3:
        try:
            port = int(values[1])
        except ValueError:
            port = -1
        if not 0 <= port <= 65535:
            parser.error(f"PORT must be a number within [0, 65535], not {values[1]!r}")
        return values[0], port, Path(values[2])
    parser.error("give HOST [PORT] JOBS_CSV, or --scheduler ADDRESS JOBS_CSV")
    raise AssertionError("unreachable")  # parser.error exits


async def _close_nanny(dask_worker) -> None:  # type: ignore[no-untyped-def]
    await dask_worker.close(reason="the campaign is over")


def _stop_workers(client) -> None:  # type: ignore[no-untyped-def]
    """Stop the campaign's workers: through their nanny when they have one (a clean stop), else directly."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    nannied = [address for address, info in workers.items() if info.get("nanny")]
    alone = [address for address in workers if address not in nannied]
    with contextlib.suppress(Exception):
        if nannied:
            client.run(_close_nanny, nanny=True, workers=nannied, wait=False)
        if alone:
            client.retire_workers(alone, close_workers=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args)
    if args.quiet:
        logging.getLogger("distributed").setLevel(logging.ERROR)
    options = options_from_args(parser, args)
    host, port, jobs_csv = _place(parser, args)
    if args.retries < 0:
        parser.error(f"--retries must be >= 0, not {args.retries}")

    from ..distributed import analyze_many, make_security, read_jobs, record_path_for, start_scheduler
    from ..distributed.runner import RunReport, check_jobs

    try:
        jobs = read_jobs(jobs_csv)
        check_jobs(jobs, options)
        security = make_security(args.tls_ca_file, args.tls_cert, args.tls_key, "scheduler")
    except OSError as error:
        parser.error(f"{jobs_csv}: {error.strerror or error}")
    except InaFaceAnalyzerError as error:
        parser.error(str(error))
    record = Path(args.record) if args.record else record_path_for(jobs_csv)
    log.info("%s: %d job(s)", jobs_csv, len(jobs))

    def run(address: str, own_scheduler: bool) -> RunReport:
        from distributed import Client

        print(address, flush=True)
        log.info("workers join with: ina_face_analyzer_distributed_worker.py %s", address)
        with Client(address, security=security) as client:
            report = analyze_many(
                jobs, options, client, retries=args.retries, retry_delay=args.retry_delay, record=record,
                progress=not (args.no_progress or args.quiet),
            )
            if own_scheduler:  # the campaign is over: its workers stop
                _stop_workers(client)
            return report

    try:
        if all(job.is_complete(options) for job in jobs):  # nothing for workers to do: no scheduler to start
            report = analyze_many(jobs, options, None, record=record)
        elif args.scheduler:
            report = run(args.scheduler, own_scheduler=False)
        else:
            with start_scheduler(host, port, security, args.dashboard_port) as address:
                report = run(address, own_scheduler=True)
    except KeyboardInterrupt:
        log.error("interrupted: the record so far is in %s; run again to go on", record)
        return 130
    except OSError as error:
        log.error("%s", error)
        return 1

    log.info("%s; record: %s", report.summary(), report.record_path)
    if report.failed:
        print_failures([(f.job.source_path, f.error) for f in report.failed], len(report.records), "job")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

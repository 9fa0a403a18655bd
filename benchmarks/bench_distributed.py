"""Benchmark: throughput of one distributed worker against two on the same machine.

Runs the real commands on 127.0.0.1: ``ina_face_analyzer_distributed_server.py``
with a job list of the shared clips (each listed ``--copies`` times, with
its own output), then 1 worker, then 2 workers
(``ina_face_analyzer_distributed_worker.py``), each worker given
``cores // workers`` threads for the networks. Each run starts from empty
outputs; its wall time goes from the server's start to its exit, so worker
start-up and model loading count. Printed: jobs, seconds of video, wall
time, jobs per minute and seconds of video analysed per second, and the
speed-up of two workers.

Usage::

    python benchmarks/bench_distributed.py                       # --fps 2, every clip twice
    python benchmarks/bench_distributed.py --fps 5 --copies 3 --workers 1 2 4

The clips come from ``../shared/media/videos`` (override with ``--clips``);
see their README.md for their provenance.
"""

from __future__ import annotations

import argparse
import csv
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import av

DEFAULT_CLIPS = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
SERVER = shutil.which("ina_face_analyzer_distributed_server.py") or "ina_face_analyzer_distributed_server.py"
WORKER = shutil.which("ina_face_analyzer_distributed_worker.py") or "ina_face_analyzer_distributed_worker.py"


def duration_s(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None:
            return float(stream.duration * stream.time_base)
        return container.duration / 1e6


def run(workers: int, clips: list[Path], copies: int, flags: list[str], workdir: Path) -> dict[str, float]:
    """One campaign with ``workers`` workers; returns its numbers."""
    run_dir = workdir / f"workers-{workers}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    jobs_csv = run_dir / "jobs.csv"
    with jobs_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["source_path", "dest_csv"])
        for copy in range(copies):
            for clip in clips:
                writer.writerow([clip, run_dir / "out" / f"{clip.stem}.{copy}.csv"])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = max(1, cores // workers)
    env = dict(os.environ, DASK_TEMPORARY_DIRECTORY=str(run_dir / "dask"))
    started = time.perf_counter()
    server = subprocess.Popen([SERVER, "--no_progress", "-q", "127.0.0.1", "0", str(jobs_csv), *flags],
                              stdout=subprocess.PIPE, text=True, env=env)
    procs = [server]
    try:
        ready, _, _ = select.select([server.stdout], [], [], 120)
        address = server.stdout.readline().strip() if ready else ""
        if not address:
            raise SystemExit("the server printed no address")
        for number in range(workers):
            log = (run_dir / f"worker-{number}.log").open("w")
            procs.append(subprocess.Popen([WORKER, address, "--name", f"w{number}", "--threads", str(threads)],
                                          stdout=log, stderr=subprocess.STDOUT, env=env))
        if server.wait(timeout=3600) != 0:
            raise SystemExit(f"the run with {workers} worker(s) failed")
        wall = time.perf_counter() - started
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=60)
    (record,) = run_dir.glob("jobs.run-*.csv")
    with record.open(newline="") as handle:
        busy = sum(float(row["duration_s"]) for row in csv.DictReader(handle))
    video = copies * sum(duration_s(clip) for clip in clips)
    jobs = copies * len(clips)
    return {"workers": workers, "threads": threads, "jobs": jobs, "video_s": video, "wall_s": wall,
            "busy_s": busy, "jobs_per_min": 60 * jobs / wall, "video_per_s": video / wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="directory of .mp4 clips")
    parser.add_argument("--copies", type=int, default=2, help="times each clip is listed")
    parser.add_argument("--fps", type=float, default=2.0, help="frames analysed per second of video")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to compare")
    parser.add_argument("--workdir", type=Path, default=None, help="where outputs go (default: a temporary one)")
    args = parser.parse_args()
    clips = sorted(args.clips.glob("*.mp4"))
    if not clips:
        raise SystemExit(f"no .mp4 clip in {args.clips}")
    flags = ["--engine", "video", "--fps", str(args.fps)]
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as temporary:
        workdir = args.workdir or Path(temporary)
        results = [run(n, clips, args.copies, flags, workdir) for n in args.workers]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{len(clips)} clips x {args.copies}, --fps {args.fps}, {cores} cores, wall time from server start to exit")
    print(f"{'workers':>7} {'threads':>7} {'jobs':>5} {'video s':>8} {'wall s':>7} {'busy s':>7} "
          f"{'jobs/min':>8} {'video s/s':>9}")
    for r in results:
        print(f"{r['workers']:>7} {r['threads']:>7} {r['jobs']:>5} {r['video_s']:>8.1f} {r['wall_s']:>7.1f} "
              f"{r['busy_s']:>7.1f} {r['jobs_per_min']:>8.1f} {r['video_per_s']:>9.2f}")
    base = results[0]
    for r in results[1:]:
        print(f"{r['workers']} workers / {base['workers']}: {r['video_per_s'] / base['video_per_s']:.2f}x throughput")


if __name__ == "__main__":
    main()

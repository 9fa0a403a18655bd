"""Benchmark: the ``videotracking`` engine against the ``video`` engine, and the trackers against each other.

Engines (default): for each clip and each sampling rate, runs, ``--repeat``
times in turn (the minimum is reported, as the machine may be shared):

- ``video``: detection and classification on every analysed frame;
- ``videotracking --detect_period N --tracker T`` (``--periods``, default 5;
  ``--trackers``, default ``mosse dlib``): detection on one analysed frame in
  N, faces followed in between by tracker T, shot cuts, smoothing.

Both engines share one set of models (loaded before timing) and read the
same file, decoding included. Printed per run: wall time, process CPU time,
analysed frames per second, face rows, and for tracking the number of tracks.

Trackers (``--accuracy``): for each clip, the detector runs on every analysed
frame once; then each tracker replays the clip with those detections given on
one frame in N only (cuts handled as the engine does). Printed per tracker:

- ``ms/face``: CPU time (this thread) of :meth:`FaceTracker.update` on the
  frames without detection, per face followed;
- ``stall ms``: the lower quartile over those frames of the longest pause
  of a second Python thread while the update runs, with a switch interval
  of 0.1 ms: how long the tracker holds the GIL at a stretch (dlib: one
  face's update; mosse: one NumPy or Pillow call), plus the system's own
  pauses on a busy machine (which the quartile leaves out more than a median);
- ``iou``, ``hit``, ``recall``, ``tracks``, ``ids``, ``frag``, ``switch``,
  ``merge``: :class:`inafaceanalyzer.tracking.metrics.TrackAgreement` (mean
  IoU of the tracked boxes with the detections, the fraction at IoU >= 0.5,
  the detections covered; tracks, reference identities, identities split,
  identity switches, tracks covering several identities).

Usage::

    python benchmarks/bench_tracking.py                                   # talking head and crowd, 5 fps and native
    python benchmarks/bench_tracking.py --clips face_recognition__short_hamilton_clip.mp4 --fps 5 --repeat 3
    python benchmarks/bench_tracking.py --threads 2 --periods 3 5 10 --trackers mosse
    python benchmarks/bench_tracking.py --accuracy --fps native --clips SadTalker__WDA_KatieHill_000.mp4 \\
        facenet-pytorch__video.mp4 face_recognition__short_hamilton_clip.mp4

The clips come from ``../shared/media/videos`` (see its README.md).
"""

from __future__ import annotations

import argparse
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from inafaceanalyzer import AnalysisOptions, Detections, FaceAnalyzer
from inafaceanalyzer.io import VideoSource
from inafaceanalyzer.options import TRACKERS
from inafaceanalyzer.pipeline.engines import VideoAnalysis
from inafaceanalyzer.tracking import ShotCutDetector, TrackingAnalysis
from inafaceanalyzer.tracking.metrics import replay

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
DEFAULT_CLIPS = ["SadTalker__WDA_KatieHill_000.mp4", "facenet-pytorch__video.mp4"]


def cpu_seconds() -> float:
    """CPU time of this process (user and system), all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_once(path: Path, options: AnalysisOptions, analyzer: FaceAnalyzer) -> tuple[float, float, int, int, int | None]:
    """Wall time, CPU time, analysed frames, face rows and tracks of one full analysis."""
    engine = TrackingAnalysis if options.engine == "videotracking" else VideoAnalysis
    started, cpu = time.perf_counter(), cpu_seconds()
    analysis = engine(str(path), options, analyzer)
    frames = rows = 0
    for result in analysis:
        frames += 1
        rows += len(result.faces)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    tracks = len(analysis.tracks) if isinstance(analysis, TrackingAnalysis) else None
    return seconds, cpu, frames, rows, tracks


def engines(args: argparse.Namespace) -> None:
    analyzer = FaceAnalyzer(AnalysisOptions(threads=args.threads))
    print(f"{'clip':38s} {'fps':>6s} {'engine':32s} {'wall s':>7s} {'cpu s':>7s} {'frames/s':>9s} {'frames':>6s} "
          f"{'rows':>5s} {'tracks':>6s} {'speed-up':>8s}")
    for clip in args.clips:
        path = Path(clip) if Path(clip).is_file() else args.videos / clip
        for fps_text in args.fps:
            fps = None if fps_text == "native" else float(fps_text)
            configurations = [] if args.no_video else [("video", AnalysisOptions(fps=fps, threads=args.threads))]
            configurations += [
                (f"videotracking/{tracker} period {period}",
                 AnalysisOptions(engine="videotracking", fps=fps, detect_period=period, threads=args.threads,
                                 tracker=tracker))
                for period in args.periods
                for tracker in args.trackers
            ]
            best: dict[str, tuple[float, float, int, int, int | None]] = {}
            run_once(path, configurations[0][1], analyzer)  # warm up caches and sessions
            for _ in range(args.repeat):  # interleaved, so that a busy moment hurts both alike
                for name, options in configurations:
                    result = run_once(path, options, analyzer)
                    if name not in best or result[0] < best[name][0]:
                        best[name] = result
            baseline = best[configurations[0][0]][0]  # speed-up against the first configuration
            for name, _ in configurations:
                seconds, cpu, frames, rows, tracks = best[name]
                print(f"{path.name[:38]:38s} {fps_text:>6s} {name:32s} {seconds:7.2f} {cpu:7.2f} "
                      f"{frames / seconds:9.1f} {frames:6d} {rows:5d} {'' if tracks is None else tracks:>6} "
                      f"{baseline / seconds:7.2f}x")


# -- the trackers compared ------------------------------------------------------------------


def longest_stall(action: Callable[[], object]) -> tuple[object, float, float]:
    """Run ``action`` in a thread while this one spins: its result, this thread's longest pause, its duration.

    Run with a short switch interval (``sys.setswitchinterval``), a thread
    waiting for the GIL gets it back within that interval at the next
    Python instruction; it pauses longer only while a C call that holds
    the GIL runs (or when the system lends the core elsewhere).
    """
    go, done = threading.Event(), threading.Event()
    out: dict[str, object] = {}

    def run() -> None:
        go.wait()  # the action starts once this thread spins
        started = time.perf_counter()
        out["result"] = action()
        out["duration"] = time.perf_counter() - started
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    last = time.perf_counter()
    longest = 0.0
    go.set()
    while not done.is_set():
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    longest = max(longest, time.perf_counter() - last)  # the pause the loop ended on
    thread.join()
    return out["result"], longest, float(out["duration"])  # type: ignore[arg-type]


def compare(frames, detections, cuts: set[int], period: int, follower: str) -> dict[str, float]:
    """One tracker over the clip, detections on one frame in ``period``: its metrics (see the module doc)."""
    cpu: list[float] = []
    stalls: list[float] = []

    def timed(step: Callable[[], Detections]) -> Detections:
        def measured() -> Detections:
            started = time.thread_time()
            faces = step()
            cpu.append(time.thread_time() - started)
            return faces

        faces, stall, _ = longest_stall(measured)
        stalls.append(stall)
        return faces  # type: ignore[return-value]

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    try:
        agreement = replay(frames, detections, period, follower, cuts, run=timed)
    finally:
        sys.setswitchinterval(interval)
    return {
        "ms/face": 1000 * sum(cpu) / max(agreement.followed, 1),
        "stall ms": 1000 * float(np.quantile(stalls, 0.25)) if stalls else float("nan"),
        "iou": agreement.mean_iou,
        "hit": agreement.hit_rate,
        "recall": agreement.recall,
        "tracks": agreement.tracks,
        "ids": agreement.identities,
        "frag": agreement.fragments,
        "switch": agreement.switches,
        "merge": agreement.merges,
        "followed": agreement.followed,
    }


def accuracy(args: argparse.Namespace) -> None:
    analyzer = FaceAnalyzer(AnalysisOptions(threads=args.threads))
    columns = ["ms/face", "stall ms", "iou", "hit", "recall", "tracks", "ids", "frag", "switch", "merge", "followed"]
    print(f"{'clip':38s} {'fps':>6s} {'period':>6s} {'tracker':8s} " + " ".join(f"{c:>9s}" for c in columns))
    for clip in args.clips:
        path = Path(clip) if Path(clip).is_file() else args.videos / clip
        for fps_text in args.fps:
            fps = None if fps_text == "native" else float(fps_text)
            frames = list(VideoSource(path, fps=fps))
            cutter = ShotCutDetector()
            cuts = {i for i, frame in enumerate(frames) if cutter.update(frame.image)}
            detections = [analyzer.detect(frame.image) for frame in frames]
            for period in args.periods:
                for name in args.trackers:
                    metrics = compare(frames, detections, cuts, period, name)
                    print(f"{path.name[:38]:38s} {fps_text:>6s} {period:6d} {name:8s} "
                          + " ".join(f"{metrics[c]:9.3f}" if isinstance(metrics[c], float) else f"{metrics[c]:9d}"
                                     for c in columns), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=DEFAULT_CLIPS, help="file names in --videos, or paths")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of the shared clips")
    parser.add_argument("--fps", nargs="+", default=["5", "native"], help="sampling rates ('native': every frame)")
    parser.add_argument("--periods", nargs="+", type=int, default=[5], help="detect periods of videotracking")
    parser.add_argument("--trackers", nargs="+", choices=TRACKERS, default=list(TRACKERS), help="trackers compared")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each configuration (the fastest counts)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: all cores)")
    parser.add_argument("--no_video", action="store_true", help="engines: skip the video engine's runs")
    parser.add_argument("--accuracy", action="store_true",
                        help="compare the trackers' boxes, identities and cost on replayed detections")
    args = parser.parse_args()
    (accuracy if args.accuracy else engines)(args)


if __name__ == "__main__":
    main()

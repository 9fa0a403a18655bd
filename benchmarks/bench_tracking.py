"""Benchmark: the ``videotracking`` engine against the ``video`` engine at the same ``--fps``.

For each clip and each sampling rate, runs, ``--repeat`` times in turn (the
minimum is reported, as the machine may be shared):

- ``video``: detection and classification on every analysed frame;
- ``videotracking --detect_period N`` (``--periods``, default 5): detection
  on one analysed frame in N, faces tracked in between, shot cuts, smoothing.

Both engines share one set of models (loaded before timing) and read the
same file, decoding included. Printed per run: wall time, analysed frames
per second, face rows, and for tracking the number of tracks.

Usage::

    python benchmarks/bench_tracking.py                                   # talking head and crowd, 5 fps and native
    python benchmarks/bench_tracking.py --clips face_recognition__short_hamilton_clip.mp4 --fps 5 --repeat 3
    python benchmarks/bench_tracking.py --threads 2 --periods 3 5 10

The clips come from ``../shared/media/videos`` (see its README.md).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from inafaceanalyzer import AnalysisOptions, FaceAnalyzer
from inafaceanalyzer.pipeline.engines import VideoAnalysis
from inafaceanalyzer.tracking import TrackingAnalysis

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
DEFAULT_CLIPS = ["SadTalker__WDA_KatieHill_000.mp4", "facenet-pytorch__video.mp4"]


def run_once(path: Path, options: AnalysisOptions, analyzer: FaceAnalyzer) -> tuple[float, int, int, int | None]:
    """Wall time, analysed frames, face rows and tracks of one full analysis."""
    engine = TrackingAnalysis if options.engine == "videotracking" else VideoAnalysis
    started = time.perf_counter()
    analysis = engine(str(path), options, analyzer)
    frames = rows = 0
    for result in analysis:
        frames += 1
        rows += len(result.faces)
    seconds = time.perf_counter() - started
    tracks = len(analysis.tracks) if isinstance(analysis, TrackingAnalysis) else None
    return seconds, frames, rows, tracks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=DEFAULT_CLIPS, help="file names in --videos, or paths")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of the shared clips")
    parser.add_argument("--fps", nargs="+", default=["5", "native"], help="sampling rates ('native': every frame)")
    parser.add_argument("--periods", nargs="+", type=int, default=[5], help="detect periods of videotracking")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each configuration (the fastest counts)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: all cores)")
    args = parser.parse_args()

    analyzer = FaceAnalyzer(AnalysisOptions(threads=args.threads))
    print(f"{'clip':38s} {'fps':>6s} {'engine':26s} {'wall s':>7s} {'frames/s':>9s} {'frames':>6s} "
          f"{'rows':>5s} {'tracks':>6s} {'speed-up':>8s}")
    for clip in args.clips:
        path = Path(clip) if Path(clip).is_file() else args.videos / clip
        for fps_text in args.fps:
            fps = None if fps_text == "native" else float(fps_text)
            configurations = [("video", AnalysisOptions(fps=fps, threads=args.threads))] + [
                (f"videotracking period {period}",
                 AnalysisOptions(engine="videotracking", fps=fps, detect_period=period, threads=args.threads))
                for period in args.periods
            ]
            best: dict[str, tuple[float, int, int, int | None]] = {}
            run_once(path, configurations[0][1], analyzer)  # warm up caches and sessions
            for _ in range(args.repeat):  # interleaved, so that a busy moment hurts both alike
                for name, options in configurations:
                    result = run_once(path, options, analyzer)
                    if name not in best or result[0] < best[name][0]:
                        best[name] = result
            baseline = best["video"][0]
            for name, _ in configurations:
                seconds, frames, rows, tracks = best[name]
                print(f"{path.name[:38]:38s} {fps_text:>6s} {name:26s} {seconds:7.2f} {frames / seconds:9.1f} "
                      f"{frames:6d} {rows:5d} {'' if tracks is None else tracks:>6} {baseline / seconds:7.2f}x")


if __name__ == "__main__":
    main()

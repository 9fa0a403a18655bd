"""Benchmark: what linking tracks into people adds to a ``videotracking`` run (CPU time).

For each clip, runs the ``videotracking`` pipeline (decoding, cut detection,
detection, tracking, classification, smoothing: :class:`TrackingStream` on
:class:`VideoSource` frames, as :class:`TrackingAnalysis` does) with and
without a :class:`~inafaceanalyzer.identity.PersonLinker`, ``--repeat`` times
in turn, and prints the process CPU time (all threads) of each (the minimum
over repeats, as the machine may be shared), the face rows, tracks and
people, and the ratio; and, less exposed to the noise of a shared machine,
the CPU time spent in the linker's own calls (embedding and linking; the
HSE session runs on one thread here, so that thread time counts all of it)
against the run without people. Models are loaded before timing.

Usage::

    python benchmarks/bench_identity.py                      # crowd and a talking head at 5 fps
    python benchmarks/bench_identity.py --fps 5 --repeat 3 --clips face_recognition__short_hamilton_clip.mp4
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction
from pathlib import Path

from inafaceanalyzer import AnalysisOptions, FaceAnalyzer
from inafaceanalyzer.identity import PersonLinker
from inafaceanalyzer.identity import people as people_module
from inafaceanalyzer.identity.embedders import HseEmbedder
from inafaceanalyzer.io import VideoSource
from inafaceanalyzer.tracking import TrackingStream
from inafaceanalyzer.tracking.smoothing import averages_of

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
DEFAULT_CLIPS = ["facenet-pytorch__video.mp4", "SadTalker__WDA_KatieHill_000.mp4"]


class _TimedLinker(PersonLinker):
    """A :class:`PersonLinker` that adds up the CPU time of its own calls (thread time: the HSE
    session runs on one thread, in the caller's)."""

    own_seconds = 0.0

    def add_frame(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        started = time.thread_time()
        try:
            return super().add_frame(*args, **kwargs)
        finally:
            self.own_seconds += time.thread_time() - started

    def link(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        started = time.thread_time()
        try:
            return super().link(*args, **kwargs)
        finally:
            self.own_seconds += time.thread_time() - started


def run_once(path: Path, options: AnalysisOptions, analyzer: FaceAnalyzer, people: bool) -> tuple[float, int, int, int, int, float]:
    """CPU seconds, face rows, tracks, people, embedded faces and the linker's own CPU seconds of one run."""
    linker = _TimedLinker(HseEmbedder(threads=1), averages_of) if people else None
    started = time.process_time()
    source = VideoSource(str(path), fps=options.fps)
    stream = TrackingStream(analyzer, options, last_period=Fraction(1) / Fraction(str(options.fps)), people=linker)
    rows = sum(len(result.faces) for result in stream(source))
    seconds = time.process_time() - started
    tracks = stream.tracks()
    if linker is None:
        return seconds, rows, len(tracks), 0, 0, 0.0
    return seconds, rows, len(tracks), len(linker.people()), linker.embedded_faces, linker.own_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=DEFAULT_CLIPS, help="file names in --videos, or paths")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of the shared clips")
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--detect_period", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--per_track", type=int, default=people_module.EMBEDDED_PER_TRACK,
                        help="faces embedded per track at most (EMBEDDED_PER_TRACK)")
    args = parser.parse_args()
    people_module.EMBEDDED_PER_TRACK = args.per_track
    options = AnalysisOptions(engine="videotracking", fps=args.fps, detect_period=args.detect_period,
                              threads=args.threads)
    analyzer = FaceAnalyzer(options)
    for clip in args.clips:
        path = Path(clip) if Path(clip).exists() else args.videos / clip
        best: dict[bool, tuple[float, int, int, int, int, float]] = {}
        for _ in range(args.repeat):
            for people in (False, True):
                result = run_once(path, options, analyzer, people)
                if people not in best or result[0] < best[people][0]:
                    best[people] = result
        base, linked = best[False], best[True]
        print(f"{path.name} fps {args.fps:g} detect_period {args.detect_period}: "
              f"without people {base[0]:.2f} s CPU, with {linked[0]:.2f} s CPU "
              f"(x{linked[0] / base[0]:.3f}); {linked[1]} face rows, {linked[2]} tracks, {linked[3]} people, "
              f"{linked[4]} faces embedded (at most {args.per_track} per track); the linker's own CPU time "
              f"{linked[5]:.2f} s = {linked[5] / base[0]:.1%} of the run without people")


if __name__ == "__main__":
    main()

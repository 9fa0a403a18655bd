"""Where the image engine's time goes: decode, detect, align and classify, per photo.

Each stage runs alone, one after the other, on the same photos (the W3 photos
of ``suite.py`` by default), and is measured in wall time and in process CPU
time (``getrusage``: ONNX Runtime's own threads included), per photo:

- decode: :func:`~inafaceanalyzer.io.load_image` (Pillow, EXIF, RGB array);
- detect: the detector's downscale, network and post-processing;
- align: dlib's landmarks and the aligned chips;
- classify: the classifier on the chips, ``--batch_size`` faces per call
  gathered across photos, as the engine does.

Then the image engine end to end (``iter_images``: decoding in a thread,
detection and alignment in another, classification batched across photos),
the stages and the engine interleaved ``--repeats`` times (the median is
kept, so that a busy machine slows every variant alike).

The floor of the engine on ``N`` cores is the larger of the slowest stage's
wall time and the sum of the stages' CPU time over ``N``: the engine overlaps
the stages, it cannot do less work. ``engine / floor`` says how much of the
overlap is left to win; the stage shares say which stage to make cheaper.

Usage: ``python benchmarks/bench_images.py [--folder DIR] [--count 200] [--repeats 3] [--threads N]``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

from inafaceanalyzer import AnalysisOptions, FaceAnalyzer  # noqa: E402
from inafaceanalyzer.io import load_image  # noqa: E402
from inafaceanalyzer.models import available_threads  # noqa: E402
from inafaceanalyzer.pipeline.engines import iter_images  # noqa: E402

STAGES = ("decode", "detect", "align", "classify")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Clock:
    """Wall and CPU seconds spent inside ``with clock:`` blocks, summed."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._wall
        self.cpu += cpu_seconds() - self._cpu


def stages(analyzer: FaceAnalyzer, paths: list[Path]) -> tuple[dict[str, Clock], int]:
    """Each stage of each photo on its own; returns the clocks and the number of faces."""
    clocks = {name: Clock() for name in STAGES}
    aligned = []
    detector = analyzer.detector
    for path in paths:
        with clocks["decode"]:
            image = load_image(path)
        with clocks["detect"]:
            faces = detector(image)
        with clocks["align"]:
            chips = analyzer.align(image, faces)
        aligned.append((faces, chips))
    batch: list = []
    with clocks["classify"]:
        for faces, chips in aligned:
            batch.append((faces, chips))
            if analyzer.batch_is_full(len(batch), sum(len(f) for f, _ in batch)):
                analyzer.classify_aligned(batch)
                batch = []
        analyzer.classify_aligned(batch)
    return clocks, sum(len(faces) for faces, _ in aligned)


def engine(analyzer: FaceAnalyzer, paths: list[Path]) -> tuple[Clock, int]:
    """The image engine end to end on ``paths``."""
    clock = Clock()
    with clock:
        faces = sum(len(result.faces) for result in iter_images([str(p) for p in paths], analyzer, _fail))
    return clock, faces


def _fail(error: Exception) -> None:
    raise error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, help="photos (*.jpg) to analyse (default: the W3 photos)")
    parser.add_argument("--count", type=int, default=200, help="photos used")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: all)")
    parser.add_argument("--classifier", default=None, help="classifier (default: the toolbox's default)")
    args = parser.parse_args()
    folder = args.folder or Path(__file__).resolve().parent / ".cache" / "photos"
    if args.folder is None:
        workloads.photo_folder(folder, args.count)
    paths = sorted(folder.glob("*.jpg"))[: args.count]
    if not paths:
        raise SystemExit(f"no *.jpg photos in {folder}")
    extra = {"classifier": args.classifier} if args.classifier else {}
    analyzer = FaceAnalyzer(AnalysisOptions(engine="image", threads=args.threads, **extra))
    cores = args.threads or available_threads()
    engine(analyzer, paths[:8])  # sessions and caches warm
    runs: dict[str, list[Clock]] = {name: [] for name in (*STAGES, "engine")}
    faces = {}
    for _ in range(args.repeats):
        clocks, faces["stages"] = stages(analyzer, paths)
        for name, clock in clocks.items():
            runs[name].append(clock)
        clock, faces["engine"] = engine(analyzer, paths)
        runs["engine"].append(clock)
    if faces["stages"] != faces["engine"]:
        raise SystemExit(f"the stages found {faces['stages']} faces, the engine {faces['engine']}")
    n = len(paths)

    def median(name: str, attr: str) -> float:
        return statistics.median(getattr(clock, attr) for clock in runs[name]) * 1000 / n

    print(f"{n} photos, {faces['engine']} faces, {analyzer.classifier.name}, {cores} cores for ONNX Runtime, "
          f"median of {args.repeats} interleaved repeats")
    print(f"{'stage':<10}{'wall ms/photo':>15}{'CPU ms/photo':>14}{'CPU share':>11}")
    total_cpu = sum(median(name, "cpu") for name in STAGES)
    for name in STAGES:
        print(f"{name:<10}{median(name, 'wall'):15.2f}{median(name, 'cpu'):14.2f}"
              f"{median(name, 'cpu') / total_cpu:11.0%}")
    floor = max(max(median(name, "wall") for name in STAGES), total_cpu / cores)
    print(f"{'sum':<10}{sum(median(name, 'wall') for name in STAGES):15.2f}{total_cpu:14.2f}")
    print(f"{'engine':<10}{median('engine', 'wall'):15.2f}{median('engine', 'cpu'):14.2f}")
    print(f"floor on {cores} cores: {floor:.2f} ms/photo (max of the slowest stage's wall time and the stages' "
          f"CPU / {cores}); engine / floor = {median('engine', 'wall') / floor:.2f}; "
          f"engine: {1000 / median('engine', 'wall'):.1f} photos/s")


if __name__ == "__main__":
    main()

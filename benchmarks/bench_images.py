"""Where the image engine's time goes: decode, detect, align and classify, per photo.

Each stage runs alone, one after the other, on the same photos (the W3 photos
of ``suite.py`` by default), and is measured in wall time and in process CPU
time (``getrusage``: ONNX Runtime's own threads included), per photo:

- decode: :func:`~inafaceanalyzer.io.load_image` (Pillow, EXIF, RGB array);
  with ``--video``, :class:`~inafaceanalyzer.io.VideoSource` decoding the
  sampled frames (``--fps``, with the detector's reduced copy, as the video
  engine asks for it), and the stages are per analysed frame;
- detect: the detector's downscale, network and post-processing;
- align: dlib's landmarks and the aligned chips;
- classify: the classifier on the chips, ``--batch_size`` faces per call
  gathered across photos, as the engine does.

Then the image engine end to end (``iter_images``: decoding in a thread,
detection and alignment in another, classification batched across photos;
with ``--video``, the ``video`` engine, :class:`VideoAnalysis`),
the stages and the engine interleaved ``--repeats`` times (the median is
kept, so that a busy machine slows every variant alike).

The floor of the engine on ``N`` cores is the larger of the slowest stage's
wall time and the sum of the stages' CPU time over ``N``: the engine overlaps
the stages, it cannot do less work. ``engine / floor`` says how much of the
overlap is left to win; the stage shares say which stage to make cheaper.

For photos, the last line says how much the detector shrinks them: JPEG
decoding at reduced size (Pillow's draft mode: 1/2, 1/4 or 1/8) could only
replace full decoding for the detector where it shrinks a photo to half or
less (with the default minimal face of 30 pixels found at 20, it shrinks
every photo to 2/3, whatever its size).

Usage: ``python benchmarks/bench_images.py [--folder DIR] [--count 200] [--repeats 3] [--threads N]``
or ``python benchmarks/bench_images.py --video benchmarks/.cache/tv_1min.mp4 --fps 1`` (W1's stages).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402

from inafaceanalyzer import AnalysisOptions, FaceAnalyzer  # noqa: E402
from inafaceanalyzer.io import VideoSource, load_image  # noqa: E402
from inafaceanalyzer.models import available_threads  # noqa: E402
from inafaceanalyzer.pipeline.engines import VideoAnalysis, iter_images  # noqa: E402

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


def decoded_photos(paths: list[Path], clock: Clock) -> Iterator[tuple[NDArray[np.uint8], None]]:
    """Each photo and no reduced copy, decoded on ``clock``."""
    for path in paths:
        with clock:
            image = load_image(path)
        yield image, None


def decoded_frames(video: Path, fps: float | None, analyzer: FaceAnalyzer, clock: Clock) -> Iterator:
    """Each sampled frame of ``video`` and its reduced copy, decoded on ``clock`` as the video engine does."""
    with clock:
        source = VideoSource(str(video), fps=fps)
        height, width = source.info.height, source.info.width
        source.reduced_size = analyzer.detector.reduced_size(width=width, height=height) if height and width else None
        frames = iter(source)
    while True:
        with clock:
            frame = next(frames, None)
        if frame is None:
            return
        yield frame.image, frame.reduced


def stages(analyzer: FaceAnalyzer, decoded: Iterator, clocks: dict[str, Clock]) -> tuple[int, int]:
    """Each stage of each decoded photo or frame on its own; returns the numbers of photos and of faces."""
    aligned = []
    detector = analyzer.detector
    for image, reduced in decoded:
        with clocks["detect"]:
            faces = detector(image, reduced)
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
    return len(aligned), sum(len(faces) for faces, _ in aligned)


def engine(analyzer: FaceAnalyzer, paths: list[Path]) -> tuple[Clock, int]:
    """The image engine end to end on ``paths``."""
    clock = Clock()
    with clock:
        faces = sum(len(result.faces) for result in iter_images([str(p) for p in paths], analyzer, _fail))
    return clock, faces


def video_engine(analyzer: FaceAnalyzer, video: Path) -> tuple[Clock, int]:
    """The video engine end to end on ``video``."""
    clock = Clock()
    with clock:
        faces = sum(len(result.faces) for result in VideoAnalysis(str(video), analyzer.options, analyzer))
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
    parser.add_argument("--faces_per_call", type=int, default=None,
                        help="faces per classifier call (default: the analyzer's, FaceAnalyzer.faces_per_call)")
    parser.add_argument("--video", type=Path, help="a video instead of photos: the video engine's stages")
    parser.add_argument("--fps", type=float, default=1.0, help="with --video: frames analysed per second (0: all)")
    args = parser.parse_args()
    extra = {"classifier": args.classifier} if args.classifier else {}
    fps = args.fps or None
    if args.video:
        options = AnalysisOptions(engine="video", fps=fps, threads=args.threads, **extra)
        paths: list[Path] = []
    else:
        folder = args.folder or Path(__file__).resolve().parent / ".cache" / "photos"
        if args.folder is None:
            workloads.photo_folder(folder, args.count)
        paths = sorted(folder.glob("*.jpg"))[: args.count]
        if not paths:
            raise SystemExit(f"no *.jpg photos in {folder}")
        options = AnalysisOptions(engine="image", threads=args.threads, **extra)
    analyzer = FaceAnalyzer(options)
    if args.faces_per_call:
        analyzer.faces_per_call = args.faces_per_call
    cores = args.threads or available_threads()
    engine(analyzer, sorted(Path(__file__).resolve().parents[1].joinpath("media").glob("*.jpg")))  # warm
    runs: dict[str, list[Clock]] = {name: [] for name in (*STAGES, "engine")}
    faces = {}
    for _ in range(args.repeats):
        clocks = {name: Clock() for name in STAGES}
        if args.video:
            decoded = decoded_frames(args.video, fps, analyzer, clocks["decode"])
        else:
            decoded = decoded_photos(paths, clocks["decode"])
        n, faces["stages"] = stages(analyzer, decoded, clocks)
        for name, clock in clocks.items():
            runs[name].append(clock)
        clock, faces["engine"] = video_engine(analyzer, args.video) if args.video else engine(analyzer, paths)
        runs["engine"].append(clock)
    if faces["stages"] != faces["engine"]:
        raise SystemExit(f"the stages found {faces['stages']} faces, the engine {faces['engine']}")

    def median(name: str, attr: str) -> float:
        return statistics.median(getattr(clock, attr) for clock in runs[name]) * 1000 / n

    unit = "frame" if args.video else "photo"
    print(f"{n} {unit}s, {faces['engine']} faces, {analyzer.classifier.name}, {cores} cores for ONNX Runtime, "
          f"{analyzer.faces_per_call} faces per classifier call, median of {args.repeats} interleaved repeats; "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"{'stage':<10}{f'wall ms/{unit}':>15}{f'CPU ms/{unit}':>14}{'CPU share':>11}")
    total_cpu = sum(median(name, "cpu") for name in STAGES)
    for name in STAGES:
        print(f"{name:<10}{median(name, 'wall'):15.2f}{median(name, 'cpu'):14.2f}"
              f"{median(name, 'cpu') / total_cpu:11.0%}")
    floor = max(max(median(name, "wall") for name in STAGES), total_cpu / cores)
    print(f"{'sum':<10}{sum(median(name, 'wall') for name in STAGES):15.2f}{total_cpu:14.2f}")
    print(f"{'engine':<10}{median('engine', 'wall'):15.2f}{median('engine', 'cpu'):14.2f}")
    print(f"floor on {cores} cores: {floor:.2f} ms/{unit} (max of the slowest stage's wall time and the stages' "
          f"CPU / {cores}); engine / floor = {median('engine', 'wall') / floor:.2f}; "
          f"engine: {1000 / median('engine', 'wall'):.1f} {unit}s/s")
    if paths:
        scales = [analyzer.detector.input_size(width=w, height=h)[0] / w for h, w in map(_size, paths)]
        halved = sum(scale <= 0.5 for scale in scales)
        print(f"the detector shrinks the photos by {min(scales):.3f} to {max(scales):.3f}; "
              f"{halved} of {len(scales)} photos to half or less (where a JPEG draft could stand for full decoding)")


def _size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of a photo, from its header."""
    from PIL import Image

    with Image.open(path) as image:
        return image.height, image.width


if __name__ == "__main__":
    main()

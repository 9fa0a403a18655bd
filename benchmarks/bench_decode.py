"""Benchmark: sparse decoding (``VideoSource(fps=...)``) against the decode floor.

Builds (once, cached in ``--workdir``) a 960x540 25 fps H.264 video with GOP 50
(2 s) from the shared real clips, each letterboxed to 960x540, looped to the
requested duration, encoded as ``benchmarks/workloads.py`` encodes the suite's
W1 video (x264 ``veryfast``, CRF 23, no scene-cut keyframes); or takes any
video given with ``--video``. Then measures, in ``--repeat`` interleaved rounds
(the minimum is reported, as the machine may be shared), wall and CPU time of:

- the decode floor: every frame decoded with PyAV, nothing else;
- ``VideoSource(fps=1, decode_all=True)``: every frame decoded, kept ones converted to RGB (the old path);
- ``VideoSource(fps=1)`` and ``VideoSource(fps=5)``: sparse decoding.

Usage::

    python benchmarks/bench_decode.py --minutes 10 --workdir ~/.cache/inaface-bench
    python benchmarks/bench_decode.py --video path/to/w1.mp4

The clips come from ``../shared/media/videos`` (override with ``--clips``);
see their README.md for their provenance. Without them, synthetic moving
content is used.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from inafaceanalyzer.io import VideoSource

WIDTH, HEIGHT, RATE, GOP = 960, 540, 25, 50
DEFAULT_CLIPS = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"


def letterboxed(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame scaled to fit 960x540, centred on black."""
    scale = min(WIDTH / frame.width, HEIGHT / frame.height)
    width, height = max(2, round(frame.width * scale) // 2 * 2), max(2, round(frame.height * scale) // 2 * 2)
    image = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
    canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    top, left = (HEIGHT - height) // 2, (WIDTH - width) // 2
    canvas[top : top + height, left : left + width] = image
    return canvas


def clip_frames(clips: list[Path]) -> Iterator[np.ndarray]:
    """Frames of the clips in turn, letterboxed, forever (synthetic content without clips)."""
    if not clips:
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
        for i in iter(int, 1):
            image = np.stack([(xx + 3 * i) % 256, (yy + i) % 256, (xx + yy) % 256], axis=-1).astype(np.uint8)
            image[200:300, (4 * i) % 860 : (4 * i) % 860 + 100] = 255
            yield image
    while True:
        for clip in clips:
            with av.open(str(clip)) as container:
                for frame in container.decode(video=0):
                    yield letterboxed(frame)


def build(path: Path, seconds: int, clips: list[Path], preset: str) -> Path:
    """Encode the benchmark video (H.264, 960x540, 25 fps, GOP 50) unless it exists."""
    if path.exists():
        return path
    partial = path.with_name(path.stem + ".partial" + path.suffix)
    print(f"building {path} ({seconds} s, preset {preset}) ...", flush=True)
    with av.open(str(partial), "w", format="mp4") as out:
        options = {"g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0", "preset": preset, "crf": "23"}
        stream = out.add_stream("libx264", rate=RATE, options=options)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        frames = clip_frames(clips)
        for index in range(seconds * RATE):
            frame = av.VideoFrame.from_ndarray(next(frames), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, RATE)
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    os.replace(partial, path)  # complete files only
    return path


def decode_floor(path: Path) -> int:
    """Decode every frame with PyAV, nothing else."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count = 0
        for _ in container.decode(stream):
            count += 1
    return count


def source_run(path: Path, fps: float, decode_all: bool) -> Callable[[], str]:
    def run() -> str:
        video = VideoSource(path, fps=fps, decode_all=decode_all)
        kept = sum(1 for _ in video)
        return f"{kept} frames kept, {video.decoded_frames} decoded"

    return run


def best_of(repeat: int, runs: dict[str, Callable[[], object]]) -> dict[str, tuple[float, float, object]]:
    """Minimum wall and CPU times of each run over ``repeat`` rounds, and its result.

    Rounds are interleaved, so that load changes hit all runs alike.
    """
    best: dict[str, tuple[float, float, object]] = {}
    for _ in range(repeat):
        for label, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            result = run()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            previous = best.get(label, (wall, cpu, result))
            best[label] = (min(wall, previous[0]), min(cpu, previous[1]), result)
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="duration of the video (default 2)")
    parser.add_argument("--workdir", type=Path, help="cache folder for the video (default: a temporary folder)")
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS, help="folder of real clips to loop")
    parser.add_argument("--video", type=Path, help="benchmark this video instead of building one")
    parser.add_argument("--preset", default="veryfast", help="x264 preset of the built video (default veryfast)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the minimum is kept")
    args = parser.parse_args(argv)

    seconds = round(args.minutes * 60)
    clips = sorted(args.clips.glob("*.mp4")) if args.clips.is_dir() else []
    with tempfile.TemporaryDirectory() as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        source = "clips" if clips else "synthetic"
        name = f"bench_{WIDTH}x{HEIGHT}_{RATE}fps_gop{GOP}_{seconds}s_{args.preset}_{source}.mp4"
        path = args.video or build(workdir / name, seconds, clips, args.preset)
        print(f"video: {path}, {path.stat().st_size / 1e6:.1f} MB; {os.cpu_count()} CPUs; PyAV {av.__version__}")
        floor_label = "decode floor (every frame, PyAV)"
        runs: dict[str, Callable[[], object]] = {floor_label: lambda: f"{decode_floor(path)} frames"}
        runs["VideoSource fps=1, decode_all (old path)"] = source_run(path, 1, decode_all=True)
        runs["VideoSource fps=1 (sparse)"] = source_run(path, 1, decode_all=False)
        runs["VideoSource fps=5 (sparse)"] = source_run(path, 5, decode_all=False)
        results = best_of(args.repeat, runs)
        floor_wall, floor_cpu, _ = results[floor_label]
        print(f"min of {args.repeat} interleaved rounds; ratios to the decode floor")
        print(f"{'':44s} {'wall s':>8} {'ratio':>6} {'CPU s':>8} {'ratio':>6}")
        for label, (wall, cpu, detail) in results.items():
            print(f"{label:44s} {wall:8.2f} {wall / floor_wall:6.2f} {cpu:8.2f} {cpu / floor_cpu:6.2f}  ({detail})")


if __name__ == "__main__":
    main()

"""Benchmark: peak memory of an analysis for large frames (1080p, 4K, 8K video; a 12000x12000 image).

Each input is made once in ``--workdir``: square-ish H.264 clips (x264
``ultrafast``, GOP 10, 25 fps) of ``--frames`` frames with a face (Knuth's
shared photo, a quarter of the width wide) moving across a flat background,
and a 12000x12000 PNG with the same face. Each analysis runs
``ina_face_analyzer.py`` in a fresh subprocess, which reports its own peak
resident memory (``ru_maxrss``), its wall and CPU time and its face rows.
The machine may be shared: wall times are noisy, memory is not.

Usage::

    python benchmarks/bench_memory.py --workdir /tmp/inaface-mem
    python benchmarks/bench_memory.py --only 4k --engines video videotracking

Measured here (2 shared cores, 20 frames, engine video): see the README's
bad-input table and the report of the change that added this script.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
from PIL import Image

SHARED = Path(os.environ.get("INAFACE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
FACE = SHARED / "media" / "images" / "dknuth.jpg"

VIDEOS = {"1080p": (1920, 1080), "4k": (4096, 4096), "8k": (8192, 8192)}
IMAGE_SIDE = 12000

_CHILD = """
import json, sys, time
import pandas as pd
from inafaceanalyzer.cli.analyze import main
started, cpu = time.perf_counter(), time.process_time()
status = main(sys.argv[2:])
result = {"status": status, "wall_s": time.perf_counter() - started, "cpu_s": time.process_time() - cpu,
          # VmHWM, this process's own peak (ru_maxrss would include the forking parent's, carried over exec)
          "peak_mib": next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024}
try:
    result["rows"] = len(pd.read_csv(sys.argv[1]))
except Exception:
    result["rows"] = None
print("RESULT " + json.dumps(result), file=sys.stderr)
"""


def _face(width: int) -> np.ndarray:
    face = Image.open(FACE).convert("RGB")
    return np.asarray(face.resize((width, round(face.height * width / face.width))))


def make_video(path: Path, width: int, height: int, frames: int) -> Path:
    if path.exists():
        return path
    face = _face(width // 4)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "g": "10"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.full((height, width, 3), 90, dtype=np.uint8)
            top, left = (height - face.shape[0]) // 2, width // 4 + (8 * i) % (width // 4)
            image[top : top + face.shape[0], left : left + face.shape[1]] = face
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def make_image(path: Path, side: int) -> Path:
    if path.exists():
        return path
    image = np.full((side, side, 3), 90, dtype=np.uint8)
    face = _face(side // 4)
    image[side // 3 : side // 3 + face.shape[0], side // 3 : side // 3 + face.shape[1]] = face
    Image.fromarray(image).save(path, compress_level=1)
    return path


def measure(argv: list[str], table: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(table), *argv, "--no_progress", "-q"],
                          capture_output=True, text=True)
    lines = [line for line in proc.stderr.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(lines[-1].removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "inaface-bench-memory")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--only", nargs="*", default=[*VIDEOS, "image"], choices=[*VIDEOS, "image"])
    parser.add_argument("--engines", nargs="*", default=["video"], choices=["video", "videotracking"])
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"{'input':<28} {'engine':<14} {'peak MiB':>9} {'wall s':>7} {'cpu s':>7} {'rows':>5} status")
    for name in args.only:
        if name == "image":
            source = make_image(args.workdir / f"image{IMAGE_SIDE}.png", IMAGE_SIDE)
            table = args.workdir / "image.csv"
            table.unlink(missing_ok=True)
            runs = [("image", ["--engine", "image", "-i", str(source), "-o", str(table)], table)]
            label = f"{IMAGE_SIDE}x{IMAGE_SIDE} PNG"
        else:
            width, height = VIDEOS[name]
            source = make_video(args.workdir / f"{name}-{args.frames}.mp4", width, height, args.frames)
            out = args.workdir / f"out-{name}"
            runs = [(engine, ["--engine", engine, "-i", str(source), "-o", str(out)], out / f"{source.stem}.csv")
                    for engine in args.engines]
            label = f"{width}x{height} x{args.frames} frames"
        for engine, argv, table in runs:
            result = measure(argv, table)
            print(f"{label:<28} {engine:<14} {result['peak_mib']:>9.0f} {result['wall_s']:>7.1f} "
                  f"{result['cpu_s']:>7.1f} {result['rows'] if result['rows'] is not None else '-':>5} "
                  f"{result['status']}", flush=True)


if __name__ == "__main__":
    main()

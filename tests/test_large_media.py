"""Large frames: memory bounded by bytes, not by count; large images read or refused clearly.

The peak memory is measured in a subprocess (its ``ru_maxrss``), on a
4096x4096 clip made here with a face pasted from a shared photo.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from inafaceanalyzer.errors import MediaError
from inafaceanalyzer.io import load_image
from inafaceanalyzer.pipeline.prefetch import prefetch

from .clips import write_clip
from .conftest import KNUTH

GIB = 1 << 30


def make_large_clip(path: Path, side: int, frames: int) -> Path:
    """A ``side`` x ``side`` H.264 clip at 25 fps, a face (Knuth's photo, a quarter of the side wide) moving right."""
    face = Image.open(KNUTH).convert("RGB")
    width = side // 4
    face = np.asarray(face.resize((width, round(face.height * width / face.width))))

    def frame(i: int) -> np.ndarray:
        image = np.full((side, side, 3), 90, dtype=np.uint8)
        left = side // 4 + 8 * i
        image[side // 3 : side // 3 + face.shape[0], left : left + width] = face
        return image

    return write_clip(path, (frame(i) for i in range(frames)), codec="libx264",
                      options={"preset": "ultrafast", "g": "10"})


# The peak of this process's own memory (VmHWM). Not getrusage's ru_maxrss: on Linux, exec carries the
# forking parent's peak into it, so a child of a large pytest process would report pytest's memory.
_PEAK = """
import sys
from inafaceanalyzer.cli.analyze import main
status = main(sys.argv[1:])
with open("/proc/self/status") as status_file:
    kib = next(int(line.split()[1]) for line in status_file if line.startswith("VmHWM:"))
print("PEAK", kib * 1024, file=sys.stderr)
sys.exit(status)
"""


def peak_bytes(*argv: str) -> tuple[int, subprocess.CompletedProcess[str]]:
    """Run ``ina_face_analyzer.py argv`` in a subprocess; its peak resident memory in bytes."""
    proc = subprocess.run([sys.executable, "-c", _PEAK, *argv], capture_output=True, text=True, timeout=600)
    line = [row for row in proc.stderr.splitlines() if row.startswith("PEAK ")]
    assert line, proc.stderr[-3000:]
    return int(line[-1].split()[1]), proc


@pytest.mark.shared_media
def test_4k_video_peaks_under_1_gib(tmp_path: Path) -> None:
    """Before: 2.5 GB for 20 frames, 6.8 GB for 80 (whole frames held to their classifier batch)."""
    clip = make_large_clip(tmp_path / "uhd.mp4", 4096, 6)
    peak, proc = peak_bytes("--engine", "video", "-i", str(clip), "-o", str(tmp_path / "out"), "--no_progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = pd.read_csv(tmp_path / "out" / "uhd.csv")
    assert sorted(rows.frame) == list(range(6))  # the face, on every frame
    assert (rows.sex_label == "m").all()
    assert peak < GIB, f"peak {peak / 2**20:.0f} MiB"


def test_prefetch_bounds_bytes_in_flight() -> None:
    """At most ``max_bytes`` in flight (the consumer's item included), one item always allowed."""
    alive = []
    lock = threading.Lock()
    most = [0]

    class Block(bytearray):
        def __del__(self) -> None:
            with lock:
                alive.remove(id(self))

    def blocks(size: int, count: int):
        for _ in range(count):
            block = Block(size)
            with lock:
                alive.append(id(block))
                most[0] = max(most[0], len(alive))
            yield block
            del block

    for block in prefetch(blocks(100, 30), maxsize=8, max_bytes=250, size=len):
        assert len(block) == 100
        del block
    assert most[0] <= 3  # two in flight (250 bytes), and the one the producer makes as the consumer asks
    most[0] = 0
    for block in prefetch(blocks(1000, 5), maxsize=8, max_bytes=250, size=len):  # each over the limit
        del block
    assert most[0] <= 2


def test_image_above_pillow_warning_size_is_read_without_warning(tmp_path: Path) -> None:
    """Pillow warns (DecompressionBombWarning) above 89.5 megapixels: the size is checked by us, no raw warning."""
    path = tmp_path / "wide.png"
    Image.new("L", (9500, 9500), 128).save(path)  # 90.25 megapixels, 100 kB
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(path)
    assert image.shape == (9500, 9500, 3)


def test_decompression_bomb_is_refused_with_its_size(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000), 0).save(path)  # 400 megapixels in 50 kB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MediaError) as caught:
            load_image(path)
    assert caught.value.source == str(path)
    assert "image too large" in caught.value.reason and "400000000 pixels" in caught.value.reason
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # refused before decoding

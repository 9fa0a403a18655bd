"""Damaged data in the middle of a video: decoded past, every decodable frame analysed, each gap reported.

The clips are made here (a face pasted from a shared photo), then 20,000
bytes at a third of the file are flipped, as in a damaged archive file.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from inafaceanalyzer.errors import MediaError
from inafaceanalyzer.io import VideoSource

from .clips import write_clip
from .conftest import KNUTH

pytestmark = pytest.mark.shared_media

FRAMES = 75
RATE = 25


def _clip(path: Path, codec: str) -> Path:
    face = Image.open(KNUTH).convert("RGB")
    face = np.asarray(face.resize((128, round(face.height * 128 / face.width))))
    options = {"preset": "ultrafast", "g": "10"} if codec == "libx264" else {"g": "10", "qscale": "3"}

    def frame(i: int) -> np.ndarray:
        image = np.full((512, 512, 3), 90, dtype=np.uint8)
        left = 128 + (8 * i) % 128
        image[170 : 170 + face.shape[0], left : left + 128] = face
        return image

    return write_clip(path, (frame(i) for i in range(FRAMES)), rate=RATE, codec=codec, options=options)


def _damaged(clip: Path, path: Path, count: int = 20_000) -> Path:
    data = bytearray(clip.read_bytes())
    start = len(data) // 3
    for i in range(start, min(len(data), start + count)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


@pytest.fixture(scope="module", params=["libx264", "mpeg4"])
def damaged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp(f"gaps-{request.param}")
    return _damaged(_clip(folder / "clip.mp4", request.param), folder / "damaged.mp4")


def test_frames_after_the_gap_are_decoded_with_exact_times_and_indexes(damaged: Path) -> None:
    video = VideoSource(damaged, strict=False)
    frames = list(video)
    assert video.gaps, "the damage was not seen"
    for frame in frames:  # the true position in the stream, the time from the PTS
        assert frame.time == Fraction(frame.index, RATE)
    assert frames[-1].index == FRAMES - 1  # frames after the gap, to the end
    lost = sum(gap.frames or 0 for gap in video.gaps)
    assert len(frames) + lost == FRAMES
    decoded = {f.index for f in frames}
    for gap in video.gaps:  # each gap runs from the end of a decoded frame to the next decoded frame
        assert gap.end is not None and gap.start < gap.end
        assert round(gap.start * RATE) - 1 in decoded and round(gap.end * RATE) in decoded
        assert not any(gap.start <= f.time < gap.end for f in frames)


def test_strict_decoding_keeps_all_or_nothing(damaged: Path) -> None:
    with pytest.raises(MediaError, match=r"truncated or corrupt video at frame \d+"):
        list(VideoSource(damaged, strict=True))


def test_sparse_decoding_gives_the_frames_of_a_full_decode(damaged: Path) -> None:
    sparse = VideoSource(damaged, fps=5, strict=False)
    full = VideoSource(damaged, fps=5, strict=False, decode_all=True)
    got = [(f.index, f.time) for f in sparse]
    assert got == [(f.index, f.time) for f in full]
    assert sparse.gaps == full.gaps and sparse.gaps


@pytest.mark.logs_errors
def test_cli_writes_every_decoded_frame_and_reports_the_gaps(damaged: Path, tmp_path: Path, capsys) -> None:
    from inafaceanalyzer.cli.analyze import main

    gaps = VideoSource(damaged, strict=False)
    kept = [f.index for f in gaps]
    status = main(["--engine", "video", "-i", str(damaged), "-o", str(tmp_path / "out"), "--no_progress"])
    err = capsys.readouterr().err
    assert status == 0, err  # analysed, with gaps: see the README's exit statuses
    rows = pd.read_csv(tmp_path / "out" / "damaged.csv")
    assert set(rows.frame) == set(kept)  # the face on every frame that decoded, before and after the gap
    assert np.allclose(rows.time_s, rows.frame / RATE)
    assert "analysed with gaps" in err
    first = gaps.gaps[0]
    assert f"{damaged}: no frame decoded from {float(first.start):.3f} s to {float(first.end):.3f} s" in err

    status = main(["--engine", "video", "-i", str(damaged), "-o", str(tmp_path / "strict"), "--no_progress",
                   "--strict_decoding"])
    err = capsys.readouterr().err
    assert status == 1
    assert "truncated or corrupt video at frame" in err
    assert not (tmp_path / "strict" / "damaged.csv").exists()

"""Tests of inafaceanalyzer.io.video: times, indexes, sampling, rotation, errors, URLs.

Synthetic clips are encoded with PyAV into tmp_path; each frame shows its own
index as a 16-bit pattern of 8x8 white/black blocks, so a test can tell which
frame was decoded. Real clips come from /work/shared/media (see its README.md
for their provenance); tests that need them are skipped when it is missing.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import re
import shutil
import socket
import time
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from inafaceanalyzer.errors import MediaError, OptionsError
from inafaceanalyzer.io import Frame, VideoSource
from inafaceanalyzer.io.video import NearestTimeSampler, rotate_clockwise

from .http_helpers import serve_directory

MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
VIDEOS = MEDIA / "videos"
HAMILTON = VIDEOS / "face_recognition__short_hamilton_clip.mp4"

needs_media = pytest.mark.skipif(
    not HAMILTON.is_file(), reason=f"shared test media not found in {VIDEOS} (see its README.md)"
)

W, H = 64, 48


# -- synthetic clips ---------------------------------------------------------------


def pattern(index: int) -> np.ndarray:
    """A 64x48 RGB frame showing ``index`` as 16 bits (2 rows of 8 blocks of 8x8)."""
    img = np.zeros((H, W, 3), np.uint8)
    for bit in range(16):
        if index >> bit & 1:
            row, col = divmod(bit, 8)
            img[row * 8 : row * 8 + 8, col * 8 : col * 8 + 8] = 255
    img[24:, :32, 0] = 200  # a red lower-left quadrant, to check orientation
    return img


def read_pattern(img: np.ndarray) -> int:
    """The index shown by :func:`pattern`, read back from a decoded frame."""
    value = 0
    for bit in range(16):
        row, col = divmod(bit, 8)
        if img[row * 8 + 2 : row * 8 + 6, col * 8 + 2 : col * 8 + 6].mean() > 128:
            value |= 1 << bit
    return value


def encode(
    path: Path,
    pts: Sequence[int],
    time_base: Fraction,
    codec: str = "mpeg4",
    rate: Fraction | None = None,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    rotation: int | None = None,
    matrix: Sequence[int] | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Encode frames ``pattern(i)`` at presentation times ``pts[i] * time_base``."""
    with av.open(str(path), "w", options=container_options or {}) as out:
        stream = out.add_stream(codec, rate=rate, options=options or {})
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if matrix is not None:
            stream.set_display_matrix(matrix)
        if metadata:
            stream.metadata.update(metadata)
        for i, p in enumerate(pts):
            frame = av.VideoFrame.from_ndarray(pattern(i), format="rgb24")
            frame.pts, frame.time_base = p, time_base
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def cfr(path: Path, n: int, rate: Fraction = Fraction(25), **kwargs: object) -> Path:
    """A constant-rate clip of ``n`` frames."""
    return encode(path, range(n), 1 / rate, rate=rate, **kwargs)  # type: ignore[arg-type]


def remux_faststart(src: Path, dst: Path) -> Path:
    """Copy the video stream of ``src`` into an MP4 with its moov atom at the front."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        in_stream = inp.streams.video[0]
        out_stream = out.add_stream_from_template(in_stream)
        for packet in inp.demux(in_stream):
            if packet.dts is None:
                continue
            packet.stream = out_stream
            out.mux(packet)
    return dst


def truncate(src: Path, dst: Path, fraction: float = 0.6) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def nearest_reference(times: Sequence[Fraction], fps: Fraction) -> list[int]:
    """Direct rule: positions of the frames nearest to each k/fps <= the last time (ties: earlier)."""
    kept: set[int] = set()
    k = 0
    while (target := k / fps) <= times[-1]:
        after = bisect.bisect_left(times, target)  # first frame at or after the target
        candidates = [i for i in (after - 1, after) if 0 <= i < len(times)]
        kept.add(min(candidates, key=lambda i: (abs(times[i] - target), i)))
        k += 1
    return sorted(kept)


@pytest.fixture(scope="module")
def clip25(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """50 frames at 25 fps, mpeg4, moov at the end."""
    return cfr(tmp_path_factory.mktemp("clips") / "clip25.mp4", 50)


VFR_PTS = [0, 40, 120, 130, 200, 400, 410, 1000, 1040]


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return encode(tmp_path_factory.mktemp("clips") / "vfr.mp4", VFR_PTS, Fraction(1, 1000))


# -- times and indexes --------------------------------------------------------------


def test_every_frame_with_exact_times_and_content(clip25: Path) -> None:
    with VideoSource(clip25) as video:
        info = video.info
        frames = list(video)
    assert (info.width, info.height, info.rotation) == (W, H, 0)
    assert info.frame_rate == 25 and info.frame_count == 50 and info.codec == "mpeg4"
    assert info.duration == 2 and info.has_audio is False
    assert [f.index for f in frames] == list(range(50))
    assert [f.time for f in frames] == [Fraction(i, 25) for i in range(50)]
    assert all(isinstance(f.time, Fraction) for f in frames)
    assert [read_pattern(f.image) for f in frames] == list(range(50))
    image = frames[7].image
    assert image.shape == (H, W, 3) and image.dtype == np.uint8 and image.flags.c_contiguous


def test_ntsc_rate_time_is_exact(tmp_path: Path) -> None:
    """30000/1001 fps with B-frames (libx264): frame 300 is at exactly 10.01 s."""
    rate = Fraction(30000, 1001)
    clip = cfr(tmp_path / "ntsc.mp4", 301, rate, codec="libx264", options={"preset": "veryfast"})
    video = VideoSource(clip)
    assert video.info.frame_rate == rate
    frames = list(video)
    assert len(frames) == 301
    assert frames[300].index == 300
    assert frames[300].time == Fraction(300 * 1001, 30000) == Fraction(1001, 100)
    assert [read_pattern(f.image) for f in frames[::50]] == list(range(0, 301, 50))


def test_variable_frame_rate_times_are_the_pts(vfr_clip: Path) -> None:
    frames = list(VideoSource(vfr_clip))
    assert [f.time for f in frames] == [Fraction(p, 1000) for p in VFR_PTS]
    assert [f.index for f in frames] == list(range(len(VFR_PTS)))
    assert [read_pattern(f.image) for f in frames] == list(range(len(VFR_PTS)))


@pytest.mark.parametrize("fps", [1, 5, 10, 24, 30, 0.7])
def test_variable_frame_rate_sampling_picks_nearest(vfr_clip: Path, fps: float) -> None:
    times = [Fraction(p, 1000) for p in VFR_PTS]
    kept = [f.index for f in VideoSource(vfr_clip, fps=fps)]
    expected = nearest_reference(times, Fraction(str(fps)))
    # a target between the last frame and its end may add the last frame
    assert kept in (expected, sorted(set(expected) | {len(times) - 1}))
    assert len(kept) == len(set(kept))


def test_vfr_sampling_known_values(vfr_clip: Path) -> None:
    # targets 0, .1, .2, ..., 1.0: nearest frames 0 (t=0), 2 (.1 -> .12 rather than .04), 4 (.2),
    # .3 -> tie between .2 and .4: the earlier, frame 4 again, .4 -> 5, .5/.6/.7 -> 6 (.41; the
    # midpoint with 1.0 is .705), .8/.9/1.0 -> 7 (t=1.0). Target 1.1 falls after frame 8 (1.04)
    # only if the muxer gave that last frame a duration over 60 ms.
    frames = list(VideoSource(vfr_clip, fps=10))
    kept = [f.index for f in frames]
    assert kept[:6] == [0, 2, 4, 5, 6, 7] and kept[6:] in ([], [8])
    assert [f.time for f in frames][:6] == [Fraction(p, 1000) for p in (0, 120, 200, 400, 410, 1000)]
    assert [read_pattern(f.image) for f in frames] == kept


def test_fps_above_native_rate_keeps_each_frame_once(clip25: Path) -> None:
    for fps in (25, 29.97, 1000):
        frames = list(VideoSource(clip25, fps=fps))
        assert [f.index for f in frames] == list(range(50)), fps


def test_fps_sampling_indexes_and_content(clip25: Path) -> None:
    frames = list(VideoSource(clip25, fps=5))
    assert [f.index for f in frames] == list(range(0, 50, 5))
    assert [f.time for f in frames] == [Fraction(i, 5) for i in range(10)]
    assert [read_pattern(f.image) for f in frames] == list(range(0, 50, 5))
    # 0.5 fps over 2 s: targets 0 s and 2 s; 2 s is the end of the clip: one frame
    assert [f.index for f in VideoSource(clip25, fps=0.5)] == [0]
    # 3 fps: targets k/3 -> nearest frame round(25 k / 3)
    assert [f.index for f in VideoSource(clip25, fps=3)] == [round(25 * k / 3) for k in range(6)]


def test_sampler_streaming_rule() -> None:
    sampler = NearestTimeSampler(Fraction(1))
    # frames at 0, 0.4, 0.6, 1.4, ending at 2.0; targets 0 and 1 (2 is the end: no frame).
    # Target 0 -> frame 0; target 1 is at the midpoint of 0.6 and 1.4: the earlier frame wins.
    times = [Fraction(0), Fraction(2, 5), Fraction(3, 5), Fraction(7, 5)]
    decisions = [sampler.keep((a + b) / 2) for a, b in zip(times, times[1:])]
    decisions.append(sampler.keep_last(Fraction(2)))
    assert decisions == [True, False, True, False]
    with pytest.raises(OptionsError):
        NearestTimeSampler(Fraction(0))


@pytest.mark.parametrize("fps", [0, -1, float("nan"), float("inf"), "5"])
def test_bad_fps_is_an_options_error(clip25: Path, fps: object) -> None:
    with pytest.raises(OptionsError):
        VideoSource(clip25, fps=fps)  # type: ignore[arg-type]


def test_keyframes_only(tmp_path: Path) -> None:
    clip = cfr(tmp_path / "gop.mp4", 40, options={"g": "10"})
    frames = list(VideoSource(clip, keyframes_only=True))
    assert [f.index for f in frames] == [0, 10, 20, 30]
    assert [f.time for f in frames] == [Fraction(i, 25) for i in (0, 10, 20, 30)]
    assert [read_pattern(f.image) for f in frames] == [0, 10, 20, 30]
    # combined with fps: the keyframe nearest to each target 0, .5, 1 (tie .8/1.2: earlier), 1.5
    # (the last keyframe, 1.2 s, owns the times up to the end of the video, 1.6 s)
    assert [f.index for f in VideoSource(clip, fps=2, keyframes_only=True)] == [0, 10, 20, 30]


def test_iterating_twice_reopens(clip25: Path) -> None:
    video = VideoSource(clip25, fps=10)
    first = [f.index for f in video]
    second = [f.index for f in video]
    # ties (7.5 frames) go to the earlier frame
    assert first == second == [math.ceil(Fraction(5, 2) * k - Fraction(1, 2)) for k in range(20)]


def test_early_stop_and_close(clip25: Path) -> None:
    with VideoSource(clip25) as video:
        for frame in video:
            assert isinstance(frame, Frame)
            if frame.index == 3:
                break
    assert video._container is None  # closed by the context manager


# -- shared real clips -----------------------------------------------------------------


@needs_media
def test_hamilton_one_fps() -> None:
    video = VideoSource(HAMILTON, fps=1)
    info = video.info
    assert (info.width, info.height, info.rotation, info.codec) == (640, 360, 0, "h264")
    assert info.frame_rate == Fraction(2997, 100) and info.frame_count == 275 and info.has_audio
    frames = list(video)
    assert [f.index for f in frames] == list(range(0, 300, 30))
    period = 1 / info.frame_rate
    for k, frame in enumerate(frames):
        assert abs(frame.time - k) < period
        assert frame.image.shape == (360, 640, 3)
    assert frames[0].time == 0  # first pts is 10214, not 0


@needs_media
def test_hamilton_sampling_matches_brute_force() -> None:
    times = [f.time for f in VideoSource(HAMILTON, fps=1000)]
    assert len(times) == 275 and times[0] == 0
    assert times[1] == Fraction(400, 11988)
    for fps in (0.5, 2.5, 7, 29.97):
        kept = [f.index for f in VideoSource(HAMILTON, fps=fps)]
        expected = nearest_reference(times, Fraction(str(fps)))
        assert kept in (expected, sorted(set(expected) | {274})), fps


@needs_media
def test_hamilton_keyframes_only() -> None:
    all_times = {f.index: f.time for f in VideoSource(HAMILTON, fps=1000)}
    keys = list(VideoSource(HAMILTON, keyframes_only=True))
    assert len(keys) >= 2 and keys[0].index == 0
    for frame in keys:
        assert all_times[frame.index] == frame.time  # constant rate: the derived index is exact


# -- rotation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ccw", "clockwise", "red_corner"),
    [(90, 270, (-1, -1)), (-90, 90, (0, 0)), (180, 180, (0, -1))],
)
def test_display_rotation(tmp_path: Path, ccw: int, clockwise: int, red_corner: tuple[int, int]) -> None:
    """The display matrix written by PyAV is applied; the red lower-left quadrant moves accordingly."""
    clip = cfr(tmp_path / "rot.mp4", 3, rotation=ccw)
    video = VideoSource(clip)
    assert video.info.rotation == clockwise
    upright = (W, H) if clockwise == 180 else (H, W)
    assert (video.info.width, video.info.height) == upright
    frame = next(iter(video))
    video.close()
    assert frame.image.shape == (upright[1], upright[0], 3) and frame.image.flags.c_contiguous
    r, c = red_corner
    assert frame.image[r, c, 0] > 150 and frame.image[r, c, 2] < 60
    expected = rotate_clockwise(pattern(0), clockwise)
    assert np.abs(frame.image.astype(int) - expected).mean() < 12


def test_phone_style_display_matrix(tmp_path: Path) -> None:
    """The tkhd matrix of a phone held upright (ffprobe: rotation of -90) is a 90 degree clockwise turn."""
    clip = cfr(tmp_path / "phone.mp4", 2, matrix=[0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30])
    video = VideoSource(clip)
    assert video.info.rotation == 90 and (video.info.width, video.info.height) == (H, W)
    image = next(iter(video)).image
    video.close()
    assert image.shape == (W, H, 3)
    assert image[0, 0, 0] > 150  # the red lower-left corner is now top-left


def test_legacy_rotate_tag(tmp_path: Path) -> None:
    clip = cfr(tmp_path / "tag.mkv", 2, metadata={"rotate": "90"})
    video = VideoSource(clip)
    assert video.info.rotation == 90
    frames = list(video)
    assert frames[0].image.shape == (W, H, 3)


def test_rotate_clockwise_helper() -> None:
    img = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)  # [[0 1 2] [3 4 5]]
    assert rotate_clockwise(img, 90)[..., 0].tolist() == [[3, 0], [4, 1], [5, 2]]
    assert rotate_clockwise(img, 270)[..., 0].tolist() == [[2, 5], [1, 4], [0, 3]]
    assert rotate_clockwise(img, 180)[..., 0].tolist() == [[5, 4, 3], [2, 1, 0]]
    assert rotate_clockwise(img, 0) is img
    assert rotate_clockwise(img, 90).flags.c_contiguous
    with pytest.raises(ValueError):
        rotate_clockwise(img, 45)


# -- errors ---------------------------------------------------------------------------


def reason_of(source: object, **kwargs: object) -> str:
    with pytest.raises(MediaError) as caught:
        VideoSource(source, **kwargs)  # type: ignore[arg-type]
    assert caught.value.source == str(source)
    return caught.value.reason


def test_open_errors(tmp_path: Path) -> None:
    assert reason_of(tmp_path / "missing.mp4") == "file not found"
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert reason_of(tmp_path / "empty.mp4") == "empty file (0 bytes)"
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 50)
    assert reason_of(tmp_path / "text.mp4").startswith("not a media file FFmpeg can read: ")
    assert reason_of(tmp_path) == "is a directory, not a file"


def test_audio_only_has_no_video_stream(tmp_path: Path) -> None:
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert reason_of(path) == "no video stream"


@needs_media
def test_truncated_before_moov(tmp_path: Path) -> None:
    """The shared clips have their moov atom at the end: cut, they cannot be opened."""
    assert HAMILTON.read_bytes()[:200_000].find(b"moov") == -1
    reason = reason_of(truncate(HAMILTON, tmp_path / "cut.mp4"))
    assert reason.startswith("truncated or corrupt video")
    assert "moov" in reason


@needs_media
def test_truncated_faststart_h264(tmp_path: Path) -> None:
    fast = remux_faststart(HAMILTON, tmp_path / "fast.mp4")
    head = fast.read_bytes()[:4096]
    assert 0 <= head.find(b"moov") < head.find(b"mdat")
    cut = truncate(fast, tmp_path / "cut.mp4")
    video = VideoSource(cut)
    assert video.info.frame_count == 275  # the index announces all frames
    seen: list[int] = []
    with pytest.raises(MediaError) as caught:
        for frame in video:
            seen.append(frame.index)
    reason = caught.value.reason
    assert re.match(r"truncated or corrupt video at frame \d+ \(t=\d+\.\d{3}s\): ", reason), reason
    assert 50 < len(seen) < 275 and seen == list(range(len(seen)))
    assert video._container is None


def test_truncated_faststart_mpeg4_counts_frames(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A lenient decoder may decode a cut file without error: the frame count tells."""
    clip = cfr(tmp_path / "fast.mp4", 60, container_options={"movflags": "faststart"})
    cut = truncate(clip, tmp_path / "cut.mp4")
    with pytest.raises(MediaError, match=r"truncated or corrupt video at frame \d+"):
        list(VideoSource(cut))
    # strict=False: the decodable frames, a warning, no exception
    with caplog.at_level(logging.WARNING, logger="inafaceanalyzer.io.video"):
        frames = list(VideoSource(cut, strict=False))
    assert 10 < len(frames) < 60
    assert [f.index for f in frames] == list(range(len(frames)))
    assert [read_pattern(f.image) for f in frames[:5]] == list(range(5))
    assert any("truncated or corrupt video" in r.getMessage() for r in caplog.records)


def test_complete_file_is_not_reported(clip25: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="inafaceanalyzer.io.video"):
        assert len(list(VideoSource(clip25))) == 50
    assert not caplog.records


# -- HTTP -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_root(tmp_path_factory: pytest.TempPathFactory, clip25: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("www")
    shutil.copy(clip25, root / "clip25.mp4")  # moov at the end: needs Range requests
    with serve_directory(root) as base:
        yield base, root


def test_http_video(http_root: tuple[str, Path], clip25: Path) -> None:
    base, _ = http_root
    url = f"{base}/clip25.mp4"
    video = VideoSource(url, fps=5, timeout=10)
    assert video.info.source == url and video.info.frame_count == 50
    frames = list(video)
    local = list(VideoSource(clip25, fps=5))
    assert [(f.index, f.time) for f in frames] == [(f.index, f.time) for f in local]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, local))


def test_http_video_errors(http_root: tuple[str, Path]) -> None:
    base, _ = http_root
    assert reason_of(f"{base}/missing.mp4", timeout=10) == "HTTP 404 Not Found"
    with socket.socket() as sock:  # a port that was just free: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reason = reason_of(f"http://127.0.0.1:{port}/clip.mp4", timeout=10)
    assert reason.startswith("cannot connect: "), reason


def test_http_video_timeout() -> None:
    """A server that accepts the connection and never answers: a MediaError after the timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/clip.mp4"
        started = time.monotonic()
        assert reason_of(url, timeout=0.5) == "timed out after 0.5 s"
        assert time.monotonic() - started < 5


def test_frame_time_s(clip25: Path) -> None:
    frames = list(VideoSource(clip25, fps=5))
    assert [f.time_s for f in frames] == [k / 5 for k in range(10)]
    assert math.isclose(frames[-1].time_s, 1.8)
    # 2 fps: target 0.5 s is halfway between frames 12 (0.48 s) and 13 (0.52 s): the earlier wins
    assert [f.time_s for f in VideoSource(clip25, fps=2)] == [0.0, 0.48, 1.0, 1.48]


def test_source_accepts_pathlike_and_str(clip25: Path) -> None:
    with VideoSource(os.fspath(clip25)) as a, VideoSource(clip25) as b:
        assert a.info == b.info
        assert a.info.source == os.fspath(clip25)

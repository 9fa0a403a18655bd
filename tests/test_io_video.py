"""Tests of inafaceanalyzer.io.video: times, indexes, sampling, rotation, errors, URLs.

Synthetic clips are encoded with PyAV into tmp_path; each frame shows its own
index as a 16-bit pattern of 8x8 white/black blocks, so a test can tell which
frame was decoded. Real clips come from /work/shared/media (see its README.md
for their provenance); tests that need them are skipped when it is missing.
"""

from __future__ import annotations

import bisect
import itertools
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

from .clips import write_clip
from .conftest import HAMILTON, SHARED_VIDEOS
from .http_helpers import serve_directory

VIDEOS = SHARED_VIDEOS

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
    pts = list(pts)
    return write_clip(path, (pattern(i) for i in range(len(pts))), rate=rate, codec=codec, pts=pts,
                      time_base=time_base, options=options, container_options=container_options,
                      rotation=rotation, matrix=matrix, metadata=metadata)


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
    decisions = [sampler.keep((a + b) / 2) for a, b in itertools.pairwise(times)]
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


def test_hamilton_sampling_matches_brute_force() -> None:
    times = [f.time for f in VideoSource(HAMILTON, fps=1000)]
    assert len(times) == 275 and times[0] == 0
    assert times[1] == Fraction(400, 11988)
    for fps in (0.5, 2.5, 7, 29.97):
        kept = [f.index for f in VideoSource(HAMILTON, fps=fps)]
        expected = nearest_reference(times, Fraction(str(fps)))
        assert kept in (expected, sorted(set(expected) | {274})), fps


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


@pytest.mark.parametrize("ccw", [0, 90, 180])
def test_reduced_copy_is_the_upright_frame_shrunk(tmp_path: Path, ccw: int) -> None:
    """``reduced_size`` gives each kept frame a shrunk upright copy, close to shrinking the RGB frame."""
    from inafaceanalyzer.detection.base import resize_rgb

    clip = cfr(tmp_path / "rot.mp4", 4, rotation=ccw)
    video = VideoSource(clip, fps=12.5)
    width, height = video.info.width * 2 // 3, video.info.height * 2 // 3
    video.reduced_size = (width, height)
    frames = list(video)
    assert [f.index for f in frames] == [0, 2]
    for frame in frames:
        assert frame.reduced is not None and frame.reduced.shape == (height, width, 3)
        expected = resize_rgb(frame.image, width, height)
        assert np.abs(frame.reduced.astype(int) - expected).mean() < 4
    assert all(f.reduced is None for f in VideoSource(clip))


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


@pytest.mark.parametrize("kind", ["display matrix", "rotate tag"])
def test_every_reader_agrees_on_stream_rotation_and_time_zero(tmp_path: Path, kind: str) -> None:
    """VideoSource, the packet-timing scan and the live source read a video through io.container alike."""
    from inafaceanalyzer.io.packets import read_timing
    from inafaceanalyzer.live import LiveOptions, LiveSource

    pts = [7, 8, 9, 10]  # time zero is the first frame's stamp, not 0
    if kind == "display matrix":
        clip = encode(tmp_path / "r.mp4", pts, Fraction(1, 25), rate=Fraction(25), rotation=-90)
    else:
        clip = encode(tmp_path / "r.mkv", pts, Fraction(1, 25), rate=Fraction(25), metadata={"rotate": "90"})
    video = VideoSource(clip)
    frames = list(video)
    timing = read_timing(clip)
    assert (video.info.width, video.info.height, video.info.rotation) == (H, W, 90)
    assert (timing.width, timing.height, timing.rotation) == (H, W, 90)
    assert timing.times() == [f.time for f in frames] == [Fraction(i, 25) for i in range(4)]
    live = LiveSource(LiveOptions(source=str(clip))).start()
    got = live.slot.wait_newer(0, timeout=10)
    assert live.stop(timeout=5) and live.error is None
    assert got is not None
    first = got[1]
    assert first.rotation == 90 and first.to_rgb().shape == frames[0].image.shape
    if got[0] == 1:  # the first frame (the reader may be past it already)
        assert first.stream_time == 0 and np.array_equal(first.to_rgb(), frames[0].image)


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


def test_truncated_before_moov(tmp_path: Path) -> None:
    """The shared clips have their moov atom at the end: cut, they cannot be opened."""
    assert HAMILTON.read_bytes()[:200_000].find(b"moov") == -1
    reason = reason_of(truncate(HAMILTON, tmp_path / "cut.mp4"))
    assert reason.startswith("truncated or corrupt video")
    assert "moov" in reason


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
    assert all(np.array_equal(a.image, b.image) for a, b in zip(frames, local, strict=True))


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


# -- sparse decoding ----------------------------------------------------------------------
#
# With fps, VideoSource decodes only what the kept frames need; decode_all=True decodes
# every frame as before. Both must give the same frames, indexes, times and pixels.

SW, SH = 128, 96
SPARSE_FPS = [0.5, 1, 3, 7.3]

#: name -> (file name, encoder, encoder options, variable frame rate)
SPARSE_CLIPS: dict[str, tuple[str, str, dict[str, str], bool]] = {
    "h264-gop12-noB": ("nob.mp4", "libx264", {"g": "12", "bf": "0"}, False),
    "h264-gop12-B2-closed": ("closed.mp4", "libx264", {"g": "12", "bf": "2"}, False),
    "h264-gop50-default": ("gop50.mkv", "libx264", {"g": "50"}, False),
    "h264-open-gop-pyramid": (
        "open.mp4",
        "libx264",
        {"g": "12", "bf": "3", "x264-params": "open-gop=1:b-pyramid=normal:keyint-min=12"},
        False,
    ),
    "h264-open-gop-annexb": ("open.ts", "libx264", {"g": "12", "bf": "3", "x264-params": "open-gop=1"}, False),
    "h264-intra-refresh": ("refresh.mp4", "libx264", {"x264-params": "intra-refresh=1:keyint=30"}, False),
    "h264-vfr": ("vfr.mp4", "libx264", {"g": "12", "bf": "2"}, True),
    "hevc-open-gop": ("open_hevc.mp4", "libx265", {"x265-params": "keyint=24:log-level=error"}, False),
    "mpeg4-B2-open": ("mpeg4.mp4", "mpeg4", {"g": "12", "bf": "2"}, False),
    "mpeg2-open-gop-ts": ("mpeg2.ts", "mpeg2video", {"g": "15", "bf": "2", "flags": "-cgop"}, False),
    "vp9": ("vp9.webm", "libvpx-vp9", {"g": "20", "deadline": "realtime", "cpu-used": "8"}, False),
}
SPARSE_FRAMES = 150
VFR_STEPS_MS = [10, 85, 40, 40, 23, 61, 40, 12, 77, 40]  # cycled: 150 frames over about 6.4 s


def moving_pattern(index: int) -> np.ndarray:
    """A 128x96 frame: :func:`pattern` top-left, over smooth motion (so encoders use B-frames)."""
    yy, xx = np.mgrid[0:SH, 0:SW]
    img = np.empty((SH, SW, 3), np.uint8)
    img[..., 0] = (2 * xx + 3 * index) % 256
    img[..., 1] = (2 * yy + index) % 256
    img[..., 2] = 128
    left = (2 * index) % (SW - 16)
    img[60:76, left : left + 16] = 255
    img[:H, :W] = pattern(index)
    return img


def encode_moving(path: Path, codec: str, options: dict[str, str], vfr: bool = False, n: int = SPARSE_FRAMES) -> Path:
    """Encode ``moving_pattern(i)`` for i < n, at 25 fps or at irregular times (ms)."""
    if codec not in av.codecs_available:
        pytest.skip(f"encoder {codec} not in this PyAV build")
    time_base = Fraction(1, 1000) if vfr else Fraction(1, 25)
    stamps = [sum(VFR_STEPS_MS[k % len(VFR_STEPS_MS)] for k in range(i)) for i in range(n)] if vfr else range(n)
    frames = (moving_pattern(i) for i in range(n))
    if vfr:
        return write_clip(path, frames, codec=codec, options=options, pts=stamps, time_base=time_base)
    return write_clip(path, frames, codec=codec, options=options)


@pytest.fixture(scope="module")
def sparse_clip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Build (once per module) the synthetic clip of a given name."""
    folder = tmp_path_factory.mktemp("sparse")
    built: dict[str, Path] = {}

    def build(name: str) -> Path:
        if name not in built:
            filename, codec, options, vfr = SPARSE_CLIPS[name]
            built[name] = encode_moving(folder / filename, codec, options, vfr)
        return built[name]

    yield build


def decode_both(source: object, fps: float) -> tuple[list[Frame], list[Frame], VideoSource, VideoSource]:
    """The kept frames decoded sparsely and in full, and the two sources (for their counters)."""
    sparse, full = VideoSource(source, fps=fps), VideoSource(source, fps=fps, decode_all=True)  # type: ignore[arg-type]
    return list(sparse), list(full), sparse, full


def assert_same_frames(got: Sequence[Frame], expected: Sequence[Frame]) -> None:
    assert [(f.index, f.time) for f in got] == [(f.index, f.time) for f in expected]
    for a, b in zip(got, expected, strict=True):
        assert np.array_equal(a.image, b.image), f"pixels differ at frame {a.index}"


def fell_back(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "decoding every frame" in r.getMessage()]


@pytest.mark.parametrize("fps", SPARSE_FPS)
@pytest.mark.parametrize("name", list(SPARSE_CLIPS))
def test_sparse_decoding_is_exact(sparse_clip: object, name: str, fps: float, caplog: pytest.LogCaptureFixture) -> None:
    """Closed and open GOPs, B-frames, Annex B, VFR, HEVC, MPEG-2/4, VP9: the same frames as a full decode."""
    clip = sparse_clip(name)  # type: ignore[operator]
    with caplog.at_level(logging.INFO, logger="inafaceanalyzer.io.video"):
        got, expected, sparse, full = decode_both(clip, fps)
    assert_same_frames(got, expected)
    assert not fell_back(caplog)  # the sparse path itself was tested
    assert full.decoded_frames == SPARSE_FRAMES
    assert sparse.decoded_frames < SPARSE_FRAMES or fps == 7.3
    assert [read_pattern(f.image[:H, :W]) for f in got] == [f.index for f in got]  # the right source frames


@pytest.mark.shared_media
@pytest.mark.parametrize("fps", SPARSE_FPS)
@pytest.mark.parametrize("clip", sorted(VIDEOS.glob("*.mp4")), ids=lambda p: p.stem)
def test_sparse_decoding_is_exact_on_real_clips(clip: Path, fps: float, caplog: pytest.LogCaptureFixture) -> None:
    """H.264 with and without B-frames (one GOP or several), MPEG-4 part 2, odd frame rates."""
    with caplog.at_level(logging.INFO, logger="inafaceanalyzer.io.video"):
        got, expected, sparse, full = decode_both(clip, fps)
    assert_same_frames(got, expected)
    assert not fell_back(caplog)
    assert sparse.decoded_frames < full.decoded_frames


def test_sparse_decoding_skips_gops_and_non_reference_frames(sparse_clip: object) -> None:
    # no B-frames, GOP 12: 0.5 fps keeps frames 0, 50, 100; GOPs 0, 4, 8 are decoded up to them
    video = VideoSource(sparse_clip("h264-gop12-noB"), fps=0.5)  # type: ignore[operator]
    assert [f.index for f in video] == [0, 50, 100]
    assert video.decoded_frames == 1 + 3 + 5
    # GOP 50 with B-frames: at 1 fps, half of each GOP at most, without its non-reference B-frames
    video = VideoSource(sparse_clip("h264-gop50-default"), fps=1)  # type: ignore[operator]
    assert [f.index for f in video] == list(range(0, 150, 25))
    assert video.decoded_frames < 150 * 0.45
    # keyframes only
    video = VideoSource(sparse_clip("h264-gop50-default"), fps=0.5)  # type: ignore[operator]
    assert [f.index for f in video] == [0, 50, 100] and video.decoded_frames == 3


def test_decoded_frames_counter(clip25: Path) -> None:
    for video in (VideoSource(clip25), VideoSource(clip25, fps=5, decode_all=True)):
        assert video.decoded_frames == 1  # the first frame, for VideoInfo
        list(video)
        assert video.decoded_frames == 50
    video = VideoSource(clip25, fps=5, keyframes_only=True)
    list(video)
    assert video.decoded_frames == 5  # mpeg4's default GOP of 12 frames


def test_sparse_without_timestamps_decodes_everything(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A raw H.264 stream has no packet timestamps: the full decode gives the answer."""
    clip = tmp_path / "raw.h264"
    write_clip(clip, (pattern(i) for i in range(40)), codec="libx264", options={"g": "12"}, container_format="h264")
    with caplog.at_level(logging.INFO, logger="inafaceanalyzer.io.video"):
        got, expected, sparse, _ = decode_both(clip, 3)
    assert_same_frames(got, expected)
    assert [f.index for f in got] == [0, 8, 17, 25, 33]
    assert fell_back(caplog) == [f"{clip}: decoding every frame (packets without presentation timestamps)"]
    assert sparse.decoded_frames == 40


def test_sparse_fallback_midway_continues_exactly(
    sparse_clip: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """When the plan fails after frames were delivered, a full decode delivers the rest."""
    from inafaceanalyzer.io import video as video_module

    complete = video_module._SparseDecoder._complete

    def failing(self: video_module._SparseDecoder, packets: list[av.Packet]) -> Iterator[object]:
        if self.frames_planned >= 60:
            raise video_module._Unplannable("test")
        return complete(self, packets)

    clip = sparse_clip("h264-gop12-B2-closed")  # type: ignore[operator]
    expected = list(VideoSource(clip, fps=3, decode_all=True))
    monkeypatch.setattr(video_module._SparseDecoder, "_complete", failing)
    with caplog.at_level(logging.INFO, logger="inafaceanalyzer.io.video"):
        assert_same_frames(list(VideoSource(clip, fps=3)), expected)
    assert fell_back(caplog) == [f"{clip}: decoding every frame (test)"]


def test_sparse_checks_the_decoder_output(
    sparse_clip: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A frame the decoder does not give is noticed: the video is decoded in full instead."""
    from inafaceanalyzer.io import video as video_module

    send = video_module._SparseDecoder._send

    def lossy(self: video_module._SparseDecoder, packet: av.Packet | None) -> list[av.VideoFrame]:
        frames = send(self, packet)
        return [f for f in frames if f.pts != 2 * 512 * 25]  # loses the frame at 2 s

    clip = sparse_clip("h264-gop12-B2-closed")  # type: ignore[operator]
    expected = list(VideoSource(clip, fps=1, decode_all=True))
    monkeypatch.setattr(video_module._SparseDecoder, "_send", lossy)
    with caplog.at_level(logging.INFO, logger="inafaceanalyzer.io.video"):
        assert_same_frames(list(VideoSource(clip, fps=1)), expected)
    [message] = fell_back(caplog)
    assert message.startswith(f"{clip}: decoding every frame (the decoder gave ")


def test_sparse_decoder_error_is_left_to_the_full_decode(
    sparse_clip: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A decoder error in sparse decoding: everything is decoded again, and errors reported as before."""
    from inafaceanalyzer.io import video as video_module

    class FailingStream:
        """The video stream, whose decoder fails on the packet at 2 s."""

        def __init__(self, stream: av.video.stream.VideoStream) -> None:
            self._stream = stream

        def __getattr__(self, name: str) -> object:
            return getattr(self._stream, name)

        def decode(self, packet: av.Packet | None = None) -> list[av.VideoFrame]:
            if packet is not None and packet.pts * packet.time_base == 2:
                raise av.error.InvalidDataError(-1094995529, "Invalid data found when processing input")
            return self._stream.decode(packet)

    class Container:
        """The container, demuxing the real stream."""

        def __init__(self, container: av.container.InputContainer) -> None:
            self._container = container

        def demux(self, stream: FailingStream) -> Iterator[av.Packet]:
            return self._container.demux(stream._stream)

    init = video_module._SparseDecoder.__init__

    def failing_init(self: video_module._SparseDecoder, owner: VideoSource, container: object, stream: object) -> None:
        init(self, owner, Container(container), FailingStream(stream))  # type: ignore[arg-type]

    clip = sparse_clip("h264-gop12-B2-closed")  # type: ignore[operator]
    expected = list(VideoSource(clip, fps=1, decode_all=True))
    monkeypatch.setattr(video_module._SparseDecoder, "__init__", failing_init)
    with caplog.at_level(logging.INFO, logger="inafaceanalyzer.io.video"):
        assert_same_frames(list(VideoSource(clip, fps=1)), expected)
    assert fell_back(caplog) == [
        f"{clip}: decoding every frame (decoder error: Invalid data found when processing input)"
    ]


def test_sparse_lookahead_limit(sparse_clip: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """GOPs too long to hold in memory: every frame is decoded, from the first frame on."""
    from inafaceanalyzer.io import sparse as sparse_module

    clip = sparse_clip("h264-gop50-default")  # type: ignore[operator]
    expected = list(VideoSource(clip, fps=1, decode_all=True))
    monkeypatch.setattr(sparse_module, "SPARSE_LOOKAHEAD_BYTES", 2000)
    video = VideoSource(clip, fps=1)
    assert_same_frames(list(video), expected)
    assert video.decoded_frames == SPARSE_FRAMES


def cut_after_packet(src: Path, dst: Path, packet_number: int) -> Path:
    """Copy ``src`` up to the end of one video packet's data (no packet is left incomplete)."""
    with av.open(str(src)) as container:
        packet = next(itertools.islice(container.demux(video=0), packet_number, None))
        end = packet.pos + packet.size
    dst.write_bytes(src.read_bytes()[:end])
    return dst


@pytest.mark.parametrize("cut_at", [0.45, 0.6, 0.75, "packet 70"])
def test_sparse_truncated_file_same_frames_and_error(sparse_clip: object, tmp_path: Path, cut_at: object) -> None:
    """A cut inside a packet (flagged corrupt: decoded in full) or between packets (sparse: packets counted)."""
    fast = remux_faststart(sparse_clip("h264-gop12-B2-closed"), tmp_path / "fast.mp4")  # type: ignore[operator]
    if isinstance(cut_at, float):
        cut = truncate(fast, tmp_path / "cut.mp4", cut_at)
    else:
        cut = cut_after_packet(fast, tmp_path / "cut.mp4", 70)
    outcomes = []
    for decode_all in (False, True):
        frames: list[Frame] = []
        with pytest.raises(MediaError) as caught:
            frames.extend(VideoSource(cut, fps=3, decode_all=decode_all))
        outcomes.append((frames, caught.value.reason))
    (got, got_reason), (expected, expected_reason) = outcomes
    assert_same_frames(got, expected)
    assert got_reason == expected_reason
    assert re.match(r"truncated or corrupt video at frame \d+ \(t=", got_reason), got_reason
    assert 0.3 * 18 < len(got) < 18
    assert_same_frames(list(VideoSource(cut, fps=3, strict=False)), expected)


def test_sparse_truncated_faststart_h264(tmp_path: Path) -> None:
    cut = truncate(remux_faststart(HAMILTON, tmp_path / "fast.mp4"), tmp_path / "cut.mp4")
    outcomes = []
    for decode_all in (False, True):
        frames: list[Frame] = []
        with pytest.raises(MediaError) as caught:
            frames.extend(VideoSource(cut, fps=1, decode_all=decode_all))
        outcomes.append(([(f.index, f.time) for f in frames], caught.value.reason))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] and outcomes[0][1].startswith("truncated or corrupt video at frame 156")


# -- the NAL unit rules sparse decoding relies on ----------------------------------------

AVCC = bytes([1, 0x64, 0, 0x1F, 0xFF, 0xE1])  # avcC header: 4-byte NAL lengths


def avcc_packet(*units: bytes) -> av.Packet:
    return av.Packet(b"".join(len(u).to_bytes(4, "big") + u for u in units))


B_SLICE, P_SLICE, I_SLICE, IDR = b"\x01\x9a\x20", b"\x41\x9a\x20", b"\x21\x88\x80", b"\x65\x88\x80"
SPS = b"\x67\x64\x00\x1f"


def sei(kind: int, body: bytes) -> bytes:
    return b"\x06" + bytes([kind, len(body)]) + body + b"\x80"


def test_h264_non_reference_frames() -> None:
    from inafaceanalyzer.io.video import _H264

    h264 = _H264(AVCC)
    assert h264.disposable(avcc_packet(B_SLICE))
    assert h264.disposable(avcc_packet(b"\x09\xf0", sei(1, b"\x12\x34"), B_SLICE))  # delimiter, pic timing
    assert not h264.disposable(avcc_packet(P_SLICE))  # nal_ref_idc 2
    assert not h264.disposable(avcc_packet(sei(19, b"\x00"), B_SLICE))  # film grain changes later frames
    assert not h264.disposable(avcc_packet(SPS, B_SLICE))
    assert not h264.disposable(avcc_packet(sei(1, b"\x00")))  # no slice
    assert not h264.disposable(av.Packet(b"\x00\x00\x00\x09\x01"))  # length past the end
    assert h264.has_parameter_sets(avcc_packet(SPS, IDR)) and not h264.has_parameter_sets(avcc_packet(P_SLICE))
    annex_b = _H264(b"")
    assert annex_b.disposable(av.Packet(b"\x00\x00\x00\x01" + B_SLICE + b"\x00\x00\x01" + sei(5, b"x" * 20)))
    assert not annex_b.disposable(av.Packet(b"\x00\x00\x01" + P_SLICE))


def test_h264_where_decoding_may_start() -> None:
    from inafaceanalyzer.io.video import _H264

    h264 = _H264(AVCC)
    assert h264.startable(avcc_packet(SPS, IDR), has_leading=True)
    # recovery point SEI: recovery_frame_cnt 0 (ue "1") and exact_match_flag 1
    assert h264.startable(avcc_packet(sei(6, b"\xc4"), I_SLICE), has_leading=True)
    assert not h264.startable(avcc_packet(sei(6, b"\x84"), I_SLICE), has_leading=True)  # not exact
    assert not h264.startable(avcc_packet(sei(6, b"\x4c"), I_SLICE), has_leading=False)  # recovery after 1 frame
    assert not h264.startable(avcc_packet(I_SLICE), has_leading=False)  # a non-IDR I frame alone


def test_sei_messages_with_emulation_prevention() -> None:
    from inafaceanalyzer.io.video import _NalBitstream

    # one message of 4 bytes 00 00 01 02, escaped as 00 00 03 01 02, then a second message
    payload = b"\x05\x04\x00\x00\x03\x01\x02" + b"\x01\x01\x07" + b"\x80"
    assert _NalBitstream.sei_messages(payload) == [(5, b"\x00\x00\x01\x02"), (1, b"\x07")]
    assert _NalBitstream.sei_messages(b"\xff\x05\x02\x00\x00\x80") == [(260, b"\x00\x00")]
    assert _NalBitstream.sei_messages(b"\x05\x09\x00\x80") is None  # size past the end


def test_hevc_non_reference_frames_and_random_access() -> None:
    from inafaceanalyzer.io.video import _Hevc

    hvcc = bytearray(23)
    hvcc[0], hvcc[21] = 1, (1 << 3) | 3  # one temporal layer, 4-byte NAL lengths
    hevc = _Hevc(bytes(hvcc))

    def unit(kind: int, temporal_id: int = 0) -> bytes:
        return bytes([kind << 1, temporal_id + 1, 0xAF])

    assert hevc.disposable(avcc_packet(unit(35), unit(0)))  # delimiter, TRAIL_N
    assert hevc.disposable(avcc_packet(unit(8)))  # RASL_N
    assert not hevc.disposable(avcc_packet(unit(1)))  # TRAIL_R
    assert not hevc.disposable(avcc_packet(unit(0, temporal_id=1)))  # above the top layer: malformed
    assert not hevc.disposable(avcc_packet(unit(34), unit(0)))  # PPS
    assert hevc.startable(avcc_packet(unit(32), unit(33), unit(34), unit(21)), has_leading=True)  # CRA
    assert not hevc.startable(avcc_packet(unit(1)), has_leading=False)
    hvcc[21] = 3  # number of temporal layers unknown: no frame is known to be unreferenced
    assert not _Hevc(bytes(hvcc)).disposable(avcc_packet(unit(0)))

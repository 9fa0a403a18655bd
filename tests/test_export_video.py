"""The annotated MP4: every source frame at its own time, boxes drawn and held, audio kept, upright.

Synthetic clips are encoded in tmp_path (tests/export_helpers.py); the
Hamilton clip of ../shared/media (29.97 fps, AAC audio starting before the
video) is analysed by the real CLI.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pandas as pd
import pytest

from inafaceanalyzer.errors import OptionsError
from inafaceanalyzer.export.annotated import draw_faces, h264_encoder
from inafaceanalyzer.export.overlay import FaceMark, parse_bboxes
from inafaceanalyzer.export.render import Sampling, export_annotations
from inafaceanalyzer.io import VideoSource

from .conftest import HAMILTON
from .export_helpers import ANALYZER, make_clip, run, table


def frames_of(path):
    return list(VideoSource(path))


def streams_of(path):
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        return {
            "codec": video.codec_context.name,
            "frames": video.frames,
            "size": (video.width, video.height),
            "duration": container.duration,
            "audio": [(a.codec_context.name, a.duration and float(a.duration * a.time_base)) for a in container.streams.audio],
        }


def outline_difference(source: np.ndarray, output: np.ndarray, box) -> tuple[float, float]:
    """Mean absolute difference on the box's outline, and inside it away from the lines."""
    left, top, right, bottom = (int(round(v)) for v in box)
    height, width = source.shape[:2]
    rows = slice(max(top, 0), min(bottom, height))
    edge = np.abs(source[rows, max(left, 0)].astype(int) - output[rows, max(left, 0)].astype(int)).mean()
    cy, cx = (top + bottom) // 2, (left + right) // 2
    r = max(2, (right - left) // 6)
    inner = np.abs(source[cy - r : cy + r, cx - r : cx + r].astype(int) - output[cy - r : cy + r, cx - r : cx + r].astype(int)).mean()
    return float(edge), float(inner)


def test_libx264_is_in_pyav():
    assert h264_encoder() == "libx264"


def test_draw_faces_leaves_the_input_alone():
    image = np.full((64, 96, 3), 100, np.uint8)
    drawn = draw_faces(image, [FaceMark((10, 30, 40, 60), "F 90% 30 y", "f")])
    assert (image == 100).all()
    assert tuple(drawn[45, 10]) == (255, 140, 26)  # the left edge, women's orange
    assert (drawn[45, 25] == 100).all()  # inside the box: untouched


def test_every_frame_boxes_held_and_audio_kept(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", 50, rate=Fraction(25), size=(96, 64), audio="aac")
    times = [f.time_s for f in VideoSource(clip, fps=5)]  # analysed at 5 fps: frames 0, 5, 10...
    df = table(times, [[(20, 12, 60, 52)]] * len(times))
    df = df[df.time_s < 1.0]  # faces in the first second only
    out = tmp_path / "out" / "clip.mp4"
    export_annotations(clip, df, mp4_path=out, sampling=Sampling(5))

    info = streams_of(out)
    assert info["codec"] == "h264" and info["frames"] == 50
    assert info["audio"] and info["audio"][0][0] == "aac"
    assert info["duration"] == pytest.approx(streams_of(clip)["duration"], abs=0.05e6)
    source, output = frames_of(clip), frames_of(out)
    assert [f.time for f in output] == [f.time for f in source]  # each frame at its own time
    for s, o in zip(source, output, strict=True):
        edge, inner = outline_difference(s.image, o.image, (20, 12, 60, 52))
        if s.time < 1:  # held from each analysed frame to the next one
            assert edge > 40, s.index
        else:
            assert edge < 12, s.index
        assert inner < 12


def test_rotated_source_comes_out_upright(tmp_path):
    clip = make_clip(tmp_path / "phone.mp4", 10, size=(96, 64), rotation=90)  # stored landscape, shown portrait
    upright = frames_of(clip)
    assert upright[0].image.shape == (96, 64, 3)
    times = [f.time_s for f in upright]
    df = table(times, [[(8, 40, 40, 72)]] * len(times))
    out = tmp_path / "phone_out.mp4"
    export_annotations(clip, df, mp4_path=out, sampling=Sampling())
    info = streams_of(out)
    assert info["size"] == (64, 96) and info["frames"] == 10
    with av.open(str(out)) as container:
        first = next(container.decode(video=0))
        assert not first.rotation  # no rotation flag left to apply
    output = frames_of(out)
    edge, inner = outline_difference(upright[0].image, output[0].image, (8, 40, 40, 72))
    assert edge > 40 and inner < 12
    assert np.abs(upright[3].image[:20].astype(int) - output[3].image[:20].astype(int)).mean() < 10


def test_variable_frame_rate_times_are_kept(tmp_path):
    pts = [0, 40, 120, 130, 200, 400, 410, 1000, 1040]
    clip = make_clip(tmp_path / "vfr.mp4", len(pts), pts=pts, time_base=Fraction(1, 1000))
    df = table([0.0, 0.2], [[(10, 10, 40, 40)], [(12, 10, 42, 40)]])
    out = tmp_path / "vfr_out.mp4"
    export_annotations(clip, df, mp4_path=out, sampling=Sampling())
    assert [f.time for f in frames_of(out)] == [f.time for f in frames_of(clip)]


def test_pcm_audio_is_reencoded_to_aac_and_odd_sizes_are_padded(tmp_path):
    clip = make_clip(tmp_path / "odd.mkv", 25, size=(95, 63), codec="ffv1", audio="pcm_s16le")
    df = table([0.0], [[(10, 10, 50, 50)]])
    out = tmp_path / "odd.mp4"
    export_annotations(clip, df, mp4_path=out, sampling=Sampling())
    info = streams_of(out)
    assert info["frames"] == 25 and info["size"] == (96, 64)
    assert info["audio"][0][0] == "aac"
    assert info["audio"][0][1] == pytest.approx(1.0, abs=0.1)


def test_the_source_is_never_overwritten(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", 5)
    before = clip.read_bytes()
    with pytest.raises(OptionsError):
        export_annotations(clip, table([0.0], [[(1, 1, 20, 20)]]), mp4_path=tmp_path / "." / "clip.mp4")
    assert clip.read_bytes() == before


@pytest.fixture(scope="module")
def hamilton_mp4(tmp_path_factory):
    out = tmp_path_factory.mktemp("mp4")
    proc = run(ANALYZER, "--engine", "video", "--fps", "2", "--mp4_export", "-i", HAMILTON, "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out / (HAMILTON.stem + ".csv"), out / (HAMILTON.stem + ".mp4")


@pytest.mark.shared_media
def test_hamilton_mp4_has_the_source_frames_duration_and_audio(hamilton_mp4):
    _, mp4 = hamilton_mp4
    source, output = streams_of(HAMILTON), streams_of(mp4)
    assert output["codec"] == "h264"
    assert abs(output["frames"] - source["frames"]) <= 1
    assert output["size"] == source["size"]
    assert output["duration"] == pytest.approx(source["duration"], abs=1e6 / 29.97)
    assert output["audio"] and output["audio"][0][0] == "aac"
    assert output["audio"][0][1] == pytest.approx(source["audio"][0][1], abs=0.05)


@pytest.mark.shared_media
def test_hamilton_mp4_boxes_are_drawn_where_faces_were_found(hamilton_mp4):
    csv, mp4 = hamilton_mp4
    df = pd.read_csv(csv)
    source = {f.index: f for f in VideoSource(HAMILTON)}
    output = {f.index: f for f in VideoSource(mp4)}
    assert [f.time for f in output.values()] == [f.time for f in source.values()]
    boxes = parse_bboxes(df.bbox)
    checked = 0
    for (_, row), box in zip(df.iterrows(), boxes, strict=True):
        left, top, right, bottom = box
        if left < 2 or top < 2 or right > 638 or bottom > 358:
            continue  # the outline is partly outside the frame
        edge, _ = outline_difference(source[row.frame].image, output[row.frame].image, box)
        assert edge > 15, (row.frame, row.bbox)
        checked += 1
    assert checked >= 10

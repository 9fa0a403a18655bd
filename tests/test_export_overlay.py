"""What exports draw: labels, per-frame overlays, and the analysed frames they hold until."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from inafaceanalyzer.export.overlay import build_overlay, face_labels, overlay_at, parse_bboxes
from inafaceanalyzer.export.timeline import AnalysedFrames, analysed_frames, infer_analysed_frames
from inafaceanalyzer.io import VideoSource
from inafaceanalyzer.io.packets import read_timing

from .export_helpers import make_clip, table


def test_labels_of_untracked_and_tracked_tables():
    plain = table([0.0], [[(0, 0, 10, 10), (20, 0, 30, 10)]], genders=[["f", "m"]], ages=[[34.4, 61.0]])
    assert face_labels(plain) == ["F 88% 34 y", "M 88% 61 y"]
    tracked = table([0.0, 1.0], [[(0, 0, 10, 10)], [(0, 0, 10, 10)]], genders=[["f"], ["m"]], ages=[[20.0], [30.0]],
                    ids=[[7], [7]])
    tracked["sex_decfunc_avg"] = -1.0  # the track is a woman's, whatever each frame says
    tracked["sex_label_avg"] = "f"
    assert face_labels(tracked) == ["#7 F 73% 25 y", "#7 F 73% 25 y"]  # smoothed values
    bare = plain[["frame", "bbox", "time_s", "sex_label"]]  # columns missing: left out of the label
    assert face_labels(bare) == ["F", "M"]


def test_parse_bboxes():
    boxes = parse_bboxes(pd.Series(["(1, 2, 3, 4)", "(-5, 6, 70, 80)"]))
    assert boxes.tolist() == [[1, 2, 3, 4], [-5, 6, 70, 80]]
    assert parse_bboxes(pd.Series([], dtype=object)).shape == (0, 4)


def test_overlay_groups_faces_by_frame_and_holds_to_the_next_analysed_frame():
    df = table([0.4, 0.0, 0.4], [[(1, 1, 5, 5)], [(2, 2, 6, 6)], [(3, 3, 7, 7)]]).sample(frac=1, random_state=1)
    analysed = AnalysedFrames.from_times([0.0, 0.2, 0.4, 0.6], end=0.8)
    overlay = build_overlay(df, analysed)
    assert [(f.start, f.end, len(f.faces)) for f in overlay] == [(0.0, 0.2, 1), (0.4, 0.6, 2)]
    shown, hint = overlay_at(overlay, 0.1)
    assert shown is overlay[0]
    assert overlay_at(overlay, 0.3, hint)[0] is None  # the frame at 0.2 s had no face
    assert overlay_at(overlay, 0.59, hint)[0] is overlay[1]
    assert overlay_at(overlay, 0.7, hint)[0] is None


def test_overlay_needs_a_video_table():
    with pytest.raises(ValueError, match="time_s"):
        build_overlay(pd.DataFrame({"frame": ["a.jpg"], "bbox": ["(1, 2, 3, 4)"]}), AnalysedFrames.from_times([], 0))


def test_inference_without_the_source_caps_holds():
    times = np.array([0.0, 0.5, 1.0, 5.0, 5.5])
    frames = infer_analysed_frames(times)
    assert not frames.exact
    ends = frames.hold_ends(times)
    assert ends.tolist() == [0.5, 1.0, 1.75, 5.5, 6.0]  # at most 1.5 usual spacings; the last one, one


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_clip(tmp_path_factory.mktemp("clips") / "c.mp4", 100, rate=Fraction(30000, 1001))


@pytest.mark.parametrize("fps", [None, 0.5, 2, 3, 10, 29.97, 100])
def test_rebuilt_frames_are_the_analysis_frames(clip, fps):
    expected = [f.time_s for f in VideoSource(clip, fps=fps)]
    assert analysed_frames(read_timing(clip), fps=fps).times.tolist() == expected


@pytest.mark.parametrize("fps", [2, 3, 10])
def test_inference_finds_the_sampling_rate(clip, fps):
    timing = read_timing(clip)
    analysed = [f.time_s for f in VideoSource(clip, fps=fps)]
    with_faces = analysed[::2] + analysed[1:4]  # faces in a few consecutive frames, then every other one
    frames = infer_analysed_frames(np.array(with_faces), timing)
    assert frames.times.tolist() == analysed


def test_inference_of_keyframes(tmp_path):
    clip = make_clip(tmp_path / "gop.mp4", 60, rate=Fraction(25))  # mpeg4's default GOP: 12 frames
    timing = read_timing(clip)
    keyframes = [f.time_s for f in VideoSource(clip, keyframes_only=True)]
    assert 1 < len(keyframes) < 60
    frames = infer_analysed_frames(np.array(keyframes[1:]), timing)
    assert frames.times.tolist() == keyframes
    assert analysed_frames(timing, keyframes=True).times.tolist() == keyframes

"""ASS subtitles: script resolution, exact event times, boxes and labels, live runs and re-rendering.

Synthetic clips and tables are built in tmp_path (tests/export_helpers.py);
the Hamilton clip of ../shared/media (29.97 fps, its first video frame 0.844 s
after the container's start) is analysed by the real CLI.
"""

from __future__ import annotations

import re
from fractions import Fraction

import pandas as pd
import pysubs2
import pytest

from inafaceanalyzer.export.ass import ass_time, centiseconds, font_size, write_ass
from inafaceanalyzer.export.overlay import FaceMark, OverlayFrame, build_overlay
from inafaceanalyzer.export.render import Sampling, export_annotations
from inafaceanalyzer.export.timeline import AnalysedFrames, analysed_frames
from inafaceanalyzer.io import VideoSource
from inafaceanalyzer.io.packets import read_timing

from .conftest import HAMILTON
from .export_helpers import ANALYZER, RENDER, make_clip, run, table


def test_time_format_and_rounding():
    assert ass_time(0) == "0:00:00.00"
    assert ass_time(3661.234) == "1:01:01.23"
    assert ass_time(0.005) == "0:00:00.01"  # half up
    assert ass_time(599.9984) == "0:10:00.00"
    assert centiseconds(1001 / 30000 * 3) == 10


def test_script_resolution_boxes_and_labels(tmp_path):
    overlay = [
        OverlayFrame(0.0, 0.5, (FaceMark((10, 40, 60, 90), "#3 F 93% 34 y", "f", 3),)),
        OverlayFrame(0.5, 1.0, (FaceMark((-5, 2, 40, 47), "M 80% 50 y", "m"),)),
    ]
    path = tmp_path / "x.ass"
    assert write_ass(path, overlay, 1280, 720, title="x.mp4") == 2
    subs = pysubs2.load(str(path))
    assert (subs.info["PlayResX"], subs.info["PlayResY"]) == ("1280", "720")
    assert subs.styles["Label"].fontsize == font_size(720) == 29  # about 4% of the height
    boxes = [e for e in subs.events if e.style == "Box"]
    labels = [e for e in subs.events if e.style == "Label"]
    assert len(boxes) == len(labels) == 2
    assert r"\p1" in boxes[0].text and r"\pos(10,40)" in boxes[0].text
    assert "m 0 0 l 50 0 50 50 0 50" in boxes[0].text  # the box, drawn from its top-left corner
    assert r"\1c&H1A8CFF&" in boxes[0].text  # women orange (BGR)
    assert r"\1c&HFFAA40&" in boxes[1].text  # men blue
    assert labels[0].plaintext == "#3 F 93% 34 y"
    assert r"\an1\pos(10," in labels[0].text  # above the box
    assert r"\an7" in labels[1].text  # no room above: inside the box
    assert [(e.start, e.end) for e in boxes] == [(0, 500), (500, 1000)]


def test_consecutive_events_never_overlap_nor_leave_gaps(tmp_path):
    times = [i * Fraction(1001, 30000) for i in range(200)]  # every frame of a 29.97 fps video
    overlay = [OverlayFrame(float(a), float(b), (FaceMark((0, 0, 10, 10), "F", "f"),)) for a, b in zip(times, times[1:], strict=False)]
    path = tmp_path / "x.ass"
    write_ass(path, overlay, 64, 48, offset=0.8440136853520187)
    events = pysubs2.load(str(path)).events
    assert len(events) == 2 * 199
    boxes = [e for e in events if e.style == "Box"]
    for before, after in zip(boxes, boxes[1:], strict=False):
        assert before.end == after.start
        assert before.end > before.start


def test_events_hold_until_the_next_analysed_frame_even_without_faces(tmp_path):
    df = table([0.0, 1.0], [[(10, 10, 30, 30)], [(12, 10, 32, 30)]])
    analysed = AnalysedFrames.from_times([0.0, 0.5, 1.0, 1.5], end=2.0)  # 0.5 and 1.5 s: no face
    path = tmp_path / "x.ass"
    write_ass(path, build_overlay(df, analysed), 64, 48)
    boxes = [e for e in pysubs2.load(str(path)).events if e.style == "Box"]
    assert [(e.start, e.end) for e in boxes] == [(0, 500), (1000, 1500)]


@pytest.mark.parametrize("rate", [Fraction(30000, 1001), Fraction(24000, 1001)], ids=["29.97", "23.976"])
def test_ten_minute_ntsc_file_does_not_drift(tmp_path, rate):
    """The last event of a 10-minute 29.97 / 23.976 fps file starts at its frame's exact time."""
    clip = make_clip(tmp_path / "long.mp4", int(600 * rate), rate=rate, size=(32, 32))
    timing = read_timing(clip)
    frames = analysed_frames(timing, fps=1)
    assert list(frames.times) == [f.time_s for f in VideoSource(clip, fps=1)]  # the analysis' frames
    df = table(frames.times, [[(4, 4, 20, 20)]] * len(frames.times))
    path = tmp_path / "long.ass"
    export_annotations(clip, df, ass_path=path, sampling=Sampling(1))
    events = [e for e in pysubs2.load(str(path)).events if e.style == "Box"]
    last = events[-1]
    index = round(599 * rate)  # the frame nearest 599 s
    exact = index / rate
    assert abs(last.start / 1000 - float(exact)) <= 0.005
    assert abs(exact - 599) < 1 / rate  # and not 599 s * 30/29.97 or an int(fps) drift
    assert last.end == pytest.approx(float(timing.end) * 1000, abs=5)
    # the inference from the table finds the same frames
    inferred = tmp_path / "inferred.ass"
    export_annotations(clip, df, ass_path=inferred)
    assert inferred.read_text() == path.read_text()


@pytest.fixture(scope="module")
def hamilton_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ass")
    proc = run(ANALYZER, "--engine", "video", "--fps", "2", "--ass_subtitle_export", "-i", HAMILTON, "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.shared_media
def test_live_run_writes_subtitles_that_match_the_table(hamilton_run):
    csv = hamilton_run / (HAMILTON.stem + ".csv")
    df = pd.read_csv(csv)
    assert len(df) > 10
    subs = pysubs2.load(str(hamilton_run / (HAMILTON.stem + ".ass")))
    assert (subs.info["PlayResX"], subs.info["PlayResY"]) == ("640", "360")
    boxes = [e for e in subs.events if e.style == "Box"]
    assert len(boxes) == len(df)
    # players count time from the container's start, 0.844 s before the first video frame
    offset = float(read_timing(HAMILTON, packets=False).player_offset)
    assert offset == pytest.approx(0.844, abs=0.001)
    header = (hamilton_run / (HAMILTON.stem + ".ass")).read_text()
    assert f"plus {offset:.6f} s" in header
    starts = sorted(e.start for e in boxes)
    expected = sorted(round(centiseconds(t + offset) * 10) for t in df.time_s)
    assert starts == expected
    assert all(abs(s / 1000 - (t + offset)) <= 0.005 for s, t in zip(starts, sorted(df.time_s), strict=True))
    # each event lasts until the next analysed frame (every 0.5 s at --fps 2)
    assert all(460 <= e.end - e.start <= 540 for e in boxes if e.end < 9000)
    positions = {tuple(map(int, re.search(r"\\pos\((-?\d+),(-?\d+)\)", e.text).groups())) for e in boxes}
    bboxes = {tuple(map(int, b.strip("()").split(", ")[:2])) for b in df.bbox}
    assert positions == bboxes


@pytest.mark.shared_media
def test_rerendering_from_the_csv_gives_the_same_subtitles(hamilton_run, tmp_path):
    csv = hamilton_run / (HAMILTON.stem + ".csv")
    proc = run(RENDER, "--ass_subtitle_export", "-i", csv, "--video", HAMILTON, "-o", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / (HAMILTON.stem + ".ass")).read_text() == (hamilton_run / (HAMILTON.stem + ".ass")).read_text()
    again = tmp_path / "fps"
    proc = run(RENDER, "--ass_subtitle_export", "--fps", "2", "-i", csv, "--video", HAMILTON, "-o", again)
    assert proc.returncode == 0, proc.stderr
    assert (again / (HAMILTON.stem + ".ass")).read_text() == (hamilton_run / (HAMILTON.stem + ".ass")).read_text()


def test_file_without_offset_has_event_starts_equal_to_time_s(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", 50, rate=Fraction(25))
    assert read_timing(clip).player_offset == 0
    times = [f.time_s for f in VideoSource(clip, fps=5)]
    df = table(times, [[(10, 10, 40, 40), (50, 10, 80, 40)]] * len(times))
    export_annotations(clip, df, ass_path=tmp_path / "c.ass", sampling=Sampling(5))
    boxes = [e for e in pysubs2.load(str(tmp_path / "c.ass")).events if e.style == "Box"]
    assert sorted(e.start for e in boxes) == sorted(centiseconds(t) * 10 for t in df.time_s)

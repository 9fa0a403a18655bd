"""The ``ina_face_analyzer.py`` command as users run it, on real media."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import pytest

from inafaceanalyzer.cli.analyze import main as analyze_main

from .clips import write_clip
from .conftest import BUNDLED, HAMILTON, INDIA, KNUTH, SHARED_VIDEOS
from .http_helpers import serve_directory

pytestmark = pytest.mark.shared_media

SEED_VIDEO_HEADER = "frame,bbox,detect_conf,sex_decfunc,age_decfunc,sex_label,age_label"
COMMAND = shutil.which("ina_face_analyzer.py") or "ina_face_analyzer.py"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, "--no_progress", *map(str, args)], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def hamilton_fps1(tmp_path_factory):
    out = tmp_path_factory.mktemp("fps1")
    proc = run_cli("--engine", "video", "--fps", "1", "-i", HAMILTON, "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out / (HAMILTON.stem + ".csv")


def test_console_script_is_installed_under_the_seed_name():
    assert shutil.which("ina_face_analyzer.py"), "pip install must provide ina_face_analyzer.py"


def test_fps1_keeps_one_frame_per_second_of_the_2997_clip(hamilton_fps1):
    assert hamilton_fps1.read_text().splitlines()[0].startswith(SEED_VIDEO_HEADER + ",left,top,right,bottom,time_s,timecode")
    df = pd.read_csv(hamilton_fps1)
    assert len(df) > 0
    assert set(df.frame) <= {0, 30, 60, 90, 120, 150, 180, 210, 240, 270}
    assert len(set(df.frame)) >= 5
    period = 100 / 2997  # the clip's frame period (29.97 fps)
    assert ((df.time_s - df.time_s.round()).abs() <= period).all()
    assert ((df.time_s - df.frame * period).abs() < 1e-6).all()  # times come from the PTS


def test_box_and_timecode_columns_repeat_bbox_and_time_s(hamilton_fps1):
    df = pd.read_csv(hamilton_fps1)
    assert all(df[c].dtype.kind == "i" for c in ("left", "top", "right", "bottom"))
    boxes = df.bbox.str.strip("()").str.split(", ", expand=True).astype(int)
    assert (boxes.to_numpy() == df[["left", "top", "right", "bottom"]].to_numpy()).all()
    # frame 30 of a 29.97 fps clip is shown at 30 * 1001/30000 = 1.001 s exactly
    assert set(df.loc[df.frame == 30, "timecode"]) <= {"00:00:01.001"}
    millis = df.timecode.str.slice(0, 2).astype(int) * 3_600_000 + df.timecode.str.slice(3, 5).astype(int) * 60_000
    millis += (df.timecode.str.slice(6).astype(float) * 1000).round().astype(int)
    assert ((df.time_s * 1000 - millis) >= -1e-6).all() and ((df.time_s * 1000 - millis) < 1).all()


def test_video_rows_match_the_api(hamilton_fps1, analyzer):
    from inafaceanalyzer import AnalysisOptions, analyze_video

    api = analyze_video(HAMILTON, AnalysisOptions(fps=1), analyzer=analyzer)
    cli = pd.read_csv(hamilton_fps1)
    assert list(cli.frame) == list(api.frame)
    assert list(cli.bbox) == list(api.bbox)
    assert (cli.sex_decfunc - api.sex_decfunc).abs().max() < 1e-9


def test_batch_with_bad_inputs_writes_the_good_one_and_names_each_bad_one(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    text = bad / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    empty = bad / "empty.mp4"
    empty.write_bytes(b"")
    truncated = bad / "truncated.mp4"
    data = (SHARED_VIDEOS / "facenet-pytorch__video.mp4").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    missing = bad / "missing.mp4"
    out = tmp_path / "out"

    proc = run_cli("--engine", "video", "--fps", "2", "-i", missing, text, HAMILTON, truncated, empty, "-o", out)

    assert proc.returncode == 1
    for path in (missing, text, truncated, empty):
        assert str(path) in proc.stderr, f"{path.name} is not named in:\n{proc.stderr}"
    assert "not found" in proc.stderr
    assert "empty" in proc.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == [HAMILTON.stem + ".csv", HAMILTON.stem + ".meta.json"], written  # no file of the bad inputs
    good = pd.read_csv(out / (HAMILTON.stem + ".csv"))
    assert good.frame.max() >= 255  # the whole 10 s clip, sampled at 2 fps
    assert len(set(good.frame)) >= 10


def test_video_without_faces_gets_its_header(tmp_path):
    import numpy as np

    clip = tmp_path / "black.mp4"
    write_clip(clip, [np.zeros((64, 96, 3), np.uint8)] * 10)
    out = tmp_path / "out"
    proc = run_cli("-i", clip, "-o", out)
    assert proc.returncode == 0, proc.stderr
    lines = (out / "black.csv").read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith(SEED_VIDEO_HEADER)


def test_image_engine_writes_one_csv_and_reports_bad_images(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(INDIA.read_bytes()[:2000])
    output = tmp_path / "results.csv"
    proc = run_cli("--engine", "image", "-i", INDIA, broken, KNUTH, "-o", output)
    assert proc.returncode == 1
    assert str(broken) in proc.stderr
    df = pd.read_csv(output)
    assert set(df.frame) == {str(INDIA), str(KNUTH)}
    assert len(df[df.frame == str(INDIA)]) == 5


def usage_error(capsys, *args) -> str:
    """Run ina_face_analyzer.py in-process (no model is loaded before a usage error); its stderr."""
    with pytest.raises(SystemExit) as exit_info:
        analyze_main([str(arg) for arg in args])
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_image_engine_rejects_a_non_csv_output(tmp_path, capsys):
    assert ".csv" in usage_error(capsys, "--engine", "image", "-i", INDIA, "-o", tmp_path / "results.txt")


def test_contradicting_options_are_a_usage_error(tmp_path, capsys):
    assert "fps" in usage_error(capsys, "--engine", "videokeyframes", "--fps", "1", "-i", HAMILTON, "-o", tmp_path)


@pytest.fixture()
def http_root(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    with serve_directory(root) as base:
        yield root, base


def test_urls_work_for_an_image_and_a_video(http_root, tmp_path):
    root, base = http_root
    shutil.copy(KNUTH, root / "knuth.jpg")
    shutil.copy(HAMILTON, root / "clip.mp4")
    out = tmp_path / "out"
    proc = run_cli("--engine", "video", "--fps", "1", "-i", f"{base}/clip.mp4", f"{base}/missing.mp4", "-o", out)
    assert proc.returncode == 1
    assert f"{base}/missing.mp4" in proc.stderr
    assert "404" in proc.stderr
    df = pd.read_csv(out / "clip.csv")
    assert set(df.frame) <= {0, 30, 60, 90, 120, 150, 180, 210, 240, 270} and len(df) > 0

    images = tmp_path / "images.csv"
    proc = run_cli("--engine", "image", "-i", f"{base}/knuth.jpg", "-o", images)
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(images)
    assert list(df.frame) == [f"{base}/knuth.jpg"] and list(df.sex_label) == ["m"]


def test_python_dash_m_runs_the_same_command(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "inafaceanalyzer", "--no_progress", "--engine", "image",
         "-i", str(BUNDLED / "india.jpg"), "-o", str(tmp_path / "india.csv")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(tmp_path / "india.csv")) == 5


def test_keyframes_engine_decodes_keyframes_only(tmp_path):
    proc = run_cli("--engine", "videokeyframes", "-i", HAMILTON, "-o", tmp_path)
    assert proc.returncode == 0, proc.stderr
    df = pd.read_csv(tmp_path / (HAMILTON.stem + ".csv"))
    import av

    with av.open(str(HAMILTON)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.pts is not None]
        first = min(p.pts for p in packets)
        keyframe_times = {round(float((p.pts - first) * stream.time_base), 6) for p in packets if p.is_keyframe}
    assert len(df) > 0
    assert {round(t, 6) for t in df.time_s} <= keyframe_times

"""Inputs that do not fit on a command line: long argv, ``-i DIR`` and ``--input_list``, for every command."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from inafaceanalyzer.cli import analyze, render
from inafaceanalyzer.errors import OptionsError
from inafaceanalyzer.io.inputs import IMAGE_EXTENSIONS, expand_inputs

from .conftest import HAMILTON, KNUTH224, SHARED_VIDEOS

pytestmark = pytest.mark.shared_media

COMMAND = shutil.which("ina_face_analyzer.py") or "ina_face_analyzer.py"


def _tree(root: Path) -> dict[str, Path]:
    """A folder of photos with subfolders, hidden entries and files that are no images."""
    files = {
        "b.jpg": root / "b.jpg",
        "a/z.JPG": root / "a" / "z.JPG",
        "a/deeper/c.png": root / "a" / "deeper" / "c.png",
        "hidden file": root / ".d.jpg",
        "hidden dir": root / ".cache" / "e.jpg",
        "text": root / "notes.txt",
        "table": root / "a" / "old.csv",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return files


def test_a_directory_is_walked_sorted_for_its_media_files_hidden_ones_skipped(tmp_path):
    files = _tree(tmp_path / "photos")
    assert expand_inputs([str(tmp_path / "photos")], (), IMAGE_EXTENSIONS) == [
        str(files[k]) for k in ("a/deeper/c.png", "a/z.JPG", "b.jpg")
    ]
    # files, URLs and missing paths pass as given, in order, around the walked directory
    assert expand_inputs(["x.mp4", "https://host/dir", str(tmp_path / "photos" / "a" / "deeper")], (),
                         IMAGE_EXTENSIONS) == ["x.mp4", "https://host/dir", str(files["a/deeper/c.png"])]


def test_an_input_list_skips_blank_lines_and_comments_and_reads_stdin(tmp_path):
    listing = tmp_path / "inputs.txt"
    listing.write_text("# my photos\n\n  /data/one.jpg  \nhttps://host/two.jpg\n   # indented comment\n")
    assert expand_inputs([], [str(listing)]) == ["/data/one.jpg", "https://host/two.jpg"]
    assert expand_inputs([], ["-"], stdin=io.StringIO("a.mp4\n\nb.mp4\n")) == ["a.mp4", "b.mp4"]


@pytest.mark.parametrize("case", ["empty directory", "directory of other files", "empty list", "missing list",
                                  "nothing"])
def test_an_empty_expansion_is_a_usage_error_naming_it(tmp_path, case, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (tmp_path / "others").mkdir()
    (tmp_path / "others" / "readme.txt").write_text("no photo here")
    (tmp_path / "others" / ".hidden.jpg").write_bytes(b"")
    listing = tmp_path / "list.txt"
    listing.write_text("# nothing\n\n")
    argv, named = {
        "empty directory": (["-i", str(empty)], str(empty)),
        "directory of other files": (["-i", str(tmp_path / "others")], str(tmp_path / "others")),
        "empty list": (["--input_list", str(listing)], str(listing)),
        "missing list": (["--input_list", str(tmp_path / "nope.txt")], str(tmp_path / "nope.txt")),
        "nothing": ([], "--input_list"),
    }[case]
    with pytest.raises(SystemExit) as exit_info:
        analyze.main(["--engine", "image", *argv, "-o", str(tmp_path / "out.csv")])
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()
    with pytest.raises(OptionsError, match="no path or URL"):
        expand_inputs([], ["-"], stdin=io.StringIO("\n# only a comment\n"))


def test_image_engine_analyses_2500_paths_given_on_its_command_line(tmp_path):
    # onnxruntime 1.29 and 1.30 segfault on import once argv exceeds about 32 KiB
    photos = tmp_path / "a_folder_with_a_fairly_long_name_for_the_photos_of_the_study"
    photos.mkdir()
    paths = []
    for index in range(2500):
        path = photos / f"photo_{index:05d}.jpg"
        path.symlink_to(KNUTH224)
        paths.append(str(path))
    assert sum(len(p) + 1 for p in paths) > 4 * 32 * 1024
    output = tmp_path / "results.csv"
    proc = subprocess.run([COMMAND, "--no_progress", "--engine", "image", "--tta", "none", "-i", *paths,
                           "-o", str(output)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr[-2000:]}"
    table = pd.read_csv(output)
    assert sorted(set(table.frame)) == paths  # every photo analysed: its face found
    assert set(table.sex_label) == {"m"}


def test_image_engine_reads_a_directory_and_an_input_list_from_stdin(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    (photos / ".thumbnails").mkdir()
    for target in (photos / "sub" / "b.jpg", photos / "a.JPG", photos / ".thumbnails" / "t.jpg", photos / ".x.jpg"):
        target.symlink_to(KNUTH224)
    (photos / "description.txt").write_text("not a photo")
    listing = tmp_path / "more.txt"
    listing.write_text(f"# one more\n\n{KNUTH224}\n")
    output = tmp_path / "results.csv"
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{photos / 'sub' / 'b.jpg'}\n"))
    status = analyze.main(["--no_progress", "--engine", "image", "--tta", "none", "-i", str(photos),
                           "--input_list", str(listing), "--input_list", "-", "-o", str(output)])
    assert status == 0
    assert list(pd.read_csv(output).frame) == [
        str(photos / "a.JPG"), str(photos / "sub" / "b.jpg"), str(KNUTH224), str(photos / "sub" / "b.jpg"),
    ]


@pytest.mark.parametrize("engine", ["preprocessed_image"])
def test_preprocessed_images_from_a_directory(tmp_path, engine):
    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "knuth.jpg").symlink_to(KNUTH224)
    (faces / "notes.md").write_text("crops")
    output = tmp_path / "faces.csv"
    assert analyze.main(["--no_progress", "--engine", engine, "--tta", "none", "-i", str(faces),
                         "-o", str(output)]) == 0
    assert list(pd.read_csv(output).filename) == [str(faces / "knuth.jpg")]


@pytest.mark.parametrize("engine", ["videokeyframes", "videotracking", "video"])
def test_video_engines_read_a_directory_then_render_reads_the_tables_from_one(tmp_path, engine):
    videos = tmp_path / "videos"
    (videos / "2024").mkdir(parents=True)
    (videos / "2024" / "hamilton.mp4").symlink_to(HAMILTON)
    (videos / "poster.jpg").symlink_to(KNUTH224)  # an image, not a video: left out
    (videos / ".partial.mp4").write_bytes(b"")  # hidden: left out
    listing = tmp_path / "videos.txt"
    listing.write_text(f"# the second clip\n{SHARED_VIDEOS / 'LivePortrait__d11.mp4'}\n")
    out = tmp_path / "out"
    extra = ["--fps", "1"] if engine != "videokeyframes" else []
    assert analyze.main(["--no_progress", "--engine", engine, *extra, "-i", str(videos), "--input_list",
                         str(listing), "-o", str(out)]) == 0
    tables = sorted(p.name for p in out.iterdir())
    expected = ["LivePortrait__d11.csv", "LivePortrait__d11.meta.json", "hamilton.csv", "hamilton.meta.json"]
    if engine == "videotracking":
        expected = ["LivePortrait__d11.csv", "LivePortrait__d11.meta.json", "LivePortrait__d11.people.csv",
                    "LivePortrait__d11.tracks.csv", "hamilton.csv", "hamilton.meta.json", "hamilton.people.csv",
                    "hamilton.tracks.csv"]
    assert tables == expected
    if engine != "videokeyframes":
        return
    rendered = tmp_path / "rendered"
    assert render.main(["--no_progress", "--ass_subtitle_export", "-i", str(out), "--video", str(videos),
                        str(SHARED_VIDEOS / "LivePortrait__d11.mp4"), "--keyframes", "-o", str(rendered)]) == 0
    assert sorted(p.name for p in rendered.iterdir()) == ["LivePortrait__d11.ass", "hamilton.ass"]

    listing = tmp_path / "tables.txt"
    listing.write_text(f"{out / 'hamilton.csv'}\n")
    again = tmp_path / "again"
    assert render.main(["--no_progress", "--ass_subtitle_export", "--input_list", str(listing), "--video",
                        str(videos), "--keyframes", "-o", str(again)]) == 0
    assert sorted(p.name for p in again.iterdir()) == ["hamilton.ass"]


def test_render_refuses_a_directory_without_tables(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_info:
        render.main(["--ass_subtitle_export", "-i", str(tmp_path / "empty"), "--video", str(HAMILTON)])
    assert exit_info.value.code == 2
    assert str(tmp_path / "empty") in capsys.readouterr().err
    assert os.listdir(tmp_path / "empty") == []


"""Command-line mistakes answered with the fix: the other engine, the other kind of ``-o``, the names there are.

Each runs in-process through the command's ``main(argv)``.
"""

from __future__ import annotations

import pandas as pd
import pytest

from inafaceanalyzer.classification import CLASSIFIERS
from inafaceanalyzer.cli import analyze, evaluate, webcam_demo
from inafaceanalyzer.detection import DETECTORS
from inafaceanalyzer.options import ENGINES

from .conftest import HAMILTON, KNUTH

pytestmark = pytest.mark.shared_media


def _usage_error(capsys, main, *argv: object) -> str:
    with pytest.raises(SystemExit) as exit_:
        main([*map(str, argv)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return " ".join(err.split())


@pytest.mark.logs_errors
def test_a_video_given_to_the_image_engine_says_to_use_the_video_engine(tmp_path, capsys):
    status = analyze.main(["--no_progress", "--engine", "image", "-i", str(HAMILTON), "-o", str(tmp_path / "r.csv")])
    assert status == 1
    err = capsys.readouterr().err
    assert f"{HAMILTON}: not an image" in err and "this is a video; analyse it with a video engine (--engine video)" in err


@pytest.mark.logs_errors
def test_a_photo_given_to_a_video_engine_says_to_use_the_image_engine_and_the_batch_goes_on(tmp_path, capsys):
    out = tmp_path / "out"
    status = analyze.main(["--no_progress", "--engine", "videokeyframes", "-i", str(KNUTH), str(HAMILTON),
                           "-o", str(out)])
    assert status == 1
    err = capsys.readouterr().err
    assert f"{KNUTH}: a still image (mjpeg), not a video: analyse photos with the image engine (--engine image)" in err
    assert "1 of 2 input(s) failed" in err
    assert not (out / f"{KNUTH.stem}.csv").exists()  # no table for the photo
    assert len(pd.read_csv(out / f"{HAMILTON.stem}.csv")) > 0  # the video still analysed


def test_a_file_as_the_output_folder_of_a_video_engine_says_what_to_give(tmp_path, capsys):
    existing = tmp_path / "notes"
    existing.write_text("mine")
    err = _usage_error(capsys, analyze.main, "--engine", "video", "-i", HAMILTON, "-o", existing)
    assert f"-o {existing}: with a video engine OUTPUT is a directory (one table per video), and this is a file" in err
    assert "give a directory (created if missing), or --engine image" in err
    assert existing.read_text() == "mine"  # not ours: left alone
    err = _usage_error(capsys, analyze.main, "--engine", "video", "-i", HAMILTON, "-o", tmp_path / "faces.csv")
    assert f"did you mean -o {tmp_path / 'faces'}/ ?" in err


def test_a_folder_as_the_output_table_of_the_image_engine_says_what_to_give(tmp_path, capsys):
    folder = tmp_path / "results"
    folder.mkdir()
    err = _usage_error(capsys, analyze.main, "--engine", "image", "-i", KNUTH, "-o", folder)
    assert f"-o {folder}: with an image engine OUTPUT is the one .csv table of all images, and this is a directory" in err
    assert f"give a file, e.g. -o {folder / 'faces.csv'}, or a video engine (--engine video)" in err
    err = _usage_error(capsys, analyze.main, "--engine", "image", "--output_format", "parquet", "-i", KNUTH,
                       "-o", f"{tmp_path / 'new'}/")
    assert f"e.g. -o {tmp_path / 'new' / 'faces.parquet'}" in err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    ("flag", "registry"),
    [("--engine", ENGINES), ("--face_detector", DETECTORS), ("--classifier", CLASSIFIERS)],
)
def test_an_unknown_name_lists_the_registered_ones(tmp_path, capsys, flag, registry):
    err = _usage_error(capsys, analyze.main, flag, "Nope", "-i", KNUTH, "-o", tmp_path / "out")
    assert f"argument {flag}: invalid choice: 'Nope'" in err
    assert all(f"'{name}'" in err for name in registry)
    err = _usage_error(capsys, evaluate.main, flag, "Nope", "-d", tmp_path, "-o", tmp_path / "out")
    assert "invalid choice: 'Nope'" in err and all(f"'{name}'" in err for name in registry)


def test_the_webcam_demo_lists_the_live_engines_only(capsys):
    err = _usage_error(capsys, webcam_demo.main, "--engine", "image")
    assert "invalid choice: 'image' (choose from 'video')" in err


def test_a_file_as_the_output_folder_of_the_evaluation_says_what_to_give(tmp_path, capsys):
    existing = tmp_path / "report.md"
    existing.write_text("mine")
    err = _usage_error(capsys, evaluate.main, "-d", tmp_path, "-o", existing)
    assert f"-o {existing}: OUTPUT is a folder (it receives report.md and CSV files), and this is a file" in err
    assert existing.read_text() == "mine"

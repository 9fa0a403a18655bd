"""Clear errors instead of tracebacks: bad option values, unusable outputs, a path where a list goes."""

from __future__ import annotations

import logging
import math
import subprocess

import numpy as np
import pytest

from inafaceanalyzer import AnalysisOptions, analyze_images, iter_video
from inafaceanalyzer.cli.analyze import main
from inafaceanalyzer.errors import MediaError, OptionsError
from inafaceanalyzer.io import load_image
from inafaceanalyzer.runs import run_batch

from .conftest import HAMILTON, KNUTH, SHARED_VIDEOS

pytestmark = pytest.mark.shared_media


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"min_face_size_px": math.nan}, "min_face_size_px must be an integer"),
        ({"min_face_size_px": 30.0}, "min_face_size_px must be an integer"),
        ({"bbox_scaling": math.inf}, "bbox_scaling must be a finite number"),
        ({"bbox_scaling": "1.1"}, "bbox_scaling must be a finite number"),
        ({"face_detection_confidence": math.nan}, "face_detection_confidence must be a finite number or None"),
        ({"min_reliable_face_px": -math.inf}, "min_reliable_face_px must be a finite number"),
        ({"fps": True}, "fps must be a finite number or None"),
        ({"fps": math.inf}, "fps must be a finite number or None"),
        ({"engine": "videotracking", "detect_period": 1.5}, "detect_period must be an integer"),
        ({"threads": 1.5}, "threads must be an integer or None"),
        ({"batch_size": True}, "batch_size must be an integer"),
        ({"squarify_bbox": 1}, "squarify_bbox must be True or False"),
        ({"calibrate_gender": "no"}, "calibrate_gender must be True or False"),
        ({"engine": 3}, "engine must be a string"),
        ({"tta": None}, "tta must be a string"),
    ],
)
def test_each_option_checks_its_type_and_finiteness(values, named):
    with pytest.raises(OptionsError, match=f"^{named}, not "):
        AnalysisOptions(**values)


def test_numpy_numbers_are_options_and_become_python_numbers():
    options = AnalysisOptions(batch_size=np.int64(4), bbox_scaling=np.float32(1.5), squarify_bbox=np.bool_(False))
    assert (options.batch_size, options.bbox_scaling, options.squarify_bbox) == (4, 1.5, False)
    assert type(options.batch_size) is int and type(options.bbox_scaling) is float
    assert type(options.squarify_bbox) is bool


def _usage_error(capsys, *argv: object) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(["--no_progress", *map(str, argv)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_table_name_as_the_output_of_a_video_engine_is_a_usage_error(tmp_path, capsys):
    err = _usage_error(capsys, "--engine", "video", "-i", HAMILTON, "-o", tmp_path / "out.csv")
    assert f"-o {tmp_path / 'out.csv'}: with a video engine OUTPUT is a directory" in err
    assert f"did you mean -o {tmp_path / 'out'}/ ?" in err
    assert not (tmp_path / "out.csv").exists()
    err = _usage_error(capsys, "--engine", "video", "-i", HAMILTON, "-o", tmp_path / "out.parquet")
    assert "did you mean" in err


@pytest.mark.logs_errors
def test_an_existing_directory_named_like_a_table_is_a_video_output(tmp_path, capsys):
    out = tmp_path / "out.csv"
    out.mkdir()
    assert main(["--no_progress", "--engine", "videokeyframes", "-i", str(tmp_path / "missing.mp4"), "-o", str(out)]) == 1
    assert f"{tmp_path / 'missing.mp4'}: file not found" in capsys.readouterr().err


def test_an_output_directory_through_a_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    err = _usage_error(capsys, "-i", HAMILTON, "-o", tmp_path / "a_file" / "out")
    assert f"cannot create the directory {tmp_path / 'a_file' / 'out'}: {tmp_path / 'a_file'} is a file" in err
    err = _usage_error(capsys, "--engine", "image", "-i", KNUTH, "-o", tmp_path / "a_file" / "out" / "r.csv")
    assert f"cannot create the directory {tmp_path / 'a_file' / 'out'}: {tmp_path / 'a_file'} is a file" in err


def test_an_output_on_a_read_only_file_system_is_a_usage_error(tmp_path, capsys):
    readonly = tmp_path / "ro"
    readonly.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(readonly)]).returncode:
        pytest.skip("cannot mount a read-only tmpfs on this machine (not root, or no CAP_SYS_ADMIN)")
    try:
        err = _usage_error(capsys, "-i", HAMILTON, "-o", readonly / "out")
        assert f"cannot create the directory {readonly / 'out'}: Read-only file system" in err
        err = _usage_error(capsys, "--engine", "image", "-i", KNUTH, "-o", readonly / "r.csv")
        assert f"the directory {readonly} is not writable" in err
    finally:
        subprocess.run(["umount", str(readonly)], check=True)


def test_inputs_that_would_write_one_table_are_a_usage_error(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"
    first.write_bytes(HAMILTON.read_bytes())
    second.write_bytes(HAMILTON.read_bytes())
    err = _usage_error(capsys, "--engine", "videokeyframes", "-i", first, second, "-o", tmp_path / "out")
    assert f"inputs {first} and {second} would both write" in err


def test_the_api_takes_one_path_as_a_list_of_one(analyzer):
    for source in (str(KNUTH), KNUTH):
        faces = analyze_images(source, analyzer=analyzer)
        assert list(faces.frame.unique()) == [str(KNUTH)]
        assert len(faces) == 1
    with pytest.raises(TypeError, match="not int"):
        analyze_images(3, analyzer=analyzer)
    with pytest.raises(TypeError, match="one video is a path or URL"):
        iter_video([HAMILTON], analyzer=analyzer)


def test_a_video_given_to_the_image_engine_says_to_use_a_video_engine(tmp_path):
    renamed = tmp_path / "clip.bin"  # a video whatever its name says
    renamed.write_bytes(HAMILTON.read_bytes())
    for path in (HAMILTON, renamed):
        with pytest.raises(MediaError, match=r"not an image .*this is a video; .*--engine video"):
            load_image(path)
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(MediaError) as error:
        load_image(text)
    assert "video" not in error.value.reason


@pytest.mark.logs_errors
def test_an_unexpected_failure_of_one_input_is_recorded_and_the_batch_goes_on(tmp_path, caplog):
    # A scaling so large that the boxes' coordinates overflow to infinity: finite, so valid, but no table can hold it.
    options = AnalysisOptions(engine="videokeyframes", bbox_scaling=1e308)
    sources = [str(SHARED_VIDEOS / "LivePortrait__d11.mp4"), str(tmp_path / "missing.mp4"), str(HAMILTON)]
    with caplog.at_level(logging.DEBUG, logger="inafaceanalyzer.runs.batch"):
        report = run_batch(sources, tmp_path / "out", options)
    assert [f.source for f in report.failures] == sources
    reasons = [f.reason for f in report.failures]
    assert reasons[0] == reasons[2] == "OverflowError: cannot convert float infinity to integer"
    assert reasons[1] == "file not found"
    assert list((tmp_path / "out").iterdir()) == []
    assert any(r.exc_info and r.levelno == logging.DEBUG for r in caplog.records)

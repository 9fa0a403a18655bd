"""The help of every command: each default shown once and true, choices that match what is accepted."""

from __future__ import annotations

import re

import pytest

from inafaceanalyzer.cli import analyze, distributed_server, distributed_worker, evaluate, render, webcam_demo

PARSERS = {
    "ina_face_analyzer.py": analyze.build_parser,
    "ina_face_analyzer_distributed_server.py": distributed_server.build_parser,
    "ina_face_analyzer_distributed_worker.py": distributed_worker.build_parser,
    "ina_face_render": render.build_parser,
    "ina_face_evaluate": evaluate.build_parser,
    "ina_face_analyzer_webcam_demo.py": webcam_demo.build_parser,
}


@pytest.mark.parametrize("name", PARSERS)
def test_help_shows_each_default_once_and_no_switch_default(name):
    text = " ".join(PARSERS[name]().format_help().split())
    # on/off switches (--no_gender_calibration) have no default to show: "True" read as if they were on
    assert "(default: True)" not in text and "(default: False)" not in text
    assert "(default: None)" not in text
    assert not re.search(r"default[^()]*\)\s*\(default:", text), "a default shown twice"


def test_webcam_demo_offers_the_engine_it_runs_only(capsys):
    parser = webcam_demo.build_parser()
    assert "--engine {video}" in parser.format_help()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--engine", "image"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'image'" in capsys.readouterr().err


def test_switches_say_what_they_turn_off():
    text = analyze.build_parser().format_help()
    flat = " ".join(text.split())
    assert "--no_gender_calibration raw gender scores" in flat
    assert "--no_squarify_bbox keep the detector's box shape" in flat

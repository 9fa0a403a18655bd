"""The plug-in registries (engines, detectors, classifiers), and the worked example of ``docs/plugins.md``.

The example is run exactly as the page writes it: its code block is read
from the page, executed, and the detector it registers analyses a real photo
through :class:`FaceAnalyzer` and through ``ina_face_analyzer.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inafaceanalyzer import AnalysisOptions, FaceAnalyzer
from inafaceanalyzer.classification import CLASSIFIERS, register_classifier
from inafaceanalyzer.cli import analyze, distributed_server, evaluate, webcam_demo
from inafaceanalyzer.detection import DETECTORS, FaceDetector, register_detector
from inafaceanalyzer.errors import OptionsError
from inafaceanalyzer.io import load_image
from inafaceanalyzer.options import DEFAULT_DETECTION_CONFIDENCE, ENGINES
from inafaceanalyzer.pipeline.results import COLUMNS, table_columns

from .conftest import KNUTH

PAGE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
SEED = ("frame", "bbox", "detect_conf", "sex_decfunc", "age_decfunc", "sex_label", "age_label")
BOX = ("left", "top", "right", "bottom")
EXTRAS = ("face_size", "sex_prob_male", "age_std", "reliable")


def _example_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S)
    [block] = [block for block in blocks if block.startswith("# worked example: a detector plug-in")]
    return block


@pytest.fixture()
def dlib_hog():
    """The page's example detector, registered by its own code; unregistered afterwards."""
    namespace: dict = {"__name__": "docs_plugins_example"}
    exec(compile(_example_code(), str(PAGE), "exec"), namespace)  # noqa: S102 - the documentation's own example
    cls = namespace["DlibHOG"]
    try:
        yield cls
    finally:
        DETECTORS.pop(cls.name, None)


def _iou(a, b) -> float:
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.shared_media
def test_the_documented_detector_registers_and_runs_through_the_analyzer(dlib_hog, analyzer):
    assert DETECTORS["DlibHOG"] is dlib_hog
    assert DEFAULT_DETECTION_CONFIDENCE["DlibHOG"] == 0.5  # the options' defaults see it
    options = AnalysisOptions(engine="image", face_detector="DlibHOG")
    assert options.detection_confidence == 0.5
    ours = FaceAnalyzer(options, classifier=analyzer.classifier)
    assert isinstance(ours.detector, dlib_hog)
    image = load_image(KNUTH)
    faces, reference = ours(image), analyzer(image)
    assert len(faces) == len(reference) == 1
    assert _iou(faces.xyxy[0], reference.xyxy[0]) > 0.5  # the same face as LibFaceDetection's
    assert faces.landmarks is None  # this detector gives none ...
    assert faces.alignment_points.shape == (1, 5, 2)  # ... the alignment fits its own
    assert faces.data["sex_label"][0] == reference.data["sex_label"][0] == "m"


@pytest.mark.shared_media
def test_the_documented_detector_is_a_choice_of_the_command(dlib_hog, tmp_path):
    assert "DlibHOG: dlib's HOG frontal face detector" in " ".join(analyze.build_parser().format_help().split())
    out = tmp_path / "faces.csv"
    assert analyze.main(["--no_progress", "--engine", "image", "--face_detector", "DlibHOG", "-i", str(KNUTH),
                         "-o", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == list(COLUMNS["image"]) and len(table) == 1


def test_a_registration_checks_the_facts_and_refuses_a_taken_name(dlib_hog):
    with pytest.raises(ValueError, match="'DlibHOG' is taken"):
        register_detector(type("Other", (dlib_hog,), {}))
    with pytest.raises(TypeError, match="default_confidence must be a number within"):
        register_detector(type("Bad", (dlib_hog,), {"name": "Bad", "default_confidence": 75}))
    with pytest.raises(TypeError, match="FaceDetector subclass"):
        register_detector(object)
    with pytest.raises(TypeError, match="columns must start with"):
        register_classifier(type("Odd", (CLASSIFIERS["HSEGenderAge"],), {"name": "Odd", "columns": ("age_label",)}))
    assert "Bad" not in DETECTORS and "Odd" not in CLASSIFIERS
    assert all(issubclass(cls, FaceDetector) for cls in DETECTORS.values())


@pytest.mark.parametrize(
    ("field", "registry"),
    [("engine", ENGINES), ("face_detector", DETECTORS), ("classifier", CLASSIFIERS)],
)
def test_an_unknown_name_lists_the_registry(field, registry):
    with pytest.raises(OptionsError, match=f"^{field} must be one of ") as error:
        AnalysisOptions(**{field: "Nope"})
    assert all(name in str(error.value) for name in registry) and "'Nope'" in str(error.value)


PARSERS = {
    "ina_face_analyzer.py": (analyze.build_parser, ENGINES),
    "ina_face_analyzer_distributed_server.py": (distributed_server.build_parser, ENGINES),
    "ina_face_evaluate": (evaluate.build_parser, ENGINES),
    "ina_face_analyzer_webcam_demo.py": (webcam_demo.build_parser, {n: e for n, e in ENGINES.items() if e.live}),
}


@pytest.mark.parametrize("name", PARSERS)
def test_every_command_takes_its_choices_from_the_registries(name):
    build, engines = PARSERS[name]
    actions = {action.dest: action for action in build()._actions}
    assert list(actions["engine"].choices) == list(engines)
    assert list(actions["face_detector"].choices) == list(DETECTORS)
    assert list(actions["classifier"].choices) == list(CLASSIFIERS)
    assert list(engines) == (["video"] if "webcam" in name else
                             ["image", "video", "videotracking", "videokeyframes", "preprocessed_image"])


def test_the_tables_are_the_engine_columns_around_the_classifier_columns():
    expected = {
        "image": (*SEED, *BOX, *EXTRAS),
        "video": (*SEED, *BOX, "time_s", "timecode", *EXTRAS),
        "videokeyframes": (*SEED, *BOX, "time_s", "timecode", *EXTRAS),
        "videotracking": (
            "frame", "bbox", "face_id", "detect_conf", "track_conf", *SEED[3:],
            "sex_decfunc_avg", "age_decfunc_avg", "sex_label_avg", "age_label_avg",
            *BOX, "time_s", "timecode", *EXTRAS, "avg_weight", "person_id", "classified",
        ),
        "preprocessed_image": ("filename", *SEED[3:], *EXTRAS[1:]),
    }
    assert set(COLUMNS) == set(expected) == set(ENGINES)
    for engine, columns in expected.items():
        assert COLUMNS[engine] == columns
        for classifier in CLASSIFIERS:  # the shipped classifiers give the same columns
            assert table_columns(engine, classifier) == columns


def test_a_classifier_column_goes_where_the_engine_takes_the_extras():
    hse = CLASSIFIERS["HSEGenderAge"]
    extended = type("HSEWithBand", (hse,), {"name": "HSEWithBand", "columns": (*hse.columns, "age_band")})
    register_classifier(extended)
    try:
        assert table_columns("image", "HSEWithBand") == (*SEED, *BOX, *EXTRAS, "age_band")
        assert table_columns("preprocessed_image", "HSEWithBand")[-1] == "age_band"
        assert table_columns("videotracking", "HSEWithBand")[-4:] == ("age_band", "avg_weight", "person_id", "classified")
        AnalysisOptions(classifier="HSEWithBand")
    finally:
        CLASSIFIERS.pop("HSEWithBand")


def test_engine_facts_drive_the_option_checks():
    assert [n for n, e in ENGINES.items() if e.video] == ["video", "videotracking", "videokeyframes"]
    assert [n for n, e in ENGINES.items() if not e.detects] == ["preprocessed_image"]
    with pytest.raises(OptionsError, match="the videokeyframes engine decodes keyframes only"):
        AnalysisOptions(engine="videokeyframes", fps=1)
    with pytest.raises(OptionsError, match="detect_period only applies to the videotracking engine"):
        AnalysisOptions(engine="video", detect_period=2)
    with pytest.raises(OptionsError, match="tta full is a view set of the CydralGenderAge classifier"):
        AnalysisOptions(classifier="HSEGenderAge", tta="full")
    assert AnalysisOptions(engine="preprocessed_image", classifier="CydralGenderAge").effective_tta == "flip"
    assert AnalysisOptions(engine="image", classifier="CydralGenderAge").effective_tta == "full"
    assert AnalysisOptions().effective_tta == "none"


@pytest.mark.shared_media
def test_detector_landmarks_keep_their_meaning_through_classification(analyzer):
    image = load_image(KNUTH)
    detected = analyzer.detect(image)
    classified = analyzer.classify(image, detected)
    assert detected.alignment_points is None
    np.testing.assert_array_equal(classified.landmarks, detected.landmarks)  # still the detector's
    points = classified.alignment_points  # dlib's, fitted for the chips: other points, in the same face
    assert points.shape == (1, 5, 2) and not np.allclose(points, detected.landmarks)
    left, top, right, bottom = detected.xyxy[0]
    assert ((points[0, :, 0] > left) & (points[0, :, 0] < right) & (points[0, :, 1] > top)
            & (points[0, :, 1] < bottom)).all()
    # the detector's order: left eye, right eye (as seen), nose, mouth corners below the eyes
    eyes, mouth = detected.landmarks[0, :2], detected.landmarks[0, 3:]
    assert eyes[0, 0] < eyes[1, 0] and mouth[:, 1].min() > eyes[:, 1].max()

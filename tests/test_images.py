"""Gender and age of the shared photos, through the API, with the real models."""

from __future__ import annotations

import numpy as np
import pytest

from inafaceanalyzer import AnalysisOptions, analyze_images, analyze_preprocessed_images
from inafaceanalyzer.pipeline.results import COLUMNS

from .conftest import DIALLO, DIALLO224, FAMILY, INDIA, KNUTH, KNUTH224

pytestmark = pytest.mark.shared_media

SEED_COLUMNS = ["frame", "bbox", "detect_conf", "sex_decfunc", "age_decfunc", "sex_label", "age_label"]


@pytest.fixture(scope="module")
def table(analyzer):
    return analyze_images([INDIA, FAMILY, KNUTH, KNUTH224, DIALLO, DIALLO224], analyzer=analyzer)


def test_columns_start_with_the_seed_columns(table):
    assert list(table.columns[:7]) == SEED_COLUMNS
    assert list(table.columns) == list(COLUMNS["image"])


def test_india_photo_has_five_men(table):
    india = table[table.frame == str(INDIA)]
    assert len(india) == 5
    assert set(india.sex_label) == {"m"}
    assert (india.sex_decfunc > 0).all()
    assert india.age_label.between(18, 70).all()


def test_family_photo_has_at_least_six_faces_of_both_genders(table):
    family = table[table.frame == str(FAMILY)]
    assert len(family) >= 6
    assert {"m", "f"} <= set(family.sex_label)


@pytest.mark.parametrize("path", [KNUTH, KNUTH224])
def test_knuth_is_a_man_aged_55_to_85(table, path):
    rows = table[table.frame == str(path)]
    assert len(rows) == 1
    assert rows.sex_label.iloc[0] == "m"
    assert 55 <= rows.age_label.iloc[0] <= 85


def test_diallo_is_a_woman(table):
    rows = table[table.frame == str(DIALLO)]
    assert len(rows) == 1
    assert rows.sex_label.iloc[0] == "f"
    assert rows.sex_decfunc.iloc[0] < 0


def test_diallo_tight_crop_is_a_woman_or_flagged_unreliable(table):
    """A known weakness of the default FusedGenderAge (see the README, Accuracy): on this tight 224-px crop it
    leans male (p about 0.6). It may be wrong there, but never with confidence: such a face is not reliable.
    The Cydral classifier, fitted on tight chips, gets it right."""
    rows = table[table.frame == str(DIALLO224)]
    assert len(rows) == 1
    assert rows.sex_label.iloc[0] == "f" or not rows.reliable.iloc[0]
    assert 0.2 < rows.sex_prob_male.iloc[0] < 0.8 or rows.sex_label.iloc[0] == "f"
    cydral = analyze_images([DIALLO224], AnalysisOptions(engine="image", classifier="CydralGenderAge"))
    assert list(cydral.sex_label) == ["f"] and (cydral.sex_decfunc < 0).all()


def test_boxes_are_square_and_scaled_by_1_1(table):
    boxes = np.array([[int(v) for v in b.strip("()").split(",")] for b in table.bbox])
    widths = boxes[:, 2] - boxes[:, 0]
    heights = boxes[:, 3] - boxes[:, 1]
    assert np.all(np.abs(widths - heights) <= 1)
    # the CSV box is the raw box squared and scaled by 1.1
    assert np.all(widths >= 1.1 * table.face_size.to_numpy() - 2)
    assert table.detect_conf.between(0.75, 1.0).all()


def test_decision_values_agree_with_labels(table):
    assert ((table.sex_decfunc > 0) == (table.sex_label == "m")).all()
    np.testing.assert_allclose(1 / (1 + np.exp(-table.sex_decfunc)), table.sex_prob_male, rtol=1e-6, atol=1e-9)
    # age_decfunc is on the seed's FairFace bucket scale: 20-29 years -> 2.5 to 3.5
    twenties = table[table.age_label.between(20, 29.9)]
    assert twenties.age_decfunc.between(2.5, 3.5).all()
    assert (table.age_std > 0).all()


def test_preprocessed_crops_give_one_row_per_file(analyzer):
    table = analyze_preprocessed_images([KNUTH224, DIALLO224], analyzer=analyzer)
    assert list(table.columns[:5]) == ["filename", "sex_decfunc", "age_decfunc", "sex_label", "age_label"]
    assert list(table.sex_label) == ["m", "f"]
    assert 55 <= table.age_label.iloc[0] <= 85


def test_centerface_detector_finds_the_same_people(table):
    options = AnalysisOptions(engine="image", face_detector="CenterFace")
    other = analyze_images([INDIA, KNUTH], options)
    assert len(other[other.frame == str(INDIA)]) == 5
    assert set(other.sex_label) == {"m"}


def test_a_face_in_a_dark_shot_is_flagged_unreliable(analyzer):
    from inafaceanalyzer.io import VideoSource

    from .conftest import HAMILTON

    frame = next(f for f in VideoSource(HAMILTON) if f.index == 60)  # a dark shot: faces of the audience, barely lit
    faces = analyzer(frame.image)
    centres = (faces.xyxy[:, :2] + faces.xyxy[:, 2:]) / 2
    dark = np.flatnonzero(np.hypot(centres[:, 0] - 232, centres[:, 1] - 117) < 20)  # the man at the left
    assert len(dark) == 1
    assert faces.size[dark[0]] > 60  # large enough: the flag comes from the exposure
    assert not faces.data["reliable"][dark[0]]
    bright = analyzer(next(f for f in VideoSource(HAMILTON) if f.index == 90).image)
    assert bright.data["reliable"].all()

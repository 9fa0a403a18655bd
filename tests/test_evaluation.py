"""``inafaceanalyzer.evaluation`` and ``ina_face_evaluate`` on real labelled faces.

The labelled sets are those of ``../shared/eval`` (see its README): a random
sample of 60 ``fairface540`` images (FairFace, CC BY 4.0) through the full
pipeline, and 100 ``utkface64`` adult crops (UTKFace, evaluation only)
through the classifier alone. Every number of the report is recomputed here
from the per-face predictions, independently of :mod:`.metrics`.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from inafaceanalyzer import AnalysisOptions, FaceAnalyzer
from inafaceanalyzer.evaluation import (
    AGE_BUCKETS,
    LabelsError,
    age_bucket_of,
    build_report,
    evaluate,
    load_labelled_set,
    summary_metrics,
)

from .conftest import SHARED, SHARED_EVAL

EVAL = SHARED_EVAL
FAIRFACE = EVAL / "fairface540"
UTKFACE = EVAL / "utkface64"

needs_eval = pytest.mark.shared_media

CENTRES = {"0-2": 1.5, "3-9": 6.5, "10-19": 15, "20-29": 25, "30-39": 35, "40-49": 45, "50-59": 55, "60-69": 65, "70+": 75}


# -- labelled sets -------------------------------------------------------------


def write_set(root, rows):
    (root / "images").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["path", "gender", "age", "race"]).to_csv(root / "labels.csv", index=False)
    return root


def test_buckets_and_years_are_parsed_with_their_reference_ages(tmp_path):
    root = write_set(tmp_path, [
        ("images/a.jpg", "f", "20-29", ""), ("images/b.jpg", "m", "70+", ""), ("images/c.jpg", "m", "3-9", ""),
    ])
    faces = load_labelled_set(root).faces
    assert list(faces.age_ref) == [25.0, 75.0, 6.5]
    assert list(faces.age_band) == ["20-50", "over 50", ""]
    assert list(faces.race_group) == ["unknown"] * 3
    assert len(load_labelled_set(root, min_age=20)) == 2  # buckets entirely within the range
    years = write_set(tmp_path / "y", [
        ("images/a.jpg", "f", "50", "white"), ("images/b.jpg", "m", "51", "black"), ("images/c.jpg", "f", "19", "asian"),
    ])
    faces = load_labelled_set(years).faces
    assert list(faces.age_bucket) == ["50-59", "50-59", "10-19"]
    assert list(faces.age_band) == ["20-50", "over 50", ""]
    assert list(faces.race_group) == ["white", "non-white", "non-white"]


def test_bad_labels_are_named(tmp_path):
    with pytest.raises(LabelsError, match="labels.csv"):
        load_labelled_set(tmp_path)
    write_set(tmp_path, [("images/a.jpg", "x", "20", "")])
    with pytest.raises(LabelsError, match="gender"):
        load_labelled_set(tmp_path)
    write_set(tmp_path, [("images/a.jpg", "m", "old", "")])
    with pytest.raises(LabelsError, match="age"):
        load_labelled_set(tmp_path)


def test_age_buckets_of_years():
    assert list(age_bucket_of([0, 2.9, 3, 19.5, 20, 69, 70, 101])) == [
        "0-2", "0-2", "3-9", "10-19", "20-29", "60-69", "70+", "70+",
    ]
    assert [b.centre for b in AGE_BUCKETS][-1] == 75


# -- metrics on a table made by hand ----------------------------------------------


def hand_table():
    rows = []
    # 8 cells, 2 faces each, with known correctness
    for gender in "fm":
        for race, race_group in (("white", "white"), ("black", "non-white")):
            for age in (30, 60):
                for k in range(2):
                    right = not (gender == "f" and age == 60 and k == 0)  # one error per old-women cell
                    predicted = gender if right else ("m" if gender == "f" else "f")
                    rows.append({
                        "path": f"{gender}{race}{age}{k}", "gender": gender, "age": str(age), "race": race,
                        "age_years": float(age), "age_low": float(age), "age_high": float(age), "age_ref": float(age),
                        "age_bucket": age_bucket_of(age)[0], "age_band": "20-50" if age <= 50 else "over 50",
                        "race_group": race_group, "detected": True, "sex_label": predicted,
                        "age_label": float(age + (4 if race == "black" else 2)), "reliable": True,
                    })
    return pd.DataFrame(rows)


def test_bias_table_and_biases_follow_the_paper_definition():
    report = build_report("hand", "16 faces", "crops", hand_table())
    cells = report.bias_cells
    assert len(cells) == 8 and set(cells.faces) == {2}
    old_women = cells[(cells.gender == "f") & (cells.age_band == "over 50")]
    assert list(old_women.gender_accuracy) == [50.0, 50.0]
    biases = report.biases
    # men minus women: (0 + 50 + 0 + 50) / 4
    assert biases.loc["gender (m - f)", "gender_accuracy"] == pytest.approx(25.0)
    assert biases.loc["race (white - non-white)", "gender_accuracy"] == pytest.approx(0.0)
    assert biases.loc["age (20-50 - over 50)", "gender_accuracy"] == pytest.approx(25.0)
    assert biases.loc["race (white - non-white)", "age_mae"] == pytest.approx(-2.0)
    assert report.metric("gender_accuracy") == pytest.approx(100 * 14 / 16)
    assert report.metric("age_mae") == pytest.approx(3.0)
    assert report.metric("age_rmse") == pytest.approx(np.sqrt((4 + 16) / 2))


# -- real sets -----------------------------------------------------------------


@pytest.fixture(scope="module")
def models():
    return FaceAnalyzer(AnalysisOptions(engine="image", threads=2))


@pytest.fixture(scope="module")
def fairface_report(models):
    dataset = load_labelled_set(FAIRFACE, sample=60, seed=1)
    return evaluate(dataset, mode="full", analyzer=models)


@pytest.fixture(scope="module")
def utk_report(models):
    dataset = load_labelled_set(UTKFACE, min_age=20, max_age=80, sample=100, seed=0)
    return evaluate(dataset, mode="crops", analyzer=models)


def recompute(faces: pd.DataFrame) -> dict[str, float]:
    """The summary numbers, computed without the package's metrics."""
    n = len(faces)
    right = [bool(d) and s == g for d, s, g in zip(faces.detected, faces.sex_label, faces.gender, strict=True)]
    right = np.array(right)
    found = faces[faces.detected.astype(bool)]
    ref = np.array([CENTRES[a] if a in CENTRES else float(a) for a in found.age])
    err = found.age_label.to_numpy(dtype=float) - ref
    buckets = np.array([b if b in CENTRES else None for b in found.age])
    if all(b is None for b in buckets):
        buckets = age_bucket_of(found.age.astype(float).to_numpy())
    predicted_buckets = age_bucket_of(found.age_label.to_numpy(dtype=float))
    women = (faces.gender == "f").to_numpy()
    return {
        "faces": n,
        "detection_failures": int((~faces.detected.astype(bool)).sum()),
        "gender_accuracy": 100 * right.mean(),
        "gender_accuracy_f": 100 * right[women].mean(),
        "gender_accuracy_m": 100 * right[~women].mean(),
        "age_mae": np.abs(err).mean(),
        "age_rmse": np.sqrt((err**2).mean()),
        "age_bucket_accuracy": 100 * np.mean(predicted_buckets == buckets),
    }


@needs_eval
@pytest.mark.parametrize("which", ["fairface_report", "utk_report"])
def test_report_numbers_are_those_of_the_predictions(which, request):
    report = request.getfixturevalue(which)
    faces = report.faces
    expected = recompute(faces)
    for name, value in expected.items():
        assert report.metric(name, "all") == pytest.approx(value), name
    adults = faces[[a not in ("0-2", "3-9", "10-19") and (a in CENTRES or float(a) >= 20) for a in faces.age]]
    for name, value in recompute(adults).items():
        assert report.metric(name, "adults") == pytest.approx(value), name


@needs_eval
def test_fairface_full_pipeline_finds_the_central_faces_and_predicts_sensibly(fairface_report):
    faces = fairface_report.faces
    assert len(faces) == 60
    assert faces.detected.mean() > 0.95
    assert set(faces.sex_label.dropna()) <= {"m", "f"}
    assert ((faces.sex_prob_male >= 0) & (faces.sex_prob_male <= 1)).all()
    assert (faces.age_std[faces.detected] > 0).all()
    assert fairface_report.metric("gender_accuracy", "adults") > 75
    # no race labels: the bias table has the 4 gender x age-band cells, and no race bias
    assert len(fairface_report.bias_cells) == 4
    assert np.isnan(fairface_report.biases.loc["race (white - non-white)", "gender_accuracy"])


@needs_eval
def test_utk_crops_bias_table_has_the_8_cells_of_the_paper(utk_report):
    cells = utk_report.bias_cells
    assert len(cells) == 8
    assert set(zip(cells.gender, cells.race_group, cells.age_band, strict=True)) == {
        (g, r, b) for g in "fm" for r in ("white", "non-white") for b in ("20-50", "over 50")
    }
    faces = utk_report.faces
    for cell in cells.itertuples():
        members = faces[(faces.gender == cell.gender) & (faces.race_group == cell.race_group) & (faces.age_band == cell.age_band)]
        assert cell.faces == len(members)
        if len(members):
            assert cell.gender_accuracy == pytest.approx(100 * (members.sex_label == members.gender).mean())
    pivot = cells.set_index(["gender", "race_group", "age_band"]).gender_accuracy
    gender_bias = np.nanmean([pivot["m", r, b] - pivot["f", r, b] for r in ("white", "non-white") for b in ("20-50", "over 50")])
    assert utk_report.biases.loc["gender (m - f)", "gender_accuracy"] == pytest.approx(gender_bias, nan_ok=True)
    assert utk_report.metric("gender_accuracy") > 85
    assert utk_report.metric("age_mae") < 9
    assert faces.detected.all()  # crops are never "missed"
    assert set(utk_report.race_gaps.race) <= {"white", "black", "asian", "indian", "others"}


# -- the command ---------------------------------------------------------------------


@needs_eval
def test_cli_writes_the_markdown_and_csv_report(tmp_path):
    command = shutil.which("ina_face_evaluate") or "ina_face_evaluate"
    out = tmp_path / "utk"
    proc = subprocess.run(
        [command, "-d", str(UTKFACE), "-o", str(out), "--mode", "crops", "--min_age", "20", "--max_age", "80",
         "--sample", "40", "--seed", "3", "--tta", "flip", "--threads", "2", "--no_progress"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("report.md", "predictions.csv", "summary.csv", "bias_cells.csv", "biases.csv", "race_gaps.csv"):
        assert (out / name).is_file(), name
    markdown = (out / "report.md").read_text()
    assert "## Bias table (adults)" in markdown and "gender (m - f)" in markdown
    assert "ina_face_evaluate -d" in markdown and "`flip`" in markdown
    predictions = pd.read_csv(out / "predictions.csv")
    summary = pd.read_csv(out / "summary.csv").set_index("subset")
    assert len(predictions) == 40
    assert summary.loc["all", "gender_accuracy"] == pytest.approx(100 * (predictions.sex_label == predictions.gender).mean())
    assert len(pd.read_csv(out / "bias_cells.csv")) == 8


def test_cli_rejects_a_missing_set(tmp_path):
    command = shutil.which("ina_face_evaluate") or "ina_face_evaluate"
    proc = subprocess.run([command, "-d", str(tmp_path), "-o", str(tmp_path / "o"), "--no_progress"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "labels.csv" in proc.stderr


# -- tracks, and the classifier's uncertainty columns ----------------------------------


TALKING_HEAD = SHARED / "media" / "videos" / "SadTalker__WDA_KatieHill_000.mp4"


@pytest.mark.shared_media
def test_tracks_mode_judges_each_row_per_frame_and_per_track(tmp_path, models):
    from inafaceanalyzer.evaluation.videos import evaluate_tracks

    labels = write_set(tmp_path, [(str(TALKING_HEAD), "f", "30", "")]) / "labels.csv"
    dataset = load_labelled_set(labels)
    table = evaluate_tracks(dataset, AnalysisOptions(engine="videotracking", fps=2, threads=2))
    assert list(table.video) == [str(TALKING_HEAD), "total"]
    row = table.iloc[0]
    assert row.rows >= 14 and row.tracks >= 1
    assert 0 <= row.gender_accuracy_frame <= 100 and 0 <= row.gender_accuracy_track <= 100
    assert row.age_spread_track <= row.age_spread_frame + 1e-9
    assert table.iloc[1].rows == row.rows


@pytest.mark.shared_media
def test_tiny_and_blurred_faces_are_flagged_unreliable(tmp_path):
    from PIL import Image, ImageFilter

    from inafaceanalyzer import analyze_preprocessed_images

    from .conftest import KNUTH224

    face = Image.open(KNUTH224).convert("RGB")
    face.save(tmp_path / "sharp.png")
    face.resize((18, 18), Image.Resampling.BILINEAR).save(tmp_path / "tiny.png")
    face.filter(ImageFilter.GaussianBlur(8)).save(tmp_path / "blurred.png")
    table = analyze_preprocessed_images(
        [tmp_path / "sharp.png", tmp_path / "tiny.png", tmp_path / "blurred.png"],
        # the quality rule (size, blur) under test; the default fused classifier also flags faces whose
        # gender it leaves uncertain, as it does for this tight crop
        AnalysisOptions(engine="preprocessed_image", threads=2, classifier="CydralGenderAge"),
    )
    assert list(table.reliable) == [True, False, False]
    assert table.columns[-1] == "reliable"
    assert table.sex_label.iloc[0] == "m"


def test_tta_views_are_the_chip_and_its_mirror_images():
    from inafaceanalyzer.classification.cydral import MASTER_SIZE, network_views

    rng = np.random.default_rng(0)
    master = rng.integers(0, 255, (2, MASTER_SIZE, MASTER_SIZE, 3), dtype=np.uint8)
    views = network_views(master, "full")
    assert views[32].shape == (12, 32, 32, 3) and views[64].shape == (12, 64, 64, 3)
    assert np.array_equal(views[64][1], views[64][0][:, ::-1])
    assert np.array_equal(views[64][6], network_views(master[1:], "none")[64][0])


def test_sets_labelled_for_gender_only_or_age_only_are_read_and_measured(tmp_path):
    root = write_set(tmp_path, [("images/a.jpg", "f", "", ""), ("images/b.jpg", "m", "", ""), ("images/c.jpg", "", "30", "")])
    faces = load_labelled_set(root).faces
    assert list(faces.gender) == ["f", "m", ""]
    assert np.isnan(faces.age_ref[0]) and faces.age_ref[2] == 30
    write_set(tmp_path, [("images/a.jpg", "", "", "")])
    with pytest.raises(LabelsError, match="neither gender nor age"):
        load_labelled_set(tmp_path)
    only_gender = tmp_path / "g"
    (only_gender / "images").mkdir(parents=True)
    pd.DataFrame({"path": ["images/a.jpg"], "gender": ["m"]}).to_csv(only_gender / "labels.csv", index=False)
    assert list(load_labelled_set(only_gender).faces.age_band) == [""]
    # metrics: gender on the faces with a gender, age on those with an age, AUC of sex_decfunc
    table = hand_table()
    table["sex_decfunc"] = np.where(table.sex_label == "m", 1.0, -1.0)
    table.loc[0, ["gender", "age_ref"]] = ["", np.nan]
    metrics = summary_metrics(table)
    labelled = table[table.gender != ""]
    assert metrics["gender_accuracy"] == pytest.approx(100 * (labelled.sex_label == labelled.gender).mean())
    found = table[table.age_ref.notna()]
    assert metrics["age_mae"] == pytest.approx((found.age_label - found.age_ref).abs().mean())
    male = (labelled.gender == "m").to_numpy()
    scores = labelled.sex_decfunc.to_numpy()
    pairs = [(s_m > s_f) + 0.5 * (s_m == s_f) for s_m in scores[male] for s_f in scores[~male]]
    assert metrics["gender_auc"] == pytest.approx(np.mean(pairs))

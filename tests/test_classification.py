"""The Cydral classifier's inputs and its ``adaptive`` test-time augmentation.

The vectorised paths (network inputs built in one pass, sharpness blurred in
place) are checked bit for bit against the plain computations they replace;
``adaptive`` against ``none`` and ``full`` run separately on the same faces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inafaceanalyzer import AnalysisOptions
from inafaceanalyzer.classification import cydral
from inafaceanalyzer.classification.cydral import MASTER_SIZE, CydralGenderAge, network_views
from inafaceanalyzer.errors import OptionsError
from inafaceanalyzer.io import load_image

from .conftest import FAMILY, INDIA, KNUTH224


def _plain_input(chips):
    values = chips.astype(np.float32)
    values -= cydral._MEANS
    values /= np.float32(256.0)
    return np.ascontiguousarray(values.transpose(0, 3, 1, 2))


def _plain_blur(images, sigma):
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(images, ((0, 0), (radius, radius), (0, 0)), mode="symmetric")
    rows = sum(kernel[k] * padded[:, k : k + images.shape[1]] for k in range(len(kernel)))
    padded = np.pad(rows, ((0, 0), (0, 0), (radius, radius)), mode="symmetric")
    return sum(kernel[k] * padded[:, :, k : k + images.shape[2]] for k in range(len(kernel)))


def _shared_faces(analyzer):
    """Chips of the faces of two shared photos, and of a face crop classified whole."""
    from inafaceanalyzer.pipeline.analyzer import _concatenate_chips

    chips = [analyzer.chips(image, analyzer.detect(image).data["raw_xyxy"]) for image in map(load_image, (INDIA, FAMILY))]
    crop = load_image(KNUTH224)
    chips.append(analyzer.chips(crop, np.array([[0, 0, crop.shape[1], crop.shape[0]]], dtype=np.float64)))
    return _concatenate_chips(chips, (MASTER_SIZE,))


def test_network_input_is_the_views_converted_one_by_one():
    rng = np.random.default_rng(1)
    master = rng.integers(0, 256, (3, MASTER_SIZE, MASTER_SIZE, 3), dtype=np.uint8)
    scales, _ = cydral.TTA_MODES["full"]
    chips = cydral._scaled_chips(master, scales)
    views = network_views(master, "full")
    for size in (32, 64):
        assert np.array_equal(chips[size], views[size][0::2])
        assert np.array_equal(cydral._planar_input(chips[size], mirror=True), _plain_input(views[size]))
        assert np.array_equal(cydral.to_network_input(chips[size]), _plain_input(chips[size]))


def test_in_place_blur_is_the_plain_sum_bit_for_bit():
    grey = np.random.default_rng(2).uniform(0, 255, (4, 64, 64)).astype(np.float32)
    for sigma in (1.0, 2.0):
        assert np.array_equal(cydral._gaussian_blur(grey, sigma), _plain_blur(grey, sigma))


def test_adaptive_is_an_option_value():
    assert AnalysisOptions(classifier="CydralGenderAge", tta="adaptive").effective_tta == "adaptive"
    with pytest.raises(OptionsError):
        AnalysisOptions(tta="cascade")
    with pytest.raises(OptionsError, match="CydralGenderAge"):
        AnalysisOptions(classifier="FusedGenderAge", tta="adaptive")  # the fused classifier has no such views
    assert AnalysisOptions(classifier="FusedGenderAge").effective_tta == "none"
    with pytest.raises(OptionsError):
        CydralGenderAge(tta="cascade")


@pytest.mark.shared_media
def test_adaptive_gives_none_to_confident_faces_and_full_to_the_others(analyzer, monkeypatch):
    faces = _shared_faces(analyzer)
    modes = {tta: CydralGenderAge(tta=tta, threads=2, device="cpu", batch_size=4) for tta in ("none", "full", "adaptive")}
    none, full = modes["none"].predict(faces), modes["full"].predict(faces)
    # bounds around the median face, so that both kinds of face are seen
    low = float(np.median(none["sex_prob_male"]))
    monkeypatch.setattr(cydral, "ADAPTIVE_UNCERTAIN", (low - 1e-9, 1.0))
    uncertain = none["sex_prob_male"] > low - 1e-9
    assert 0 < uncertain.sum() < len(uncertain)
    adaptive = modes["adaptive"].predict(faces)
    assert set(adaptive) == set(CydralGenderAge.columns)
    for column in CydralGenderAge.columns:
        expected = np.where(uncertain, full[column], none[column])
        assert np.array_equal(adaptive[column], expected), column
    gender, age = modes["adaptive"].probabilities(faces)
    assert gender.shape == (len(uncertain), 6, 2) and age.shape == (len(uncertain), 6, 81)
    assert np.isnan(gender[~uncertain, 1:]).all() and not np.isnan(gender[uncertain]).any()
    assert not np.isnan(gender[:, 0]).any()


def test_precision_is_an_option_value():
    assert AnalysisOptions(precision="int8").precision == "int8"
    with pytest.raises(OptionsError):
        AnalysisOptions(precision="fp16")
    with pytest.raises(OptionsError):
        CydralGenderAge(precision="int4")


def _cpu_has_vnni() -> bool:
    """Whether the CPU has the VNNI int8 dot-product instructions (Linux: /proc/cpuinfo's flags)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


@pytest.mark.shared_media
def test_int8_networks_agree_with_the_float_ones(analyzer):
    faces = _shared_faces(analyzer)
    fp32 = CydralGenderAge(tta="full", threads=2, device="cpu").predict(faces)
    int8 = CydralGenderAge(tta="full", threads=2, device="cpu", precision="int8").predict(faces)
    assert len(faces.roll) >= 10
    # the quantised convolutions move the scores a little, not the decisions. How much depends on the
    # CPU's int8 kernels: ONNX Runtime's AVX2 path without VNNI (seen on an AMD EPYC) moved a face's
    # P(male) from 0.005 to 0.11 and an age by 8 years, where VNNI machines stayed within 0.1 and 4
    # years (docs/models.md says so to users); the typical move is bounded the same on both
    vnni = _cpu_has_vnni()
    moved = np.abs(int8["sex_prob_male"] - fp32["sex_prob_male"])
    assert np.median(moved) < 0.02 and moved.max() < (0.1 if vnni else 0.2)
    assert np.mean(int8["sex_label"] == fp32["sex_label"]) >= 0.9
    years = np.abs(int8["age_label"] - fp32["age_label"])
    assert np.median(years) < 1.5 and years.max() < (4 if vnni else 10)
    assert np.array_equal(int8["reliable"], fp32["reliable"])

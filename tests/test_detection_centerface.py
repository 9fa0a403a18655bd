"""CenterFace on real photos, the packaged model's integrity check, and ONNX sessions.

The photos are the shared test media (see ``shared/media/README.md`` for
their sources, licences and the ground truth judged by eye); they are not
part of the repository: the module is part of the extended suite.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from inafaceanalyzer.detection.base import DetectorSettings
from inafaceanalyzer.detection.batched import nms
from inafaceanalyzer.detection.centerface import CenterFaceDetector, dynamic_model
from inafaceanalyzer.detections import Detections
from inafaceanalyzer.errors import OptionsError
from inafaceanalyzer.models import (
    DeviceUnavailableError,
    ModelIntegrityError,
    create_session,
    model_path,
    registry,
    verify_file,
)

from .conftest import SHARED_IMAGES as IMAGES

pytestmark = pytest.mark.shared_media

INDIA = "800px-India_(236650352).jpg"
FAMILY = "1328360239_e56cc26d26_o.jpg"
KNUTH = "dknuth.jpg"
EUROPA = "Europa21_-_2.jpg"


def load(name: str) -> NDArray[np.uint8]:
    return np.asarray(Image.open(IMAGES / name).convert("RGB"))


@pytest.fixture(scope="module")
def detector() -> CenterFaceDetector:
    return CenterFaceDetector(DetectorSettings(min_confidence=0.5), device="cpu")


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [(INDIA, 5, 5), (FAMILY, 6, 7), (KNUTH, 1, 1), (EUROPA, 1, 1)],
)
def test_face_counts(detector: CenterFaceDetector, name: str, low: int, high: int) -> None:
    faces = detector(load(name))
    assert low <= len(faces) <= high
    assert np.all((faces.confidence >= 0.5) & (faces.confidence <= 1.0))


def test_small_face_in_tall_frame(detector: CenterFaceDetector) -> None:
    image = load(EUROPA)
    assert image.shape[:2] == (2048, 1152)
    (face,) = detector(image).data["raw_xyxy"]
    # the speaker's face, in the upper half of the frame, well inside it
    assert 0 < face[0] < face[2] < image.shape[1]
    assert 0 < face[1] < face[3] < image.shape[0] / 2


@pytest.mark.parametrize("name", [INDIA, FAMILY, KNUTH, EUROPA])
def test_landmarks_inside_boxes_eyes_above_mouth(detector: CenterFaceDetector, name: str) -> None:
    faces = detector(load(name))
    assert faces.landmarks is not None and faces.landmarks.shape == (len(faces), 5, 2)
    raw = faces.data["raw_xyxy"]
    for box, points in zip(raw, faces.landmarks, strict=False):
        left, top, right, bottom = box
        assert np.all((points[:, 0] >= left) & (points[:, 0] <= right)), (box, points)
        assert np.all((points[:, 1] >= top) & (points[:, 1] <= bottom)), (box, points)
        eyes, nose, mouth = points[:2], points[2], points[3:]
        assert eyes[:, 1].max() < mouth[:, 1].min()
        assert eyes[0, 0] < eyes[1, 0] and mouth[0, 0] < mouth[1, 0]  # left as seen in the image
        assert eyes[:, 1].mean() < nose[1] < mouth[:, 1].mean()
    # the shaped boxes contain the raw ones (squarified, scaled by 1.1)
    assert np.all(faces.xyxy[:, :2] <= raw[:, :2]) and np.all(faces.xyxy[:, 2:] >= raw[:, 2:])


def test_detect_many_batches_like_single_calls(detector: CenterFaceDetector) -> None:
    india, knuth = load(INDIA), load(KNUTH)
    frames = [india, knuth, india[:, ::-1].copy(), india]
    batched = detector.detect_many(frames)
    for frame, result in zip(frames, batched, strict=False):
        single = detector(frame)
        assert len(result) == len(single)
        np.testing.assert_allclose(result.xyxy, single.xyxy, atol=1e-3)
        np.testing.assert_allclose(result.confidence, single.confidence, atol=1e-5)
    assert [len(result) for result in batched] == [5, 1, 5, 5]


def test_blank_and_tiny_frames(detector: CenterFaceDetector) -> None:
    assert len(detector(np.zeros((100, 150, 3), dtype=np.uint8))) == 0
    assert len(detector(np.full((7, 5, 3), 200, dtype=np.uint8))) == 0
    assert detector.detect_many([]) == []


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10.5]], dtype=np.float64)
    scores = np.array([0.6, 0.9, 0.7, 0.1])
    assert nms(boxes, scores, 0.3).tolist() == [1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.3).tolist() == []


def test_model_path_verifies_the_packaged_file() -> None:
    path = model_path("centerface.onnx")
    entry = registry()["centerface.onnx"]
    assert path.is_file() and path.stat().st_size == entry["bytes"]
    assert (path.parent / "centerface.LICENSE.md").is_file()
    with pytest.raises(ModelIntegrityError, match="unknown model"):
        model_path("no-such-model.onnx")


def test_tampered_model_is_rejected(tmp_path: Path) -> None:
    expected = registry()["centerface.onnx"]["sha256"]
    intact = tmp_path / "intact.onnx"
    shutil.copyfile(model_path("centerface.onnx"), intact)
    assert verify_file(intact, expected) == intact

    tampered = tmp_path / "tampered.onnx"
    data = bytearray(intact.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        verify_file(tampered, expected)
    with pytest.raises(ModelIntegrityError, match="not found"):
        verify_file(tmp_path / "missing.onnx", expected)


def test_create_session_on_cpu() -> None:
    session = create_session(model_path("centerface.onnx"), threads=1, device="cpu")
    assert session.get_providers() == ["CPUExecutionProvider"]
    # the file as shipped: a fixed 10x3x32x32 input
    assert session.get_inputs()[0].shape == [10, 3, 32, 32]
    heatmap = session.run(["537"], {"input.1": np.zeros((10, 3, 32, 32), dtype=np.float32)})[0]
    assert heatmap.shape == (10, 1, 8, 8)


def test_dynamic_model_accepts_any_batch_and_size() -> None:
    session = create_session(dynamic_model(model_path("centerface.onnx").read_bytes()), threads=1, device="cpu")
    assert session.get_inputs()[0].shape == ["batch", 3, "height", "width"]
    # weights are no longer graph inputs
    assert [item.name for item in session.get_inputs()] == ["input.1"]
    outputs = session.run(None, {"input.1": np.zeros((2, 3, 64, 96), dtype=np.float32)})
    assert [output.shape for output in outputs] == [(2, 1, 16, 24), (2, 2, 16, 24), (2, 2, 16, 24), (2, 10, 16, 24)]


def test_create_session_rejects_bad_devices() -> None:
    import onnxruntime

    with pytest.raises(OptionsError, match="unknown device"):
        create_session(model_path("centerface.onnx"), device="tpu")
    with pytest.raises(OptionsError, match="threads"):
        create_session(model_path("centerface.onnx"), threads=0, device="cpu")
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(DeviceUnavailableError, match="cuda"):
            create_session(model_path("centerface.onnx"), device="cuda")


def test_detections_type(detector: CenterFaceDetector) -> None:
    faces = detector(load(KNUTH))
    assert isinstance(faces, Detections)
    assert faces.xyxy.dtype == np.float64 and faces.landmarks is not None

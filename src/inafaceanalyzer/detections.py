"""The one result type that every stage shares: a struct of arrays of faces.

A :class:`Detections` holds N faces of one image or frame. Boxes are
``(left, top, right, bottom)`` in pixels of the full frame, as float64; they
may extend beyond the frame (the seed's CSV keeps negative coordinates).
Stages never mutate a :class:`Detections`: they return new ones
(:meth:`Detections.select`, :meth:`Detections.with_boxes`,
:meth:`Detections.with_data`).

Two sets of five points may travel with the faces, each with one meaning
from the stage that makes it to the end: :attr:`Detections.landmarks`, the
detector's, and :attr:`Detections.alignment_points`, those dlib's shape
predictor fits to cut the aligned chips (set by classification).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Detections"]


@dataclass(frozen=True)
class Detections:
    """N faces found in one frame.

    Attributes:
        xyxy: ``(N, 4)`` float64 boxes ``(left, top, right, bottom)``.
        confidence: ``(N,)`` float64 detection confidences in ``[0, 1]``; NaN
            where the face was not detected (tracked or given).
        landmarks: ``(N, 5, 2)`` float64 five-point landmarks of the
            detector (left eye, right eye, nose, left mouth corner, right
            mouth corner, as seen in the image) in frame pixels, or ``None``
            when the detector gives none (and for tracked or given faces).
            No later stage changes their meaning.
        data: per-face extra columns, each an array of length N.
        alignment_points: ``(N, 5, 2)`` float64 points of dlib's five-point
            shape predictor, fitted on each box for alignment (parts 0-1:
            the corners of one eye, 2-3: the other eye's, 4: below the
            nose), in frame pixels; ``None`` until the faces are classified
            (see :class:`~inafaceanalyzer.alignment.chips.FaceChips`).
    """

    xyxy: NDArray[np.float64]
    confidence: NDArray[np.float64]
    landmarks: NDArray[np.float64] | None = None
    data: Mapping[str, NDArray[Any]] = field(default_factory=dict)
    alignment_points: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float64).reshape(-1, 4)
        n = len(xyxy)
        confidence = np.asarray(self.confidence, dtype=np.float64).reshape(-1)
        if confidence.shape != (n,):
            raise ValueError(f"confidence has {confidence.shape[0]} values for {n} boxes")
        landmarks = _points(self.landmarks, "landmarks", n)
        alignment_points = _points(self.alignment_points, "alignment_points", n)
        data = {}
        for key, values in self.data.items():
            values = np.asarray(values)
            if len(values) != n:
                raise ValueError(f"data column {key!r} has {len(values)} values for {n} boxes")
            data[key] = values
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", confidence)
        object.__setattr__(self, "landmarks", landmarks)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "alignment_points", alignment_points)

    @classmethod
    def empty(cls) -> Detections:
        """No face."""
        return cls(np.zeros((0, 4)), np.zeros(0))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> Detections:
        """Select faces with a boolean mask, an index array or a slice."""
        return self.select(index)

    def select(self, index: Any) -> Detections:
        """The faces picked by a boolean mask, an index array or a slice."""
        if isinstance(index, (int, np.integer)):
            index = [index]
        return Detections(
            self.xyxy[index],
            self.confidence[index],
            None if self.landmarks is None else self.landmarks[index],
            {key: values[index] for key, values in self.data.items()},
            None if self.alignment_points is None else self.alignment_points[index],
        )

    def with_boxes(self, xyxy: NDArray[np.float64]) -> Detections:
        """The same faces with other boxes."""
        return Detections(xyxy, self.confidence, self.landmarks, self.data, self.alignment_points)

    def with_landmarks(self, landmarks: NDArray[np.float64] | None) -> Detections:
        """The same faces with other detector landmarks (:attr:`landmarks`)."""
        return Detections(self.xyxy, self.confidence, landmarks, self.data, self.alignment_points)

    def with_alignment_points(self, points: NDArray[np.float64] | None) -> Detections:
        """The same faces with the points their alignment fitted (:attr:`alignment_points`)."""
        return Detections(self.xyxy, self.confidence, self.landmarks, self.data, points)

    def with_data(self, **columns: NDArray[Any]) -> Detections:
        """The same faces with extra per-face columns added or replaced."""
        return Detections(self.xyxy, self.confidence, self.landmarks, {**self.data, **columns}, self.alignment_points)

    @property
    def width(self) -> NDArray[np.float64]:
        """Box widths in pixels."""
        return self.xyxy[:, 2] - self.xyxy[:, 0]

    @property
    def height(self) -> NDArray[np.float64]:
        """Box heights in pixels."""
        return self.xyxy[:, 3] - self.xyxy[:, 1]

    @property
    def size(self) -> NDArray[np.float64]:
        """The longer side of each box, the seed's face size, in pixels."""
        return np.maximum(self.width, self.height)

    def translate(self, dx: float, dy: float) -> Detections:
        """The same faces moved by ``(dx, dy)`` pixels."""
        shift = np.array([dx, dy, dx, dy])
        landmarks = None if self.landmarks is None else self.landmarks + np.array([dx, dy])
        points = None if self.alignment_points is None else self.alignment_points + np.array([dx, dy])
        return Detections(self.xyxy + shift, self.confidence, landmarks, self.data, points)

    def scale(self, factor: float) -> Detections:
        """The same faces with coordinates multiplied by ``factor``."""
        landmarks = None if self.landmarks is None else self.landmarks * factor
        points = None if self.alignment_points is None else self.alignment_points * factor
        return Detections(self.xyxy * factor, self.confidence, landmarks, self.data, points)

    @staticmethod
    def concatenate(items: list[Detections]) -> Detections:
        """All faces of several :class:`Detections`, in order."""
        items = [item for item in items if len(item)]
        if not items:
            return Detections.empty()
        landmarks = None
        if all(item.landmarks is not None for item in items):
            landmarks = np.concatenate([item.landmarks for item in items])
        points = None
        if all(item.alignment_points is not None for item in items):
            points = np.concatenate([item.alignment_points for item in items])
        keys = set.intersection(*(set(item.data) for item in items))
        data = {key: np.concatenate([item.data[key] for item in items]) for key in keys}
        return Detections(
            np.concatenate([item.xyxy for item in items]),
            np.concatenate([item.confidence for item in items]),
            landmarks,
            data,
            points,
        )


def _points(points: Any, name: str, n: int) -> NDArray[np.float64] | None:
    """Five points per face as ``(n, 5, 2)`` float64, or ``None``; a count other than ``n`` is an error."""
    if points is None:
        return None
    points = np.asarray(points, dtype=np.float64).reshape(-1, 5, 2)
    if len(points) != n:
        raise ValueError(f"{name} has {len(points)} rows for {n} boxes")
    return points

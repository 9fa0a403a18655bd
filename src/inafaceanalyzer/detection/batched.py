"""What the ONNX detectors share: frames batched by size, padding to the network's multiple, NMS.

A subclass names its ONNX session's outputs, builds the input blob of a
batch of same-size frames (:meth:`BatchedDetector._blob`) and decodes the
outputs of one frame (:meth:`BatchedDetector._decode`); frames of the same
size go through the network together, at most :attr:`max_batch` per call.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..detections import Detections
from .base import FaceDetector

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["BatchedDetector", "nms", "padded_size"]


def nms(xyxy: NDArray[np.float64], scores: NDArray[np.float64], iou: float) -> NDArray[np.intp]:
    """Greedy non-maximum suppression: indices of the kept boxes, best first.

    A box is dropped when it overlaps a better kept box by an IoU of ``iou`` or more.
    """
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = xyxy.T
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    keep = []
    while len(order):
        best, rest = order[0], order[1:]
        keep.append(best)
        width = np.clip(np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]), 0, None)
        height = np.clip(np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]), 0, None)
        inter = width * height
        union = areas[best] + areas[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[overlap < iou]
    return np.asarray(keep, dtype=np.intp)


def padded_size(height: int, width: int, multiple: int) -> tuple[int, int]:
    """``height`` and ``width`` rounded up to multiples of ``multiple`` (at least one)."""
    return max(multiple, -(-height // multiple) * multiple), max(multiple, -(-width // multiple) * multiple)


class BatchedDetector(FaceDetector):
    """A detector whose network runs on ONNX Runtime, several same-size frames per call."""

    #: frames of one size run together, at most this many per ONNX call
    max_batch: ClassVar[int] = 8
    #: input sides must be multiples of this (the network's total stride)
    size_multiple: ClassVar[int] = 32
    #: the session's outputs, in the order :meth:`_decode` receives them
    outputs: ClassVar[tuple[str, ...]]
    #: the network's own floor for candidates; the user's ``min_confidence`` applies afterwards
    candidate_threshold: ClassVar[float] = 0.0

    _session: onnxruntime.InferenceSession

    @abstractmethod
    def _blob(self, images: Sequence[NDArray[np.uint8]]) -> dict[str, NDArray]:
        """The session's inputs for same-size prepared RGB frames."""

    @abstractmethod
    def _decode(self, maps: Sequence[NDArray[np.float32]], threshold: float) -> Detections:
        """Raw faces of one frame from its rows of the outputs, candidates from ``threshold``."""

    def _candidate_threshold(self) -> float:
        """The lowest score decoded: the network's floor, or the user's ``min_confidence`` if lower."""
        return min(self.candidate_threshold, self.settings.min_confidence)

    def _detect(self, image: NDArray[np.uint8]) -> Detections:
        return self._detect_batch([image])[0]

    def detect_many(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        """Faces of several frames; frames of the same size share ONNX calls."""
        prepared = [self._prepare(image) for image in images]
        raw = self._detect_batch(prepared)
        return [self._postprocess(image, found) for image, found in zip(images, raw, strict=True)]

    def _detect_batch(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        """Raw faces of prepared RGB images, batched by size."""
        by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for index, image in enumerate(images):
            by_shape[image.shape].append(index)
        results: list[Detections] = [Detections.empty()] * len(images)
        threshold = self._candidate_threshold()
        for indices in by_shape.values():
            for start in range(0, len(indices), self.max_batch):
                chunk = indices[start : start + self.max_batch]
                maps = self._session.run(list(self.outputs), self._blob([images[i] for i in chunk]))
                for row, index in enumerate(chunk):
                    results[index] = self._decode([output[row] for output in maps], threshold)
        return results

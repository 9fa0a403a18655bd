"""What the ONNX detectors share: frames batched by size, padding to the network's multiple, NMS.

A subclass names its ONNX session's outputs, builds the input blob of a
batch of same-size frames (:meth:`BatchedDetector._blob`) and decodes the
outputs of one frame (:meth:`BatchedDetector._decode`); frames of the same
size go through the network together, at most :attr:`max_batch` per call.

Memory grows with the pixels the network sees at once (about 75 bytes a
pixel for LibFaceDetection: 565 MB for the 2731x2731 input of a 4096x4096
frame, 2.2 GB for an 8192x8192 one), so a frame over
:attr:`BatchedDetector.max_input_pixels` (frames of a batch are grouped
within four times that) is cut into overlapping tiles of that size
(the faces up to :attr:`BatchedDetector.tile_overlap` / 2 pixels come from
the tiles, whole, each from a tile where it does not touch an inner edge)
plus one pass on the whole frame shrunk to that size (the larger faces,
found as well there as at full scale); the two sets are merged by NMS.
Frames of up to 1536x1536 network pixels (with the defaults, frames up to
2560x1440 or so) are not tiled: their results are unchanged.
"""

from __future__ import annotations

from abc import abstractmethod
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..detections import Detections
from .base import FaceDetector, resize_rgb

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


def _tile_starts(length: int, side: int, overlap: int) -> list[int]:
    """Starts of tiles of ``side`` covering ``length``, evenly spread, overlapping by ``overlap`` or more."""
    if length <= side:
        return [0]
    count = -(-(length - overlap) // (side - overlap))
    return [round(i * (length - side) / (count - 1)) for i in range(count)]


def padded_size(width: int, height: int, multiple: int) -> tuple[int, int]:
    """``(width, height)`` rounded up to multiples of ``multiple`` (at least one)."""
    return max(multiple, -(-width // multiple) * multiple), max(multiple, -(-height // multiple) * multiple)


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

    #: most pixels the network sees in one call; larger frames are tiled
    max_input_pixels: ClassVar[int] = 1024 * 1024
    #: overlap of the tiles, in network pixels; faces up to half of it come from the tiles
    tile_overlap: ClassVar[int] = 256
    #: IoU above which a face found both in a tile and in the shrunk frame is one face
    tile_merge_iou: ClassVar[float] = 0.4

    def _detect(self, image: NDArray[np.uint8]) -> Detections:
        return self._detect_batch([image])[0]

    def _detect_tiled(self, image: NDArray[np.uint8]) -> Detections:
        """Raw faces of a prepared frame over :attr:`max_input_pixels`: tiles and a shrunk pass, merged."""
        height, width = image.shape[:2]
        side = int(self.max_input_pixels**0.5)
        overlap = self.tile_overlap
        small_limit = overlap / 2
        margin = 2.0
        found: list[Detections] = []
        for top in _tile_starts(height, side, overlap):
            for left in _tile_starts(width, side, overlap):
                tile = np.ascontiguousarray(image[top : top + side, left : left + side])
                faces = self._detect_batch([tile])[0]
                if not len(faces):
                    continue
                x1, y1, x2, y2 = faces.xyxy.T
                bottom, right = top + tile.shape[0], left + tile.shape[1]
                inner = (
                    ((left > 0) & (x1 + left < left + margin))
                    | ((top > 0) & (y1 + top < top + margin))
                    | ((right < width) & (x2 + left > right - margin))
                    | ((bottom < height) & (y2 + top > bottom - margin))
                )
                found.append(faces[(faces.size <= small_limit) & ~inner].translate(left, top))
        factor = (self.max_input_pixels / (height * width)) ** 0.5
        shrunk_h, shrunk_w = max(1, int(height * factor)), max(1, int(width * factor))
        shrunk = resize_rgb(image, shrunk_w, shrunk_h)
        large = self._detect_batch([shrunk])[0]
        if len(large):
            large = large.scale(width / shrunk_w)
            found.append(large[large.size > 0.75 * small_limit])
        merged = Detections.concatenate(found)
        if not len(merged):
            return merged
        return merged[nms(merged.xyxy, merged.confidence, self.tile_merge_iou)]

    def detect_many(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        """Faces of several frames; frames of the same size share ONNX calls."""
        prepared = [self._prepare(image) for image in images]
        raw = self._detect_batch(prepared)
        return [self._postprocess(image, found) for image, found in zip(images, raw, strict=True)]

    def _detect_batch(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        """Raw faces of prepared RGB images, batched by size, 4 x :attr:`max_input_pixels` per call at most."""
        by_shape: dict[tuple[int, ...], list[int]] = defaultdict(list)
        results: list[Detections] = [Detections.empty()] * len(images)
        for index, image in enumerate(images):
            if image.shape[0] * image.shape[1] > self.max_input_pixels:
                results[index] = self._detect_tiled(image)
            else:
                by_shape[image.shape].append(index)
        threshold = self._candidate_threshold()
        for shape, indices in by_shape.items():
            per_call = max(1, min(self.max_batch, 4 * self.max_input_pixels // max(1, shape[0] * shape[1])))
            for start in range(0, len(indices), per_call):
                chunk = indices[start : start + per_call]
                maps = self._session.run(list(self.outputs), self._blob([images[i] for i in chunk]))
                for row, index in enumerate(chunk):
                    results[index] = self._decode([output[row] for output in maps], threshold)
        return results

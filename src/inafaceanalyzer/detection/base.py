"""What every face detector shares: thresholds, size limits, padding, box shaping.

A concrete detector only implements :meth:`FaceDetector._detect`, which finds
faces in one RGB image and returns raw :class:`~inafaceanalyzer.detections.Detections`
(boxes in that image's pixels, confidences in ``[0, 1]``, landmarks when it
has them). This base class does the rest, identically for all detectors:

1. black padding around the frame (``face_detection_padding``);
2. downscaling of every frame to the smallest size at which a face of the
   minimal size is still detectable (``min_detectable_px``), so a frame
   costs what the minimal face size needs, not more (with the defaults, a
   30-pixel face becomes 20 pixels: 960x540 frames are analysed at 640x360);
3. confidence threshold, then minimal face size (longer side of the raw box,
   in full-frame pixels, as the seed did);
4. coordinates mapped back to the original frame;
5. boxes squarified and scaled around their centre (1.1 by default, as the
   seed did). The raw box is kept in ``data["raw_xyxy"]``.

Sizes are ``(width, height)`` here as in :mod:`inafaceanalyzer.io` (PIL and
PyAV order): :meth:`FaceDetector.input_size` and
:meth:`FaceDetector.reduced_size` take ``width=`` and ``height=`` by keyword
and return ``(width, height)``; only NumPy array shapes are
``(height, width)``. The five points a detector gives are
:attr:`Detections.landmarks <inafaceanalyzer.detections.Detections.landmarks>`
in the detector's order (left eye, right eye, nose, left and right mouth
corners, as seen in the image).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
from av.video.frame import VideoFrame
from numpy.typing import NDArray

from ..detections import Detections

__all__ = ["FaceDetector", "DetectorSettings", "shape_boxes", "resize_rgb"]


class DetectorSettings:
    """The generic post-processing settings of a detector."""

    def __init__(
        self,
        min_confidence: float,
        min_size_px: float = 30,
        min_size_percent: float = 0.0,
        padding: float = 0.0,
        bbox_scaling: float = 1.1,
        squarify: bool = True,
    ) -> None:
        self.min_confidence = float(min_confidence)
        self.min_size_px = float(min_size_px)
        self.min_size_percent = float(min_size_percent)
        self.padding = float(padding)
        self.bbox_scaling = float(bbox_scaling)
        self.squarify = bool(squarify)

    def min_face_size(self, width: int, height: int) -> float:
        """The minimal face size in pixels for a frame of this size."""
        return max(self.min_size_px, self.min_size_percent * min(width, height))


def shape_boxes(xyxy: NDArray[np.float64], squarify: bool, scaling: float) -> NDArray[np.float64]:
    """Make boxes square (side = longer side) and scale them around their centre."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    cx = (xyxy[:, 0] + xyxy[:, 2]) / 2
    cy = (xyxy[:, 1] + xyxy[:, 3]) / 2
    w = xyxy[:, 2] - xyxy[:, 0]
    h = xyxy[:, 3] - xyxy[:, 1]
    if squarify:
        w = h = np.maximum(w, h)
    w = w * scaling
    h = h * scaling
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def resize_rgb(image: NDArray[np.uint8], width: int, height: int) -> NDArray[np.uint8]:
    """Shrink an RGB image by area averaging (FFmpeg's swscale, as the video decoder does)."""
    frame = VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    return frame.reformat(width=width, height=height, interpolation="AREA").to_ndarray()


class FaceDetector(ABC):
    """Finds faces in RGB images.

    Class attributes describe the model:

    Attributes:
        name: the name users select it by (``--face_detector``).
        description: one line for ``--face_detector``'s help.
        default_confidence: the minimal detection confidence when the
            options give none (``face_detection_confidence`` ``None``).
        min_detectable_px: the smallest face the network finds reliably, in
            pixels of its input; frames are downscaled until a face of the
            minimal size has this size.
        has_landmarks: whether :meth:`_detect` gives five landmarks.

    The constructor takes the :class:`DetectorSettings` and the keyword
    arguments ``threads`` and ``device`` (see
    :func:`~inafaceanalyzer.detection.create_detector`).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    default_confidence: ClassVar[float]
    min_detectable_px: ClassVar[float] = 12.0
    has_landmarks: ClassVar[bool] = False

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings

    @abstractmethod
    def _detect(self, image: NDArray[np.uint8]) -> Detections:
        """Raw faces in one C-contiguous RGB image, in its own pixel coordinates."""

    def detect_many(self, images: Sequence[NDArray[np.uint8]]) -> list[Detections]:
        """Faces of several frames. Subclasses may batch; the default loops."""
        return [self(image) for image in images]

    def __call__(self, image: NDArray[np.uint8], reduced: NDArray[np.uint8] | None = None) -> Detections:
        """Faces of one RGB image, filtered and shaped, in its pixel coordinates.

        ``reduced`` may give the image already shrunk to :meth:`reduced_size`
        (by the video decoder, see :attr:`~inafaceanalyzer.io.Frame.reduced`);
        it is used when it has that size.
        """
        height, width = image.shape[:2]
        size = self.reduced_size(width=width, height=height)
        if reduced is not None and size is not None and reduced.shape[:2] == (size[1], size[0]):
            prepared = np.ascontiguousarray(reduced)
        else:
            prepared = self._prepare(image)
        return self._postprocess(image, self._detect(prepared))

    def input_size(self, *, width: int, height: int) -> tuple[int, int]:
        """``(width, height)`` of what the network sees for a frame of this size (before padding to its multiple)."""
        scale, dx, dy = self._geometry(width, height)
        w, h = width + 2 * dx, height + 2 * dy
        if scale < 1.0:
            return max(1, round(w * scale)), max(1, round(h * scale))
        return w, h

    def reduced_size(self, *, width: int, height: int) -> tuple[int, int] | None:
        """``(width, height)`` a decoder may shrink frames of this size to for this detector
        (what :attr:`VideoSource.reduced_size <inafaceanalyzer.io.VideoSource.reduced_size>` takes).

        ``None`` when a shrunk copy is of no use: the frame is not shrunk, or
        it is padded first (the padding must be added at full size).
        """
        size = self.input_size(width=width, height=height)
        if self.settings.padding or size == (width, height):
            return None
        return size

    def _geometry(self, width: int, height: int) -> tuple[float, int, int]:
        """Scale and padding offsets used for a frame of this size."""
        s = self.settings
        dx = int(width * s.padding)
        dy = int(height * s.padding)
        scale = self.input_scale(width + 2 * dx, height + 2 * dy, min_face=s.min_face_size(width, height))
        return scale, dx, dy

    def _prepare(self, image: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Pad and downscale one frame as :meth:`_geometry` says."""
        height, width = image.shape[:2]
        scale, dx, dy = self._geometry(width, height)
        if dx or dy:
            padded = np.zeros((height + 2 * dy, width + 2 * dx, 3), dtype=np.uint8)
            padded[dy : dy + height, dx : dx + width] = image
            image = padded
        if scale < 1.0:
            target_w, target_h = self.input_size(width=width, height=height)
            image = resize_rgb(image, target_w, target_h)
        return np.ascontiguousarray(image)

    def input_scale(self, width: int, height: int, min_face: float) -> float:
        """How much a frame of this size is shrunk before the network sees it.

        As far as a face of ``min_face`` pixels stays ``min_detectable_px``
        pixels large; never enlarged.
        """
        if min_face <= 0:
            return 1.0
        return min(1.0, self.min_detectable_px / min_face)

    def _postprocess(self, image: NDArray[np.uint8], raw: Detections) -> Detections:
        s = self.settings
        height, width = image.shape[:2]
        scale, dx, dy = self._geometry(width, height)
        dets = raw.scale(1.0 / scale).translate(-dx, -dy) if len(raw) else raw
        dets = dets[dets.confidence >= s.min_confidence]
        dets = dets[dets.size >= s.min_face_size(width, height)]
        return dets.with_data(raw_xyxy=dets.xyxy).with_boxes(shape_boxes(dets.xyxy, s.squarify, s.bbox_scaling))

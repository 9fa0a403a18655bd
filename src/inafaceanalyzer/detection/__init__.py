"""Face detectors; :func:`create_detector` builds the one the options name."""

from __future__ import annotations

from ..options import AnalysisOptions
from .base import DetectorSettings, FaceDetector, shape_boxes

__all__ = ["DetectorSettings", "FaceDetector", "create_detector", "detector_settings", "shape_boxes"]


def detector_settings(options: AnalysisOptions) -> DetectorSettings:
    """The generic detection settings carried by the options."""
    return DetectorSettings(
        min_confidence=options.detection_confidence,
        min_size_px=options.min_face_size_px,
        min_size_percent=options.min_face_size_percent,
        padding=options.face_detection_padding,
        bbox_scaling=options.bbox_scaling,
        squarify=options.squarify_bbox,
    )


def create_detector(options: AnalysisOptions) -> FaceDetector:
    """The detector ``options.face_detector`` names."""
    settings = detector_settings(options)
    if options.face_detector == "LibFaceDetection":
        from .libfacedetection import LibFaceDetection

        return LibFaceDetection(settings, threads=options.threads, device=options.device)
    if options.face_detector == "CenterFace":
        from .centerface import CenterFaceDetector

        return CenterFaceDetector(settings, threads=options.threads, device=options.device)
    raise ValueError(f"unknown face detector {options.face_detector!r}")

"""Gender and age classifiers; :func:`create_classifier` builds the one options name."""

from __future__ import annotations

from ..options import AnalysisOptions
from .base import PREDICTION_COLUMNS, FaceClassifier, age_to_decfunc, decfunc_to_age

__all__ = [
    "PREDICTION_COLUMNS",
    "FaceClassifier",
    "age_to_decfunc",
    "decfunc_to_age",
    "classifier_classes",
    "create_classifier",
]


def classifier_classes() -> dict[str, type[FaceClassifier]]:
    """The available classifiers by name.

    Adding a classifier is one new module (a :class:`FaceClassifier` subclass
    that declares its ``name``, chips and columns) plus one entry here and its
    name in :data:`~inafaceanalyzer.options.CLASSIFIERS`.
    """
    from .cydral import CydralGenderAge
    from .fused import FusedGenderAge
    from .hse import HSEGenderAge

    return {cls.name: cls for cls in (FusedGenderAge, CydralGenderAge, HSEGenderAge)}


def create_classifier(options: AnalysisOptions) -> FaceClassifier:
    """The classifier ``options.classifier`` names, with the options' batch size, threads and device."""
    cls = classifier_classes()[options.classifier]
    return cls(
        batch_size=options.batch_size,
        threads=options.threads,
        device=options.device,
        tta=options.effective_tta,
        min_reliable_face_px=options.min_reliable_face_px,
        calibrate_gender=options.calibrate_gender,
        precision=options.precision,
    )

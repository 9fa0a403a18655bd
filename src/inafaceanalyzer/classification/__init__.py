"""Gender and age classifiers: the registry :data:`CLASSIFIERS`, and :func:`create_classifier`.

Adding a classifier is one new module (a :class:`FaceClassifier` subclass
that declares, as class attributes, its ``name``, chips, columns and test-time
augmentations) plus its class in the tuple below: options, the ``--classifier``
choices and the tables read them from :data:`CLASSIFIERS` (see
``docs/plugins.md``). Code outside the package registers one with
:func:`register_classifier`.
"""

from __future__ import annotations

from typing import Protocol

from .base import PRECISIONS, PREDICTION_COLUMNS, FaceClassifier, age_to_decfunc, decfunc_to_age
from .cydral import CydralGenderAge
from .fused import FusedGenderAge
from .hse import HSEGenderAge


class ClassificationOptions(Protocol):
    """What the factory reads of :class:`~inafaceanalyzer.options.AnalysisOptions` (options sit above
    classification: they validate against :data:`CLASSIFIERS`, so classification does not import them)."""

    classifier: str
    batch_size: int
    threads: int
    device: str
    effective_tta: str
    min_reliable_face_px: float
    calibrate_gender: bool
    precision: str

__all__ = [
    "CLASSIFIERS",
    "DEFAULT_CLASSIFIER",
    "PRECISIONS",
    "PREDICTION_COLUMNS",
    "FaceClassifier",
    "age_to_decfunc",
    "decfunc_to_age",
    "classifier_classes",
    "create_classifier",
    "register_classifier",
]

#: The classifiers by the name users select them by (``--classifier``), in the order the help lists them.
CLASSIFIERS: dict[str, type[FaceClassifier]] = {}


def register_classifier(cls: type[FaceClassifier]) -> type[FaceClassifier]:
    """Add a classifier class to :data:`CLASSIFIERS` under its ``name`` (usable as a class decorator).

    Raises:
        TypeError: ``cls`` is not a :class:`FaceClassifier` with a ``name``,
            a ``description``, ``chip_sizes``, and ``columns`` that start
            with :data:`PREDICTION_COLUMNS`; or its ``auto_tta`` values are
            not among its ``tta_modes``.
        ValueError: another class has that name.
    """
    if not (isinstance(cls, type) and issubclass(cls, FaceClassifier)):
        raise TypeError(f"a classifier is a FaceClassifier subclass, not {cls!r}")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or not isinstance(getattr(cls, "description", None), str):
        raise TypeError(f"{cls.__name__} must declare a name and a description (class attributes)")
    if not getattr(cls, "chip_sizes", None):
        raise TypeError(f"{cls.__name__} must declare the chip_sizes it takes")
    if tuple(cls.columns[: len(PREDICTION_COLUMNS)]) != PREDICTION_COLUMNS:
        raise TypeError(f"{cls.__name__}.columns must start with the seed's {', '.join(PREDICTION_COLUMNS)}")
    if cls.auto_tta not in cls.tta_modes or cls.auto_tta_crops not in cls.tta_modes:
        raise TypeError(f"{cls.__name__}: auto_tta and auto_tta_crops must be among its tta_modes")
    if CLASSIFIERS.get(name, cls) is not cls:
        raise ValueError(f"the classifier name {name!r} is taken by {CLASSIFIERS[name].__qualname__}")
    CLASSIFIERS[name] = cls
    return cls


for _cls in (CydralGenderAge, FusedGenderAge, HSEGenderAge):
    register_classifier(_cls)
#: the default classifier: HSE and Cydral fused (the most accurate and least biased, see the README)
DEFAULT_CLASSIFIER: str = FusedGenderAge.name


def classifier_classes() -> dict[str, type[FaceClassifier]]:
    """The available classifiers by name (:data:`CLASSIFIERS`)."""
    return dict(CLASSIFIERS)


def create_classifier(options: ClassificationOptions) -> FaceClassifier:
    """The classifier ``options.classifier`` names, with the options' batch size, threads and device."""
    cls = CLASSIFIERS[options.classifier]
    return cls(
        batch_size=options.batch_size,
        threads=options.threads,
        device=options.device,
        tta=options.effective_tta,
        min_reliable_face_px=options.min_reliable_face_px,
        calibrate_gender=options.calibrate_gender,
        precision=options.precision,
    )

"""The single source of analysis settings shared by the API, the CLI and workers.

The CLI parses into one frozen :class:`AnalysisOptions`; the Python API and the
distributed jobs take the same object, so defaults live here and only here.

The names an option may take come from the plug-in registries, each entry a
class whose class attributes are its facts: :data:`ENGINES` (here),
:data:`~inafaceanalyzer.detection.DETECTORS` and
:data:`~inafaceanalyzer.classification.CLASSIFIERS`. The options check the
other settings against those facts (``fps`` and ``detect_period`` against the
engine's, ``tta`` against the classifier's), never against names; see
``docs/plugins.md``.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, Literal

import numpy as np

from .classification import CLASSIFIERS, DEFAULT_CLASSIFIER, PRECISIONS
from .detection import DETECTORS
from .errors import OptionsError

__all__ = [
    "ENGINES",
    "EngineSpec",
    "FACE_DETECTORS",
    "TTA_VALUES",
    "PRECISIONS",
    "CLASSIFIERS",
    "CLASSIFIER_EXTRAS",
    "DEFAULT_CLASSIFIER",
    "DEFAULT_DETECTION_CONFIDENCE",
    "PREDICTIONS",
    "AnalysisOptions",
    "TRACKERS",
]

#: Where an engine's :attr:`~EngineSpec.columns` take the classifier's seed
#: columns (``sex_decfunc``, ``age_decfunc``, ``sex_label``, ``age_label``) ...
PREDICTIONS = "<predictions>"
#: ... and the classifier's other columns (``sex_prob_male``, ``age_std``, ``reliable``).
CLASSIFIER_EXTRAS = "<classifier extras>"


class EngineSpec:
    """What an engine is, as data: the options, the CLI, the pipeline and the
    tables read these facts from :data:`ENGINES` instead of comparing names.

    Attributes:
        name: the name users select it by (``--engine``).
        description: one line for ``--engine``'s help.
        video: it analyses videos, one table per video (else images, one
            table for all).
        keyframes_only: only keyframes are decoded (it takes no ``fps``).
        detects: faces are detected (else each image is a face crop,
            classified whole).
        tracks: faces are followed between frames (``detect_period``,
            ``tracker``, ``embeddings``; the table of tracks).
        live: it analyses live streams (the webcam demo).
        columns: the header of its table, with :data:`PREDICTIONS` and
            :data:`CLASSIFIER_EXTRAS` where the classifier's columns go (see
            :func:`~inafaceanalyzer.pipeline.results.table_columns`).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    video: ClassVar[bool] = True
    keyframes_only: ClassVar[bool] = False
    detects: ClassVar[bool] = True
    tracks: ClassVar[bool] = False
    live: ClassVar[bool] = False
    columns: ClassVar[tuple[str, ...]]


_BOX = ("left", "top", "right", "bottom")
_TIME = ("time_s", "timecode")


class ImageEngine(EngineSpec):
    name = "image"
    description = "a list of images, one CSV for all"
    video = False
    columns = ("frame", "bbox", "detect_conf", PREDICTIONS, *_BOX, "face_size", CLASSIFIER_EXTRAS)


class VideoEngine(EngineSpec):
    name = "video"
    description = "one CSV per video, every frame or --fps frames"
    live = True
    columns = ("frame", "bbox", "detect_conf", PREDICTIONS, *_BOX, *_TIME, "face_size", CLASSIFIER_EXTRAS)


class VideoTrackingEngine(EngineSpec):
    name = "videotracking"
    description = "video with face tracking (--detect_period)"
    tracks = True
    # the seed's tracking columns (see inafaceanalyzer.tracking), then extras; avg_weight:
    # weight of the row in its track's *_avg values; classified: whether the classifier ran on
    # this row (else its values are those of the nearest classified frame of its track)
    columns = (
        "frame", "bbox", "face_id", "detect_conf", "track_conf", PREDICTIONS,
        "sex_decfunc_avg", "age_decfunc_avg", "sex_label_avg", "age_label_avg",
        *_BOX, *_TIME, "face_size", CLASSIFIER_EXTRAS, "avg_weight", "person_id", "classified",
    )


class VideoKeyframesEngine(EngineSpec):
    name = "videokeyframes"
    description = "keyframes only (fastest)"
    keyframes_only = True
    columns = VideoEngine.columns


class PreprocessedImageEngine(EngineSpec):
    name = "preprocessed_image"
    description = "images that are already face crops"
    video = False
    detects = False
    columns = ("filename", PREDICTIONS, CLASSIFIER_EXTRAS)


#: The engines by name, in the order the help lists them.
ENGINES: dict[str, type[EngineSpec]] = {
    e.name: e for e in (ImageEngine, VideoEngine, VideoTrackingEngine, VideoKeyframesEngine, PreprocessedImageEngine)
}
#: The face detectors by name (:data:`inafaceanalyzer.detection.DETECTORS`); the first is the default.
FACE_DETECTORS = DETECTORS
TTA_VALUES: tuple[str, ...] = ("auto", "none", "flip", "full", "adaptive")
TRACKERS: tuple[str, ...] = ("mosse", "dlib")  # tracking.followers.FOLLOWERS; the first is the default


class _Facts(Mapping[str, Any]):
    """One fact of every entry of a registry, by name: a live view (it sees entries registered later)."""

    def __init__(self, registry: Mapping[str, type], fact: str) -> None:
        self._registry, self._fact = registry, fact

    def __getitem__(self, name: str) -> Any:
        return getattr(self._registry[name], self._fact)

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)

    def __repr__(self) -> str:
        return repr(dict(self))


#: The default minimal detection confidence of each detector (its ``default_confidence``), by name.
DEFAULT_DETECTION_CONFIDENCE: Mapping[str, float] = _Facts(DETECTORS, "default_confidence")


def _names(registry: Any, fact: str) -> str:
    """The names of the entries of ``registry`` whose ``fact`` is true, for messages."""
    return ", ".join(name for name, entry in registry.items() if getattr(entry, fact))


def _unknown(what: str, value: str, registry: Any) -> OptionsError:
    return OptionsError(f"{what} must be one of {', '.join(registry)}, not {value!r}")


def _kind(annotation: str) -> str:
    """The kind of a field from its annotation: ``int``, ``float``, ``bool`` or ``str``, ``?`` if it may be ``None``.

    Literal and alias annotations (``Engine``, ``Literal["cpu", ...]``) are strings.
    """
    base, optional = annotation, annotation.replace(" ", "").endswith("|None")
    if optional:
        base = annotation[: annotation.rindex("|")].strip()
    return (base if base in ("int", "float", "bool") else "str") + ("?" if optional else "")


_KIND_WORDS = {"int": "an integer", "float": "a finite number", "bool": "True or False", "str": "a string"}


def _check_kind(name: str, value: Any, kind: str) -> Any:
    """``value`` as a plain Python value of ``kind`` (see :func:`_kind`), or :class:`OptionsError` naming ``name``."""
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if value is None and optional:
        return value
    if kind == "bool":
        ok = isinstance(value, (bool, np.bool_))
    elif kind == "str":
        ok = isinstance(value, str)
    elif isinstance(value, (bool, np.bool_)):
        ok = False
    elif kind == "int":
        ok = isinstance(value, numbers.Integral)
    else:
        ok = isinstance(value, numbers.Real) and math.isfinite(value)
    if not ok:
        words = _KIND_WORDS[kind] + (" or None" if optional else "")
        raise OptionsError(f"{name} must be {words}, not {value!r} ({type(value).__name__})")
    plain = {"bool": bool, "str": str, "int": int, "float": float}[kind]
    return value if type(value) in (plain, int) else plain(value)


@dataclass(frozen=True)
class AnalysisOptions:
    """Every setting of an analysis.

    Attributes:
        engine: ``image``, ``video``, ``videotracking``, ``videokeyframes`` or
            ``preprocessed_image`` (:data:`ENGINES`).
        face_detector: ``LibFaceDetection`` (default) or ``CenterFace``
            (:data:`~inafaceanalyzer.detection.DETECTORS`).
        face_detection_confidence: minimal detection confidence in ``[0, 1]``;
            ``None`` takes the detector's default (its ``default_confidence``,
            :data:`DEFAULT_DETECTION_CONFIDENCE`).
        min_face_size_px: faces whose longer side is smaller are dropped.
        min_face_size_percent: same, as a fraction (0 to 1) of the frame's
            shorter side; the larger of the two limits applies.
        face_detection_padding: black border added around frames before
            detection, as a fraction of each side (helps with faces cut by
            the frame edge).
        bbox_scaling: boxes are scaled by this factor around their centre.
        squarify_bbox: boxes are made square (side = the longer side).
        classifier: name of the gender and age classifier
            (:data:`~inafaceanalyzer.classification.CLASSIFIERS`): ``FusedGenderAge``
            (default), ``CydralGenderAge`` (the HSE and Cydral networks fused by
            a decision fitted on FairFace) or ``HSEGenderAge`` (the HSE network
            alone).
        batch_size: faces per classifier call, and frames per detector call.
        fps: frames analysed per second of video; ``None`` analyses every
            frame. Above the native rate, every frame is analysed.
        detect_period: with ``videotracking``, detection runs on one analysed
            frame in ``detect_period``; faces are tracked in between.
        classify_period: with ``videotracking``, each track's face is
            classified on one of its frames in ``classify_period`` (its
            first, then every ``classify_period``-th); its other rows carry
            the per-frame values of the nearest frame of the same track
            where it was (their ``classified`` column is false), and its
            ``*_avg`` values average the frames where it was. ``None`` (the
            default): the ``detect_period``, so that the classifier runs
            where the detector does; ``1``: on every frame.
        threads: CPU threads for ONNX Runtime sessions; ``None`` uses the
            cores available to the process.
        tta: test-time augmentation of the gender and age networks:
            ``none`` (one view of each face), ``flip`` (and its mirror image),
            ``full`` (3 scales, each mirrored: 6 views; the most accurate),
            ``adaptive`` (one view, and the 6 of ``full`` for the faces whose
            gender it leaves uncertain) or
            ``auto``: the classifier's ``auto_tta`` (``none`` for the HSE
            classifiers; for Cydral ``full``), or its ``auto_tta_crops`` for
            an engine that does not detect (``flip`` for Cydral with
            ``preprocessed_image``, where no detection hides its cost) (each stays within 2x
            the time per face of a single view: see :attr:`effective_tta`).
        precision: ``fp32`` (the networks as published) or ``int8`` (their
            convolutions quantised: about 1.5x faster on CPUs, results within
            float noise of ``fp32`` on the evaluation sets; see the README).
        min_reliable_face_px: faces smaller than this (detector-box pixels),
            or as blurred as such a face, get ``reliable`` false.
        calibrate_gender: apply the gender calibration fitted on FairFace
            (face-size aware); ``False`` gives the network's raw scores.
        device: ``cpu``, ``cuda`` or ``auto`` (CUDA when onnxruntime-gpu
            sees a GPU).
        embeddings: also write the face embeddings (biometric data, kept
            in memory otherwise) beside the table: with ``videotracking``
            each track's, to ``<name>.embeddings.npz``; with the other
            engines each row's, to ``<name>.embeddings.npy`` (the
            classifier's own embedding, so it must compute one; see
            :mod:`inafaceanalyzer.export.embeddings`).
        tracker: with ``videotracking``, what follows faces between
            detections: ``mosse`` (batched correlation filters, GIL released)
            or ``dlib`` (the seed's correlation tracker); see
            :mod:`inafaceanalyzer.tracking.followers`.
        strict_decoding: a video with damaged or missing data fails as a
            whole (no table); by default (``False``) every frame that decodes
            is analysed and each stretch lost is reported as a warning
            (:class:`~inafaceanalyzer.io.DecodingGap`).
        url_timeout: seconds an ``http(s)://`` input may take: an image's
            whole download, a video's opening and each of its reads (a
            video is analysed while it streams, so its total time is not
            bounded; a stalled or dripping server is).
    """

    engine: str = "video"
    face_detector: str = next(iter(DETECTORS))
    face_detection_confidence: float | None = None
    min_face_size_px: int = 30
    min_face_size_percent: float = 0.0
    face_detection_padding: float = 0.0
    bbox_scaling: float = 1.1
    squarify_bbox: bool = True
    classifier: str = DEFAULT_CLASSIFIER
    batch_size: int = 32
    fps: float | None = None
    detect_period: int = 1
    classify_period: int | None = None
    threads: int | None = None
    device: Literal["cpu", "cuda", "auto"] = "auto"
    tta: Literal["auto", "none", "flip", "full", "adaptive"] = "auto"
    precision: Literal["fp32", "int8"] = "fp32"
    min_reliable_face_px: float = 30.0
    calibrate_gender: bool = True
    embeddings: bool = False
    tracker: str = "mosse"
    strict_decoding: bool = False
    url_timeout: float = 600.0

    def __post_init__(self) -> None:
        for name, kind in _kinds().items():
            value = _check_kind(name, getattr(self, name), kind)
            if value is not getattr(self, name):  # numpy scalars become Python numbers (JSON, job lists)
                object.__setattr__(self, name, value)
        if self.engine not in ENGINES:
            raise _unknown("engine", self.engine, ENGINES)
        if self.face_detector not in DETECTORS:
            raise _unknown("face_detector", self.face_detector, DETECTORS)
        if self.classifier not in CLASSIFIERS:
            raise _unknown("classifier", self.classifier, CLASSIFIERS)
        engine, classifier = ENGINES[self.engine], CLASSIFIERS[self.classifier]
        conf = self.face_detection_confidence
        if conf is not None and not 0.0 <= conf <= 1.0:
            raise OptionsError(f"face_detection_confidence must be within [0, 1], not {conf}")
        if self.min_face_size_px < 0:
            raise OptionsError(f"min_face_size_px must be >= 0, not {self.min_face_size_px}")
        if not 0.0 <= self.min_face_size_percent <= 1.0:
            raise OptionsError(
                f"min_face_size_percent is a fraction within [0, 1], not {self.min_face_size_percent}"
            )
        if not 0.0 <= self.face_detection_padding <= 1.0:
            raise OptionsError(
                f"face_detection_padding is a fraction within [0, 1], not {self.face_detection_padding}"
            )
        if not self.bbox_scaling > 0:
            raise OptionsError(f"bbox_scaling must be > 0, not {self.bbox_scaling}")
        if self.batch_size < 1:
            raise OptionsError(f"batch_size must be >= 1, not {self.batch_size}")
        if self.fps is not None and not (self.fps > 0 and math.isfinite(self.fps)):
            raise OptionsError(f"fps must be a number > 0, not {self.fps}")
        if self.detect_period < 1:
            raise OptionsError(f"detect_period must be >= 1, not {self.detect_period}")
        if self.threads is not None and self.threads < 1:
            raise OptionsError(f"threads must be >= 1, not {self.threads}")
        if self.precision not in PRECISIONS:
            raise OptionsError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        if self.tta not in TTA_VALUES:
            raise OptionsError(f"tta must be one of {', '.join(TTA_VALUES)}, not {self.tta!r}")
        if self.tta != "auto" and self.tta not in classifier.tta_modes:
            others = ", ".join(name for name, cls in CLASSIFIERS.items() if self.tta in cls.tta_modes)
            raise OptionsError(
                f"tta {self.tta} is a view set of the {others} classifier(s); {self.classifier} takes "
                f"auto, {', '.join(classifier.tta_modes)}"
            )
        if not self.min_reliable_face_px >= 0:
            raise OptionsError(f"min_reliable_face_px must be >= 0, not {self.min_reliable_face_px}")
        if not (self.url_timeout > 0 and math.isfinite(self.url_timeout)):
            raise OptionsError(f"url_timeout must be a number of seconds > 0, not {self.url_timeout}")
        if self.device not in ("cpu", "cuda", "auto"):
            raise OptionsError(f"device must be cpu, cuda or auto, not {self.device!r}")
        if engine.keyframes_only and self.fps is not None:
            raise OptionsError(f"the {self.engine} engine decodes keyframes only: it takes no fps")
        if not engine.video and self.fps is not None:
            raise OptionsError(f"the {self.engine} engine analyses images: it takes no fps")
        if not engine.tracks and self.detect_period != 1:
            raise OptionsError(f"detect_period only applies to the {_names(ENGINES, 'tracks')} engine")
        if self.classify_period is not None and self.classify_period < 1:
            raise OptionsError(f"classify_period must be >= 1, not {self.classify_period}")
        if not engine.tracks and self.classify_period not in (None, 1):
            raise OptionsError(f"classify_period only applies to the {_names(ENGINES, 'tracks')} engine")
        if self.embeddings and not engine.tracks:
            from .classification import classifier_classes

            if not classifier_classes()[self.classifier].embedding_dim:
                raise OptionsError(
                    f"embeddings: the {self.classifier} classifier computes no face embedding; "
                    f"use FusedGenderAge or HSEGenderAge, or the {_names(ENGINES, 'tracks')} engine (one per track)"
                )
        if self.tracker not in TRACKERS:
            raise OptionsError(f"tracker must be one of {', '.join(TRACKERS)}, not {self.tracker!r}")

    @property
    def effective_classify_period(self) -> int:
        """One frame in how many of each track is classified (``classify_period``, else ``detect_period``)."""
        return self.detect_period if self.classify_period is None else self.classify_period

    @property
    def detection_confidence(self) -> float:
        """The confidence threshold in force: the given one or the detector's default."""
        if self.face_detection_confidence is not None:
            return self.face_detection_confidence
        return DETECTORS[self.face_detector].default_confidence

    @property
    def effective_tta(self) -> str:
        """The test-time augmentation in force: ``tta``, with ``auto`` resolved for the engine."""
        if self.tta != "auto":
            return self.tta
        classifier = CLASSIFIERS[self.classifier]
        return classifier.auto_tta if self.engine_spec.detects else classifier.auto_tta_crops

    @property
    def engine_spec(self) -> type[EngineSpec]:
        """The facts of the engine (:data:`ENGINES`)."""
        return ENGINES[self.engine]

    @property
    def is_video(self) -> bool:
        """Whether the engine analyses videos."""
        return self.engine_spec.video

    def replace(self, **changes: Any) -> AnalysisOptions:
        """A copy with some settings changed (validated again)."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, e.g. for a job description or a results header."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AnalysisOptions:
        """Options from a dict; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise OptionsError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return cls(**values)


@functools.cache
def _kinds() -> dict[str, str]:
    """The kind of every field of :class:`AnalysisOptions`, from its annotation (bools are not numbers,
    ints must be ints, floats finite, strings strings)."""
    return {f.name: _kind(str(f.type)) for f in fields(AnalysisOptions)}

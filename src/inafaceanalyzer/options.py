"""The single source of analysis settings shared by the API, the CLI and workers.

The CLI parses into one frozen :class:`AnalysisOptions`; the Python API and the
distributed jobs take the same object, so defaults live here and only here.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

import numpy as np

from .errors import OptionsError

__all__ = [
    "ENGINES",
    "FACE_DETECTORS",
    "TTA_VALUES",
    "PRECISIONS",
    "CLASSIFIERS",
    "DEFAULT_CLASSIFIER",
    "DEFAULT_DETECTION_CONFIDENCE",
    "AnalysisOptions",
    "TRACKERS",
]

Engine = Literal["image", "video", "videotracking", "videokeyframes", "preprocessed_image"]
ENGINES: tuple[str, ...] = ("image", "video", "videotracking", "videokeyframes", "preprocessed_image")
FACE_DETECTORS: tuple[str, ...] = ("LibFaceDetection", "CenterFace")
TTA_VALUES: tuple[str, ...] = ("auto", "none", "flip", "full", "adaptive")
PRECISIONS: tuple[str, ...] = ("fp32", "int8")
CLASSIFIERS: tuple[str, ...] = ("CydralGenderAge", "FusedGenderAge", "HSEGenderAge")
#: the default classifier: HSE and Cydral fused (the most accurate and least biased, see the README)
DEFAULT_CLASSIFIER = "FusedGenderAge"
TRACKERS: tuple[str, ...] = ("mosse", "dlib")  # tracking.followers.FOLLOWERS; the first is the default
VIDEO_ENGINES = frozenset({"video", "videotracking", "videokeyframes"})
IMAGE_ENGINES = frozenset({"image", "preprocessed_image"})

# Default minimal detection confidence of each detector, chosen on the
# repository's sample media so that the visible faces are kept and the
# false alarms of textured backgrounds are not.
DEFAULT_DETECTION_CONFIDENCE: dict[str, float] = {
    "LibFaceDetection": 0.75,
    "CenterFace": 0.5,
}


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
            ``preprocessed_image``.
        face_detector: ``LibFaceDetection`` (default) or ``CenterFace``.
        face_detection_confidence: minimal detection confidence in ``[0, 1]``;
            ``None`` takes the detector's default
            (:data:`DEFAULT_DETECTION_CONFIDENCE`).
        min_face_size_px: faces whose longer side is smaller are dropped.
        min_face_size_percent: same, as a fraction (0 to 1) of the frame's
            shorter side; the larger of the two limits applies.
        face_detection_padding: black border added around frames before
            detection, as a fraction of each side (helps with faces cut by
            the frame edge).
        bbox_scaling: boxes are scaled by this factor around their centre.
        squarify_bbox: boxes are made square (side = the longer side).
        classifier: name of the gender and age classifier: ``CydralGenderAge``
            (default), ``FusedGenderAge`` (the HSE and Cydral networks fused by
            a decision fitted on FairFace) or ``HSEGenderAge`` (the HSE network
            alone).
        batch_size: faces per classifier call, and frames per detector call.
        fps: frames analysed per second of video; ``None`` analyses every
            frame. Above the native rate, every frame is analysed.
        detect_period: with ``videotracking``, detection runs on one analysed
            frame in ``detect_period``; faces are tracked in between.
        threads: CPU threads for ONNX Runtime sessions; ``None`` uses the
            cores available to the process.
        tta: test-time augmentation of the gender and age networks:
            ``none`` (one view of each face), ``flip`` (and its mirror image),
            ``full`` (3 scales, each mirrored: 6 views; the most accurate),
            ``adaptive`` (one view, and the 6 of ``full`` for the faces whose
            gender it leaves uncertain) or
            ``auto``: ``none`` for the HSE classifiers; for Cydral ``full``, except ``flip`` for the ``preprocessed_image``
            engine, where no detection hides its cost (each stays within 2x
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

    engine: Engine = "video"
    face_detector: str = "LibFaceDetection"
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
            raise OptionsError(f"engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.face_detector not in FACE_DETECTORS:
            raise OptionsError(
                f"face_detector must be one of {', '.join(FACE_DETECTORS)}, not {self.face_detector!r}"
            )
        if self.classifier not in CLASSIFIERS:
            raise OptionsError(
                f"classifier must be one of {', '.join(CLASSIFIERS)}, not {self.classifier!r}"
            )
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
        if self.classifier != "CydralGenderAge" and self.tta in ("full", "adaptive"):
            raise OptionsError(
                f"tta {self.tta} is a view set of the CydralGenderAge classifier; {self.classifier} takes "
                "auto, none or flip"
            )
        if not self.min_reliable_face_px >= 0:
            raise OptionsError(f"min_reliable_face_px must be >= 0, not {self.min_reliable_face_px}")
        if not (self.url_timeout > 0 and math.isfinite(self.url_timeout)):
            raise OptionsError(f"url_timeout must be a number of seconds > 0, not {self.url_timeout}")
        if self.device not in ("cpu", "cuda", "auto"):
            raise OptionsError(f"device must be cpu, cuda or auto, not {self.device!r}")
        if self.engine == "videokeyframes" and self.fps is not None:
            raise OptionsError("the videokeyframes engine decodes keyframes only: it takes no fps")
        if self.engine in IMAGE_ENGINES and self.fps is not None:
            raise OptionsError(f"the {self.engine} engine analyses images: it takes no fps")
        if self.engine != "videotracking" and self.detect_period != 1:
            raise OptionsError("detect_period only applies to the videotracking engine")
        if self.embeddings and self.engine != "videotracking":
            from .classification import classifier_classes

            if not classifier_classes()[self.classifier].embedding_dim:
                raise OptionsError(
                    f"embeddings: the {self.classifier} classifier computes no face embedding; "
                    "use FusedGenderAge or HSEGenderAge, or the videotracking engine (one per track)"
                )
        if self.tracker not in TRACKERS:
            raise OptionsError(f"tracker must be one of {', '.join(TRACKERS)}, not {self.tracker!r}")

    @property
    def detection_confidence(self) -> float:
        """The confidence threshold in force: the given one or the detector's default."""
        if self.face_detection_confidence is not None:
            return self.face_detection_confidence
        return DEFAULT_DETECTION_CONFIDENCE[self.face_detector]

    @property
    def effective_tta(self) -> str:
        """The test-time augmentation in force: ``tta``, with ``auto`` resolved for the engine."""
        if self.tta != "auto":
            return self.tta
        if self.classifier != "CydralGenderAge":
            return "none"  # the HSE classifiers: one view (the fused decision was fitted on one)
        return "flip" if self.engine == "preprocessed_image" else "full"

    @property
    def is_video(self) -> bool:
        """Whether the engine analyses videos."""
        return self.engine in VIDEO_ENGINES

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

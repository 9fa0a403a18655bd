"""The pure analysis part: frames in, faces with gender and age out.

:class:`FaceAnalyzer` owns the models (loaded once) and knows nothing about
files: engines decode, then hand frames to it. In a stream, detection runs
frame by frame in its own thread, one step ahead of alignment and
classification, which are batched across frames so that faces of many frames
share one network call; results still come out one frame at a time and in
order (the generator form streams: memory does not grow with the length of a
video). With decoding in the engine's thread, the three stages overlap: the
networks release the GIL while they run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from ..alignment.chips import ChipExtractor, FaceChips
from ..classification import create_classifier
from ..classification.base import FaceClassifier
from ..detection import create_detector
from ..detection.base import FaceDetector
from ..detections import Detections
from ..options import AnalysisOptions
from .prefetch import prefetch

__all__ = ["FaceAnalyzer"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class FaceAnalyzer:
    """Detects faces and predicts their gender and age.

    Args:
        options: the analysis settings; only the model-related ones are used here.
        detector, classifier: already-built models to share (optional).
    """

    #: frames detected ahead of classification in :meth:`analyze_stream`
    detect_ahead: int = 4

    def __init__(
        self,
        options: AnalysisOptions | None = None,
        detector: FaceDetector | None = None,
        classifier: FaceClassifier | None = None,
    ) -> None:
        self.options = options or AnalysisOptions()
        self._detector = detector
        self.classifier = classifier or create_classifier(self.options)
        self.chips = ChipExtractor(
            self.classifier.chip_sizes, self.classifier.chip_padding, self.classifier.chip_paddings,
            self.classifier.chip_mirror_edges,
        )

    @property
    def detector(self) -> FaceDetector:
        """The face detector, built on first use (the preprocessed engine needs none)."""
        if self._detector is None:
            self._detector = create_detector(self.options)
        return self._detector

    # -- one image ---------------------------------------------------------

    def detect(self, image: NDArray[np.uint8], reduced: NDArray[np.uint8] | None = None) -> Detections:
        """Faces of one RGB image, without predictions (``reduced``: see :meth:`FaceDetector.__call__`)."""
        return self.detector(image, reduced)

    def classify(self, image: NDArray[np.uint8], faces: Detections) -> Detections:
        """``faces`` of ``image`` with the classifier's columns added."""
        return self.classify_many([(image, faces)])[0]

    def __call__(self, image: NDArray[np.uint8]) -> Detections:
        """Faces of one RGB image, with gender and age."""
        return self.classify(image, self.detect(image))

    # -- many images -------------------------------------------------------

    def classify_many(self, items: Sequence[tuple[NDArray[np.uint8], Detections]]) -> list[Detections]:
        """Classify the faces of several frames in shared network calls."""
        per_frame = [self._chips_of(image, faces) for image, faces in items]
        if not per_frame:
            return []
        merged = _concatenate_chips(per_frame, self.classifier.chip_sizes)
        predictions = self.classifier.predict(merged)
        out = []
        start = 0
        for (_, faces), chips in zip(items, per_frame, strict=True):
            stop = start + len(faces)
            columns = {key: values[start:stop] for key, values in predictions.items()}
            out.append(faces.with_landmarks(chips.landmarks).with_data(roll=chips.roll, **columns))
            start = stop
        return out

    def _chips_of(self, image: NDArray[np.uint8], faces: Detections) -> FaceChips:
        boxes = faces.data.get("raw_xyxy", faces.xyxy)
        return self.chips(image, boxes)

    def batch_is_full(self, frames: int, faces: int) -> bool:
        """Whether ``frames`` held frames with ``faces`` faces make a classification batch.

        About ``options.batch_size`` faces; frames without faces are held at most
        ``4 * batch_size`` deep, so results never wait long.
        """
        return faces >= self.options.batch_size or frames >= 4 * self.options.batch_size

    def analyze_stream(
        self,
        items: Iterable[tuple[T, NDArray[np.uint8]]],
        detect: bool = True,
        reduced: Callable[[T], NDArray[np.uint8] | None] | None = None,
    ) -> Iterator[tuple[T, Detections]]:
        """Analyse ``(key, image)`` pairs, yielding ``(key, faces)`` in order.

        ``reduced(key)``, when given, returns the image already shrunk for
        the detector (e.g. :attr:`Frame.reduced <inafaceanalyzer.io.Frame.reduced>`).

        Faces are classified in batches of about ``options.batch_size`` faces
        gathered over consecutive frames; a frame is held back only until its
        batch is full. Detection runs in a background thread, up to
        :attr:`detect_ahead` frames ahead of classification.
        """
        if detect:
            found = prefetch(
                ((key, image, self.detect(image, reduced(key) if reduced else None)) for key, image in items),
                maxsize=self.detect_ahead,
                name="detect",
            )
        else:
            found = ((key, image, _whole_image(image)) for key, image in items)
        pending: list[tuple[T, NDArray[np.uint8], Detections]] = []
        pending_faces = 0
        for key, image, faces in found:
            pending.append((key, image, faces))
            pending_faces += len(faces)
            if self.batch_is_full(len(pending), pending_faces):
                yield from self._flush(pending)
                pending, pending_faces = [], 0
        yield from self._flush(pending)

    def _flush(self, pending: list[tuple[T, NDArray[np.uint8], Detections]]) -> Iterator[tuple[T, Detections]]:
        results = self.classify_many([(image, faces) for _, image, faces in pending])
        for (key, _, _), faces in zip(pending, results, strict=True):
            yield key, faces


def _whole_image(image: NDArray[np.uint8]) -> Detections:
    height, width = image.shape[:2]
    return Detections(np.array([[0, 0, width, height]], dtype=np.float64), np.array([np.nan]))


def _concatenate_chips(parts: list[FaceChips], sizes: Sequence[int]) -> FaceChips:
    return FaceChips(
        {size: np.concatenate([p.chips[size] for p in parts]) for size in sizes},
        np.concatenate([p.landmarks for p in parts]),
        np.concatenate([p.roll for p in parts]),
    )

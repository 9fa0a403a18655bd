"""The pure analysis part: frames in, faces with gender and age out.

:class:`FaceAnalyzer` owns the models (loaded once) and knows nothing about
files: engines decode, then hand frames to it. In a stream, detection runs
and alignment run frame by frame in their own thread, one step ahead of
classification, which is batched across frames so that faces of many frames
share one network call (only the aligned face chips wait for a batch, not the
images); results still come out one frame at a time and in
order (the generator form streams: memory does not grow with the length of a
video). With decoding in the engine's thread, the three stages overlap: the
networks release the GIL while they run.

A batch gathered for classification goes through the classifier's networks
:attr:`FaceAnalyzer.faces_per_call` faces at a time: on the CPU, a few faces
per call (:attr:`FaceAnalyzer.cpu_faces_per_call`) cost no more CPU per face
than 32 (``benchmarks/bench_images.py --faces_per_call``), and ONNX Runtime's
memory grows with the faces of one call (over 10 MB a face for the default
classifier, kept by its arena for the rest of the run); on CUDA, the whole
batch.
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
from ..models import uses_cuda
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
    #: most faces per classifier call on the CPU (at most ``options.batch_size``)
    cpu_faces_per_call: int = 4

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
        #: faces per classifier call: ``options.batch_size`` on CUDA, else :attr:`cpu_faces_per_call`
        self.faces_per_call = (
            self.options.batch_size if uses_cuda(self.options.device)
            else min(self.options.batch_size, self.cpu_faces_per_call)
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
        return self.classify_aligned([(faces, self.align(image, faces)) for image, faces in items])

    def align(self, image: NDArray[np.uint8], faces: Detections) -> FaceChips:
        """The aligned chips of ``faces`` of ``image``: all that classification needs of the image."""
        boxes = faces.data.get("raw_xyxy", faces.xyxy)
        return self.chips(image, boxes)

    def classify_aligned(self, items: Sequence[tuple[Detections, FaceChips]]) -> list[Detections]:
        """Classify faces already aligned by :meth:`align`, several frames in shared network calls."""
        if not items:
            return []
        merged = _concatenate_chips([chips for _, chips in items], self.classifier.chip_sizes)
        predictions = self._predict(merged)
        out = []
        start = 0
        for faces, chips in items:
            stop = start + len(faces)
            columns = {key: values[start:stop] for key, values in predictions.items()}
            out.append(faces.with_alignment_points(chips.landmarks).with_data(roll=chips.roll, **columns))
            start = stop
        return out

    def _predict(self, chips: FaceChips) -> dict[str, NDArray]:
        """The classifier's columns for ``chips``, :attr:`faces_per_call` faces per call."""
        count, step = len(chips.roll), self.faces_per_call
        if count <= step:
            return self.classifier.predict(chips)
        parts = [self.classifier.predict(_slice_chips(chips, start, start + step)) for start in range(0, count, step)]
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def batch_is_full(self, frames: int, faces: int) -> bool:
        """Whether ``frames`` held frames with ``faces`` faces make a classification batch.

        About ``options.batch_size`` faces; frames without faces are held at most
        ``4 * batch_size`` deep, so results never wait long.
        """
        return faces >= self.options.batch_size or frames >= 4 * self.options.batch_size

    def analyze_stream(
        self,
        items: Iterable[tuple[T, NDArray[np.uint8]] | tuple[T, NDArray[np.uint8], NDArray[np.uint8] | None]],
        detect: bool = True,
        reduced: Callable[[T], NDArray[np.uint8] | None] | None = None,
    ) -> Iterator[tuple[T, Detections]]:
        """Analyse ``(key, image)`` pairs, yielding ``(key, faces)`` in order.

        An item may also be a ``(key, image, reduced)`` triple, ``reduced``
        being the image already shrunk for the detector (e.g.
        :attr:`Frame.reduced <inafaceanalyzer.io.Frame.reduced>`), or
        ``None``; ``reduced(key)``, when given, returns it for pairs.

        Faces are classified in batches of about ``options.batch_size`` faces
        gathered over consecutive frames. Detection and alignment run in a
        background thread, up to :attr:`detect_ahead` frames ahead of
        classification; only the faces and their aligned chips wait for a
        batch, never the images, so memory does not grow with the frame
        size times the batch. Keys are held until their batch is classified:
        keep them small (an index, a time, a path), not the image.
        """
        found = prefetch(
            self._aligned(items, detect, reduced),
            maxsize=self.detect_ahead,
            name="detect" if detect else "align",
        )
        pending: list[tuple[T, Detections, FaceChips]] = []
        pending_faces = 0
        for entry in found:
            pending.append(entry)
            pending_faces += len(entry[1])
            if self.batch_is_full(len(pending), pending_faces):
                yield from self._flush(pending)
                pending, pending_faces = [], 0
        yield from self._flush(pending)

    def _aligned(
        self,
        items: Iterable[tuple],
        detect: bool,
        reduced: Callable[[T], NDArray[np.uint8] | None] | None,
    ) -> Iterator[tuple[T, Detections, FaceChips]]:
        """Each item's key, faces and chips; the image is let go as soon as its chips are cut."""
        iterator = iter(items)
        while (item := next(iterator, None)) is not None:
            key, image = item[0], item[1]
            small = item[2] if len(item) > 2 else (reduced(key) if reduced is not None else None)
            del item
            faces = self.detect(image, small) if detect else _whole_image(image)
            del small
            chips = self.align(image, faces)
            del image  # before the next image is asked for
            yield key, faces, chips

    def _flush(self, pending: list[tuple[T, Detections, FaceChips]]) -> Iterator[tuple[T, Detections]]:
        results = self.classify_aligned([(faces, chips) for _, faces, chips in pending])
        for (key, _, _), faces in zip(pending, results, strict=True):
            yield key, faces


def _whole_image(image: NDArray[np.uint8]) -> Detections:
    height, width = image.shape[:2]
    return Detections(np.array([[0, 0, width, height]], dtype=np.float64), np.array([np.nan]))


def _slice_chips(chips: FaceChips, start: int, stop: int) -> FaceChips:
    return FaceChips(
        {size: faces[start:stop] for size, faces in chips.chips.items()},
        chips.landmarks[start:stop],
        chips.roll[start:stop],
    )


def _concatenate_chips(parts: list[FaceChips], sizes: Sequence[int]) -> FaceChips:
    return FaceChips(
        {size: np.concatenate([p.chips[size] for p in parts]) for size in sizes},
        np.concatenate([p.landmarks for p in parts]),
        np.concatenate([p.roll for p in parts]),
    )

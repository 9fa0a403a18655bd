"""Engines: decode a source, hand its frames to a :class:`FaceAnalyzer`, yield results.

``image``            : one result per image file (``frame`` = the path).
``video``            : one result per analysed frame (all frames, or ``fps`` sampling).
``videokeyframes``   : one result per keyframe; only keyframes are decoded.
``preprocessed_image``: inputs are face crops; no detection.
``videotracking``    : see :mod:`inafaceanalyzer.tracking`.

Decoding runs in a background thread (:func:`prefetch`) while the analyzer
works; results are generators, so nothing grows with the length of a video.
What is decoded or loaded ahead is bounded in bytes (:data:`FRAMES_AHEAD_BYTES`),
so that nothing grows with the size of a frame either: 4K frames are decoded
a few ahead, 8K ones one at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..detection.base import FaceDetector, resize_rgb
from ..errors import MediaError
from ..io import DecodingGap, Frame, VideoInfo, VideoSource, load_image
from ..io.sampling import Sampling
from ..options import AnalysisOptions
from .analyzer import FaceAnalyzer
from .prefetch import prefetch
from .results import FrameResult, results_dataframe, table_columns

__all__ = ["FRAMES_AHEAD_BYTES", "VideoAnalysis", "iter_images", "expected_frame_count"]

log = logging.getLogger(__name__)

#: Bytes of decoded frames or loaded images that may be in flight between the
#: decoding thread and the analysis (the one being analysed included); one
#: frame always may, however large.
FRAMES_AHEAD_BYTES: int = 256 << 20

ErrorHandler = Callable[[MediaError], None]

#: FFmpeg's decoders of still-image formats: a "video" of one such frame is a photo
_STILL_IMAGE_CODECS = frozenset({"mjpeg", "png", "bmp", "tiff", "webp", "jpeg2000", "jpegls", "ppm", "pgm", "pam"})


def is_photo(info: VideoInfo) -> bool:
    """Whether what FFmpeg opened as a video is a still image (one frame of an image format)."""
    return info.codec in _STILL_IMAGE_CODECS and (info.frame_count or 1) <= 1


def expected_frame_count(info: VideoInfo, options: AnalysisOptions) -> int | None:
    """How many frames the sampling will keep, for progress bars (``None`` if unknown)."""
    return Sampling.from_options(options).expected_frames(info.frame_rate, info.duration, info.frame_count)


class VideoAnalysis:
    """The analysis of one video: :attr:`info` at once, results when iterated.

    Opening raises :class:`MediaError` for sources that cannot be read, and
    for a photo (which it says to analyse with ``--engine image``);
    iterating may raise it for files that turn out truncated or corrupt
    (``options.strict_decoding``), else analyses every frame that decodes
    and lists the stretches lost in :attr:`gaps`.

    Args:
        source: path or URL of the video.
        options: analysis settings (engine ``video`` or ``videokeyframes``).
        analyzer: models to use (built from ``options`` if not given).

    Attributes:
        sampling: how the frames are picked (decided once from ``options``;
            the decoder, the progress bar and the tracker read it, and it is
            written with the results).
    """

    def __init__(self, source: str, options: AnalysisOptions, analyzer: FaceAnalyzer | None = None) -> None:
        self.source = str(source)
        self.options = options
        self.sampling = Sampling.from_options(options)
        self.analyzer = analyzer or FaceAnalyzer(options)
        self.video = VideoSource(
            self.source,
            fps=self.sampling.rate,
            keyframes_only=self.sampling.keyframes,
            strict=options.strict_decoding,
            deadline=options.url_timeout,
        )
        self.info: VideoInfo = self.video.info
        if is_photo(self.info):
            self.video.close()
            raise MediaError(self.source, f"a still image ({self.info.codec}), not a video: analyse photos with "
                             "the image engine (--engine image)")

    @property
    def columns(self) -> tuple[str, ...]:
        """The header of this engine's table."""
        return table_columns(self.options.engine, self.options.classifier)

    def write_extras(self, table_path: Path) -> None:
        """Write the outputs that go beside the table, once it is complete (none here)."""

    @property
    def gaps(self) -> list[DecodingGap]:
        """Stretches of the video that could not be decoded (complete after iteration)."""
        return self.video.gaps

    @property
    def expected_frames(self) -> int | None:
        """Number of frames that will be analysed, when known in advance."""
        return self.sampling.expected_frames(self.info.frame_rate, self.info.duration, self.info.frame_count)

    def frames(self) -> Iterator[Frame]:
        """The sampled frames, decoded in a background thread.

        Each frame also comes shrunk to the detector's
        :meth:`~inafaceanalyzer.detection.FaceDetector.reduced_size`
        (:attr:`Frame.reduced`) when it has one, so that the decoder does it in
        its colour conversion pass.
        """
        if self.info.width and self.info.height:
            size = self.analyzer.detector.reduced_size(width=self.info.width, height=self.info.height)
            if size is not None:
                self.video.reduced_size = size
        return prefetch(
            self.video, maxsize=8, name=f"decode:{self.source}", max_bytes=FRAMES_AHEAD_BYTES, size=_frame_bytes
        )

    def dataframe(self) -> pd.DataFrame:
        """All results as one table with the engine's columns (reads the whole video)."""
        return results_dataframe(self, self.options.engine, self.options.classifier)

    def __iter__(self) -> Iterator[FrameResult]:
        for (index, time_s), faces in self.analyzer.analyze_stream(_keyed(self.frames())):
            yield FrameResult(index, time_s, faces)


def _keyed(frames: Iterable[Frame]) -> Iterator[tuple[tuple[int, float], NDArray[np.uint8], NDArray[np.uint8] | None]]:
    """``((index, time_s), image, reduced)`` per frame: a small key, so the frame is not held to its batch."""
    for frame in frames:
        yield (frame.index, frame.time_s), frame.image, frame.reduced
        del frame


def _frame_bytes(frame: Frame) -> int:
    return frame.image.nbytes + (frame.reduced.nbytes if frame.reduced is not None else 0)


def _image_bytes(item: tuple[str, NDArray[np.uint8], NDArray[np.uint8] | None]) -> int:
    return item[1].nbytes + (item[2].nbytes if item[2] is not None else 0)


def _load_all(
    sources: Iterable[str], on_error: ErrorHandler, url_timeout: float, detector: FaceDetector | None
) -> Iterator[tuple[str, NDArray[np.uint8], NDArray[np.uint8] | None]]:
    """``(source, image, reduced)`` per readable image, ``reduced`` its copy shrunk for ``detector``.

    The copy is the one the detector would make itself (its
    :meth:`~FaceDetector.reduced_size`, by the same :func:`resize_rgb`: the same
    pixels, so the same faces), made here so that the loading thread does it
    rather than the detection thread.
    """
    for source in sources:
        try:
            image = load_image(source, deadline=url_timeout)
            reduced = _shrunk(image, detector) if detector is not None else None
        except MediaError as error:
            on_error(error)
            continue
        except Exception as error:  # a bug or a file no check foresaw: this image fails, the others go on
            log.debug("%s: unexpected failure", source, exc_info=True)
            on_error(MediaError(source, f"{type(error).__name__}: {error}"))
            continue
        yield str(source), image, reduced
        del image, reduced  # not held while the next one loads


def _shrunk(image: NDArray[np.uint8], detector: FaceDetector) -> NDArray[np.uint8] | None:
    height, width = image.shape[:2]
    size = detector.reduced_size(width=width, height=height)
    return None if size is None else resize_rgb(image, *size)


def iter_images(
    sources: Iterable[str],
    analyzer: FaceAnalyzer,
    on_error: ErrorHandler,
    preprocessed: bool = False,
) -> Iterator[FrameResult]:
    """Results of image files, in order; unreadable ones go to ``on_error`` and are skipped.

    With ``preprocessed``, each image is a face crop: it is classified whole,
    without detection.

    Three threads overlap: loading (decoding, and shrinking each image for
    the detector), detection and alignment, and classification, batched
    across images (:meth:`FaceAnalyzer.analyze_stream`).
    """
    detector = None if preprocessed else analyzer.detector
    loaded = prefetch(
        _load_all(sources, on_error, analyzer.options.url_timeout, detector),
        maxsize=16, name="load-images", max_bytes=FRAMES_AHEAD_BYTES, size=_image_bytes,
    )
    for source, faces in analyzer.analyze_stream(loaded, detect=not preprocessed):
        if not preprocessed and len(faces) == 0:
            log.warning("%s: no face found", source)
        yield FrameResult(source, None, faces)

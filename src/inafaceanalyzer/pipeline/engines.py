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

from ..errors import MediaError
from ..io import DecodingGap, Frame, VideoInfo, VideoSource, load_image
from ..io.sampling import Sampling
from ..options import AnalysisOptions
from .analyzer import FaceAnalyzer
from .prefetch import prefetch
from .results import COLUMNS, FrameResult, results_dataframe

__all__ = ["FRAMES_AHEAD_BYTES", "VideoAnalysis", "iter_images", "expected_frame_count"]

log = logging.getLogger(__name__)

#: Bytes of decoded frames or loaded images that may be in flight between the
#: decoding thread and the analysis (the one being analysed included); one
#: frame always may, however large.
FRAMES_AHEAD_BYTES: int = 256 << 20

ErrorHandler = Callable[[MediaError], None]


def expected_frame_count(info: VideoInfo, options: AnalysisOptions) -> int | None:
    """How many frames the sampling will keep, for progress bars (``None`` if unknown)."""
    return Sampling.from_options(options).expected_frames(info.frame_rate, info.duration, info.frame_count)


class VideoAnalysis:
    """The analysis of one video: :attr:`info` at once, results when iterated.

    Opening raises :class:`MediaError` for sources that cannot be read;
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

    @property
    def columns(self) -> tuple[str, ...]:
        """The header of this engine's table."""
        return COLUMNS[self.options.engine]

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
            size = self.analyzer.detector.reduced_size(self.info.height, self.info.width)
            if size is not None:
                self.video.reduced_size = (size[1], size[0])
        return prefetch(
            self.video, maxsize=8, name=f"decode:{self.source}", max_bytes=FRAMES_AHEAD_BYTES, size=_frame_bytes
        )

    def dataframe(self) -> pd.DataFrame:
        """All results as one table with the engine's columns (reads the whole video)."""
        return results_dataframe(self, self.options.engine)

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


def _image_bytes(item: tuple[str, NDArray[np.uint8]]) -> int:
    return item[1].nbytes


def _load_all(
    sources: Iterable[str], on_error: ErrorHandler, url_timeout: float
) -> Iterator[tuple[str, NDArray[np.uint8]]]:
    for source in sources:
        try:
            yield str(source), load_image(source, deadline=url_timeout)
        except MediaError as error:
            on_error(error)
        except Exception as error:  # a bug or a file no check foresaw: this image fails, the others go on
            log.debug("%s: unexpected failure", source, exc_info=True)
            on_error(MediaError(source, f"{type(error).__name__}: {error}"))


def iter_images(
    sources: Iterable[str],
    analyzer: FaceAnalyzer,
    on_error: ErrorHandler,
    preprocessed: bool = False,
) -> Iterator[FrameResult]:
    """Results of image files, in order; unreadable ones go to ``on_error`` and are skipped.

    With ``preprocessed``, each image is a face crop: it is classified whole,
    without detection.
    """
    loaded = prefetch(
        _load_all(sources, on_error, analyzer.options.url_timeout), maxsize=16, name="load-images", max_bytes=FRAMES_AHEAD_BYTES, size=_image_bytes
    )
    for source, faces in analyzer.analyze_stream(loaded, detect=not preprocessed):
        if not preprocessed and len(faces) == 0:
            log.warning("%s: no face found", source)
        yield FrameResult(source, None, faces)

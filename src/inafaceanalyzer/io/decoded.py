"""What both decoding paths share: the decoded-frame record and the decode context.

:class:`~inafaceanalyzer.io.video.VideoSource` decodes either every frame or,
when sampling, only what the kept frames need (:mod:`inafaceanalyzer.io.sparse`).
Both paths yield ``_Decoded`` records, timed by the rules of
:mod:`inafaceanalyzer.io.container` (exact times from timestamps and the time
base), and only the kept ones are converted to RGB.

Both paths also report to one ``_DecodeContext``, which the source creates each
time it opens the video: the sampling, the strictness, the count of frames
decoded, the gaps recorded, and the one way to word and raise a truncated or
corrupt video. The sparse decoder gets the context, not its owner, so that the
two decoders do not know each other.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from fractions import Fraction

from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from ..errors import MediaError
from .container import stream_duration
from .frame import DecodingGap

__all__ = ["TRUNCATION_TOLERANCE_FRAMES"]  # the rest is shared by io.video and io.sparse only

logger = logging.getLogger(__name__)

#: Frames that may be missing, compared with the count the container
#: announces, before a video is reported as truncated.
TRUNCATION_TOLERANCE_FRAMES: int = 2

_HALF = Fraction(1, 2)


@dataclass(frozen=True, slots=True)
class _Decoded:
    """A decoded frame not yet converted to RGB."""

    raw: VideoFrame
    index: int
    time: Fraction
    end: Fraction
    kept: bool = True  # False only for a first frame that sparse decoding decoded for VideoInfo


@dataclass(slots=True)
class _DecodeContext:
    """One opening of a video, as both decoders see it (see the module docstring).

    Attributes:
        source: the path or URL, for messages.
        strict: raise on a truncated or corrupt video, else record gaps.
        fps: the sampling rate, ``None`` for every frame.
        decoded_frames: frames decoded so far, kept or not.
        gaps: the stretches lost so far (``strict=False``).
    """

    source: object
    strict: bool
    fps: Fraction | None = None
    decoded_frames: int = 0
    gaps: list[DecodingGap] = field(default_factory=list)

    @staticmethod
    def shortfall(stream: VideoStream, seen: int, what: str) -> str | None:
        """Why the video looks truncated when fewer ``what`` than announced were read, else ``None``."""
        announced = stream.frames or 0
        if announced and seen < announced - TRUNCATION_TOLERANCE_FRAMES:
            return f"only {seen} of the {announced} announced {what} could be read"
        return None

    def report_truncation(self, where: str, reason: str) -> None:
        """Raise :class:`MediaError` (``strict``), or log a warning, for a truncated or corrupt video."""
        message = f"truncated or corrupt video {where}: {reason}"
        if self.strict:
            raise MediaError(self.source, message)
        logger.warning("%s: %s (ignored: strict=False)", self.source, message)

    def gap(self, start: Fraction | None, end: Fraction, rate: Fraction | None, position: int, reason: str) -> int:
        """Record the stretch lost before a frame decoded after damaged data; returns the frames lost."""
        if start is None:  # nothing decoded yet: times count from this frame (the time-zero rule)
            gap = DecodingGap(Fraction(0), Fraction(0), None, f"{reason} (before the first frame decoded, "
                              "from which times count)")
            self.add_gap(gap)
            return 0
        frames = max(0, _index_from_time(end, rate, position) - position) if rate else None
        if end <= start and not frames:
            logger.warning("%s: damaged video data at %.3f s, no frame lost: %s", self.source, float(start), reason)
            return 0
        self.add_gap(DecodingGap(start, end, frames, reason))
        return frames or 0

    def tail_gap(
        self,
        start: Fraction | None,
        reason: str,
        frames: int | None,
        container: InputContainer,
        stream: VideoStream,
    ) -> None:
        """Record that the video could not be decoded from ``start`` to its end (a truncated tail)."""
        start = start if start is not None else Fraction(0)
        duration = stream_duration(container, stream)
        end = duration if duration is not None and duration > start else None
        self.add_gap(DecodingGap(start, end, frames if frames and frames > 0 else None, reason))

    def add_gap(self, gap: DecodingGap) -> None:
        self.gaps.append(gap)
        logger.warning("%s: truncated or corrupt video, decoded past: %s", self.source, gap.describe())


def _frame_end(time: Fraction, duration: int | None, time_base: Fraction, period: Fraction | None) -> Fraction:
    """End of a frame: its time plus ``duration`` ticks of ``time_base``, else plus ``period``, else its time."""
    length = Fraction(duration) * time_base if duration else period
    return time + length if length is not None else time


def _index_from_time(time: Fraction, rate: Fraction | None, ordinal: int) -> int:
    """``round(time * rate)``, half up; the ordinal when the rate is unknown."""
    if rate is None:
        return ordinal
    return math.floor(time * rate + _HALF)

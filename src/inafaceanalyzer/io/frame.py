"""A decoded frame and the facts about its source."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

__all__ = ["DecodingGap", "Frame", "VideoInfo"]


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded video frame, upright, as RGB.

    Attributes:
        index: 0-based position of the frame in the stream's presentation
            order, counting every frame (also those the sampling skipped).
        time: presentation time in seconds, relative to the first frame of
            the stream, exact (from the PTS and the stream's time base).
        image: ``(H, W, 3)`` uint8 RGB array, rotation metadata applied.
        reduced: the same picture shrunk to the source's ``reduced_size``
            (for the face detector), converted from the decoded frame in the
            same pass as :attr:`image`; ``None`` when none was asked for.
    """

    index: int
    time: Fraction
    image: NDArray[np.uint8]
    reduced: NDArray[np.uint8] | None = None

    @property
    def time_s(self) -> float:
        """:attr:`time` as a float, for tables."""
        return float(self.time)


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What is known about a video before decoding it.

    Attributes:
        source: the path or URL as given.
        width, height: size of the upright frames (after rotation).
        frame_rate: the stream's average rate (e.g. ``Fraction(30000, 1001)``),
            or ``None`` when the container does not say.
        duration: duration in seconds, or ``None`` when unknown (live streams).
        frame_count: number of frames announced by the container, or ``None``.
        rotation: clockwise rotation in degrees applied to decoded frames.
        codec: decoder name, e.g. ``"h264"``.
        has_audio: whether the container has an audio stream.
    """

    source: str
    width: int
    height: int
    frame_rate: Fraction | None
    duration: Fraction | None
    frame_count: int | None
    rotation: int
    codec: str
    has_audio: bool


@dataclass(frozen=True, slots=True)
class DecodingGap:
    """A stretch of a video that could not be decoded (damaged or missing data).

    Attributes:
        start: end of the last frame decoded before the gap, in seconds (the
            frames' time scale: exact, from the PTS, relative to the first frame).
        end: time of the first frame decoded after it; for a gap that runs
            to the end of the video (a truncated tail), the duration the
            container announces, or ``None`` when it announces none.
        frames: frames lost in the gap, when known (from the frame rate, or
            the frame count the container announces), else ``None``.
        reason: what went wrong, as FFmpeg or the truncation check says it.
    """

    start: Fraction
    end: Fraction | None
    frames: int | None
    reason: str

    def describe(self) -> str:
        """``"no frame decoded from 0.840 s to 1.640 s (20 frames): ..."``, for logs and reports."""
        end = "the end" if self.end is None else f"{float(self.end):.3f} s"
        lost = "" if self.frames is None else f" ({self.frames} frame{'s' if self.frames != 1 else ''})"
        return f"no frame decoded from {float(self.start):.3f} s to {end}{lost}: {self.reason}"

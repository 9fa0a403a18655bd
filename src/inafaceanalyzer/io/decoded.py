"""A decoded frame before its conversion to RGB, as both decoding paths give it.

:class:`~inafaceanalyzer.io.video.VideoSource` decodes either every frame or,
when sampling, only what the kept frames need (:mod:`inafaceanalyzer.io.sparse`).
Both paths yield ``_Decoded`` records, timed by the rules of
:mod:`inafaceanalyzer.io.video` (exact times from timestamps and the time
base), and only the kept ones are converted to RGB.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import av.error
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

__all__: list[str] = []  # shared by io.video and io.sparse only


@dataclass(frozen=True, slots=True)
class _Decoded:
    """A decoded frame not yet converted to RGB."""

    raw: VideoFrame
    index: int
    time: Fraction
    end: Fraction
    kept: bool = True  # False only for a first frame that sparse decoding decoded for VideoInfo


def _frame_rate(stream: VideoStream) -> Fraction | None:
    rate = stream.average_rate or stream.guessed_rate
    return Fraction(rate) if rate else None


def _frame_end(time: Fraction, duration: int | None, time_base: Fraction, period: Fraction | None) -> Fraction:
    """End of a frame: its time plus ``duration`` ticks of ``time_base``, else plus ``period``, else its time."""
    length = Fraction(duration) * time_base if duration else period
    return time + length if length is not None else time


def _ffmpeg_message(exc: av.error.FFmpegError) -> str:
    return str(exc.strerror or exc)

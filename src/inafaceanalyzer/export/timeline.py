"""Which frames of a video were analysed, and how long each one's results hold.

A results table lists faces, so an analysed frame without faces leaves no
row; yet it ends the display of the faces found before it. Exports therefore
need the times of *all* analysed frames:

- a live run records them while it analyses (exact);
- re-rendering rebuilds them from the source's packet timestamps
  (:func:`~inafaceanalyzer.io.packets.read_timing`) and the sampling the
  analysis used (``fps``, or keyframes only), with the same nearest-time
  rule as :class:`~inafaceanalyzer.io.VideoSource` (exact);
- failing that, the sampling rate is inferred from the table (see
  :func:`infer_analysed_frames`).

Times are seconds from the first frame of the video stream, as in the
table's ``time_s`` column. Players time a file from the container's start
(the earliest stream, often the audio), so subtitles add
:attr:`~inafaceanalyzer.io.packets.VideoTiming.player_offset` to these times.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from ..io.packets import VideoTiming
from ..io.sampling import sample_times

__all__ = [
    "AnalysedFrames",
    "analysed_frames",
    "infer_analysed_frames",
]

log = logging.getLogger(__name__)

#: Two times closer than this (seconds) are the same frame.
SAME_FRAME_S = 1e-6


@dataclass(frozen=True)
class AnalysedFrames:
    """The times of the analysed frames of a video, and where its last one ends.

    Attributes:
        times: ``(N,)`` sorted float seconds from the first frame.
        end: end of the video, seconds (the last analysed frame holds until then).
        exact: whether the times are known (recorded, or rebuilt from the
            sampling the analysis used) rather than inferred from a table.
    """

    times: NDArray[np.float64]
    end: float
    exact: bool = True

    @classmethod
    def from_times(cls, times: object, end: float, exact: bool = True) -> AnalysedFrames:
        """From any sequence of times (sorted here)."""
        values = np.unique(np.asarray(times, dtype=np.float64).reshape(-1))
        last = float(values[-1]) if len(values) else 0.0
        return cls(values, max(float(end), last), exact)

    def hold_ends(self, times: NDArray[np.float64]) -> NDArray[np.float64]:
        """For each of ``times`` (sorted, unique), when its display ends: at the next analysed frame.

        ``times`` may hold times that are not in :attr:`times` (rows of an
        inexact timeline): they start a display of their own too.
        """
        merged = np.union1d(self.times, times)
        position = np.searchsorted(merged, times + SAME_FRAME_S, side="left")
        ends = np.empty(len(times), np.float64)
        inside = position < len(merged)
        ends[inside] = merged[position[inside]]
        ends[~inside] = self.end
        return np.maximum(ends, times)

    def hold_durations(self, times: NDArray[np.float64]) -> NDArray[np.float64]:
        """Seconds each of ``times`` (any order, repeats allowed: one per face) is shown.

        A face stands for its analysis period: from its frame to the next
        analysed frame (the rule of the reports' face-seconds and of the exports).
        """
        times = np.asarray(times, dtype=np.float64).reshape(-1)
        if not len(times):
            return np.zeros(0)
        unique = np.unique(times)
        return self.hold_ends(unique)[np.searchsorted(unique, times)] - times


def analysed_frames(timing: VideoTiming, fps: float | Fraction | None = None, keyframes: bool = False) -> AnalysedFrames:
    """The frames an analysis with this sampling kept, rebuilt from the packet timestamps.

    Uses :func:`~inafaceanalyzer.io.sampling.sample_times` exactly as
    :class:`~inafaceanalyzer.io.VideoSource` does, so the times are the ones
    the analysis wrote in ``time_s``.
    """
    if not timing.frame_count:
        raise ValueError("the timing was read without packets: use read_timing(source, packets=True)")
    times = timing.times()
    end = timing.end
    if keyframes:  # as VideoSource(keyframes_only=True): the last keyframe stands for the rest
        times = [t for t, key in zip(times, timing.keyframe, strict=True) if key]
        if timing.duration is not None:
            end = max(end, timing.duration)
    kept = times if fps is None else sample_times(times, end, fps)
    return AnalysedFrames.from_times([float(t) for t in kept], float(end), exact=True)


def infer_analysed_frames(table_times: NDArray[np.float64], timing: VideoTiming | None = None) -> AnalysedFrames:
    """Best guess of the analysed frames of a table whose sampling is not known.

    With the source's ``timing``: the keyframes, then the rate suggested by
    the table's spacing (rounded to two significant digits), then every
    frame are tried; the first sampling whose frames include every time of
    the table is taken (exact when the table's frames are dense enough to
    show the rate). Otherwise each time of the table holds until the next
    one, at most 1.5 times the table's usual spacing.
    """
    times = np.unique(np.asarray(table_times, dtype=np.float64))
    spacing = _usual_spacing(times)
    if timing is not None and timing.frame_count and len(times):
        candidates: list[tuple[str, AnalysedFrames]] = []
        if timing.keyframe.any() and not timing.keyframe.all():
            candidates.append(("keyframes", analysed_frames(timing, keyframes=True)))
        if spacing is not None:
            rate = _round_rate(1.0 / spacing)
            if timing.frame_rate is None or rate < float(timing.frame_rate) * 0.95:
                candidates.append((f"fps {rate:g}", analysed_frames(timing, fps=rate)))
        candidates.append(("every frame", analysed_frames(timing)))
        for name, candidate in candidates:
            if _covers(candidate.times, times):
                log.info("%s: analysed frames inferred from the table: %s", timing.source, name)
                return AnalysedFrames(candidate.times, candidate.end, exact=False)
        end = float(timing.end)
    elif timing is not None:
        end = float(timing.end)
    else:  # the video's end is not known: the last frame holds as long as the others
        end = float(times[-1]) + (spacing or 0.0) if len(times) else 0.0
    if spacing is None:
        return AnalysedFrames.from_times(times, end, exact=False)
    # Without a sampling that fits, each table time starts a display that ends at
    # the next one, or after 1.5 usual spacings: add those end points as frames.
    gaps = np.diff(np.append(times, max(end, times[-1] + 1.5 * spacing)))
    stops = times[gaps > 1.5 * spacing] + 1.5 * spacing
    return AnalysedFrames.from_times(np.concatenate([times, stops]), end, exact=False)


def _usual_spacing(times: NDArray[np.float64]) -> float | None:
    """The spacing of consecutive analysed frames as a table shows it (its common small gap)."""
    gaps = np.diff(times)
    gaps = gaps[gaps > SAME_FRAME_S]
    if not len(gaps):
        return None
    smallest = float(gaps.min())
    close = gaps[gaps < smallest * 1.5]
    return float(np.median(close))


def _round_rate(rate: float) -> float:
    """A rate rounded to two significant digits (9.99 -> 10, 0.4995 -> 0.5, 29.97 -> 30)."""
    digits = 1 - math.floor(math.log10(rate))
    return round(rate, digits)


def _covers(frames: NDArray[np.float64], times: NDArray[np.float64]) -> bool:
    """Whether each of ``times`` is one of ``frames``."""
    if not len(frames):
        return not len(times)
    after = np.searchsorted(frames, times)
    before = np.clip(after - 1, 0, len(frames) - 1)
    after = np.clip(after, 0, len(frames) - 1)
    nearest = np.minimum(np.abs(frames[after] - times), np.abs(frames[before] - times))
    return bool((nearest <= SAME_FRAME_S).all())

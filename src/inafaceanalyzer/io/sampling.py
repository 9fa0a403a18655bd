"""Sampling by time: the frame nearest to each target time ``k / fps``.

With ``fps=F``, for each target time ``k / F`` (k = 0, 1, 2, ...), the frame
nearest to it is kept (ties go to the earlier frame); a frame nearest to
several targets is kept once, and targets at or past the end of the last
frame get nothing. Equivalently, each frame owns the interval between the
midpoints to its neighbours and is kept when a target falls in it, so one
frame of lookahead suffices. :class:`NearestTimeSampler` decides frame by
frame, in presentation order, from the midpoint with the next frame (the
end, for the last frame), so it works as well on packet timestamps before
anything is decoded (:mod:`inafaceanalyzer.io.sparse`) as on decoded frames.

Rates are exact fractions; ``_as_rate`` reads the ``fps`` a user gives
(floats through their decimal text, so ``29.97`` means ``2997/100``).

:class:`Sampling` is the value that says how an analysis picks its frames
(rate or every frame, keyframes only, detection period). It is decided once,
from the options (:meth:`Sampling.from_options`), handed to the decoder, the
progress bar and the tracker, and written with the results (the
``<name>.meta.json`` sidecar, :mod:`inafaceanalyzer.export.sidecar`), so that
no later stage re-derives or guesses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..errors import OptionsError

__all__ = ["NearestTimeSampler", "Sampling", "as_rate", "sample_times"]


@dataclass(frozen=True)
class Sampling:
    """How an analysis picks the frames of a video, decided once from the options.

    Attributes:
        rate: frames per second as an exact fraction (``Fraction(30000, 1001)``),
            or ``None`` for every frame (every keyframe with ``keyframes``).
        keyframes: only keyframes are decoded (``videokeyframes``).
        detect_period: ``videotracking``: detection on one analysed frame in
            this many, tracking in between (1 elsewhere).
    """

    rate: Fraction | None = None
    keyframes: bool = False
    detect_period: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", as_rate(self.rate))
        if isinstance(self.detect_period, bool) or not isinstance(self.detect_period, int) or self.detect_period < 1:
            raise OptionsError(f"detect_period must be an integer >= 1, not {self.detect_period!r}")

    @classmethod
    def from_options(cls, options: Any) -> Sampling:
        """The sampling of :class:`~inafaceanalyzer.options.AnalysisOptions` (``fps``, the engine's
        ``keyframes_only`` fact, ``detect_period``); io reads them without importing the options."""
        return cls(as_rate(options.fps), bool(options.engine_spec.keyframes_only), int(options.detect_period))

    @property
    def every_frame(self) -> bool:
        """Whether every decoded frame (every keyframe with :attr:`keyframes`) is analysed."""
        return self.rate is None

    def effective_rate(self, frame_rate: Fraction | None) -> Fraction | None:
        """The rate that thins the frames of a stream at ``frame_rate``: ``None`` when it keeps them all."""
        if self.rate is None or (frame_rate is not None and self.rate >= frame_rate):
            return None
        return self.rate

    def period(self, frame_rate: Fraction | None) -> Fraction:
        """Seconds between analysed frames: ``1 / rate``, or one frame at ``frame_rate`` (0 when unknown)."""
        rate = self.effective_rate(frame_rate)
        if rate is not None:
            return 1 / rate
        return 1 / Fraction(frame_rate) if frame_rate else Fraction(0)

    def expected_frames(self, frame_rate: Fraction | None, duration: Fraction | None,
                        frame_count: int | None) -> int | None:
        """How many frames this sampling keeps of a stream, for progress bars (``None`` if unknown)."""
        if self.keyframes:
            return None
        rate = self.effective_rate(frame_rate)
        if rate is None:
            return frame_count
        if duration is None:
            return None
        return int(duration * rate) + 1

    def describe(self) -> str:
        """In words, for logs and reports: ``"2 frames per second"``, ``"every keyframe"``..."""
        what = "keyframe" if self.keyframes else "frame"
        text = f"every {what}" if self.rate is None else f"the {what} nearest to each 1/{self.rate} s"
        return text + (f", detection every {self.detect_period} analysed frames" if self.detect_period > 1 else "")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values; the rate as exact text (``"30000/1001"``, ``"2"``) or ``None``."""
        return {"rate": None if self.rate is None else str(self.rate), "keyframes": self.keyframes,
                "detect_period": self.detect_period}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Sampling:
        """The inverse of :meth:`to_dict`.

        Raises:
            OptionsError: a value is missing or not valid.
        """
        try:
            rate = values["rate"]
            return cls(None if rate is None else Fraction(str(rate)), bool(values["keyframes"]),
                       int(values["detect_period"]))
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as error:
            raise OptionsError(f"not a sampling: {values!r} ({error})") from error


class NearestTimeSampler:
    """Streaming choice of the frame nearest to each target time ``k / fps``.

    Frames are offered in presentation order. Each frame owns the times from
    the midpoint with the previous frame (excluded) to the midpoint with the
    next one (included), and is kept when a target falls there; the last frame
    owns the times up to its end (excluded). Each target gets at most one
    frame and each frame is kept at most once.
    """

    def __init__(self, fps: Fraction) -> None:
        if fps <= 0:
            raise OptionsError(f"fps must be > 0, not {fps}")
        self.fps = Fraction(fps)
        self._next_target = 0  # index k of the first target not yet served

    def keep(self, boundary: Fraction) -> bool:
        """Offer a frame that is not the last one.

        Args:
            boundary: midpoint between this frame's time and the next one's.

        Returns:
            Whether a target ``k / fps <= boundary`` not served yet exists,
            i.e. whether the frame is kept.
        """
        return self._serve_up_to(math.floor(boundary * self.fps) + 1 if boundary >= 0 else 0)

    def keep_last(self, end: Fraction) -> bool:
        """Offer the last frame, which ends at ``end`` (time plus duration)."""
        return self._serve_up_to(math.ceil(end * self.fps) if end > 0 else 0)

    def _serve_up_to(self, n_targets: int) -> bool:
        """Mark targets ``0 .. n_targets - 1`` as served; whether any was new."""
        if n_targets > self._next_target:
            self._next_target = n_targets
            return True
        return False


def as_rate(fps: float | Fraction | None) -> Fraction | None:
    """A sampling rate as an exact fraction (floats through their shortest decimal text)."""
    if fps is None:
        return None
    if isinstance(fps, bool) or not isinstance(fps, (int, float, Fraction)):
        raise OptionsError(f"fps must be a number, not {fps!r}")
    if isinstance(fps, float) and not math.isfinite(fps):
        raise OptionsError(f"fps must be finite, not {fps}")
    rate = Fraction(str(fps)) if isinstance(fps, float) else Fraction(fps)
    if rate <= 0:
        raise OptionsError(f"fps must be > 0, not {fps}")
    return rate


_as_rate = as_rate  # the name the decoders import


def sample_times(times: list[Fraction], end: Fraction, fps: float | Fraction) -> list[Fraction]:
    """The times kept among frame ``times`` (presentation order) ending at ``end``."""
    sampler = NearestTimeSampler(as_rate(fps))
    kept = [t for t, following in zip(times, times[1:], strict=False) if sampler.keep((t + following) / 2)]
    if times and sampler.keep_last(end):
        kept.append(times[-1])
    return kept

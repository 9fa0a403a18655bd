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
"""

from __future__ import annotations

import math
from fractions import Fraction

from ..errors import OptionsError

__all__ = ["NearestTimeSampler", "as_rate", "sample_times"]


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

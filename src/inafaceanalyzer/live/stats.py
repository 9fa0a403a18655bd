"""Running statistics of a live analysis: faces now, women and men over the last minutes, ages.

Shares count face occurrences, as screen-time studies do: a woman seen on
ten analysed frames counts ten times. They cover the analysed frames of the
last ``window_s`` seconds; rates and delays cover the last ``rate_window_s``.
:class:`LiveStats` is written by the analysis loop and read by the web
server's threads, under a lock.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..detections import Detections

__all__ = ["AGE_EDGES", "AGE_LABELS", "LiveStats"]

#: Lower edges of the age histogram's bins, in years (the FairFace buckets).
AGE_EDGES: tuple[int, ...] = (0, 3, 10, 20, 30, 40, 50, 60, 70)
#: Labels of the age histogram's bins.
AGE_LABELS: tuple[str, ...] = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+")


@dataclass(frozen=True, slots=True)
class _Analysed:
    """What one analysed frame adds to the window."""

    monotonic: float
    women: NDArray[np.int64]  # age histogram of the women of the frame
    men: NDArray[np.int64]
    delay: float
    seconds: float


class LiveStats:
    """Statistics over the analysed frames of a live session.

    Args:
        window_s: the shares and the age histogram cover this many seconds.
        rate_window_s: the analysed frame rate and the mean delay cover this many.
    """

    def __init__(self, window_s: float = 300.0, rate_window_s: float = 5.0) -> None:
        self.window_s = float(window_s)
        self.rate_window_s = float(rate_window_s)
        self._lock = threading.Lock()
        self._entries: collections.deque[_Analysed] = collections.deque()
        self._women = np.zeros(len(AGE_EDGES), dtype=np.int64)
        self._men = np.zeros(len(AGE_EDGES), dtype=np.int64)
        self._analysed = 0
        self._dropped = 0
        self._faces_now: list[dict[str, Any]] = []
        self._last_delay: float | None = None
        self._started = time.monotonic()

    def add(self, faces: Detections, *, delay: float, seconds: float, dropped: int = 0,
            now: float | None = None) -> None:
        """Count one analysed frame.

        Args:
            faces: its faces, with ``sex_label`` and ``age_label`` columns.
            delay: seconds from its capture to its publication in the view.
            seconds: time its analysis took.
            dropped: frames read since the previous analysed one and never analysed.
            now: monotonic time (default: now).
        """
        now = time.monotonic() if now is None else now
        sexes = np.asarray(faces.data.get("sex_label", np.array([], dtype=str)), dtype=str)
        ages = np.asarray(faces.data.get("age_label", np.zeros(len(faces))), dtype=np.float64)
        bins = np.clip(np.searchsorted(AGE_EDGES, ages, side="right") - 1, 0, len(AGE_EDGES) - 1)
        women = np.bincount(bins[sexes == "f"], minlength=len(AGE_EDGES)).astype(np.int64)
        men = np.bincount(bins[sexes == "m"], minlength=len(AGE_EDGES)).astype(np.int64)
        order = np.argsort(faces.xyxy[:, 0]) if len(faces) else np.zeros(0, dtype=int)
        now_faces = [{"sex": str(sexes[i]), "age": round(float(ages[i]), 1)} for i in order if i < len(sexes)]
        with self._lock:
            self._entries.append(_Analysed(now, women, men, float(delay), float(seconds)))
            self._women += women
            self._men += men
            self._analysed += 1
            self._dropped += int(dropped)
            self._faces_now = now_faces
            self._last_delay = float(delay)
            self._expire(now)

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """The statistics as a JSON-ready dict."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._expire(now)
            recent = [e for e in self._entries if now - e.monotonic <= self.rate_window_s]
            women, men = int(self._women.sum()), int(self._men.sum())
            total = women + men
            span = recent[-1].monotonic - recent[0].monotonic if len(recent) > 1 else 0.0
            return {
                "uptime_s": round(now - self._started, 1),
                "frames_analysed": self._analysed,
                "frames_dropped": self._dropped,
                "faces_now": len(self._faces_now),
                "faces": list(self._faces_now),
                "analysed_fps": round((len(recent) - 1) / span, 2) if span > 0 else 0.0,
                "analysis_ms": round(1000 * float(np.mean([e.seconds for e in recent])), 1) if recent else None,
                "delay_s": None if self._last_delay is None else round(self._last_delay, 3),
                "delay_mean_s": round(float(np.mean([e.delay for e in recent])), 3) if recent else None,
                "window_minutes": round(self.window_s / 60.0, 2),
                "window_frames": len(self._entries),
                "women": women,
                "men": men,
                "women_share": round(women / total, 4) if total else None,
                "men_share": round(men / total, 4) if total else None,
                "age_bins": list(AGE_LABELS),
                "age_women": self._women.tolist(),
                "age_men": self._men.tolist(),
            }

    def _expire(self, now: float) -> None:
        while self._entries and now - self._entries[0].monotonic > self.window_s:
            old = self._entries.popleft()
            self._women -= old.women
            self._men -= old.men

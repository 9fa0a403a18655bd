"""A live session: a source read continuously, its latest frame analysed, the result served.

Three threads, one way::

    reader (LiveSource) --latest frame--> analysis loop (run) --latest view--> web server (LiveServer)
                                                  |
                                                  +--> statistics (LiveStats), rolling CSV (RollingCsv)

The analysis loop runs in the caller's thread: it takes the latest frame
(frames read meanwhile are dropped and counted), analyses it with the
shared :class:`~inafaceanalyzer.pipeline.analyzer.FaceAnalyzer`, draws the
faces, publishes the JPEG and the statistics, and appends the faces to the
CSV. :meth:`LiveSession.stop` (e.g. from a signal handler) ends the loop
within one analysis; :meth:`LiveSession.run` then stops the reader, the
server and the CSV, joining every thread, and raises the reader's error if
it had one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from ..detections import Detections
from ..errors import OptionsError
from ..options import ENGINES, AnalysisOptions
from ..pipeline.analyzer import FaceAnalyzer
from ..pipeline.results import FrameResult
from .csvlog import RollingCsv
from .options import LiveOptions
from .server import LiveServer
from .slot import LatestSlot
from .source import LiveFrame, LiveSource
from .stats import LiveStats
from .view import View, render_view

__all__ = ["LiveSession"]

log = logging.getLogger(__name__)

#: Longest wait for a frame before the loop checks for stop, end and CSV flushes.
_POLL_S = 0.25


class LiveSession:
    """Analyse a live source in real time and serve the annotated view.

    The source is checked and the web server's port bound at construction, so
    that a missing file, an unknown camera index or a port in use fail at
    once; nothing runs until :meth:`run`.

    Args:
        live: the live settings.
        options: the analysis settings (``engine`` must be ``video``; ``fps``
            caps the analysed frames per second).
        analyzer: models to share; loaded from ``options`` by default.
        serve: serve the live view (``False``: statistics and CSV only).

    Raises:
        MediaError, OptionsError: the source or the settings are wrong.
        OSError: the web server's address cannot be bound.
    """

    def __init__(
        self,
        live: LiveOptions,
        options: AnalysisOptions | None = None,
        analyzer: FaceAnalyzer | None = None,
        serve: bool = True,
    ) -> None:
        self.live = live
        self.options = options or AnalysisOptions()
        if not self.options.engine_spec.live:
            live_engines = ", ".join(name for name, engine in ENGINES.items() if engine.live)
            raise OptionsError(f"live analysis runs the {live_engines} engine, not {self.options.engine!r}")
        self.frames: LatestSlot[LiveFrame] = LatestSlot()
        self.views: LatestSlot[View] = LatestSlot()
        self.stats = LiveStats(window_s=live.stats_minutes * 60.0)
        self.source = LiveSource(live, self.frames)
        self.analyzer = analyzer if analyzer is not None else FaceAnalyzer(self.options)
        self.server = LiveServer(self.views, self.snapshot, live.host, live.port) if serve else None
        #: Called after each analysed frame with its view, frame and faces (benchmarks, tests).
        self.on_view: Callable[[View, LiveFrame, Detections], None] | None = None
        self._stop = threading.Event()

    @property
    def url(self) -> str | None:
        """The live view's URL, or ``None`` when not served."""
        return None if self.server is None else self.server.url

    def snapshot(self) -> dict[str, Any]:
        """The source's status and the statistics, as the view shows them."""
        return {"source": self.source.status(), "stats": self.stats.snapshot()}

    def stop(self) -> None:
        """Ask :meth:`run` to finish (thread- and signal-safe)."""
        self._stop.set()

    def run(self) -> None:
        """Analyse until :meth:`stop`, the end of a file (without ``loop``) or ``duration``.

        Raises:
            MediaError: the source could not be opened or read (cameras, files).
            OptionsError: the CSV cannot be written.
        """
        csv = RollingCsv(self.live.csv, self.live.csv_flush_s) if self.live.csv else None
        started = time.time()
        try:
            self.source.start()
            if self.server is not None:
                self.server.start()
                log.info("live view on %s", self.server.url)
            self._loop(csv, started)
        finally:
            if not self.source.stop(timeout=1.0):
                log.info("waiting for a network read of %s to time out (%g s at most)", self.source.spec.display,
                         self.live.stall_timeout)
                if not self.source.stop():
                    log.warning("the reader is still blocked in a read of %s; leaving it",
                                self.source.spec.display)
            self.views.close()
            if self.server is not None:
                self.server.close()
            if csv is not None:
                csv.close()
        if self.source.error is not None:
            raise self.source.error

    def _loop(self, csv: RollingCsv | None, started: float) -> None:
        deadline = None if self.live.duration is None else time.monotonic() + self.live.duration
        interval = 1.0 / self.options.fps if self.options.fps else 0.0
        next_start = 0.0
        last_seq = 0
        while not self._stop.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                log.info("ran for %g s: stopping", self.live.duration)
                break
            if now < next_start:
                self._stop.wait(min(next_start - now, _POLL_S))
                continue
            got = self.frames.wait_newer(last_seq, timeout=_POLL_S)
            if csv is not None:
                csv.maybe_flush()
            if got is None:
                if self.source.finished.is_set() and self.frames.seq <= last_seq:
                    break
                continue
            seq, frame = got
            dropped, last_seq = seq - last_seq - 1, seq
            next_start = time.monotonic() + interval
            self._analyse(frame, dropped, csv, started)

    def _analyse(self, frame: LiveFrame, dropped: int, csv: RollingCsv | None, started: float) -> None:
        begin = time.monotonic()
        image = frame.to_rgb()
        faces = self.analyzer(image)
        jpeg, width, height = render_view(image, faces, self.live.view_width, self.live.jpeg_quality)
        view = View(jpeg, width, height, frame.number, frame.capture_time, time.time(), len(faces))
        self.stats.add(faces, delay=view.delay, seconds=time.monotonic() - begin, dropped=dropped)
        self.views.put(view)
        if csv is not None:
            time_s = round(max(0.0, frame.capture_time - started), 3)
            csv.write(FrameResult(frame.number, time_s, faces), frame.capture_time)
        if self.on_view is not None:
            self.on_view(view, frame, faces)

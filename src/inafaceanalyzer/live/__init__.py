"""Live analysis: a camera, a stream or a file analysed in real time, with a live view in the browser.

- :class:`LiveSession`: source -> latest frame -> analysis -> view, statistics, rolling CSV.
- :class:`LiveOptions`: the live settings (the analysis ones stay in
  :class:`~inafaceanalyzer.options.AnalysisOptions`).
- :class:`LiveSource`: a reader thread that never queues, paces files at
  their real speed and reconnects lost streams with back-off.
- :class:`LiveServer`: the page, the frames (long poll or MJPEG) and the
  statistics (JSON or Server-Sent Events), on 127.0.0.1 by default.
- :class:`LiveStats`, :class:`RollingCsv`, :class:`LatestSlot`: the parts.
- :class:`StreamServer`: a video file served as a live HTTP stream, for
  tests, benchmarks and demos without a camera.

The command is ``ina_face_analyzer_webcam_demo.py``.
"""

from .csvlog import LIVE_COLUMNS, RollingCsv
from .options import LiveOptions
from .server import LiveServer
from .session import LiveSession
from .slot import LatestSlot
from .source import LiveFrame, LiveSource, parse_source
from .stats import LiveStats
from .view import View

__all__ = [
    "LIVE_COLUMNS",
    "LatestSlot",
    "LiveFrame",
    "LiveOptions",
    "LiveServer",
    "LiveSession",
    "LiveSource",
    "LiveStats",
    "RollingCsv",
    "StreamServer",
    "View",
    "parse_source",
]


def __getattr__(name: str) -> object:
    # imported on demand, so that ``python -m inafaceanalyzer.live.streamer`` runs it only once
    if name == "StreamServer":
        from .streamer import StreamServer

        return StreamServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

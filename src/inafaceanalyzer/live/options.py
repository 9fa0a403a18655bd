"""Settings of a live analysis, apart from the analysis settings themselves.

:class:`LiveOptions` says where frames come from, how the live view is
served, how a lost source is reconnected and where detections are logged.
What is analysed, and how, stays in :class:`~inafaceanalyzer.options.AnalysisOptions`
(its ``fps`` caps the analysed frames per second).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import OptionsError

__all__ = ["LiveOptions"]


@dataclass(frozen=True)
class LiveOptions:
    """Every setting of a live session.

    Attributes:
        source: camera index (``"0"``), device (``/dev/video0``), stream URL
            (``rtsp://``, ``http(s)://`` including HLS ``.m3u8``, ``udp://``,
            ``rtmp://``, ``srt://``...) or video file.
        input_format: FFmpeg input format to force (``v4l2``, ``avfoundation``,
            ``dshow``, ``mpegts``...); ``None`` lets FFmpeg guess (cameras
            default to ``v4l2``).
        input_options: FFmpeg options of the input, e.g.
            ``(("video_size", "1280x720"), ("rtsp_transport", "udp"))``.
        loop: play a file again when it ends (else the session ends).
        stall_timeout: seconds without data (or without a video frame) after
            which a source is declared stalled and reconnected.
        reconnect_min, reconnect_max: back-off between reconnection attempts,
            doubling from the first to the second, in seconds.
        max_delay: a frame later than this (seconds) behind the stream's own
            clock makes the reader skip to the next keyframe.
        host, port: where the live view is served (``port=0``: any free port).
        view_width: the view's JPEG frames are downscaled to this width at most.
        jpeg_quality: JPEG quality of the view (1 to 95).
        stats_minutes: the shares of women and men and the age histogram
            cover this many minutes.
        csv: rolling CSV of detections to append to, or ``None``.
        csv_flush_s: the CSV is flushed to disk at least this often.
        duration: stop after this many seconds (``None``: run until stopped).
    """

    source: str = "0"
    input_format: str | None = None
    input_options: tuple[tuple[str, str], ...] = ()
    loop: bool = False
    stall_timeout: float = 10.0
    reconnect_min: float = 0.5
    reconnect_max: float = 10.0
    max_delay: float = 3.0
    host: str = "127.0.0.1"
    port: int = 8765
    view_width: int = 960
    jpeg_quality: int = 80
    stats_minutes: float = 5.0
    csv: str | None = None
    csv_flush_s: float = 1.0
    duration: float | None = None

    def __post_init__(self) -> None:
        if not str(self.source).strip():
            raise OptionsError("source is empty")
        for name in ("stall_timeout", "reconnect_min", "reconnect_max", "max_delay", "stats_minutes", "csv_flush_s"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise OptionsError(f"{name} must be a number > 0, not {value}")
        if self.reconnect_max < self.reconnect_min:
            raise OptionsError(
                f"reconnect_max ({self.reconnect_max}) must be >= reconnect_min ({self.reconnect_min})"
            )
        if not 0 <= self.port <= 65535:
            raise OptionsError(f"port must be within [0, 65535], not {self.port}")
        if self.view_width < 16:
            raise OptionsError(f"view_width must be >= 16, not {self.view_width}")
        if not 1 <= self.jpeg_quality <= 95:
            raise OptionsError(f"jpeg_quality must be within [1, 95], not {self.jpeg_quality}")
        if self.duration is not None and not (self.duration > 0 and math.isfinite(self.duration)):
            raise OptionsError(f"duration must be a number > 0, not {self.duration}")
        for item in self.input_options:
            if len(item) != 2 or not all(isinstance(part, str) for part in item):
                raise OptionsError(f"input_options holds (name, value) pairs of strings, not {item!r}")

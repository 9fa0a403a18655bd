"""``ina_face_analyzer_webcam_demo.py``: analyse a camera, a stream or a file live, watch it in a browser.

Examples::

    ina_face_analyzer_webcam_demo.py                                   # camera 0 (/dev/video0)
    ina_face_analyzer_webcam_demo.py --source rtsp://cam/stream --fps 5
    ina_face_analyzer_webcam_demo.py --source https://host/live.m3u8 --csv live.csv

Exit status: 0 when stopped (Ctrl-C, SIGTERM, ``--duration``, end of a
file), 1 when the source cannot be read (a camera or file; streams are
retried until stopped) or the CSV cannot be written, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import webbrowser
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields

from ..errors import InaFaceAnalyzerError, OptionsError
from ..live.options import LiveOptions
from ..options import ENGINES
from .arguments import add_analysis_arguments, add_logging_arguments, new_parser, options_from_args, setup_logging

__all__ = ["build_parser", "main"]

log = logging.getLogger("inafaceanalyzer")

_LIVE_DEFAULTS = {f.name: f.default for f in fields(LiveOptions)}


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``ina_face_analyzer_webcam_demo.py``."""
    parser = new_parser(
        "Analyse a live source (camera, capture card, RTSP/HTTP/HLS/UDP stream, or a file at its real speed) "
        "and watch the annotated video and running statistics in a web browser. Frames are dropped, never "
        "queued, when the analysis is slower than the source; --fps caps the analysed frames per second.",
        prog="ina_face_analyzer_webcam_demo.py",
    )
    source = parser.add_argument_group("live source")
    source.add_argument("--source", default=_LIVE_DEFAULTS["source"],
                        help="camera index (0 is /dev/video0) or device, stream URL (rtsp://, http(s)://, .m3u8, "
                        "udp://, rtmp://, srt://) or video file")
    source.add_argument("--format", dest="input_format", default=None,
                        help="FFmpeg input format to force: v4l2, avfoundation, dshow, mpegts...; None lets FFmpeg "
                        "guess (v4l2 for cameras on Linux)")
    source.add_argument("--input_option", action="append", default=[], metavar="NAME=VALUE",
                        help="FFmpeg input option, repeatable: video_size=1280x720, framerate=30, "
                        "input_format=mjpeg, rtsp_transport=udp...")
    source.add_argument("--loop", action="store_true", help="play a file again when it ends")
    source.add_argument("--stall_timeout", type=float, default=_LIVE_DEFAULTS["stall_timeout"],
                        help="seconds without data before a source is declared stalled and reconnected")
    source.add_argument("--reconnect_max", type=float, default=_LIVE_DEFAULTS["reconnect_max"],
                        help="longest wait between reconnection attempts, in seconds (the wait doubles from "
                        f"{_LIVE_DEFAULTS['reconnect_min']} s)")
    source.add_argument("--max_delay", type=float, default=_LIVE_DEFAULTS["max_delay"],
                        help="when frames are this many seconds late, skip to the next keyframe")

    view = parser.add_argument_group("live view")
    view.add_argument("--host", default=_LIVE_DEFAULTS["host"],
                      help="address of the web page; the page has no login, keep 127.0.0.1 and use SSH port "
                      "forwarding (ssh -L 8765:127.0.0.1:8765 server) to watch from elsewhere")
    view.add_argument("--port", type=int, default=_LIVE_DEFAULTS["port"], help="port of the web page (0: any free port)")
    view.add_argument("--open", dest="open_browser", action="store_true",
                      help="open the page in this machine's web browser (when it has a display)")
    view.add_argument("--view_width", type=int, default=_LIVE_DEFAULTS["view_width"],
                      help="frames shown are downscaled to this width at most, in pixels")
    view.add_argument("--stats_minutes", type=float, default=_LIVE_DEFAULTS["stats_minutes"],
                      help="the shares of women and men and the age histogram cover this many minutes")

    outputs = parser.add_argument_group("outputs")
    outputs.add_argument("--csv", default=None, metavar="PATH",
                         help="append one row per face to this CSV while running, flushed every second")
    outputs.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                         help="stop after this many seconds (default: run until Ctrl-C)")
    add_analysis_arguments(parser, engines=[name for name, engine in ENGINES.items() if engine.live])
    add_logging_arguments(parser)
    return parser


def _live_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> LiveOptions:
    pairs = []
    for item in args.input_option:
        name, equal, value = item.partition("=")
        if not equal or not name:
            parser.error(f"--input_option {item}: write NAME=VALUE")
        pairs.append((name, value))
    try:
        return LiveOptions(
            source=args.source, input_format=args.input_format, input_options=tuple(pairs), loop=args.loop,
            stall_timeout=args.stall_timeout, reconnect_max=max(args.reconnect_max, _LIVE_DEFAULTS["reconnect_min"]),
            max_delay=args.max_delay, host=args.host, port=args.port, view_width=args.view_width,
            stats_minutes=args.stats_minutes, csv=args.csv, duration=args.duration,
        )
    except OptionsError as error:
        parser.error(str(error))
        raise  # unreachable: parser.error exits


@contextmanager
def _stop_on_signals(on_stop: Callable[[], None]) -> Iterator[None]:
    """Ctrl-C and SIGTERM stop the session cleanly; a second Ctrl-C aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    asked = []

    def handler(signum: int, frame: object) -> None:
        if asked and signum == signal.SIGINT:
            raise KeyboardInterrupt
        asked.append(signum)
        log.info("%s: stopping (Ctrl-C again to abort)", signal.Signals(signum).name)
        on_stop()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _has_display() -> bool:
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args)
    options = options_from_args(parser, args)  # --engine accepts video only
    live = _live_options(parser, args)

    from ..live.session import LiveSession

    try:
        session = LiveSession(live, options)
    except OSError as error:
        log.error("cannot serve the live view on %s:%s: %s", live.host, live.port, error.strerror or error)
        return 1
    except InaFaceAnalyzerError as error:
        log.error("%s", error)
        return 1
    if live.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the live view listens on %s: anyone who reaches this address can watch it", live.host)
    print(f"live view: {session.url}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
    if args.open_browser:
        if _has_display():
            webbrowser.open(session.url or "")
        else:
            log.warning("--open: no display here; open %s in a browser (through SSH port forwarding)", session.url)
    with _stop_on_signals(session.stop):
        try:
            session.run()
        except InaFaceAnalyzerError as error:
            log.error("%s", error)
            return 1
        except KeyboardInterrupt:
            log.warning("aborted")
            return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

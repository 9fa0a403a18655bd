"""Video files served as a live stream over HTTP (MPEG-TS or HLS), at real speed, looped.

A stand-in for a TV channel or an IP camera when none is at hand: tests, the
benchmark and demos point the live analysis at it. Frames are decoded once,
then encoded on the fly (MPEG-2 video by default: fast and in every FFmpeg
build), each frame when it is due on the wall clock.

- ``ts``: every client of ``http://HOST:PORT/live.ts`` receives its own
  MPEG-TS stream, from the first frame on.
- ``hls``: one encoder writes a live HLS playlist (``/live.m3u8``) of
  one-second segments into a temporary directory, which is served.

:meth:`StreamServer.stop` drops every connection and refuses new ones, as a
stream that goes down does; :meth:`StreamServer.start` brings it back on the
same port.

Run it by hand with ``python -m inafaceanalyzer.live.streamer CLIP [CLIP ...]``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import logging
import os
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Literal, Self

import av
from av.video.frame import PictureType, VideoFrame

from ..io.container import frame_rate, open_input, video_stream

__all__ = ["StreamServer", "main"]

log = logging.getLogger(__name__)

#: Path of the MPEG-TS stream on the server.
STREAM_PATH = "/live.ts"
#: Path of the HLS playlist on the server.
HLS_PATH = "/live.m3u8"
#: The frame rates MPEG-2 video allows.
_MPEG2_RATES = tuple(Fraction(r) for r in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60"))


class StreamServer:
    """Serve video files, one after another and looped, as a live MPEG-TS stream.

    Args:
        clips: video files played one after the other, then again.
        host, port: where to listen (``port=0`` picks a free port, kept by
            later restarts).
        seconds_per_clip: play at most this much of each clip.
        size: ``(width, height)`` of the stream; default: the first clip's.
        rate: frames per second of the stream (frames are taken in order,
            their own timing is not kept); default: the first clip's rate,
            or for MPEG-2 the nearest rate MPEG-2 allows.
        codec: FFmpeg encoder of the stream.
        gop: frames between keyframes.
        protocol: ``ts`` (one MPEG-TS stream per client) or ``hls``.
    """

    def __init__(
        self,
        clips: Sequence[str | Path],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seconds_per_clip: float | None = None,
        size: tuple[int, int] | None = None,
        rate: float | Fraction | None = None,
        codec: str = "mpeg2video",
        gop: int = 25,
        protocol: Literal["ts", "hls"] = "ts",
    ) -> None:
        if not clips:
            raise ValueError("no clip to stream")
        if protocol not in ("ts", "hls"):
            raise ValueError(f"protocol must be ts or hls, not {protocol!r}")
        self.protocol = protocol
        self.host = host
        self.port = port
        self.rate = _stream_rate(clips[0], rate, codec)
        self.codec = codec
        self.gop = int(gop)
        self.frames = _load_frames([Path(c) for c in clips], seconds_per_clip, size, self.rate)
        self.width, self.height = self.frames[0].width, self.frames[0].height
        #: Wall time (``time.time()``) at which each frame was written, per
        #: connection number and frame number since the connection began.
        self.sent: dict[int, dict[int, float]] = {}
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._connections = 0
        self._running = threading.Event()
        self._hls_dir: tempfile.TemporaryDirectory[str] | None = None
        self._hls_thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The stream's URL."""
        return f"http://{self.host}:{self.port}{STREAM_PATH if self.protocol == 'ts' else HLS_PATH}"

    @property
    def connections(self) -> int:
        """Connections served so far."""
        return self._connections

    def start(self) -> Self:
        """Listen and serve (again) in a background thread."""
        if self._server is not None:
            return self
        self._running.set()
        if self.protocol == "hls":
            self._hls_dir = tempfile.TemporaryDirectory(prefix="inaface-hls-")
            directory = self._hls_dir.name
            self._hls_thread = threading.Thread(target=self._write_hls, args=(directory,), name="hls-writer",
                                                daemon=True)
            self._hls_thread.start()
            handler: type[http.server.BaseHTTPRequestHandler] = functools.partial(  # type: ignore[assignment]
                _QuietFileHandler, directory=directory)
        else:
            handler = type("_Handler", (_StreamHandler,), {"streamer": self})
        self._server = http.server.ThreadingHTTPServer((self.host, self.port), handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="stream-server", daemon=True
        )
        self._thread.start()
        log.info("streaming %d frames (%dx%d, %.4g fps) on %s", len(self.frames), self.width, self.height,
                 self.rate, self.url)
        return self

    def stop(self) -> None:
        """Drop every connection and stop listening (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._running.clear()
        server.shutdown()
        server.server_close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._hls_thread is not None:
            self._hls_thread.join(timeout=10)
            self._hls_thread = None
        if self._hls_dir is not None:
            self._hls_dir.cleanup()
            self._hls_dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- one client ------------------------------------------------------------

    def _serve(self, handler: _StreamHandler) -> None:
        with self._lock:
            self._connections += 1
            number = self._connections
            self._clients.add(handler.connection)
        sent = self.sent.setdefault(number, {})
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", "video/mp2t")
            handler.send_header("Cache-Control", "no-cache")
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.flush()
            self._write_stream(handler.wfile, sent)
        except (OSError, ValueError, av.error.FFmpegError) as error:  # the client left, or stop()
            log.debug("stream connection %d closed: %s", number, error)
        finally:
            with self._lock:
                self._clients.discard(handler.connection)

    def _write_hls(self, directory: str) -> None:
        try:
            self._encode(av.open(os.path.join(directory, HLS_PATH.lstrip("/")), "w", format="hls", options={
                "hls_time": "1", "hls_list_size": "6", "hls_flags": "delete_segments+omit_endlist+temp_file",
            }), self.sent.setdefault(0, {}))
        except (OSError, av.error.FFmpegError) as error:
            log.warning("HLS writer stopped: %s", error)

    def _write_stream(self, output: object, sent: dict[int, float]) -> None:
        self._encode(av.open(output, "w", format="mpegts", buffer_size=4096, options={"flush_packets": "1"}), sent)

    def _encode(self, container: av.container.OutputContainer, sent: dict[int, float]) -> None:
        try:
            stream = container.add_stream(self.codec, rate=self.rate)
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.gop_size = self.gop
            stream.codec_context.time_base = 1 / self.rate
            stream.codec_context.options = {"qscale": "4"} if self.codec == "mpeg2video" else {}
            start = time.monotonic()
            number = 0
            while self._running.is_set():
                frame = self.frames[number % len(self.frames)]
                delay = start + number / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                with self._encode_lock:  # the frames are shared by every connection
                    frame.pts = number
                    packets = stream.encode(frame)
                for packet in packets:
                    container.mux(packet)
                sent[number] = time.time()
                number += 1
        finally:
            with contextlib.suppress(OSError, ValueError, av.error.FFmpegError):
                container.close()


class _QuietFileHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s " + format, self.address_string(), *args)


class _StreamHandler(http.server.BaseHTTPRequestHandler):
    streamer: StreamServer
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        if self.path.split("?")[0] != STREAM_PATH:
            self.send_error(404)
            return
        self.streamer._serve(self)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s " + format, self.address_string(), *args)


def _stream_rate(clip: str | Path, rate: float | Fraction | None, codec: str) -> Fraction:
    """The stream's frame rate: ``rate``, else the clip's; MPEG-2 allows a few rates only."""
    if rate is None:
        with open_input(clip) as container:
            rate = frame_rate(video_stream(container, clip)) or 25
    wanted = Fraction(str(rate)) if isinstance(rate, float) else Fraction(rate)
    if codec == "mpeg2video":
        return min(_MPEG2_RATES, key=lambda allowed: abs(allowed - wanted))
    return wanted


def _load_frames(clips: list[Path], seconds: float | None, size: tuple[int, int] | None, rate: Fraction) -> list[VideoFrame]:
    """Decode the clips once into YUV frames of one size."""
    frames: list[VideoFrame] = []
    for clip in clips:
        with open_input(clip) as container:
            for index, frame in enumerate(container.decode(video_stream(container, clip))):
                if seconds is not None and index >= seconds * rate:
                    break
                if size is None:
                    size = (frame.width - frame.width % 2, frame.height - frame.height % 2)
                frame = frame.reformat(width=size[0], height=size[1], format="yuv420p")
                frame.time_base = 1 / rate
                frame.pict_type = PictureType.NONE
                frames.append(frame)
    if not frames:
        raise ValueError(f"no frame could be decoded from {', '.join(map(str, clips))}")
    return frames


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m inafaceanalyzer.live.streamer``: serve clips as a live stream until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m inafaceanalyzer.live.streamer",
                                     description="Serve video files as a looped live MPEG-TS stream over HTTP.")
    parser.add_argument("clips", nargs="+", help="video files, played one after the other, looped")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--seconds_per_clip", type=float, default=None)
    parser.add_argument("--rate", type=float, default=None, help="default: the first clip's")
    parser.add_argument("--protocol", choices=("ts", "hls"), default="ts")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    server = StreamServer(args.clips, args.host, args.port, seconds_per_clip=args.seconds_per_clip, rate=args.rate,
                          protocol=args.protocol)
    with server:
        print(f"streaming on {server.url} (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

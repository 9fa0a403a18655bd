"""Live sources: a camera, a network stream or a file, read continuously and reconnected.

:class:`LiveSource` runs a reader thread that decodes the source with PyAV and
puts every frame into a :class:`~inafaceanalyzer.live.slot.LatestSlot`: the
consumer takes the latest one, older ones are dropped, nothing queues.

Sources (:func:`parse_source`)
    ``0``, ``1``... and ``/dev/videoN`` are cameras (Video4Linux2 on Linux,
    AVFoundation on macOS); a URL (``rtsp://``, ``http(s)://`` including HLS
    ``.m3u8``, ``udp://``, ``rtmp://``, ``srt://``, ``tcp://``...) is a
    stream; anything else is a video file. ``input_format`` and
    ``input_options`` reach any FFmpeg input (a capture card, DirectShow...).

Timing (:class:`PlayoutClock`)
    Each frame is due at ``base + t``, where ``t`` is its presentation time
    from the first frame of the connection and ``base`` the monotonic time at
    which ``t = 0`` was (or would have been) received. Files and segmented
    streams (HLS, DASH), which arrive in bursts, are *paced*: the reader waits
    until a frame is due, so a file plays at its real speed. Other streams and
    cameras push frames in real time: a frame that arrives earlier than
    expected moves ``base`` back, so their delay stays the smallest seen. A
    frame more than ``max_delay`` seconds late (decoding slower than the
    stream, or a hiccup) makes the reader skip packets up to the next
    keyframe without decoding them; a live stream's clock restarts there.
    A frame's capture time is its due time: the delay shown in the view
    counts from there, and does not include what happened upstream (the
    camera, the encoder, the network; HLS adds its segment durations).

Robustness
    A read that blocks longer than ``stall_timeout``, a stream with no video
    frame for as long, a network error or the end of a live stream closes the
    connection; it is opened again after a back-off that doubles from
    ``reconnect_min`` to ``reconnect_max``. Each step is logged and kept in
    :meth:`LiveSource.status` for the view. A camera or file that cannot be
    opened at all fails at once (:class:`~inafaceanalyzer.errors.MediaError`);
    a stream is retried until stopped (it may come up later). Errors of the
    reader itself are kept in :attr:`LiveSource.error` for the consumer to
    raise.
"""

from __future__ import annotations

import collections
import logging
import math
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import av
import av.error
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from numpy.typing import NDArray

from ..errors import MediaError, OptionsError
from ..io.container import (
    clockwise_rotation,
    ffmpeg_message,
    frame_rate,
    frame_stamp,
    open_container,
    rotate_clockwise,
    video_stream,
)
from ..io.remote import check_local_file
from .options import LiveOptions
from .slot import LatestSlot

__all__ = ["LiveFrame", "LiveSource", "PlayoutClock", "SourceSpec", "parse_source", "redact"]

log = logging.getLogger(__name__)

SourceKind = Literal["camera", "stream", "file"]

#: Formats whose data arrive in bursts (segments), played out at their own pace.
_SEGMENTED_FORMATS = frozenset({"hls", "applehttp", "dash"})
#: How many status events the view can show.
_EVENTS_KEPT = 20
#: Falling behind is logged at most this often, in seconds.
_SKIP_EVENT_EVERY_S = 30.0


@dataclass(frozen=True)
class SourceSpec:
    """How to open a live source.

    Attributes:
        url: what FFmpeg opens (a device path, URL or file path).
        kind: ``camera``, ``stream`` or ``file``.
        format: FFmpeg input format, or ``None`` to let FFmpeg guess.
        options: FFmpeg options of the input.
        display: the source as logs and the view show it (passwords hidden).
    """

    url: str
    kind: SourceKind
    format: str | None
    options: dict[str, str]
    display: str


def redact(url: str) -> str:
    """``url`` with the password of its user information replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def parse_source(options: LiveOptions) -> SourceSpec:
    """Tell a camera from a stream or a file, and choose FFmpeg's format and options.

    Raises:
        MediaError: a file that does not exist, is empty or unreadable.
        OptionsError: a camera index on a platform where FFmpeg needs a device name.
    """
    text = str(options.source).strip()
    user_options = dict(options.input_options)
    fmt = options.input_format
    stall_us = str(int(options.stall_timeout * 1_000_000))
    scheme = urllib.parse.urlsplit(text).scheme.lower() if "://" in text else ""
    if text.isdigit() or text.startswith("/dev/video"):
        kind: SourceKind = "camera"
        url = text
        if sys.platform.startswith("linux"):
            url = f"/dev/video{text}" if text.isdigit() else text
            fmt = fmt or "v4l2"
        elif sys.platform == "darwin":
            fmt = fmt or "avfoundation"
        elif fmt is None:
            raise OptionsError(
                f"camera {text!r}: on this platform give the FFmpeg device and its format, "
                'e.g. --format dshow --source "video=Integrated Camera"'
            )
        defaults: dict[str, str] = {}
    elif scheme and scheme != "file":
        kind = "stream"
        url = text
        defaults = {}
        if scheme in ("http", "https"):
            # FFmpeg's own silent reconnection is off: we reconnect, and say so
            defaults = {"timeout": stall_us, "user_agent": "inafaceanalyzer-live"}
        elif scheme in ("rtsp", "rtsps"):
            defaults = {"rtsp_transport": "tcp", "timeout": stall_us}
        elif scheme in ("udp", "rtp"):
            defaults = {"timeout": stall_us, "overrun_nonfatal": "1"}
        elif scheme in ("tcp", "srt"):
            defaults = {"timeout": stall_us} if scheme == "tcp" else {}
    else:
        kind = "file"
        url = urllib.parse.unquote(urllib.parse.urlsplit(text).path) if scheme == "file" else text
        check_local_file(url)
        defaults = {}
    return SourceSpec(url=url, kind=kind, format=fmt, options={**defaults, **user_options}, display=redact(text))


class PlayoutClock:
    """When each frame of one connection is due, on the monotonic clock.

    Args:
        paced: wait for frames that come early (files, HLS); otherwise an
            early frame moves the clock back (real-time streams, cameras).
        max_early: a paced frame due further ahead than this (a jump of the
            stream's timestamps) restarts the clock.
    """

    def __init__(self, paced: bool, max_early: float = 10.0) -> None:
        self.paced = paced
        self.max_early = max_early
        self._base: float | None = None

    def due(self, t: float, now: float) -> float:
        """The monotonic time at which the frame of stream time ``t`` is due."""
        offset = now - t
        if self._base is None or (not self.paced and offset < self._base) or self._base - offset > self.max_early:
            self._base = offset
        return self._base + t

    def restart(self) -> None:
        """Forget the clock: the next frame is due when it comes."""
        self._base = None


@dataclass(frozen=True, slots=True)
class LiveFrame:
    """One frame read from a live source, not yet converted to RGB.

    Attributes:
        raw: the decoded frame.
        rotation: clockwise degrees that make it upright.
        number: 0-based number of the frame among all frames read since the
            source started (across reconnections).
        connection: 1-based number of the connection it came through.
        stream_time: presentation time in seconds from the connection's first frame.
        capture_time: wall-clock time (``time.time()``) at which it was due.
        capture_monotonic: the same on the monotonic clock.
    """

    raw: VideoFrame
    rotation: int
    number: int
    connection: int
    stream_time: float
    capture_time: float
    capture_monotonic: float

    def to_rgb(self) -> NDArray[np.uint8]:
        """The frame as an upright ``(H, W, 3)`` uint8 RGB array."""
        return rotate_clockwise(self.raw.to_ndarray(format="rgb24"), self.rotation)


class _Lost(Exception):
    """The connection must be closed and opened again, for the reason given."""


class LiveSource:
    """A live source read by a background thread into a latest-frame slot.

    Args:
        options: the live settings (source, timeouts, back-off, loop).
        slot: where frames go; a new one by default.

    Raises:
        MediaError, OptionsError: at construction, see :func:`parse_source`.
    """

    def __init__(self, options: LiveOptions, slot: LatestSlot[LiveFrame] | None = None) -> None:
        self.options = options
        self.spec = parse_source(options)
        self.slot: LatestSlot[LiveFrame] = slot if slot is not None else LatestSlot()
        #: The exception that ended the reader, if one did (raised again by consumers).
        self.error: BaseException | None = None
        #: Set when the reader is over: stopped, end of file, or failure.
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._state = "idle"
        self._message = ""
        self._since = time.time()
        self._events: collections.deque[dict[str, Any]] = collections.deque(maxlen=_EVENTS_KEPT)
        self._connections = 0
        self._reconnects = 0
        self._frames = 0
        self._skipped_packets = 0
        self._arrivals: collections.deque[float] = collections.deque(maxlen=256)
        self._skips = 0
        self._last_skip_event = -math.inf
        self._video: dict[str, Any] = {}

    # -- public verbs ----------------------------------------------------------

    def start(self) -> LiveSource:
        """Start the reader thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="live-reader", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the reader to stop and wait for it; whether it ended in time.

        A reader blocked in a network read ends when the read times out
        (``stall_timeout`` at most), hence the default wait a little longer.
        """
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(self.options.stall_timeout + 2.0 if timeout is None else timeout)
        return not self._thread.is_alive()

    def status(self) -> dict[str, Any]:
        """What the view shows about the source: state, message, rates, recent events."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._arrivals if now - t <= 5.0]
            input_fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 and recent[-1] > recent[0] else 0.0
            return {
                "source": self.spec.display,
                "kind": self.spec.kind,
                "state": self._state,
                "message": self._message,
                "since": _iso(self._since),
                "connections": self._connections,
                "reconnects": self._reconnects,
                "frames_read": self._frames,
                "packets_skipped": self._skipped_packets,
                "input_fps": round(input_fps, 2),
                **self._video,
                "events": list(self._events),
            }

    # -- the reader thread -----------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as error:  # kept for the consumer, which raises it
            self.error = error
            self._set_state("failed", str(error), logging.ERROR)
        finally:
            self.finished.set()
            self.slot.close()

    def _loop(self) -> None:
        options = self.options
        backoff = options.reconnect_min
        attempts = 0
        lost_at: float | None = None
        self._set_state("connecting", f"opening {self.spec.display}")
        while not self._stop.is_set():
            try:
                container = self._open()
            except (av.error.FFmpegError, OSError) as error:
                reason = _reason(error)
                if self._connections == 0 and self.spec.kind != "stream":
                    raise MediaError(self.spec.display, reason) from error
                lost_at = lost_at or time.monotonic()
                attempts += 1
                backoff = self._wait_to_retry(reason, backoff, attempts)
                continue
            self._connections += 1
            frames_before = self._frames
            if lost_at is not None:
                self._event(logging.INFO, f"reconnected after {time.monotonic() - lost_at:.1f} s")
                lost_at = None
            try:
                self._read(container)
                reason = "end of stream"
            except _Lost as lost:
                reason = str(lost)
            except av.error.FFmpegError as error:
                reason = _reason(error)
            finally:
                container.close()
            if self._stop.is_set():
                break
            finite = self.spec.kind == "file" or (self.spec.kind == "stream" and self._video.get("duration_s"))
            if reason == "end of stream" and finite:
                if options.loop:
                    self._event(logging.INFO, "end of file: playing it again")
                    continue
                self._set_state("ended", "end of file")
                return
            if self._frames > frames_before:  # the connection worked: start the back-off again
                backoff, attempts = options.reconnect_min, 0
            lost_at = time.monotonic()
            attempts += 1
            backoff = self._wait_to_retry(reason, backoff, attempts)
        self._set_state("stopped", "stopped")

    def _wait_to_retry(self, reason: str, backoff: float, attempts: int) -> float:
        """Log the loss, wait ``backoff`` seconds (unless stopped); the next back-off."""
        reason = reason.replace(self.spec.url, self.spec.display)  # no password in logs
        self._reconnects += 1
        what = "stream lost" if self._connections else "cannot open the stream"
        self._set_state(
            "reconnecting",
            f"{what} ({reason}); reconnecting in {backoff:.1f} s (attempt {attempts})",
            logging.WARNING,
        )
        self._stop.wait(backoff)
        return min(backoff * 2.0, self.options.reconnect_max)

    def _open(self) -> InputContainer:
        spec = self.spec
        timeout = self.options.stall_timeout
        return open_container(spec.url, format=spec.format, options=spec.options, timeout=(timeout, timeout))

    def _read(self, container: InputContainer) -> None:
        """Decode one connection's frames into the slot until it ends, is lost or stopped."""
        stream = _video_stream(container)
        segmented = bool(_SEGMENTED_FORMATS.intersection(container.format.name.split(",")))
        paced = self.spec.kind == "file" or segmented
        clock = PlayoutClock(paced, max_early=max(10.0, self.options.stall_timeout))
        duration = float(container.duration / av.time_base) if container.duration else None
        rate = frame_rate(stream)
        self._video = {
            "codec": stream.codec_context.name,
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "frame_rate": round(float(rate), 3) if rate else None,
            "format": container.format.name,
            "duration_s": duration if self.spec.kind != "camera" else None,
        }
        what = f"{stream.codec_context.name} {stream.codec_context.width}x{stream.codec_context.height}"
        if rate:
            what += f" at {float(rate):.4g} fps"
        self._set_state("live", f"connected to {self.spec.display} ({what})")
        time_base = float(stream.time_base) if stream.time_base else None
        origin: float | None = None
        opened = last_frame = time.monotonic()
        skipping = False
        rotations: dict[float, int] = {}  # display matrix angle -> clockwise degrees
        stall = self.options.stall_timeout
        for packet in container.demux():  # every stream, so that frozen video beside live audio is seen
            if self._stop.is_set():
                return
            now = time.monotonic()
            if now - last_frame > stall:
                raise _Lost(f"no video frame for {stall:g} s")
            if packet.stream.index != stream.index:
                continue
            if skipping and packet.size:
                if not packet.is_keyframe:
                    self._skipped_packets += 1
                    continue
                skipping = False
            try:
                frames = stream.decode(packet)
            except av.error.InvalidDataError as error:  # damaged packets are common on air
                log.debug("%s: undecodable packet skipped: %s", self.spec.display, error)
                continue
            for raw in frames:
                now = time.monotonic()
                last_frame = now
                stamp = frame_stamp(raw)
                absolute = stamp * time_base if stamp is not None and time_base else now - opened
                if origin is None:
                    origin = absolute
                t = absolute - origin
                due = clock.due(t, now)
                if now - due > self.options.max_delay:
                    self._skips += 1
                    if now - self._last_skip_event >= _SKIP_EVENT_EVERY_S:  # not one per keyframe
                        self._event(logging.INFO, f"{now - due:.1f} s behind the stream: skipping to the next "
                                    f"keyframe ({self._skips} time(s) so far)")
                        self._last_skip_event = now
                    skipping = True
                    if not paced or segmented:
                        clock.restart()
                    break
                if due > now and self._stop.wait(due - now):
                    return
                if raw.rotation not in rotations:  # the io rule, worked out (and any warning given) once
                    rotations[raw.rotation] = clockwise_rotation(raw, stream)
                self._publish(raw, rotations[raw.rotation], t, min(due, time.monotonic()))

    def _publish(self, raw: VideoFrame, rotation: int, t: float, due: float) -> None:
        wall = time.time() - (time.monotonic() - due)
        frame = LiveFrame(raw, rotation, self._frames, self._connections, t, wall, due)
        with self._lock:
            self._frames += 1
            self._arrivals.append(time.monotonic())
        self.slot.put(frame)

    # -- status ----------------------------------------------------------------

    def _set_state(self, state: str, message: str, level: int = logging.INFO) -> None:
        with self._lock:
            self._state = state
            self._message = message
            self._since = time.time()
        self._event(level, message)

    def _event(self, level: int, message: str) -> None:
        log.log(level, "%s: %s", self.spec.display, message)
        with self._lock:
            self._events.append({"time": _iso(time.time()), "level": logging.getLevelName(level).lower(),
                                 "message": message})


def _video_stream(container: InputContainer) -> VideoStream:
    """The stream every reader takes (:func:`~inafaceanalyzer.io.container.video_stream`); none: reconnect."""
    try:
        return video_stream(container)
    except MediaError as error:
        raise _Lost(error.reason) from error


def _reason(error: BaseException) -> str:
    """Short words for why a source could not be read."""
    if isinstance(error, av.error.ExitError):
        return "timed out"
    if isinstance(error, (av.error.HTTPError, av.error.HTTPClientError)):
        return "HTTP " + ffmpeg_message(error).removeprefix("Server returned ").strip()
    if isinstance(error, av.error.FFmpegError):
        return ffmpeg_message(error).strip() or type(error).__name__
    return str(error) or type(error).__name__


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

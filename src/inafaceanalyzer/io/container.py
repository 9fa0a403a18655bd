"""The one door to PyAV for reading: containers opened, the video stream chosen, its facts read.

Every read of a video goes through here (:class:`~inafaceanalyzer.io.video.VideoSource`,
the packet-timing scan :mod:`inafaceanalyzer.io.packets`, the exports and report
thumbnails, the live source), so that a source opens with the same network
limits, the same stream is taken, frames are turned upright the same way,
times start at the same zero and failures read the same everywhere.

Opening
    :func:`open_input`: a local path is checked first
    (:func:`~inafaceanalyzer.io.remote.check_local_file`), an ``http(s)://``
    URL gets FFmpeg's network options (:func:`~inafaceanalyzer.io.remote.ffmpeg_options`:
    ``timeout`` for each socket operation, ``deadline`` to open and for each
    packet); failures become :class:`~inafaceanalyzer.errors.MediaError` with
    the reason in a user's words (:func:`open_error_reason`).
    :func:`open_container` opens any FFmpeg input (a camera, a live stream) as
    it is, and leaves its errors to the caller (the live source reconnects).

Stream
    :func:`video_stream`: the first video stream that is not a cover picture.

Rotation
    :func:`clockwise_rotation`: the display matrix of the stream (MP4/MOV
    ``tkhd`` matrix, as FFmpeg attaches it to decoded frames) or, failing
    that, a legacy ``rotate`` metadata tag, rounded to a multiple of 90
    degrees; mirroring is ignored. :func:`rotate_clockwise` applies it.

Time zero
    A frame's stamp is its presentation timestamp, else its decoding
    timestamp (:func:`frame_stamp`). Times count from the stamp of the first
    frame *decoded* (not the first packet, nor the container's start): a
    frame's time is ``(stamp - first stamp) * time_base``, exact. A frame
    without any stamp takes the end of the previous frame
    (:func:`absolute_time`).
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction

import av
import av.error
import numpy as np
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from numpy.typing import NDArray

from ..errors import MediaError
from .remote import DEFAULT_TIMEOUT_S, DEFAULT_URL_TIMEOUT_S, check_local_file, ffmpeg_options, is_url

__all__ = [
    "absolute_time",
    "clockwise_rotation",
    "ffmpeg_message",
    "frame_rate",
    "frame_stamp",
    "open_container",
    "open_error_reason",
    "open_input",
    "rotate_clockwise",
    "stream_duration",
    "video_stream",
]

logger = logging.getLogger(__name__)


# -- opening ---------------------------------------------------------------------


def open_input(
    source: str | os.PathLike[str],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    deadline: float = DEFAULT_URL_TIMEOUT_S,
) -> InputContainer:
    """Open a video file or ``http(s)://`` URL for reading.

    Args:
        source: path or URL.
        timeout: (URLs) seconds for each socket operation.
        deadline: (URLs) seconds to open, and to give each packet.

    Raises:
        MediaError: the file is missing, empty or unreadable, the server
            answers an error, or FFmpeg cannot read it (see :func:`open_error_reason`).
    """
    url = is_url(source)
    if url:
        name = str(source)
        options = ffmpeg_options(min(timeout, deadline))
        limits: tuple[float, float] | None = (deadline, deadline)
    else:
        name = os.fspath(check_local_file(source))
        options, limits = {}, None
    try:
        return open_container(name, options=options, timeout=limits)
    except av.error.FFmpegError as exc:
        raise MediaError(source, open_error_reason(exc, name, url, timeout, deadline)) from exc


def open_container(
    name: str,
    *,
    format: str | None = None,  # noqa: A002 (PyAV's name)
    options: dict[str, str] | None = None,
    timeout: float | tuple[float, float] | None = None,
) -> InputContainer:
    """``av.open(name)`` for reading, any FFmpeg input (device, stream, file) with its format and options.

    Raises:
        av.error.FFmpegError, OSError: as PyAV raises them, for callers that
            retry (the live source); others use :func:`open_input`.
    """
    container = av.open(name, mode="r", format=format, options=dict(options or {}), timeout=timeout)
    return container  # type: ignore[return-value]


def ffmpeg_message(exc: av.error.FFmpegError) -> str:
    """FFmpeg's own words for an error."""
    return str(exc.strerror or exc)


def open_error_reason(exc: av.error.FFmpegError, name: str, url: bool, timeout: float, deadline: float) -> str:
    """Words for a failure of ``av.open`` of ``name`` (a path, or a URL when ``url``)."""
    message = ffmpeg_message(exc)
    if isinstance(exc, (av.error.HTTPError, av.error.HTTPClientError)):
        return "HTTP " + message.removeprefix("Server returned ").strip()
    if isinstance(exc, av.error.FileNotFoundError):
        return "file not found"
    if isinstance(exc, av.error.PermissionError):
        return "permission denied"
    if isinstance(exc, (av.error.ConnectionRefusedError, av.error.ConnectionResetError)):
        return f"cannot connect: {message}"
    if isinstance(exc, av.error.ExitError) and url:
        return f"not opened after {deadline:g} s (url_timeout): the server stalled or is too slow"
    if isinstance(exc, av.error.TimeoutError) and url:
        return f"timed out after {min(timeout, deadline):g} s"
    if isinstance(exc, av.error.InvalidDataError):
        if not url and _looks_like_mp4(name):
            return "truncated or corrupt video: MP4/MOV file whose index (moov atom) cannot be read, probably cut short"
        if url:
            return f"no readable video in what the server sent (a truncated download, or not a media file): {message}"
        return f"not a media file FFmpeg can read: {message}"
    if url:
        return f"cannot read over the network: {message}"
    return f"cannot open: {message}"


def _looks_like_mp4(path: str) -> bool:
    """Whether a file starts with an ISO base media ``ftyp`` box."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return head[4:8] == b"ftyp"


# -- the stream and its facts ----------------------------------------------------------


def video_stream(container: InputContainer, source: object | None = None) -> VideoStream:
    """The video stream to read: the first one that is not a still cover picture.

    Raises:
        MediaError: ``"no video stream"`` (``"... (only a still cover
            picture)"`` when there is one), naming ``source`` (else the container).
    """
    videos = list(container.streams.video)
    for stream in videos:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    where = container.name if source is None else source
    if videos:
        raise MediaError(where, "no video stream (only a still cover picture)")
    raise MediaError(where, "no video stream")


def frame_rate(stream: VideoStream) -> Fraction | None:
    """The stream's average frame rate (else FFmpeg's guess), exact; ``None`` when unknown."""
    rate = stream.average_rate or stream.guessed_rate
    return Fraction(rate) if rate else None


def stream_duration(container: InputContainer, stream: VideoStream) -> Fraction | None:
    """The stream's duration in seconds as the container states it (else the container's), or ``None``."""
    if stream.duration and stream.time_base:
        return stream.duration * Fraction(stream.time_base)
    if container.duration:
        return Fraction(container.duration, av.time_base)
    return None


# -- rotation --------------------------------------------------------------------------


def clockwise_rotation(raw: VideoFrame, stream: VideoStream | None = None) -> int:
    """Clockwise degrees (0, 90, 180, 270) that make the frames of ``stream`` upright.

    ``VideoFrame.rotation`` is the counter-clockwise angle of FFmpeg's display
    matrix; the legacy ``rotate`` tag of ``stream``, read when the frame has
    no display matrix, is already clockwise.
    """
    degrees = -raw.rotation if raw.rotation else 0
    if not degrees and stream is not None:
        tag = next((v for k, v in stream.metadata.items() if k.lower() == "rotate"), "0")
        try:
            degrees = round(float(tag))
        except ValueError:
            logger.warning("ignoring unreadable rotate tag %r", tag)
    snapped = (round(degrees / 90) * 90) % 360
    if (degrees - snapped) % 360:
        logger.warning("rotation of %s degrees rounded to %d", degrees, snapped)
    return snapped


def rotate_clockwise(image: NDArray[np.uint8], degrees: int) -> NDArray[np.uint8]:
    """Rotate an ``(H, W, C)`` image clockwise by a multiple of 90 degrees.

    Returns:
        A C-contiguous array (a copy unless ``degrees`` is 0 and ``image`` is
        already contiguous).

    Raises:
        ValueError: ``degrees`` is not a multiple of 90.
    """
    if degrees % 90:
        raise ValueError(f"rotation must be a multiple of 90 degrees, not {degrees}")
    quarter_turns = (degrees // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k=-quarter_turns) if quarter_turns else image)


# -- time zero -------------------------------------------------------------------------


def frame_stamp(raw: VideoFrame) -> int | None:
    """A decoded frame's timestamp: its pts, else its dts, else ``None``."""
    return raw.pts if raw.pts is not None else raw.dts


def absolute_time(raw: VideoFrame, time_base: Fraction, previous_end: Fraction | None) -> Fraction:
    """Presentation time of a decoded frame in seconds, not yet relative to the first frame.

    A frame without a stamp starts where the previous one ended (at 0 when first).
    """
    stamp = frame_stamp(raw)
    if stamp is not None:
        return stamp * time_base
    return previous_end if previous_end is not None else Fraction(0)

"""Video decoding with PyAV: exact frame times, sampling by time, upright RGB frames.

:class:`VideoSource` opens a file or ``http(s)://`` URL, says what it knows at
once (:attr:`VideoSource.info`), then yields :class:`~inafaceanalyzer.io.frame.Frame`
objects lazily.

Time
    A frame's time is ``(pts - first_pts) * time_base``, an exact
    :class:`~fractions.Fraction` of seconds, where ``first_pts`` is the
    presentation timestamp of the first decoded frame. A frame without pts
    takes its decoding timestamp, else the previous frame's time plus its
    duration. Times never come from a rounded frame rate.

Index
    The 0-based position of the frame among all the frames of the stream in
    presentation order, skipped ones included. With ``keyframes_only`` the
    frames between keyframes are not decoded, so the index is derived:
    ``round(time * frame_rate)`` (exact for constant-rate video, the nearest
    frame slot for variable-rate video).

Sampling (``fps=F``)
    For each target time ``k / F``, the frame nearest to it is kept
    (:mod:`inafaceanalyzer.io.sampling` states the rule); with
    ``keyframes_only``, the keyframe nearest to it, the last keyframe
    standing for the rest of the video. Only kept frames are converted to
    RGB.

Decoding
    With ``fps``, only what the kept frames need is decoded
    (:mod:`inafaceanalyzer.io.sparse`), with results exactly those of
    decoding every frame: same frames, indexes and times, bit-identical
    pixels. Whenever the packets do not allow it, or the decoder's output
    differs from the plan, the video is decoded again in full and the frames
    not yet delivered follow (logged at INFO: "decoding every frame").
    ``decode_all=True`` decodes every frame, as does ``fps=None``;
    ``keyframes_only`` decodes keyframes only.
    :attr:`VideoSource.decoded_frames` counts the frames decoded.

Rotation
    The display matrix of the stream (MP4/MOV ``tkhd`` matrix, as FFmpeg
    attaches it to decoded frames) or, failing that, a legacy ``rotate``
    metadata tag, is applied, so frames are upright; :attr:`VideoInfo.rotation`
    is the clockwise angle applied. Mirroring in a display matrix is ignored.
    Opening, the stream chosen, this rule and the time-zero rule are those of
    :mod:`inafaceanalyzer.io.container`, which every PyAV read shares.

Truncated files
    An MP4 cut before its index (``moov`` atom at the end) cannot be opened.
    One cut in its media data decodes up to the cut: all frames that could be
    decoded are yielded, then (``strict=True``, the default) the iterator
    raises :class:`~inafaceanalyzer.errors.MediaError` ("truncated or corrupt
    video at frame N ..."), on a decoder error or when fewer frames came than
    the container announced (MP4/MOV announce it; for containers that do not,
    such as Matroska or MPEG-TS, only decoder errors reveal a cut). Sparse
    decoding counts packets (one per frame) instead of decoded frames, and
    can only see decoder errors in the packets it decodes (on one, it
    decodes everything again, to report it as a full decode does). With
    ``strict=False``, decoding goes on past damaged packets as FFmpeg does:
    every frame that decodes is yielded, with its exact time and its true
    index (frames lost in between are counted from the frame rate), each
    stretch lost is recorded in :attr:`VideoSource.gaps` (from the end of the
    last good frame to the time of the next one; a truncated tail is a gap
    to the end) and logged as a warning, and iteration ends normally.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Iterable, Iterator
from fractions import Fraction
from itertools import chain
from types import TracebackType
from typing import Self

import av.error
from av.container import InputContainer
from av.video.stream import VideoStream

from ..errors import MediaError
from .bitstream import _H264 as _H264  # re-exported: the tests import the codec rules from here
from .bitstream import _Hevc as _Hevc
from .bitstream import _NalBitstream as _NalBitstream
from .container import (
    absolute_time,
    clockwise_rotation,
    ffmpeg_message,
    frame_rate,
    open_input,
    rotate_clockwise,
    stream_duration,
    video_stream,
)
from .decoded import TRUNCATION_TOLERANCE_FRAMES, _DecodeContext, _Decoded, _frame_end, _index_from_time
from .frame import DecodingGap, Frame, VideoInfo
from .remote import DEFAULT_TIMEOUT_S, DEFAULT_URL_TIMEOUT_S, is_url
from .sampling import NearestTimeSampler, _as_rate
from .sparse import SPARSE_LOOKAHEAD_BYTES, _SparseDecoder, _Unplannable  # the limit is read in io.sparse

__all__ = [
    "VideoSource",
    "NearestTimeSampler",
    "rotate_clockwise",  # from io.container, where every PyAV read finds it
    "TRUNCATION_TOLERANCE_FRAMES",
    "SPARSE_LOOKAHEAD_BYTES",
]

logger = logging.getLogger(__name__)

#: Memory the decoder's threads may take: each thread of FFmpeg's frame
#: threading holds about two frames of its own (measured: ~190 MB a thread
#: for 8192x8192 H.264, ~47 MB for 4096x4096), so large frames get fewer
#: threads (8K: one) instead of the one-per-core default.
DECODER_MEMORY_BYTES: int = 256 << 20

_HALF = Fraction(1, 2)


class VideoSource:
    """A video file or ``http(s)://`` URL, decoded lazily into upright RGB frames.

    The source is opened at construction (so that missing, empty, unreadable
    or non-video sources fail at once) and :attr:`info` is filled. Iterating
    yields :class:`~inafaceanalyzer.io.frame.Frame` objects and closes the
    container at the end; iterating again reopens the source. Use it as a
    context manager, or call :meth:`close`, when stopping early.

    Args:
        source: path or ``http(s)://`` URL.
        fps: keep the frame nearest to each multiple of ``1 / fps`` seconds
            (any positive rate, e.g. 0.5, 1, 29.97, 1000); ``None`` keeps
            every frame. Floats are read through their decimal text, so
            ``29.97`` means exactly ``2997/100``.
        keyframes_only: decode only keyframes (much faster); combined with
            ``fps``, the keyframe nearest to each target is kept.
        strict: raise :class:`MediaError` when the video turns out truncated
            or corrupt while decoding; when ``False``, decode on past damaged
            data as FFmpeg does, and record each stretch lost in :attr:`gaps`
            (also logged as a warning).
        timeout: network timeout in seconds for URLs, for each socket operation.
        deadline: seconds a URL may take to open, and to give each packet
            (so that a stalled or dripping server is abandoned; FFmpeg's
            reconnections count within it).
        decode_all: with ``fps``, decode every frame as without it, rather
            than only what the kept frames need (same results, slower; every
            packet is then checked for decoder errors).

    Attributes:
        reduced_size: ``(width, height)`` of the upright :attr:`Frame.reduced`
            copy of each frame, or ``None`` (the default) for none; set it
            before iterating.

    Raises:
        MediaError: at construction, with the reason ("file not found",
            "empty file (0 bytes)", "not a media file FFmpeg can read: ...",
            "no video stream", "HTTP 404 Not Found", ...).
        OptionsError: ``fps`` is not a positive number.
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        fps: float | Fraction | None = None,
        keyframes_only: bool = False,
        *,
        strict: bool = True,
        timeout: float = DEFAULT_TIMEOUT_S,
        decode_all: bool = False,
        deadline: float = DEFAULT_URL_TIMEOUT_S,
    ) -> None:
        self.source = source
        self.fps: Fraction | None = _as_rate(fps)
        self.keyframes_only = bool(keyframes_only)
        self.strict = bool(strict)
        self.timeout = float(timeout)
        self.deadline = float(deadline)
        self.decode_all = bool(decode_all)
        self._context = _DecodeContext(source, self.strict, self.fps)
        self.reduced_size: tuple[int, int] | None = None
        self._container: InputContainer | None = None
        self._decoded: Generator[_Decoded, None, None] | None = None
        self._first: _Decoded | None = None
        self.info: VideoInfo = self._open()

    @property
    def decoded_frames(self) -> int:
        """Frames decoded since the source was last opened (by the constructor or by iterating), kept or not."""
        return self._context.decoded_frames

    @property
    def gaps(self) -> list[DecodingGap]:
        """(``strict=False``) the :class:`~inafaceanalyzer.io.frame.DecodingGap` stretches that could not be decoded.

        In order, since the source was last opened; complete once iteration has ended.
        """
        return self._context.gaps

    # -- public verbs -------------------------------------------------------

    def __iter__(self) -> Iterator[Frame]:
        """Yield the kept frames in presentation order, then close the container.

        Raises:
            MediaError: (``strict=True``) after the last decodable frame, when
                the video is truncated or corrupt.
        """
        if self._decoded is None or self._first is None:
            self.info = self._open()
        decoded, pending = self._decoded, self._first
        if decoded is None or pending is None:  # pragma: no cover - _open sets both or raises
            raise RuntimeError("VideoSource was not opened")
        self._decoded = self._first = None  # consumed by this iteration
        return self._iterate(decoded, pending)

    def close(self) -> None:
        """Close the container (idempotent)."""
        if self._decoded is not None:
            self._decoded.close()
        self._decoded = self._first = None
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VideoSource({str(self.source)!r}, fps={self.fps}, keyframes_only={self.keyframes_only})"

    # -- opening ------------------------------------------------------------

    @property
    def _sparse(self) -> bool:
        """Whether to decode only what the sampling needs."""
        return self.fps is not None and not self.keyframes_only and not self.decode_all

    def _open(self) -> VideoInfo:
        """Open the container, decode the first frame, return what is known."""
        self.close()
        self._context = _DecodeContext(self.source, self.strict, self.fps)
        container = self._container = self._open_container()
        try:
            stream = self._video_stream(container)
            decoded = self._decode_sparse(container, stream) if self._sparse else self._decode(container, stream)
            first = next(decoded, None)
            if first is None:
                raise MediaError(self.source, "no decodable video frame")
            if self._container is not container:  # sparse decoding fell back to full decoding: reopened
                container = self._container
                stream = video_stream(container, self.source)
        except BaseException:
            self.close()  # the container, or the one a fallback to full decoding opened
            raise
        self._decoded, self._first = decoded, first

        rotation = clockwise_rotation(first.raw, stream)
        width, height = first.raw.width, first.raw.height
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(
            source=str(self.source),
            width=width,
            height=height,
            frame_rate=frame_rate(stream),
            duration=stream_duration(container, stream),
            frame_count=stream.frames or None,
            rotation=rotation,
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
        )

    def _video_stream(self, container: InputContainer) -> VideoStream:
        """The stream to decode, with the decoder set up."""
        stream = video_stream(container, self.source)
        stream.thread_type = "AUTO"
        threads = _decoder_threads(stream.codec_context.width, stream.codec_context.height)
        if threads is not None:
            stream.codec_context.thread_count = threads
        if self.keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        return stream

    def _open_container(self) -> InputContainer:
        """The container, opened by :func:`~inafaceanalyzer.io.container.open_input`."""
        return open_input(self.source, timeout=self.timeout, deadline=self.deadline)

    # -- decoding -----------------------------------------------------------

    def _decode(self, container: InputContainer, stream: VideoStream) -> Generator[_Decoded, None, None]:
        """Decode the stream into timed, indexed frames, checking for truncation.

        Raises :class:`MediaError` (``strict``) on decoder errors and, at the
        end, when fewer frames came than announced; otherwise decodes on past
        them and records each stretch lost in :attr:`gaps`.
        """
        context = self._context
        time_base = stream.time_base or Fraction(1, 1)
        rate = frame_rate(stream)
        period = 1 / rate if rate else None
        origin: Fraction | None = None
        previous_end: Fraction | None = None
        previous_time: Fraction | None = None
        decoded = packets = 0
        lost = 0  # frames lost in gaps (strict=False): indexes stay positions in the stream
        trouble: str | None = None  # the first decoder error since the last frame decoded (strict=False)
        warned_order = False

        def fail(reason: str) -> None:
            nonlocal trouble
            if not self.strict:
                trouble = trouble or reason
                return
            if previous_time is None:
                where = "at frame 0"
            else:  # the frame after the last one decoded
                estimate = previous_end if previous_end is not None else previous_time
                position = _index_from_time(estimate, rate, decoded) if self.keyframes_only else decoded
                where = f"at frame {position} (t={float(estimate):.3f}s)"
            context.report_truncation(where, reason)

        demuxed = container.demux(stream)
        while True:
            try:
                packet = next(demuxed)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                fail(self._read_error(exc))
                break  # a demuxer error is not recoverable
            if packet.size:
                packets += 1
                if packet.is_corrupt:
                    logger.warning(
                        "%s: video packet %d is flagged corrupt (incomplete or damaged)", self.source, packets - 1
                    )
            try:
                frames = stream.decode(packet)
            except av.error.FFmpegError as exc:
                fail(ffmpeg_message(exc))
                continue
            frames.reverse()
            while frames:
                raw = frames.pop()  # not held by the list once delivered
                absolute = absolute_time(raw, time_base, previous_end)
                if origin is None:
                    origin = absolute
                time = absolute - origin
                if trouble is not None:  # decoding resumed after damaged data
                    lost += context.gap(previous_end, time, rate, decoded + lost, trouble)
                    trouble = None
                if previous_time is not None and time <= previous_time and not warned_order:
                    logger.warning("%s: non-increasing frame times (%s s after %s s)", self.source, time, previous_time)
                    warned_order = True
                end = _frame_end(time, raw.duration, time_base, period)
                index = _index_from_time(time, rate, decoded) if self.keyframes_only else decoded + lost
                context.decoded_frames += 1
                yield _Decoded(raw, index, time, end)
                del raw  # nor here, while the next packet is decoded
                decoded += 1
                previous_time, previous_end = time, end

        if self.keyframes_only:
            seen, what = packets, "packets"
        else:
            seen, what = decoded + lost, "frames"
        shortfall = context.shortfall(stream, seen, what)
        if shortfall is not None or trouble is not None:
            if self.strict:
                fail(shortfall or "")
            else:
                missing = (stream.frames - seen) if stream.frames and not self.keyframes_only else None
                context.tail_gap(previous_end, shortfall or trouble or "", missing, container, stream)

    def _read_error(self, exc: av.error.FFmpegError) -> str:
        """Words for a failed read of the container (a URL's deadline says so)."""
        if isinstance(exc, av.error.ExitError) and is_url(self.source):
            return f"no data for {self.deadline:g} s (url_timeout): the server stalled or is too slow"
        return ffmpeg_message(exc)

    def _decode_sparse(self, container: InputContainer, stream: VideoStream) -> Generator[_Decoded, None, None]:
        """Decode only what the sampling needs; yield the first frame and the kept ones.

        Falls back to decoding every frame (yielding the kept frames after the
        last one delivered) when the packets do not allow the plan
        (:mod:`inafaceanalyzer.io.sparse`).
        """
        last: Fraction | None = None
        try:
            for item in _SparseDecoder(self._context, container, stream).frames():
                if item.kept:
                    last = item.time
                yield item
            return
        except _Unplannable as exc:
            reason = str(exc)
        logger.info("%s: decoding every frame (%s)", self.source, reason)
        container.close()
        container = self._container = self._open_container()
        decoded = self._decode(container, self._video_stream(container))
        first = next(decoded, None)
        if first is None:
            return
        for item in self._sampled(first, decoded):
            if last is None or item.time > last:
                yield item

    def _sampled(self, pending: _Decoded, decoded: Iterator[_Decoded]) -> Iterator[_Decoded]:
        """Apply the sampling to every decoded frame, with one frame of lookahead.

        A :class:`MediaError` from ``decoded`` is raised after the frames
        decoded before it.
        """
        sampler = NearestTimeSampler(self.fps) if self.fps is not None else None
        if sampler is None:  # every frame: no lookahead, no decoded picture held longer than needed
            yield pending
            del pending
            yield from decoded
            return
        error: MediaError | None = None
        try:
            for item in decoded:
                if sampler.keep((pending.time + item.time) * _HALF):
                    yield pending
                pending = item
        except MediaError as exc:  # deliver what was decoded before the failure
            error = exc
        end = pending.end
        if self.keyframes_only and self.info.duration is not None:
            end = max(end, self.info.duration)  # the last keyframe stands for the rest
        if sampler.keep_last(end):
            yield pending
        if error is not None:
            raise error

    def _iterate(self, decoded: Generator[_Decoded, None, None], pending: _Decoded) -> Iterator[Frame]:
        """Convert the kept frames to RGB, then close the container."""
        rotation = self.info.rotation
        try:
            if self._sparse:
                kept: Iterable[_Decoded] = (item for item in chain((pending,), decoded) if item.kept)
            else:
                kept = self._sampled(pending, decoded)
            del pending  # the first decoded picture is not held for the whole video
            iterator = iter(kept)
            while (item := next(iterator, None)) is not None:
                frame = _to_frame(item, rotation, self.reduced_size)
                del item  # the decoded picture is let go before the consumer works
                yield frame
                del frame  # nor is the RGB frame held while the next one is decoded
        finally:
            decoded.close()
            self.close()


# -- helpers -------------------------------------------------------------------


def _decoder_threads(width: int, height: int) -> int | None:
    """Decoder threads for frames of this size within :data:`DECODER_MEMORY_BYTES`; ``None``: FFmpeg's default."""
    per_thread = max(1, width * height * 3)  # about two 4:2:0 8-bit frames
    threads = DECODER_MEMORY_BYTES // per_thread
    if threads >= (os.cpu_count() or 1):
        return None
    return max(1, threads)


def _to_frame(item: _Decoded, rotation: int, reduced_size: tuple[int, int] | None = None) -> Frame:
    image = item.raw.to_ndarray(format="rgb24")
    reduced = None
    if reduced_size is not None:
        width, height = reduced_size if rotation in (0, 180) else reduced_size[::-1]
        small = item.raw.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
        reduced = rotate_clockwise(small.to_ndarray(), rotation)
    return Frame(index=item.index, time=item.time, image=rotate_clockwise(image, rotation), reduced=reduced)

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
    For each target time ``k / F`` (k = 0, 1, 2, ...), the frame nearest to it
    is kept (ties go to the earlier frame); a frame nearest to several targets
    is kept once, and targets at or past the end of the last frame get
    nothing (with ``keyframes_only``, the last keyframe stands for the rest
    of the video). Equivalently, each frame owns the interval between the midpoints
    to its neighbours and is kept when a target falls in it, so one frame of
    lookahead suffices (:class:`NearestTimeSampler`). Only kept frames are
    converted to RGB.

Sparse decoding (``fps=F``)
    Demuxing is cheap, decoding is not, and packet timestamps give every
    frame's time and index before any decoding. So packets are read one group
    of pictures (GOP: a keyframe packet up to the next one) ahead, the sampler
    decides from their timestamps, and the decoder gets only what the kept
    frames need: nothing from a GOP without a kept frame; in a GOP with some,
    its packets in decoding order up to the last kept frame, without the
    non-reference frames (H.264 ``nal_ref_idc`` 0, HEVC sub-layer
    non-reference pictures of the highest temporal layer) that are not kept.
    The decoder is drained and reset before it jumps to the next GOP needed.
    A GOP is started on its own only at a point where decoding may start
    exactly (an H.264 IDR or exact recovery point, an HEVC IRAP picture, any
    keyframe for other codecs); the leading frames of an open GOP, which may
    refer to the previous GOP, are then not trusted, so a GOP with a kept
    leading frame, or one that cannot be started on its own, is decoded
    after the whole reference chain of the GOP before it.
    Results are exactly those of decoding every frame: same frames, indexes
    and times, bit-identical pixels. The decoder's output is checked against
    the timestamps of the packets it was given. Whenever the packets do not
    allow this plan (no timestamps, a packet flagged corrupt, a first GOP
    that is open or does not start with a keyframe, duplicate or overlapping
    timestamps, GOPs over :data:`SPARSE_LOOKAHEAD_BYTES`, parameter sets only
    in skipped packets), or the decoder fails or its output differs from the
    plan, the video is decoded again in full and the frames not yet
    delivered follow.
    ``decode_all=True`` decodes every frame, as does ``fps=None``;
    ``keyframes_only`` decodes keyframes only.
    :attr:`VideoSource.decoded_frames` counts the frames decoded.

Rotation
    The display matrix of the stream (MP4/MOV ``tkhd`` matrix, as FFmpeg
    attaches it to decoded frames) or, failing that, a legacy ``rotate``
    metadata tag, is applied, so frames are upright; :attr:`VideoInfo.rotation`
    is the clockwise angle applied. Mirroring in a display matrix is ignored.

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
    ``strict=False`` these problems are logged as warnings, damaged packets are
    skipped, and iteration ends normally.
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import chain, pairwise
from types import TracebackType
from typing import Self

import av
import av.error
import numpy as np
from av.container import InputContainer
from av.packet import Packet
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from numpy.typing import NDArray

from ..errors import MediaError, OptionsError
from .frame import Frame, VideoInfo
from .remote import DEFAULT_TIMEOUT_S, check_local_file, ffmpeg_options, is_url

__all__ = [
    "VideoSource",
    "NearestTimeSampler",
    "rotate_clockwise",
    "TRUNCATION_TOLERANCE_FRAMES",
    "SPARSE_LOOKAHEAD_BYTES",
]

logger = logging.getLogger(__name__)

#: Frames that may be missing, compared with the count the container
#: announces, before a video is reported as truncated.
TRUNCATION_TOLERANCE_FRAMES: int = 2

#: Bytes of packets that sparse decoding may hold (two GOPs); past it, as in
#: a file made of one long GOP, every frame is decoded instead.
SPARSE_LOOKAHEAD_BYTES: int = 256 << 20

_HALF = Fraction(1, 2)


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


@dataclass(frozen=True, slots=True)
class _Decoded:
    """A decoded frame not yet converted to RGB."""

    raw: VideoFrame
    index: int
    time: Fraction
    end: Fraction
    kept: bool = True  # False only for a first frame that sparse decoding decoded for VideoInfo


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
            or corrupt while decoding; when ``False``, log a warning instead.
        timeout: network timeout in seconds for URLs.
        decode_all: with ``fps``, decode every frame as without it, rather
            than only what the kept frames need (same results, slower; every
            packet is then checked for decoder errors).

    Attributes:
        decoded_frames: frames decoded since the source was last opened
            (by the constructor or by iterating), kept or not.

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
    ) -> None:
        self.source = source
        self.fps: Fraction | None = _as_rate(fps)
        self.keyframes_only = bool(keyframes_only)
        self.strict = bool(strict)
        self.timeout = float(timeout)
        self.decode_all = bool(decode_all)
        self.decoded_frames = 0
        self._container: InputContainer | None = None
        self._decoded: Generator[_Decoded, None, None] | None = None
        self._first: _Decoded | None = None
        self.info: VideoInfo = self._open()

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
        self.decoded_frames = 0
        container = self._container = self._open_container()
        try:
            stream = self._video_stream(container)
            decoded = self._decode_sparse(container, stream) if self._sparse else self._decode(container, stream)
            first = next(decoded, None)
            if first is None:
                raise MediaError(self.source, "no decodable video frame")
            if self._container is not container:  # sparse decoding fell back to full decoding: reopened
                container = self._container
                stream = _pick_video_stream(container, self.source)
        except BaseException:
            self.close()  # the container, or the one a fallback to full decoding opened
            raise
        self._decoded, self._first = decoded, first

        rotation = _clockwise_rotation(first.raw, stream)
        width, height = first.raw.width, first.raw.height
        if rotation in (90, 270):
            width, height = height, width
        return VideoInfo(
            source=str(self.source),
            width=width,
            height=height,
            frame_rate=_frame_rate(stream),
            duration=_duration(container, stream),
            frame_count=stream.frames or None,
            rotation=rotation,
            codec=stream.codec_context.name,
            has_audio=bool(container.streams.audio),
        )

    def _video_stream(self, container: InputContainer) -> VideoStream:
        """The stream to decode, with the decoder set up."""
        stream = _pick_video_stream(container, self.source)
        stream.thread_type = "AUTO"
        if self.keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        return stream

    def _open_container(self) -> InputContainer:
        """``av.open`` with network options for URLs, errors turned into :class:`MediaError`."""
        url = is_url(self.source)
        if url:
            name = str(self.source)
            options = ffmpeg_options(self.timeout)
            timeout: tuple[float, float] | None = (self.timeout, self.timeout)
        else:
            name = os.fspath(check_local_file(self.source))
            options, timeout = {}, None
        try:
            return av.open(name, mode="r", options=options, timeout=timeout)
        except av.error.FFmpegError as exc:
            raise MediaError(self.source, _open_error_reason(exc, name, url, self.timeout)) from exc

    # -- decoding -----------------------------------------------------------

    def _decode(self, container: InputContainer, stream: VideoStream) -> Generator[_Decoded, None, None]:
        """Decode the stream into timed, indexed frames, checking for truncation.

        Raises :class:`MediaError` (``strict``) on decoder errors and, at the
        end, when fewer frames came than announced.
        """
        time_base = stream.time_base or Fraction(1, 1)
        rate = _frame_rate(stream)
        period = 1 / rate if rate else None
        origin: Fraction | None = None
        previous_end: Fraction | None = None
        previous_time: Fraction | None = None
        decoded = packets = 0
        warned_order = False

        def fail(reason: str) -> None:
            if previous_time is None:
                where = "at frame 0"
            else:  # the frame after the last one decoded
                estimate = previous_end if previous_end is not None else previous_time
                position = _index_from_time(estimate, rate, decoded) if self.keyframes_only else decoded
                where = f"at frame {position} (t={float(estimate):.3f}s)"
            message = f"truncated or corrupt video {where}: {reason}"
            if self.strict:
                raise MediaError(self.source, message)
            logger.warning("%s: %s (ignored: strict=False)", self.source, message)

        demuxed = container.demux(stream)
        while True:
            try:
                packet = next(demuxed)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                fail(_ffmpeg_message(exc))
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
                fail(_ffmpeg_message(exc))
                continue
            for raw in frames:
                absolute = _absolute_time(raw, time_base, previous_end)
                if origin is None:
                    origin = absolute
                time = absolute - origin
                if previous_time is not None and time <= previous_time and not warned_order:
                    logger.warning("%s: non-increasing frame times (%s s after %s s)", self.source, time, previous_time)
                    warned_order = True
                duration = Fraction(raw.duration) * time_base if raw.duration else period
                end = time + duration if duration is not None else time
                index = _index_from_time(time, rate, decoded) if self.keyframes_only else decoded
                self.decoded_frames += 1
                yield _Decoded(raw, index, time, end)
                decoded += 1
                previous_time, previous_end = time, end

        announced = stream.frames or 0
        seen = packets if self.keyframes_only else decoded
        if announced and seen < announced - TRUNCATION_TOLERANCE_FRAMES:
            what = "packets" if self.keyframes_only else "frames"
            fail(f"only {seen} of the {announced} announced {what} could be read")

    def _decode_sparse(self, container: InputContainer, stream: VideoStream) -> Generator[_Decoded, None, None]:
        """Decode only what the sampling needs; yield the first frame and the kept ones.

        Falls back to decoding every frame (yielding the kept frames after the
        last one delivered) when the packets do not allow the plan.
        """
        last: Fraction | None = None
        try:
            for item in _SparseDecoder(self, container, stream).frames():
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
        error: MediaError | None = None
        try:
            for item in decoded:
                if sampler is None or sampler.keep((pending.time + item.time) * _HALF):
                    yield pending
                pending = item
        except MediaError as exc:  # deliver what was decoded before the failure
            error = exc
        end = pending.end
        if self.keyframes_only and self.info.duration is not None:
            end = max(end, self.info.duration)  # the last keyframe stands for the rest
        if sampler is None or sampler.keep_last(end):
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
            for item in kept:
                yield _to_frame(item, rotation)
        finally:
            decoded.close()
            self.close()


# -- sparse decoding -------------------------------------------------------------


class _Unplannable(Exception):
    """The packets do not allow sparse decoding, or the decoder did not follow the plan."""


@dataclass(slots=True)
class _Gop:
    """A group of pictures: a keyframe packet and the packets up to the next one."""

    packets: list[Packet]  # in decoding order
    stamps: list[int]  # their pts, in presentation order
    first_index: int  # index of the first frame in presentation order
    leading: frozenset[int]  # pts of the frames before the keyframe in presentation order
    startable: bool  # whether decoding may start exactly at the keyframe
    size: int  # bytes
    kept: set[int] = field(default_factory=set)  # pts of the frames the sampler keeps


class _SparseDecoder:
    """Sparse decoding of one stream (see the module docstring): plan from packets, decode, check.

    Raises:
        _Unplannable: the packets do not allow the plan, the decoder's
            output did not match it, or the decoder failed (the full decode
            then reports the error as it always did).
        MediaError: (``strict``) a demuxer error, or fewer packets than announced.
    """

    def __init__(self, owner: VideoSource, container: InputContainer, stream: VideoStream) -> None:
        if owner.fps is None:  # pragma: no cover - guarded by VideoSource._sparse
            raise ValueError("sparse decoding needs a sampling rate")
        self.owner, self.container, self.stream = owner, container, stream
        self.time_base = stream.time_base or Fraction(1, 1)
        rate = _frame_rate(stream)
        self.period = 1 / rate if rate else None
        self.sampler = NearestTimeSampler(owner.fps)
        self.bitstream = _Bitstream.of(stream)
        self.origin: Fraction | None = None  # absolute time of the first frame
        self.frames_planned = 0  # frames (sized packets) of the complete GOPs
        self.packets_read = 0
        self.waiting: _Gop | None = None  # complete GOP whose last frame awaits the next GOP's first time
        self.last_end: Fraction | None = None  # end of the last frame of the complete GOPs
        # decoder state
        self.run_open = False  # the decoder holds the reference chain the next GOP continues
        self.expected: deque[int] = deque()  # pts the decoder must output next, in order
        self.untrusted: set[int] = set()  # pts of leading frames decoded without their references
        self.facts: dict[int, tuple[int, bool, bool]] = {}  # pts -> (index, wanted, kept), not yet output
        self.parameter_sets_skipped = False

    # -- planning -------------------------------------------------------------

    def frames(self) -> Generator[_Decoded, None, None]:
        """Yield the first frame and the kept frames, in presentation order."""
        building: list[Packet] = []
        held = 0
        demux_error: str | None = None
        demuxed = self.container.demux(self.stream)
        while True:
            try:
                packet = next(demuxed)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                demux_error = _ffmpeg_message(exc)
                break  # a demuxer error is not recoverable
            if not packet.size:
                continue
            self.packets_read += 1
            if packet.is_corrupt:  # the decoder may give no frame for it: the frame count is unknown
                raise _Unplannable(f"video packet {self.packets_read - 1} is flagged corrupt")
            if packet.pts is None:
                raise _Unplannable("packets without presentation timestamps")
            if packet.is_keyframe and building:
                yield from self._complete(building)
                building, held = [], 0
            building.append(packet)
            held += packet.size
            if held + (self.waiting.size if self.waiting else 0) > SPARSE_LOOKAHEAD_BYTES:
                raise _Unplannable(f"groups of pictures over {SPARSE_LOOKAHEAD_BYTES} bytes")
        if building:
            yield from self._complete(building)
        yield from self._finish(demux_error)

    def _time(self, pts: int) -> Fraction:
        if self.origin is None:  # pragma: no cover - set by the first GOP
            raise RuntimeError("no first frame yet")
        return pts * self.time_base - self.origin

    def _end(self, pts: int, duration: int) -> Fraction:
        """End of a frame, as :meth:`VideoSource._decode` computes it."""
        time = self._time(pts)
        length = Fraction(duration) * self.time_base if duration else self.period
        return time + length if length is not None else time

    def _complete(self, packets: list[Packet]) -> Iterator[_Decoded]:
        """Take a complete GOP: sampler decisions, then decode the GOP before it."""
        key = packets[0]
        if not key.is_keyframe:
            raise _Unplannable("the stream does not start with a keyframe")
        stamps = sorted(p.pts for p in packets)
        if any(a == b for a, b in pairwise(stamps)):
            raise _Unplannable("duplicate presentation timestamps")
        leading = frozenset(p.pts for p in packets if p.pts < key.pts)
        first = self.origin is None
        if first:
            if leading:
                raise _Unplannable("the first group of pictures is open")
            self.origin = stamps[0] * self.time_base
        gop = _Gop(
            packets=packets,
            stamps=stamps,
            first_index=self.frames_planned,
            leading=leading,
            startable=first or self.bitstream.startable(key, bool(leading)),
            size=sum(p.size for p in packets),
        )
        self.frames_planned += len(packets)
        last = max(packets, key=lambda p: p.pts)
        self.last_end = self._end(last.pts, last.duration or 0)
        previous, self.waiting = self.waiting, gop
        times = [self._time(t) for t in stamps]
        if previous is not None:
            if stamps[0] <= previous.stamps[-1]:
                raise _Unplannable("groups of pictures overlap in presentation order")
            if self.sampler.keep((self._time(previous.stamps[-1]) + times[0]) * _HALF):
                previous.kept.add(previous.stamps[-1])
        for (stamp, time), (_, after) in pairwise(zip(stamps, times, strict=True)):
            if self.sampler.keep((time + after) * _HALF):
                gop.kept.add(stamp)
        if previous is not None:
            yield from self._decode_gop(previous, gop)

    def _finish(self, demux_error: str | None) -> Iterator[_Decoded]:
        """Decide the last frame, decode the last GOP, check for truncation."""
        gop = self.waiting
        if gop is not None and self.last_end is not None:
            if self.sampler.keep_last(self.last_end):
                gop.kept.add(gop.stamps[-1])
            yield from self._decode_gop(gop, None)
        if demux_error is not None:
            self._fail(demux_error)
        announced = self.stream.frames or 0
        if announced and self.packets_read < announced - TRUNCATION_TOLERANCE_FRAMES:
            self._fail(f"only {self.packets_read} of the {announced} announced frames could be read")

    def _fail(self, reason: str) -> None:
        """As in :meth:`VideoSource._decode` at the end: raise (strict) or log a truncated video."""
        if self.last_end is not None:
            where = f"at frame {self.frames_planned} (t={float(self.last_end):.3f}s)"
        else:
            where = "at frame 0"
        message = f"truncated or corrupt video {where}: {reason}"
        if self.owner.strict:
            raise MediaError(self.owner.source, message)
        logger.warning("%s: %s (ignored: strict=False)", self.owner.source, message)

    # -- decoding -------------------------------------------------------------

    def _decode_gop(self, gop: _Gop, following: _Gop | None) -> Iterator[_Decoded]:
        """Decode what ``gop``'s kept frames, and ``following``'s leading ones, need."""
        wanted = set(gop.kept)
        if gop.first_index == 0:
            wanted.add(gop.stamps[0])  # the first frame, for VideoInfo, even if not kept
        through = following is not None and (
            not following.startable or any(t in following.kept for t in following.leading)
        )
        if not wanted and not through:
            if self.run_open:  # continued into for nothing: its last frame was not kept after all
                yield from self._end_run()
            self._skipped(gop.packets)
            return
        fresh = not self.run_open
        if fresh and gop.first_index:
            if not gop.startable:  # pragma: no cover - the GOP before it went through
                raise _Unplannable("a group of pictures that cannot be decoded on its own is needed")
            if self.parameter_sets_skipped and not self.bitstream.has_parameter_sets(gop.packets[0]):
                raise _Unplannable("parameter sets in skipped packets")
            self.untrusted |= gop.leading  # decoded without the previous GOP: not checked, never kept
        self.parameter_sets_skipped = False
        stop = len(gop.packets) if through else 1 + max(i for i, p in enumerate(gop.packets) if p.pts in wanted)
        sent: list[Packet] = []
        for packet in gop.packets[:stop]:
            if packet.pts in wanted or not self.bitstream.disposable(packet):
                sent.append(packet)
            else:
                self._skipped((packet,))
        self._skipped(gop.packets[stop:])
        rank = {t: gop.first_index + i for i, t in enumerate(gop.stamps)}
        for packet in sent:
            self.facts[packet.pts] = (rank[packet.pts], packet.pts in wanted, packet.pts in gop.kept)
        self.expected.extend(sorted(p.pts for p in sent if p.pts not in self.untrusted))
        self.run_open = True
        for packet in sent:
            yield from self._accept(self._send(packet))
        if not through:
            yield from self._end_run()

    def _skipped(self, packets: Iterable[Packet]) -> None:
        """Note packets never sent to the decoder that carry parameter sets."""
        if not self.parameter_sets_skipped:
            self.parameter_sets_skipped = any(self.bitstream.has_parameter_sets(p) for p in packets)

    def _send(self, packet: Packet | None) -> list[VideoFrame]:
        """Decode a packet (``None``: drain); a decoder error is left to the full decode to report."""
        try:
            return self.stream.decode(packet)
        except av.error.FFmpegError as exc:
            raise _Unplannable(f"decoder error: {_ffmpeg_message(exc)}") from exc

    def _end_run(self) -> Iterator[_Decoded]:
        """Drain the decoder, check that it gave every frame planned, reset it."""
        yield from self._accept(self._send(None))
        self.stream.codec_context.flush_buffers()
        if self.expected:
            raise _Unplannable(f"the decoder gave no frame at pts {self.expected[0]}")
        self.untrusted.clear()
        self.facts.clear()
        self.run_open = False

    def _accept(self, frames: list[VideoFrame]) -> Iterator[_Decoded]:
        """Check decoded frames against the plan; yield the wanted ones."""
        for raw in frames:
            self.owner.decoded_frames += 1
            pts = raw.pts
            if pts is not None and pts in self.untrusted:
                continue
            if pts is None or not self.expected or pts != self.expected[0]:
                raise _Unplannable(f"the decoder gave the frame at pts {pts} out of the planned order")
            self.expected.popleft()
            index, wanted, kept = self.facts.pop(pts)
            if wanted:
                time = self._time(pts)
                duration = Fraction(raw.duration) * self.time_base if raw.duration else self.period
                end = time + duration if duration is not None else time
                yield _Decoded(raw, index, time, end, kept=kept)


#: SEI payload types that only describe the frame they come with (timing,
#: captions, HDR metadata, recovery points...), allowed in skipped packets.
#: Film grain (19) is not: it changes the pixels of later frames.
_HARMLESS_SEI = frozenset({0, 1, 2, 3, 4, 5, 6, 45, 47, 128, 129, 132, 136, 137, 144, 147})

#: Codecs whose B-frames are never references: trailing frames never depend on
#: leading ones, so decoding may start at any keyframe.
_NON_REFERENCE_B = frozenset({"mpeg1video", "mpeg2video", "mpeg4", "msmpeg4v3", "h263", "h263p", "flv1"})


class _Bitstream:
    """What packets say about decoding dependencies; the rules for any codec.

    Decoding may start at any keyframe (the container's word) of a GOP
    without leading frames, or with leading frames that no later frame
    refers to; no packet is known to be a non-reference frame.
    """

    def __init__(self, codec: str) -> None:
        self.codec = codec

    @staticmethod
    def of(stream: VideoStream) -> _Bitstream:
        codec = stream.codec_context.name
        extradata = bytes(stream.codec_context.extradata or b"")
        if codec == "h264":
            return _H264(extradata)
        if codec == "hevc":
            return _Hevc(extradata)
        return _Bitstream(codec)

    def startable(self, key: Packet, has_leading: bool) -> bool:
        """Whether decoding from ``key`` gives exact frames from it on in presentation order."""
        return not has_leading or self.codec in _NON_REFERENCE_B

    def disposable(self, packet: Packet) -> bool:
        """Whether no other frame refers to the frame in ``packet``."""
        return False

    def has_parameter_sets(self, packet: Packet) -> bool:
        """Whether ``packet`` carries parameter sets (possibly needed by later frames)."""
        return False


class _NalBitstream(_Bitstream):
    """H.264 and HEVC: NAL units, length-prefixed (``avcC``/``hvcC`` extradata) or Annex B."""

    header_size = 1

    def __init__(self, codec: str, length_size: int) -> None:
        super().__init__(codec)
        self.length_size = length_size  # 0: Annex B start codes

    def units(self, packet: Packet) -> list[bytes] | list[memoryview] | None:
        """The NAL units of a packet (views into it when length-prefixed), or ``None`` if it does not parse."""
        if not self.length_size:
            return _annex_b_units(bytes(packet), self.header_size) or None
        data = memoryview(packet)
        units: list[memoryview] = []
        pos, size = 0, self.length_size
        while pos < len(data):
            length = int.from_bytes(data[pos : pos + size], "big")
            pos += size
            if length < self.header_size or pos + length > len(data):
                return None
            units.append(data[pos : pos + length])
            pos += length
        return units or None

    @staticmethod
    def sei_messages(payload: bytes | memoryview) -> list[tuple[int, bytes]] | None:
        """The ``(type, body)`` messages of an SEI NAL unit's payload, or ``None`` if it does not parse."""
        rbsp = bytes(payload).replace(b"\0\0\3", b"\0\0")  # remove emulation prevention bytes
        messages: list[tuple[int, bytes]] = []
        pos = 0
        while rbsp[pos:].rstrip(b"\0") not in (b"\x80", b""):  # more_rbsp_data()
            values = []
            for _ in range(2):  # payload type, payload size: runs of 0xFF, then a last byte
                value = 0
                while pos < len(rbsp) and rbsp[pos] == 0xFF:
                    value, pos = value + 255, pos + 1
                if pos >= len(rbsp):
                    return None
                values.append(value + rbsp[pos])
                pos += 1
            kind, size = values
            if pos + size > len(rbsp):
                return None
            messages.append((kind, rbsp[pos : pos + size]))
            pos += size
        return messages

    def harmless_sei(self, payload: bytes | memoryview) -> bool:
        messages = self.sei_messages(payload)
        return messages is not None and all(kind in _HARMLESS_SEI for kind, _ in messages)


def _annex_b_units(data: bytes, header_size: int) -> list[bytes]:
    """NAL units between ``00 00 01`` start codes (trailing zero bytes dropped)."""
    units = []
    start = data.find(b"\0\0\1")
    while start >= 0:
        following = data.find(b"\0\0\1", start + 3)
        unit = data[start + 3 : following if following >= 0 else len(data)].rstrip(b"\0")
        if len(unit) >= header_size:
            units.append(unit)
        start = following
    return units


class _H264(_NalBitstream):
    """H.264: ``nal_ref_idc`` says which frames are references; IDR and recovery points start decoding."""

    def __init__(self, extradata: bytes) -> None:
        avcc = len(extradata) >= 5 and extradata[0] == 1  # as FFmpeg tells avcC from Annex B
        super().__init__("h264", (extradata[4] & 3) + 1 if avcc else 0)

    def startable(self, key: Packet, has_leading: bool) -> bool:
        """An IDR picture, or a recovery point SEI with ``recovery_frame_cnt`` 0 and ``exact_match_flag``."""
        units = self.units(key)
        if units is None:
            return False
        for unit in units:
            kind = unit[0] & 31
            if kind == 5:
                return True
            if kind == 6:
                for sei, body in self.sei_messages(unit[1:]) or ():
                    if sei == 6 and body and body[0] & 0xC0 == 0xC0:  # ue(v) 0, then exact_match_flag 1
                        return True
        return False

    def disposable(self, packet: Packet) -> bool:
        """Slices all with ``nal_ref_idc`` 0, with nothing else than harmless SEI, delimiters, filler."""
        units = self.units(packet)
        if units is None:
            return False
        slices = False
        for unit in units:
            header = unit[0]
            kind = header & 31
            if 1 <= kind <= 4:  # slices and data partitions of non-IDR pictures
                if header & 0x60:
                    return False
                slices = True
            elif kind == 6:
                if not self.harmless_sei(unit[1:]):
                    return False
            elif kind not in (9, 12):  # access unit delimiter, filler
                return False
        return slices

    def has_parameter_sets(self, packet: Packet) -> bool:
        units = self.units(packet)
        return units is None or any(unit[0] & 31 in (7, 8, 13, 15) for unit in units)


class _Hevc(_NalBitstream):
    """HEVC: sub-layer non-reference pictures of the highest temporal layer; IRAP pictures start decoding."""

    header_size = 2

    def __init__(self, extradata: bytes) -> None:
        annex_b = extradata[:3] == b"\0\0\1" or extradata[:4] == b"\0\0\0\1"
        hvcc = len(extradata) >= 23 and not annex_b
        super().__init__("hevc", (extradata[21] & 3) + 1 if hvcc else 0)
        layers = (extradata[21] >> 3) & 7 if hvcc else 0  # numTemporalLayers, 0: unknown
        if annex_b:  # sps_max_sub_layers_minus1 of the first SPS
            for unit in _annex_b_units(extradata, self.header_size):
                if (unit[0] >> 1) & 63 == 33 and len(unit) > 2:
                    layers = ((unit[2] >> 1) & 7) + 1
                    break
        self.top_layer = layers - 1 if layers else None

    def startable(self, key: Packet, has_leading: bool) -> bool:
        """An IRAP picture (BLA, IDR, CRA): no trailing picture refers to its leading ones."""
        units = self.units(key)
        kinds = [(unit[0] >> 1) & 63 for unit in units or ()]
        slices = [kind for kind in kinds if kind < 32]
        return bool(slices) and all(16 <= kind <= 23 for kind in slices)

    def disposable(self, packet: Packet) -> bool:
        """Sub-layer non-reference slices of the top temporal layer, with harmless SEI, delimiters, filler."""
        units = self.units(packet)
        if units is None or self.top_layer is None:
            return False
        slices = False
        for unit in units:
            kind, layer, temporal = (unit[0] >> 1) & 63, ((unit[0] & 1) << 5) | (unit[1] >> 3), (unit[1] & 7) - 1
            if layer:
                return False
            if kind < 32:
                if kind > 14 or kind % 2 or temporal != self.top_layer:
                    return False
                slices = True
            elif kind in (39, 40):
                if not self.harmless_sei(unit[2:]):
                    return False
            elif kind not in (35, 38):  # access unit delimiter, filler
                return False
        return slices

    def has_parameter_sets(self, packet: Packet) -> bool:
        units = self.units(packet)
        return units is None or any((unit[0] >> 1) & 63 in (32, 33, 34) for unit in units)


# -- helpers -------------------------------------------------------------------


def _as_rate(fps: float | Fraction | None) -> Fraction | None:
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


def _pick_video_stream(container: InputContainer, source: object) -> VideoStream:
    """The first video stream that is not a cover picture."""
    videos = list(container.streams.video)
    for stream in videos:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    if videos:
        raise MediaError(source, "no video stream (only a still cover picture)")
    raise MediaError(source, "no video stream")


def _frame_rate(stream: VideoStream) -> Fraction | None:
    rate = stream.average_rate or stream.guessed_rate
    return Fraction(rate) if rate else None


def _duration(container: InputContainer, stream: VideoStream) -> Fraction | None:
    if stream.duration and stream.time_base:
        return stream.duration * Fraction(stream.time_base)
    if container.duration:
        return Fraction(container.duration, av.time_base)
    return None


def _absolute_time(raw: VideoFrame, time_base: Fraction, previous_end: Fraction | None) -> Fraction:
    """Presentation time of a frame in seconds, not yet relative to the first frame."""
    stamp = raw.pts if raw.pts is not None else raw.dts
    if stamp is not None:
        return stamp * time_base
    return previous_end if previous_end is not None else Fraction(0)


def _index_from_time(time: Fraction, rate: Fraction | None, ordinal: int) -> int:
    """``round(time * rate)``, half up; the ordinal when the rate is unknown."""
    if rate is None:
        return ordinal
    return math.floor(time * rate + _HALF)


def _clockwise_rotation(raw: VideoFrame, stream: VideoStream) -> int:
    """Clockwise degrees (0, 90, 180, 270) that make the frames upright.

    ``VideoFrame.rotation`` is the counter-clockwise angle of FFmpeg's display
    matrix; the legacy ``rotate`` tag is already clockwise.
    """
    degrees = -raw.rotation if raw.rotation else 0
    if not degrees:
        tag = next((v for k, v in stream.metadata.items() if k.lower() == "rotate"), "0")
        try:
            degrees = round(float(tag))
        except ValueError:
            logger.warning("ignoring unreadable rotate tag %r", tag)
    snapped = (round(degrees / 90) * 90) % 360
    if (degrees - snapped) % 360:
        logger.warning("rotation of %s degrees rounded to %d", degrees, snapped)
    return snapped


def _to_frame(item: _Decoded, rotation: int) -> Frame:
    image = item.raw.to_ndarray(format="rgb24")
    return Frame(index=item.index, time=item.time, image=rotate_clockwise(image, rotation))


def _ffmpeg_message(exc: av.error.FFmpegError) -> str:
    return str(exc.strerror or exc)


def _open_error_reason(exc: av.error.FFmpegError, name: str, url: bool, timeout: float) -> str:
    """Words for a failure of ``av.open``."""
    message = _ffmpeg_message(exc)
    if isinstance(exc, (av.error.HTTPError, av.error.HTTPClientError)):
        return "HTTP " + message.removeprefix("Server returned ").strip()
    if isinstance(exc, av.error.FileNotFoundError):
        return "file not found"
    if isinstance(exc, av.error.PermissionError):
        return "permission denied"
    if isinstance(exc, (av.error.ConnectionRefusedError, av.error.ConnectionResetError)):
        return f"cannot connect: {message}"
    if isinstance(exc, (av.error.ExitError, av.error.TimeoutError)) and url:
        return f"timed out after {timeout:g} s"
    if isinstance(exc, av.error.InvalidDataError):
        if not url and _looks_like_mp4(name):
            return "truncated or corrupt video: MP4/MOV file whose index (moov atom) cannot be read, probably cut short"
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

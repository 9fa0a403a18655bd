"""Sparse decoding: with sampling, decode only what the kept frames need.

Demuxing is cheap, decoding is not, and packet timestamps give every frame's
time and index before any decoding. So packets are read one group of
pictures (GOP: a keyframe packet up to the next one) ahead, the sampler
(:class:`~inafaceanalyzer.io.sampling.NearestTimeSampler`) decides from their
timestamps, and the decoder gets only what the kept frames need: nothing
from a GOP without a kept frame; in a GOP with some, its packets in decoding
order up to the last kept frame, without the non-reference frames that are
not kept (which packets those are is read from the bitstream,
:mod:`inafaceanalyzer.io.bitstream`). The decoder is drained and reset
before it jumps to the next GOP needed.

A GOP is started on its own only at a point where decoding may start
exactly (see :mod:`inafaceanalyzer.io.bitstream`); the leading frames of an
open GOP, which may refer to the previous GOP, are then not trusted, so a
GOP with a kept leading frame, or one that cannot be started on its own, is
decoded after the whole reference chain of the GOP before it.

Results are exactly those of decoding every frame: same frames, indexes and
times, bit-identical pixels. The decoder's output is checked against the
timestamps of the packets it was given. Whenever the packets do not allow
this plan (no timestamps, a packet flagged corrupt, a first GOP that is open
or does not start with a keyframe, duplicate or overlapping timestamps, GOPs
over :data:`SPARSE_LOOKAHEAD_BYTES`, parameter sets only in skipped
packets), or the decoder fails or its output differs from the plan,
``_Unplannable`` is raised, and
:class:`~inafaceanalyzer.io.video.VideoSource` decodes the video again in
full and delivers the frames not yet delivered.

Truncation is checked as in a full decode, but by counting packets (one per
frame) instead of decoded frames; decoder errors can only be seen in the
packets decoded, and one makes the video decoded again in full, to report it
as a full decode does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise

import av.error
from av.container import InputContainer
from av.packet import Packet
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from .bitstream import _Bitstream
from .container import ffmpeg_message, frame_rate
from .decoded import _DecodeContext, _Decoded, _frame_end
from .sampling import NearestTimeSampler

__all__ = ["SPARSE_LOOKAHEAD_BYTES"]

#: Bytes of packets that sparse decoding may hold (two GOPs); past it, as in
#: a file made of one long GOP, every frame is decoded instead.
SPARSE_LOOKAHEAD_BYTES: int = 256 << 20

_HALF = Fraction(1, 2)


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

    ``context`` is the opening of the video decoded for
    (:mod:`inafaceanalyzer.io.decoded`): its ``fps`` is the sampling, its
    ``decoded_frames`` counts the frames decoded, and it reports a truncated
    video as the full decode does.

    Raises:
        _Unplannable: the packets do not allow the plan, the decoder's
            output did not match it, or the decoder failed (the full decode
            then reports the error as it always did).
        MediaError: (``strict``) a demuxer error, or fewer packets than announced.
    """

    def __init__(self, context: _DecodeContext, container: InputContainer, stream: VideoStream) -> None:
        if context.fps is None:  # pragma: no cover - guarded by VideoSource._sparse
            raise ValueError("sparse decoding needs a sampling rate")
        self.context, self.container, self.stream = context, container, stream
        self.time_base = stream.time_base or Fraction(1, 1)
        rate = frame_rate(stream)
        self.period = 1 / rate if rate else None
        self.sampler = NearestTimeSampler(context.fps)
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
                demux_error = ffmpeg_message(exc)
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
        return _frame_end(self._time(pts), duration, self.time_base, self.period)

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
        shortfall = self.context.shortfall(self.stream, self.packets_read, "frames")
        if shortfall is not None:
            self._fail(shortfall)

    def _fail(self, reason: str) -> None:
        """As in :meth:`VideoSource._decode` at the end: raise (strict) or record a gap to the end."""
        if not self.context.strict:
            missing = (self.stream.frames - self.packets_read) if self.stream.frames else None
            self.context.tail_gap(self.last_end, reason, missing, self.container, self.stream)
            return
        if self.last_end is not None:
            where = f"at frame {self.frames_planned} (t={float(self.last_end):.3f}s)"
        else:
            where = "at frame 0"
        self.context.report_truncation(where, reason)

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
            raise _Unplannable(f"decoder error: {ffmpeg_message(exc)}") from exc

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
            self.context.decoded_frames += 1
            pts = raw.pts
            if pts is not None and pts in self.untrusted:
                continue
            if pts is None or not self.expected or pts != self.expected[0]:
                raise _Unplannable(f"the decoder gave the frame at pts {pts} out of the planned order")
            self.expected.popleft()
            index, wanted, kept = self.facts.pop(pts)
            if wanted:
                time = self._time(pts)
                end = _frame_end(time, raw.duration, self.time_base, self.period)
                yield _Decoded(raw, index, time, end, kept=kept)

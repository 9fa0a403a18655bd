"""A video's timing read from its packets: every frame's timestamp without decoding.

Exports and reports need the times of frames that were not analysed (a
re-render rebuilds the analysed frames from the sampling; subtitles need the
player's offset; an annotated video needs the end of the last frame). Packet
timestamps give them at the cost of demuxing: only the first frame is
decoded, for the time zero (:mod:`inafaceanalyzer.io.container`: times count
from the first frame decoded) and the upright size.

Times are seconds from the first frame of the video stream, as the ``time_s``
column of the tables and :class:`~inafaceanalyzer.io.VideoSource` give them.
Players time a file from the container's start (the earliest stream, often
the audio): :attr:`VideoTiming.player_offset` is that difference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av
import av.error
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from numpy.typing import NDArray

from ..errors import MediaError
from .container import (
    clockwise_rotation,
    ffmpeg_message,
    frame_rate,
    frame_stamp,
    open_input,
    stream_duration,
    video_stream,
)

__all__ = ["VideoTiming", "read_timing"]


@dataclass(frozen=True)
class VideoTiming:
    """What exports need to know about a source video, read from its packets.

    Attributes:
        source: the path or URL.
        width, height: size of the upright frames (rotation applied).
        time_base: the video stream's time base.
        origin_pts: presentation timestamp of the first frame.
        pts: ``(N,)`` int64 timestamps of every frame, in presentation order
            (empty when the packets were not read).
        keyframe: ``(N,)`` bool, whether each frame is a keyframe.
        end: end of the last frame in seconds from the first frame.
        player_offset: time of the first video frame on a player's clock,
            whose zero is the start of the container (the earliest stream).
        frame_rate: the stream's average rate, if known.
        duration: the stream's duration as the container states it, if known.
        rotation: clockwise degrees applied to make frames upright.
        has_audio: whether the container has an audio stream.
    """

    source: str
    width: int
    height: int
    time_base: Fraction
    origin_pts: int
    pts: NDArray[np.int64]
    keyframe: NDArray[np.bool_]
    end: Fraction
    player_offset: Fraction
    frame_rate: Fraction | None
    duration: Fraction | None
    rotation: int
    has_audio: bool

    def times(self) -> list[Fraction]:
        """Exact time of every frame, seconds from the first one."""
        base, origin = self.time_base, self.origin_pts
        return [(int(p) - origin) * base for p in self.pts]

    @property
    def frame_count(self) -> int:
        """Number of frames (0 when the packets were not read)."""
        return len(self.pts)


def read_timing(source: str | os.PathLike[str], *, packets: bool = True) -> VideoTiming:
    """Read the timing of ``source``: frame size and origin, and (``packets``) every frame's time.

    Only packets are read (no decoding) except the first frame, so this is
    fast; for a URL it downloads the file when ``packets`` is true.

    Raises:
        MediaError: the source cannot be read, or no frame of it decodes.
    """
    with open_input(source) as container:
        stream = video_stream(container, source)
        base = Fraction(stream.time_base) if stream.time_base else Fraction(1)
        try:
            first, rows = _scan(container, stream, packets)
        except av.error.FFmpegError as exc:
            raise MediaError(source, f"cannot read the packets: {ffmpeg_message(exc)}") from exc
        if first is None:
            raise MediaError(source, "no decodable video frame")
        stamp = frame_stamp(first)
        origin = int(stamp) if stamp is not None else 0
        rotation = clockwise_rotation(first, stream)
        width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        rate = frame_rate(stream)
        duration = stream_duration(container, stream)
        start = Fraction(container.start_time, av.time_base) if container.start_time is not None else origin * base
        pts = np.array([row[0] for row in rows], np.int64)
        keyframe = np.array([row[1] for row in rows], np.bool_)
        durations = np.array([row[2] for row in rows], np.int64)
        keep = pts >= origin  # frames before the first displayed one are not shown
        pts, keyframe, durations = pts[keep], keyframe[keep], durations[keep]
        period = 1 / rate if rate else None
        if len(pts):
            last = (int(pts[-1]) - origin) * base
            step = int(durations[-1]) * base if durations[-1] else period or Fraction(0)
            end = last + step
        elif duration is not None:
            stream_start = stream.start_time if stream.start_time is not None else origin
            end = duration - (origin - stream_start) * base
        else:
            end = Fraction(0)
        has_audio = bool(container.streams.audio)
    return VideoTiming(
        source=str(source),
        width=width,
        height=height,
        time_base=base,
        origin_pts=origin,
        pts=pts,
        keyframe=keyframe,
        end=end,
        player_offset=origin * base - start,
        frame_rate=rate,
        duration=duration,
        rotation=rotation,
        has_audio=has_audio,
    )


def _scan(
    container: InputContainer, stream: VideoStream, packets: bool
) -> tuple[VideoFrame | None, list[tuple[int, bool, int]]]:
    """The first decoded frame (whose stamp is the time zero) and, with ``packets``,
    ``(pts, keyframe, duration)`` of every frame in presentation order. Only
    packets up to the first frame are decoded."""
    first: VideoFrame | None = None
    rows: list[tuple[int, bool, int]] = []
    for packet in container.demux(stream):
        if first is None:
            for frame in stream.decode(packet):
                first = frame
                break
        if not packets:
            if first is not None:
                break
            continue
        if packet.pts is not None and packet.size and not packet.is_discard:
            rows.append((int(packet.pts), bool(packet.is_keyframe), int(packet.duration or 0)))
    if first is None:  # frames held back by the decoder until the end
        for frame in stream.decode(None):
            first = frame
            break
    rows.sort()
    return first, rows

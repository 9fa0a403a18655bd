"""The annotated video: every frame of the source with its faces drawn, as H.264 MP4.

Frames are decoded upright by :class:`~inafaceanalyzer.io.VideoSource`
(rotation applied, so the output needs no rotation flag), each analysed
frame's boxes and labels are drawn with Pillow and held until the next
analysed frame, and the result is encoded with libx264 (bundled with PyAV's
FFmpeg; no system FFmpeg). Every output frame keeps its source presentation
timestamp, in the source's time base, so the output has the source's frame
count, rate (constant or variable) and duration, and stays in sync with the
audio, whose packets are copied unchanged (or re-encoded to AAC when their
codec cannot go in MP4). The file is written under a temporary name and
renamed when complete.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import av
import av.error
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from .. import interrupts
from ..io import Frame, VideoSource
from ..io.container import open_input
from ..io.packets import VideoTiming, read_timing
from ..pipeline.prefetch import prefetch
from .ass import font_size, line_width
from .atomic import atomic_path
from .overlay import GENDER_COLOURS, FaceMark, OverlayFrame, overlay_at

__all__ = ["Mp4Export", "draw_faces", "h264_encoder", "write_annotated_mp4"]

log = logging.getLogger(__name__)

#: Audio codecs an MP4 file can hold as they are; others are re-encoded to AAC.
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "mp3float", "ac3", "ac3_fixed", "eac3", "alac", "opus", "libopus", "flac"})
#: Channel layouts for re-encoded audio, by number of channels.
_DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
#: H.264 encoders to use, best first.
H264_ENCODERS = ("libx264", "libopenh264", "h264_nvenc")


@dataclass(frozen=True)
class Mp4Export:
    """What :func:`write_annotated_mp4` wrote.

    Attributes:
        frames: video frames written (every frame of the source).
        annotated: frames on which faces were drawn.
        encoder: the H.264 encoder used.
        audio: audio streams written, e.g. ``["aac (copied)"]``.
        seconds: wall time.
    """

    frames: int
    annotated: int
    encoder: str
    audio: list[str]
    seconds: float


def h264_encoder() -> str:
    """The H.264 encoder PyAV's FFmpeg has (libx264 in PyAV's wheels).

    Raises:
        RuntimeError: none is available.
    """
    for name in H264_ENCODERS:
        if name in av.codecs_available:
            return name
    raise RuntimeError("PyAV's FFmpeg has no H.264 encoder (libx264, libopenh264 or h264_nvenc)")


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size)


def draw_faces(image: NDArray[np.uint8], faces: Sequence[FaceMark], inplace: bool = False) -> NDArray[np.uint8]:
    """The RGB ``image`` with each face's box and label drawn, coloured by gender.

    Only the pixels around each face are handed to Pillow, so drawing costs
    little even on large frames. ``image`` is copied unless ``inplace``.
    """
    out = image if inplace else image.copy()
    height, width = out.shape[:2]
    size, line = font_size(height), line_width(height)
    font = _font(size)
    pad = max(2, size // 6)
    for face in faces:
        colour = GENDER_COLOURS.get(face.gender, GENDER_COLOURS[""])
        left, top, right, bottom = (round(v) for v in face.box)
        label_box = None
        if face.label:
            x0, y0, x1, y1 = font.getbbox(face.label)
            w, h = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
            x = max(0, min(left, width - w))
            y = top - h if top - h >= 0 else max(0, top) + line  # above the box, else inside it
            label_box = (x, y, x + w, y + h, x0, y0)
        # the part of the frame this face touches
        r0, c0 = max(0, top - line - 2), max(0, left - line - 2)
        r1, c1 = min(height, bottom + line + 3), min(width, right + line + 3)
        if label_box is not None:
            r0, c0 = min(r0, max(0, label_box[1])), min(c0, max(0, label_box[0]))
            r1, c1 = max(r1, min(height, label_box[3] + 1)), max(c1, min(width, label_box[2] + 1))
        if r1 <= r0 or c1 <= c0:
            continue
        region = Image.fromarray(out[r0:r1, c0:c1])
        draw = ImageDraw.Draw(region)
        draw.rectangle((left - 1 - c0, top - 1 - r0, right + 1 - c0, bottom + 1 - r0), outline=(0, 0, 0), width=line + 2)
        draw.rectangle((left - c0, top - r0, right - c0, bottom - r0), outline=colour, width=line)
        if label_box is not None:
            x, y, x_end, y_end, x0, y0 = label_box
            draw.rectangle((x - c0, y - r0, x_end - c0, y_end - r0), fill=colour)
            draw.text((x + pad - x0 - c0, y + pad - y0 - r0), face.label, font=font, fill=(0, 0, 0))
        out[r0:r1, c0:c1] = np.asarray(region)
    return out


def _even(n: int) -> int:
    return n + (n % 2)


def _pad_even(image: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """yuv420p needs even sizes: pad an odd row or column with black (coordinates unchanged)."""
    height, width = image.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return image
    return np.pad(image, ((0, height % 2), (0, width % 2), (0, 0)))


def _in_samples(frame: av.AudioFrame) -> av.AudioFrame:
    """Time an audio frame in samples (the encoder's time base), keeping its start time."""
    if frame.pts is not None and frame.time_base is not None:
        frame.pts = round(frame.pts * frame.time_base * frame.sample_rate)
    frame.time_base = Fraction(1, frame.sample_rate)
    return frame


class _AudioCopier:
    """The source's audio streams, copied (or re-encoded to AAC) into the output in time order."""

    def __init__(self, source: str, output: av.container.OutputContainer) -> None:
        self._input = open_input(source)
        self._output = output
        self._map: dict[int, tuple[av.stream.Stream, av.AudioCodecContext | None]] = {}
        self.description: list[str] = []
        streams = list(self._input.streams.audio)
        for stream in streams:
            name = stream.codec_context.name
            if name in MP4_AUDIO_CODECS:
                out = output.add_stream_from_template(stream)
                self._map[stream.index] = (out, None)
                self.description.append(f"{name} (copied)")
            else:
                rate = stream.codec_context.sample_rate or 48000
                channels = stream.codec_context.channels or 2
                layout = _DEFAULT_LAYOUTS.get(channels, "stereo")  # the source may not name its channels
                out = output.add_stream("aac", rate=rate, layout=layout)
                out.codec_context.time_base = Fraction(1, rate)  # opened with the video, before any frame
                self._map[stream.index] = (out, stream.codec_context)
                self.description.append(f"{name} (re-encoded to aac)")
        self._packets: Iterator[av.Packet] | None = self._input.demux(*streams) if streams else None
        self._pending: av.Packet | None = None

    def _next(self) -> av.Packet | None:
        if self._pending is None and self._packets is not None:
            self._pending = next(self._packets, None)
            if self._pending is None:
                self._packets = None
        return self._pending

    def write_until(self, seconds: float | None) -> None:
        """Mux the audio packets that start before ``seconds`` (all of them when ``None``)."""
        while (packet := self._next()) is not None:
            if packet.dts is not None and packet.time_base is not None and seconds is not None:
                if float(packet.dts * packet.time_base) > seconds:
                    return
            self._pending = None
            self._write(packet)

    def _write(self, packet: av.Packet) -> None:
        out, decoder = self._map[packet.stream.index]
        if decoder is None:
            if packet.dts is None:  # a demuxer's flush packet
                return
            packet.stream = out
            self._output.mux(packet)
            return
        for frame in decoder.decode(packet):
            self._output.mux(out.encode(_in_samples(frame)))

    def abort(self) -> None:
        """Close the input without writing more."""
        self._input.close()

    def close(self) -> None:
        """Write the remaining packets, flush the encoders and close the input."""
        try:
            self.write_until(None)
            for out, decoder in self._map.values():
                if decoder is not None:
                    try:
                        remaining = decoder.decode(None)
                    except av.error.EOFError:  # already flushed by the demuxer's last, empty packet
                        remaining = []
                    for frame in remaining:
                        self._output.mux(out.encode(_in_samples(frame)))
                    self._output.mux(out.encode(None))
        finally:
            self._input.close()


def write_annotated_mp4(
    source: str | os.PathLike[str],
    overlay: Sequence[OverlayFrame],
    path: str | os.PathLike[str],
    *,
    timing: VideoTiming | None = None,
    crf: int = 20,
    preset: str = "veryfast",
    progress: bool = False,
) -> Mp4Export:
    """Write ``source`` with the faces of ``overlay`` drawn on it, as an H.264 MP4 (atomically).

    Args:
        source: the video the overlay was computed on (path or URL).
        overlay: the faces of each analysed frame (:func:`~.overlay.build_overlay`).
        path: the ``.mp4`` file to write.
        timing: the source's timing, if already read (:func:`~inafaceanalyzer.io.packets.read_timing`).
        crf: x264 constant rate factor (lower is better and larger; 18-23 is usual).
        preset: x264 speed preset (``ultrafast`` ... ``veryslow``).
        progress: show a progress bar.

    Raises:
        MediaError: the source cannot be read (or is truncated).
        OSError: the output cannot be written.
    """
    started = time.perf_counter()
    source = os.fspath(source)
    timing = timing or read_timing(source, packets=False)
    video = VideoSource(source, fps=None)
    encoder = h264_encoder()
    base = timing.time_base
    period = 1 / timing.frame_rate if timing.frame_rate else None
    annotated = written = 0
    with atomic_path(path) as temporary:
        output = av.open(os.fspath(temporary), "w", format="mp4", options={"movflags": "+faststart"})
        audio: _AudioCopier | None = None
        audio_done = False
        try:
            stream = output.add_stream(encoder, rate=timing.frame_rate or Fraction(25))
            stream.width, stream.height = _even(video.info.width), _even(video.info.height)
            stream.pix_fmt = "yuv420p"
            stream.codec_context.time_base = base
            stream.time_base = base
            if encoder == "libx264":
                stream.options = {"crf": str(crf), "preset": preset}
            audio = _AudioCopier(source, output)

            def encode(frame: av.VideoFrame | None) -> None:
                for packet in stream.encode(frame):
                    if packet.pts is not None and audio is not None:
                        audio.write_until(float((packet.dts if packet.dts is not None else packet.pts) * base))
                    output.mux(packet)

            def to_output(item: Frame, image: NDArray[np.uint8]) -> av.VideoFrame:
                frame = av.VideoFrame.from_ndarray(_pad_even(image), format="rgb24")
                frame.pts = timing.origin_pts + round(item.time / base)
                frame.time_base = base
                return frame

            hint = 0
            pending: av.VideoFrame | None = None
            bar = tqdm(total=video.info.frame_count, desc="mp4", unit="frame", disable=not progress, leave=False)
            with bar:
                for item in prefetch(video, maxsize=4, name=f"mp4:{source}"):
                    shown, hint = overlay_at(overlay, float(item.time), hint)
                    image = item.image
                    if shown is not None and shown.faces:
                        image = draw_faces(image, shown.faces, inplace=True)
                        annotated += 1
                    frame = to_output(item, image)
                    if pending is not None:
                        pending.duration = frame.pts - pending.pts
                        encode(pending)
                    pending = frame
                    written += 1
                    bar.update(1)
                    interrupts.check()
            if pending is not None:
                last_time = Fraction(pending.pts - timing.origin_pts) * base
                remaining = timing.end - last_time
                step = remaining if remaining > 0 else (period or Fraction(1, 25))
                pending.duration = max(1, round(step / base))
                encode(pending)
            encode(None)
            audio.close()
            audio_done = True
        finally:
            if audio is not None and not audio_done:
                audio.abort()
            output.close()
    result = Mp4Export(written, annotated, encoder, audio.description if audio else [], time.perf_counter() - started)
    log.info(
        "%s: %d frames (%d annotated) in %.1f s, %.0f frames/s, %s, audio: %s",
        path, written, annotated, result.seconds, written / max(result.seconds, 1e-9), encoder,
        ", ".join(result.audio) or "none",
    )
    return result

"""The one place where the tests encode video clips.

Tests build their own small media (synthetic frames, or pieces of the real
clips joined back to back) instead of shipping them: :func:`write_clip`
encodes RGB frames with PyAV, at a constant rate or at given presentation
times, with any codec, encoder options, container, display rotation or
matrix, stream metadata and a tone as audio; :func:`clip_frames` reads the
frames of a real clip between two times, to be re-encoded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

AUDIO_RATE = 16000


def write_clip(
    path: Path,
    frames: Iterable[np.ndarray | Image.Image],
    *,
    rate: Fraction | int | None = 25,
    codec: str = "mpeg4",
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    options: dict[str, str] | None = None,
    container_format: str | None = None,
    container_options: dict[str, str] | None = None,
    rotation: int | None = None,
    matrix: Sequence[int] | None = None,
    metadata: dict[str, str] | None = None,
    audio: str | None = None,
    audio_seconds: float | None = None,
) -> Path:
    """Encode ``frames`` (RGB, HxWx3 uint8 arrays or PIL images, all of one size) into ``path``.

    Frame ``i`` is shown at ``pts[i] * time_base`` (``pts`` defaults to
    ``0, 1, 2, ...``); without ``time_base`` it is counted in ``1 / rate``
    and the stream keeps the time bases that PyAV and the container choose.

    Args:
        rate: the stream's nominal frame rate (``None``: none given).
        time_base: the codec's and the stream's time base, set explicitly.
        options: encoder options (``{"g": "10", "qscale": "3"}``).
        container_format: e.g. ``"h264"`` for a raw stream without timestamps.
        container_options: muxer options (``{"movflags": "faststart"}``).
        rotation: counter-clockwise display rotation written in the container (as phones do).
        matrix: a display matrix (9 integers) instead.
        metadata: the video stream's metadata tags.
        audio: ``"aac"`` or ``"pcm_s16le"``: add a 440 Hz tone, as long as the
            video unless ``audio_seconds``.

    Returns:
        ``path``.
    """
    frame_base = time_base or Fraction(1, 1) / Fraction(rate or 25)
    last = -1
    with av.open(str(path), "w", format=container_format, options=container_options or {}) as out:
        stream = sound = None
        for index, image in enumerate(frames):
            array = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
            if stream is None:
                stream = out.add_stream(codec, rate=rate, options=options or {})
                stream.height, stream.width = array.shape[:2]
                stream.pix_fmt = "yuv420p"
                if time_base is not None:
                    stream.codec_context.time_base = time_base
                    stream.time_base = time_base
                if rotation is not None:
                    stream.set_display_rotation(rotation)
                if matrix is not None:
                    stream.set_display_matrix(matrix)
                if metadata:
                    stream.metadata.update(metadata)
                if audio:
                    sound = out.add_stream(audio, rate=AUDIO_RATE)
                    sound.layout = "mono"
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            last = pts[index] if pts is not None else index
            frame.pts, frame.time_base = last, frame_base
            out.mux(stream.encode(frame))
        if stream is None:
            raise ValueError(f"{path}: no frames to encode")
        out.mux(stream.encode())
        if sound is not None:
            seconds = audio_seconds if audio_seconds is not None else float((last + 1) * frame_base)
            _write_tone(out, sound, audio, seconds)
    return path


def _write_tone(out: av.container.OutputContainer, sound: av.AudioStream, codec: str, seconds: float) -> None:
    samples = int(AUDIO_RATE * seconds)
    tone = (np.sin(np.arange(samples) * 2 * np.pi * 440 / AUDIO_RATE) * 8000).astype(np.int16)
    fmt = "s16" if codec == "pcm_s16le" else "fltp"
    data = tone[None, :] if fmt == "s16" else (tone.astype(np.float32) / 32768)[None, :]
    chunk = 1024
    for start in range(0, samples, chunk):
        piece = av.AudioFrame.from_ndarray(np.ascontiguousarray(data[:, start : start + chunk]), format=fmt,
                                           layout="mono")
        piece.sample_rate, piece.pts = AUDIO_RATE, start
        out.mux(sound.encode(piece))
    out.mux(sound.encode())


def clip_frames(source: Path, start: float = 0.0, stop: float | None = None) -> Iterator[np.ndarray]:
    """The upright RGB frames of a real clip shown from ``start`` (included) to ``stop`` (excluded) seconds."""
    from inafaceanalyzer.io.video import VideoSource

    for item in VideoSource(source):
        if stop is not None and item.time >= Fraction(str(stop)):
            return
        if item.time >= Fraction(str(start)):
            yield item.image

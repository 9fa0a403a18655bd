"""Face thumbnails for a report: a few frames grabbed from the source, cropped, inlined as JPEG.

Frames are found by their time (``time_s``); the decoder seeks to the
keyframe before a distant target instead of decoding the whole video, so a
gallery costs a few groups of pictures, not a full pass.
"""

from __future__ import annotations

import base64
import io
import logging
import os
from collections.abc import Iterable, Iterator

import av
import av.error
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ..errors import MediaError
from ..export.timeline import SAME_FRAME_S
from ..io.container import frame_stamp, open_input, rotate_clockwise, video_stream
from ..io.packets import read_timing

__all__ = ["crop_thumbnail", "grab_frames"]

log = logging.getLogger(__name__)

#: Decode forward rather than seek when the next target is closer than this (seconds).
SEEK_GAP_S = 4.0


class _Decoder:
    """Frames of one video stream, with their times from the first frame, and seeking."""

    def __init__(self, source: str | os.PathLike[str]) -> None:
        timing = read_timing(source, packets=False)
        self.origin, self.base, self.rotation = timing.origin_pts, timing.time_base, timing.rotation
        self.container = open_input(source)
        self.stream = video_stream(self.container, source)
        self.stream.thread_type = "AUTO"
        self._frames: Iterator[av.VideoFrame] = self._decode()

    def _decode(self) -> Iterator[av.VideoFrame]:
        return self.container.decode(self.stream)

    def time_of(self, frame: av.VideoFrame) -> float:
        stamp = frame_stamp(frame)
        return float(((stamp or 0) - self.origin) * self.base)

    def seek(self, seconds: float) -> None:
        """Go to the keyframe at or before ``seconds``."""
        target = self.origin + int(max(seconds, 0.0) / float(self.base))
        self.container.seek(target, stream=self.stream, backward=True, any_frame=False)
        self._frames = self._decode()

    def restart(self) -> None:
        self.container.seek(0)
        self._frames = self._decode()

    def next(self) -> av.VideoFrame | None:
        return next(self._frames, None)

    def rgb(self, frame: av.VideoFrame) -> NDArray[np.uint8]:
        return rotate_clockwise(frame.to_ndarray(format="rgb24"), self.rotation)

    def close(self) -> None:
        self.container.close()


def grab_frames(source: str | os.PathLike[str], times: Iterable[float]) -> dict[float, NDArray[np.uint8]]:
    """The upright RGB frames shown at ``times`` (seconds from the first frame, as ``time_s``).

    Each time gets the frame nearest to it. Times the video does not reach
    are left out.

    Raises:
        MediaError: the source cannot be read.
    """
    targets = sorted(set(float(t) for t in times))
    found: dict[float, NDArray[np.uint8]] = {}
    if not targets:
        return found
    decoder = _Decoder(source)
    try:
        previous: tuple[float, av.VideoFrame] | None = None
        seekable = True
        for target in targets:
            if seekable and (previous is None or target - previous[0] > SEEK_GAP_S):
                try:
                    decoder.seek(target)
                    previous = None
                except av.error.FFmpegError:
                    seekable = False
                    decoder.restart()
            while True:
                frame = decoder.next()
                if frame is None:
                    if previous is not None and target - previous[0] < 1.0:
                        found[target] = decoder.rgb(previous[1])
                    break
                current = decoder.time_of(frame)
                if previous is None and current > target + SAME_FRAME_S and seekable:
                    # the seek went past the target: decode from the start instead
                    seekable = False
                    decoder.restart()
                    continue
                if current >= target - SAME_FRAME_S:
                    if previous is not None and target - previous[0] < current - target:
                        found[target] = decoder.rgb(previous[1])
                    else:
                        found[target] = decoder.rgb(frame)
                    previous = (current, frame)
                    break
                previous = (current, frame)
    except av.error.FFmpegError as error:
        raise MediaError(source, f"cannot decode: {error.strerror or error}") from error
    finally:
        decoder.close()
    return found


def crop_thumbnail(
    image: NDArray[np.uint8], box: tuple[float, float, float, float], size: int = 112, quality: int = 82
) -> str:
    """The face ``box`` of ``image`` as a ``data:image/jpeg;base64,...`` URL, ``size`` pixels high."""
    height, width = image.shape[:2]
    left, top, right, bottom = box
    left, top = int(max(0, np.floor(left))), int(max(0, np.floor(top)))
    right, bottom = int(min(width, np.ceil(right))), int(min(height, np.ceil(bottom)))
    if right - left < 2 or bottom - top < 2:
        raise ValueError(f"box {box} is outside the {width}x{height} frame")
    crop = Image.fromarray(image[top:bottom, left:right])
    scale = size / crop.height
    crop = crop.resize((max(1, round(crop.width * scale)), size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

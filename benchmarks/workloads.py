"""Benchmark workloads built from the repository's own sample media.

W1/W2 video: TV-like 960x540 25 fps H.264 (GOP 50 = 2 s), made of segments
joined back to back: the Hamilton clip scaled to full frame, the same clip
mirrored and letterboxed (4:3 content with black bars), and the India photo
(5 faces) pillarboxed with a slow zoom, so that parts have several faces per
frame. W3 photos: the India photo and frames of the Hamilton clip, resized
(0.5x to 1.5x) and mirrored, saved as JPEG.

Everything is written under a cache directory and reused when present.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO / "media"
WIDTH, HEIGHT, RATE, GOP = 960, 540, 25, 50

log = logging.getLogger(__name__)


def _fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """``image`` scaled to fit ``width x height`` and centred on black."""
    scaled = ImageOps.contain(image, (width, height), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (width, height))
    canvas.paste(scaled, ((width - scaled.width) // 2, (height - scaled.height) // 2))
    return canvas


def _hamilton_frames() -> list[Image.Image]:
    with av.open(str(MEDIA / "hamilton_clip.mp4")) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


def _segments() -> Iterator[Image.Image]:
    """An endless sequence of 960x540 frames, segment after segment."""
    hamilton = _hamilton_frames()
    india = Image.open(MEDIA / "india.jpg").convert("RGB")
    full = [frame.resize((WIDTH, HEIGHT), Image.Resampling.BILINEAR) for frame in hamilton]
    boxed = [_fit(ImageOps.mirror(frame).resize((720, 405)), WIDTH, HEIGHT) for frame in hamilton]
    for segment in itertools.cycle(("full", "india", "boxed")):
        if segment == "full":
            yield from full
        elif segment == "boxed":
            yield from boxed
        else:
            for i in range(10 * RATE):  # 10 s slow zoom on the 5 faces
                zoom = 1.0 + 0.25 * i / (10 * RATE)
                w, h = india.width / zoom, india.height / zoom
                left, top = (india.width - w) / 2, (india.height - h) / 2
                crop = india.crop((round(left), round(top), round(left + w), round(top + h)))
                yield _fit(crop, WIDTH, HEIGHT)


def tv_video(path: Path, seconds: float) -> Path:
    """Write (once) the W1/W2 video of ``seconds`` seconds at ``path``."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    n_frames = round(seconds * RATE)
    log.info("building %s (%d frames)", path, n_frames)
    with av.open(str(partial), "w") as container:
        stream = container.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.time_base = Fraction(1, RATE)
        stream.options = {"g": str(GOP), "keyint_min": str(GOP), "sc_threshold": "0", "preset": "veryfast", "crf": "23"}
        for i, image in zip(range(n_frames), _segments(), strict=False):
            frame = av.VideoFrame.from_image(image)
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    partial.rename(path)
    return path


def photo_folder(folder: Path, count: int = 200) -> list[Path]:
    """Write (once) ``count`` JPEG photos for W3; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    existing = sorted(folder.glob("*.jpg"))
    if len(existing) >= count:
        return existing[:count]
    hamilton = _hamilton_frames()
    sources = [Image.open(MEDIA / "india.jpg").convert("RGB")] + hamilton[::25]
    scales = np.linspace(0.5, 1.5, 5)
    paths = []
    for i, (source, scale, mirror) in enumerate(
        itertools.islice(itertools.cycle(itertools.product(sources, scales, (False, True))), count)
    ):
        image = source.resize((round(source.width * scale), round(source.height * scale)), Image.Resampling.BILINEAR)
        if mirror:
            image = ImageOps.mirror(image)
        path = folder / f"photo_{i:03d}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths

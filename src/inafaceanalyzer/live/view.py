"""The annotated frames of the live view: downscaled, faces drawn, JPEG-encoded.

Boxes and labels are drawn by the exports' own :func:`~inafaceanalyzer.export.annotated.draw_faces`
(same colours and ``F 93% 34 y`` labels as the annotated MP4 and the
subtitles). Frames are downscaled before drawing, so drawing and encoding
cost what the view needs, not what the source has.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ..detections import Detections
from ..export.annotated import draw_faces
from ..export.overlay import FaceMark

__all__ = ["View", "face_marks", "render_view"]


@dataclass(frozen=True, slots=True)
class View:
    """One published frame of the live view.

    Attributes:
        jpeg: the annotated frame, JPEG-encoded.
        width, height: its size in pixels.
        number: the frame's number among the frames read from the source.
        capture_time: wall-clock time at which the frame was captured (due).
        published_time: wall-clock time at which the view was ready.
        faces: how many faces it shows.
    """

    jpeg: bytes
    width: int
    height: int
    number: int
    capture_time: float
    published_time: float
    faces: int

    @property
    def delay(self) -> float:
        """Seconds from capture to publication."""
        return self.published_time - self.capture_time


def face_marks(faces: Detections, scale: float = 1.0) -> list[FaceMark]:
    """What to draw for each face: its box times ``scale`` and a ``F 93% 34 y`` label."""
    sexes = faces.data.get("sex_label")
    p_male = faces.data.get("sex_prob_male")
    ages = faces.data.get("age_label")
    marks = []
    for i in range(len(faces)):
        sex = str(sexes[i]) if sexes is not None else ""
        sex = sex if sex in ("f", "m") else ""
        parts = []
        if sex:
            text = sex.upper()
            if p_male is not None and math.isfinite(float(p_male[i])):
                p = float(p_male[i])
                text += f" {(p if sex == 'm' else 1.0 - p):.0%}"
            parts.append(text)
        if ages is not None and math.isfinite(float(ages[i])):
            parts.append(f"{float(ages[i]):.0f} y")
        box = tuple(float(v) * scale for v in faces.xyxy[i])
        marks.append(FaceMark(box=box, label=" ".join(parts), gender=sex))  # type: ignore[arg-type]
    return marks


def render_view(image: NDArray[np.uint8], faces: Detections, max_width: int, quality: int = 80) -> tuple[bytes, int, int]:
    """The RGB ``image`` downscaled to ``max_width`` at most, faces drawn, as JPEG bytes and size."""
    height, width = image.shape[:2]
    scale = 1.0
    if width > max_width:
        scale = max_width / width
        size = (max_width, max(1, round(height * scale)))
        image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))
    drawn = draw_faces(image, face_marks(faces, scale)) if len(faces) else image
    buffer = io.BytesIO()
    Image.fromarray(drawn).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue(), drawn.shape[1], drawn.shape[0]

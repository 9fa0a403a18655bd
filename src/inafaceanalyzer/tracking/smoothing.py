"""One gender and one age per face track, from its frames weighted by how usable each face is.

Weight of a face in one frame (``avg_weight`` column), the product of three
factors in ``[0, 1]``:

- size: ``min(1, s / 100) ** 2``, where ``s`` is the longer side of the
  detector's raw box in pixels; the networks see 32 and 64 pixel chips, so
  faces of 100 pixels or more count fully and a 50 pixel face a quarter;
- sharpness: ``v / (v + 50)``, where ``v`` is the variance of the Laplacian
  of the face's box in grayscale resized to 64x64 (about 2 for an out of focus
  face, 150 to 1,500 for a sharp one);
- frontality: ``max(0, 1 - a / 0.4) ** 2``, where ``a = |d1 - d2| / (d1 + d2)``
  and ``d1``, ``d2`` are the distances from the nose landmark to each eye's
  centre (dlib's five landmarks): 0 for a frontal face, larger as the head
  turns.

A tiny floor (1e-6) keeps the weights positive, so a track of poor faces
still gets a plain mean.

Averages: the track's frames are read as a mixture of their predicted
distributions, weighted as above. ``sex_prob_male_avg`` is the weighted
mean of the frames' probabilities of male, and ``sex_decfunc_avg`` its
log-odds (clipped at +-30 like the per-frame score), so one confidently
wrong frame moves the result by at most its weight, unlike a mean of
log-odds; ``sex_label_avg`` is ``m`` when it is positive. ``age_label_avg``
is the weighted mean of the frames' predicted ages (years), the expectation
of the mixture, and ``age_decfunc_avg`` the same age on the seed's scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ..classification import age_to_decfunc
from ..detections import Detections

__all__ = [
    "TRACK_COLUMNS",
    "AVERAGE_COLUMNS",
    "TrackStats",
    "add_predictions",
    "averages_of",
    "quality_weights",
    "sharpness",
    "frontality",
    "raw_sizes",
]

#: The columns of the table of tracks (``<name>.tracks.csv``).
TRACK_COLUMNS: tuple[str, ...] = (
    "face_id",
    "first_frame",
    "last_frame",
    "start_s",
    "end_s",
    "duration_s",
    "n_frames",
    "n_detections",
    "sex_decfunc_avg",
    "sex_label_avg",
    "age_decfunc_avg",
    "age_label_avg",
    "sex_prob_male_avg",
    "median_face_size",
    "person_id",
)

#: The per-track columns repeated on every row of a track in the frame table.
AVERAGE_COLUMNS: tuple[str, ...] = ("sex_decfunc_avg", "age_decfunc_avg", "sex_label_avg", "age_label_avg")

FULL_SIZE_PX = 100.0
SHARPNESS_HALF = 50.0
MAX_ASYMMETRY = 0.4
MIN_WEIGHT = 1e-6
_MAX_LOGODDS = 30.0
_SHARPNESS_SIDE = 64


def raw_sizes(faces: Detections) -> NDArray[np.float64]:
    """Longer side of each face's raw (detector or tracked) box, in pixels."""
    raw = np.asarray(faces.data.get("raw_xyxy", faces.xyxy), dtype=np.float64).reshape(-1, 4)
    return np.maximum(raw[:, 2] - raw[:, 0], raw[:, 3] - raw[:, 1])


def sharpness(image: NDArray[np.uint8], boxes: NDArray[np.float64]) -> NDArray[np.float64]:
    """Variance of the Laplacian of each box of an RGB image, in grayscale resized to 64x64."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.zeros(len(boxes))
    if not len(boxes):
        return out
    picture = Image.fromarray(image)  # each crop is made grey on its own, not the whole frame
    for i, (left, top, right, bottom) in enumerate(np.rint(boxes).astype(np.int64)):
        if right <= left or bottom <= top:
            continue
        crop = picture.crop((int(left), int(top), int(right), int(bottom))).convert("L")
        crop = crop.resize((_SHARPNESS_SIDE, _SHARPNESS_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
        a = np.asarray(crop, dtype=np.float64)
        laplacian = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4 * a[1:-1, 1:-1]
        out[i] = laplacian.var()
    return out


def frontality(landmarks: NDArray[np.float64] | None, n: int) -> NDArray[np.float64]:
    """Frontality factor in ``[0, 1]`` from dlib's five landmarks (1 when unknown)."""
    if landmarks is None:
        return np.ones(n)
    landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    eye_a = landmarks[:, 0:2].mean(axis=1)
    eye_b = landmarks[:, 2:4].mean(axis=1)
    nose = landmarks[:, 4]
    d1 = np.linalg.norm(nose - eye_a, axis=1)
    d2 = np.linalg.norm(nose - eye_b, axis=1)
    total = d1 + d2
    asymmetry = np.divide(np.abs(d1 - d2), total, out=np.ones_like(total), where=total > 0)
    return np.clip(1.0 - asymmetry / MAX_ASYMMETRY, 0.0, 1.0) ** 2


def quality_weights(faces: Detections, sharp: NDArray[np.float64]) -> NDArray[np.float64]:
    """Weight of each classified face of one frame in its track's averages (see the module doc).

    ``sharp``: the :func:`sharpness` of each face's raw box, measured on the
    frame before it was let go.
    """
    n = len(faces)
    if n == 0:
        return np.zeros(0)
    size = np.minimum(1.0, raw_sizes(faces) / FULL_SIZE_PX) ** 2
    sharp = np.asarray(sharp, dtype=np.float64)
    sharp = sharp / (sharp + SHARPNESS_HALF)
    return np.maximum(size * sharp * frontality(faces.alignment_points, n), MIN_WEIGHT)


def _p_male(faces: Detections) -> NDArray[np.float64]:
    if "sex_prob_male" in faces.data:
        return np.asarray(faces.data["sex_prob_male"], dtype=np.float64)
    decfunc = np.asarray(faces.data["sex_decfunc"], dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-decfunc))


def averages_of(weight: float, weighted_p_male: float, weighted_age: float) -> dict[str, Any]:
    """The smoothed columns of faces whose weights sum to ``weight`` (weighted sums of p(male) and age)."""
    if weight <= 0:
        nan = float("nan")
        return {"sex_decfunc_avg": nan, "age_decfunc_avg": nan, "sex_label_avg": "",
                "age_label_avg": nan, "sex_prob_male_avg": nan}
    p = weighted_p_male / weight
    eps = np.exp(-_MAX_LOGODDS)
    clipped = min(max(p, eps), 1 - eps)
    decfunc = float(np.log(clipped) - np.log1p(-clipped))
    age = weighted_age / weight
    return {
        "sex_decfunc_avg": decfunc,
        "age_decfunc_avg": float(age_to_decfunc(np.array([age]))[0]),
        "sex_label_avg": "m" if decfunc > 0 else "f",
        "age_label_avg": float(age),
        "sex_prob_male_avg": float(p),
    }


@dataclass
class TrackStats:
    """What is known about one track so far: where it appears, and its weighted predictions.

    :meth:`see` records a row when the tracker reports the face;
    :meth:`add_predictions` adds the classifier's output once that row is
    classified; :meth:`averages` and :meth:`summary` read the result.
    """

    face_id: int
    first_frame: int = -1
    first_time: Fraction = Fraction(0)
    last_frame: int = -1
    last_time: Fraction = Fraction(0)
    slot_end: Fraction | None = None
    n_frames: int = 0
    n_detections: int = 0
    sizes: list[float] = field(default_factory=list)
    weight: float = 0.0
    weighted_p_male: float = 0.0
    weighted_age: float = 0.0

    def see(self, frame: int, time: Fraction, detected: bool, size: float) -> None:
        """The face is reported on this analysed frame."""
        if self.n_frames == 0:
            self.first_frame, self.first_time = frame, time
        self.last_frame, self.last_time = frame, time
        self.n_frames += 1
        self.n_detections += int(detected)
        self.sizes.append(float(size))

    def add_predictions(self, weights: NDArray[np.float64], p_male: NDArray[np.float64], age: NDArray[np.float64]) -> None:
        """Classified rows of this track, with their weights."""
        self.weight += float(np.sum(weights))
        self.weighted_p_male += float(np.dot(weights, p_male))
        self.weighted_age += float(np.dot(weights, age))

    def averages(self) -> dict[str, Any]:
        """The smoothed columns (:data:`AVERAGE_COLUMNS` and ``sex_prob_male_avg``)."""
        return averages_of(self.weight, self.weighted_p_male, self.weighted_age)

    def summary(self) -> dict[str, Any]:
        """The track's row in the table of tracks (:data:`TRACK_COLUMNS`)."""
        end = self.slot_end if self.slot_end is not None else self.last_time
        return {
            "face_id": int(self.face_id),
            "first_frame": int(self.first_frame),
            "last_frame": int(self.last_frame),
            "start_s": float(self.first_time),
            "end_s": float(self.last_time),
            "duration_s": float(end - self.first_time),
            "n_frames": int(self.n_frames),
            "n_detections": int(self.n_detections),
            **self.averages(),
            "median_face_size": float(np.median(self.sizes)) if self.sizes else float("nan"),
        }


def add_predictions(stats: dict[int, TrackStats], faces: Detections, weights: NDArray[np.float64]) -> None:
    """Add the classified faces of one frame to their tracks' statistics."""
    if not len(faces):
        return
    ids = np.asarray(faces.data["face_id"])
    p_male = _p_male(faces)
    age = np.asarray(faces.data["age_label"], dtype=np.float64)
    for face_id in np.unique(ids):
        rows = ids == face_id
        stats[int(face_id)].add_predictions(weights[rows], p_male[rows], age[rows])

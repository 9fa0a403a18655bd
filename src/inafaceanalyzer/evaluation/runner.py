"""Run the pipeline over a labelled set: one row of predictions per labelled face.

Two modes:

- ``full``: the whole pipeline (detection, alignment, classification) on
  each image, as ``ina_face_analyzer.py --engine image`` runs it; the
  labelled face is the detected face whose box centre is nearest the
  image's centre (FairFace images are centred on the labelled face). An
  image where no face is found is a detection failure.
- ``crops``: each image is a face crop, classified whole without detection,
  as the ``preprocessed_image`` engine does (for sets of already cropped
  faces, such as UTKFace's aligned 64x64 crops).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..detections import Detections
from ..errors import MediaError
from ..io import load_image
from ..pipeline.analyzer import FaceAnalyzer
from ..pipeline.prefetch import prefetch
from .dataset import LabelledSet

__all__ = ["MODES", "Mode", "PREDICTION_COLUMNS", "SetPredictions", "predict_set", "central_face"]

log = logging.getLogger(__name__)

Mode = Literal["full", "crops"]
MODES: tuple[str, ...] = ("full", "crops")

PREDICTION_COLUMNS: tuple[str, ...] = (
    "detected",
    "faces_found",
    "bbox",
    "face_size",
    "detect_conf",
    "sex_label",
    "sex_prob_male",
    "sex_decfunc",
    "age_label",
    "age_std",
    "reliable",
    "error",
)
"""Prediction columns added to each labelled face (``error``: why an image could not be read)."""


@dataclass(frozen=True)
class SetPredictions:
    """The labelled faces with their predictions, and how long the run took.

    Attributes:
        faces: the set's rows with :data:`PREDICTION_COLUMNS` added.
        seconds: wall-clock time of the run (decoding included).
        faces_classified: faces that went through the classifier (every
            detected face in ``full`` mode, not only the labelled one).
    """

    faces: pd.DataFrame
    seconds: float
    faces_classified: int


def central_face(faces: Detections, height: int, width: int) -> int | None:
    """Index of the face whose raw box centre is nearest the image centre (``None`` if no face)."""
    if len(faces) == 0:
        return None
    raw = faces.data.get("raw_xyxy", faces.xyxy)
    centres = (raw[:, :2] + raw[:, 2:]) / 2
    distance = np.hypot(centres[:, 0] - width / 2, centres[:, 1] - height / 2)
    return int(np.argmin(distance))


def _images(paths: list[str], failures: dict[int, str]) -> Iterator[tuple[int, NDArray[np.uint8]]]:
    for index, path in enumerate(paths):
        try:
            yield index, load_image(path)
        except MediaError as error:
            failures[index] = str(error)


def _row(faces: Detections, chosen: int | None) -> dict[str, object]:
    if chosen is None:
        return {"detected": False, "faces_found": len(faces), "reliable": False}
    raw = faces.data.get("raw_xyxy", faces.xyxy)[chosen]
    conf = faces.confidence[chosen]
    data = faces.data
    return {
        "detected": True,
        "faces_found": len(faces),
        "bbox": "(" + ", ".join(f"{v:.0f}" for v in faces.xyxy[chosen]) + ")",
        "face_size": float(max(raw[2] - raw[0], raw[3] - raw[1])),
        "detect_conf": None if np.isnan(conf) else float(conf),
        "sex_label": str(data["sex_label"][chosen]),
        "sex_prob_male": float(data["sex_prob_male"][chosen]),
        "sex_decfunc": float(data["sex_decfunc"][chosen]),
        "age_label": float(data["age_label"][chosen]),
        "age_std": float(data["age_std"][chosen]) if "age_std" in data else float("nan"),
        "reliable": bool(data["reliable"][chosen]) if "reliable" in data else True,
    }


def predict_set(
    dataset: LabelledSet,
    analyzer: FaceAnalyzer,
    mode: Mode = "full",
    progress: bool = False,
) -> SetPredictions:
    """Predictions for every face of ``dataset`` (see the module's modes)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    paths = dataset.image_paths()
    failures: dict[int, str] = {}
    rows: dict[int, dict[str, object]] = {}
    classified = 0
    started = time.perf_counter()
    loaded = prefetch(_images(paths, failures), maxsize=16, name="evaluation-images")
    shapes: dict[int, tuple[int, int]] = {}

    def remember(items: Iterator[tuple[int, NDArray[np.uint8]]]) -> Iterator[tuple[int, NDArray[np.uint8]]]:
        for index, image in items:
            shapes[index] = image.shape[:2]
            yield index, image

    stream = analyzer.analyze_stream(remember(loaded), detect=mode == "full")
    if progress:
        from tqdm import tqdm

        stream = tqdm(stream, total=len(paths), desc=dataset.name, unit="image")
    for index, faces in stream:
        classified += len(faces)
        height, width = shapes.pop(index)
        chosen = central_face(faces, height, width) if mode == "full" else (0 if len(faces) else None)
        rows[index] = _row(faces, chosen)
    seconds = time.perf_counter() - started
    for index, reason in failures.items():
        log.warning("%s: %s", paths[index], reason)
        rows[index] = {"detected": False, "faces_found": 0, "reliable": False, "error": reason}
    predictions = pd.DataFrame.from_dict(rows, orient="index").reindex(range(len(paths)))
    predictions = predictions.reindex(columns=list(PREDICTION_COLUMNS))
    predictions["detected"] = predictions["detected"].fillna(False).astype(bool)
    predictions["reliable"] = predictions["reliable"].fillna(False).astype(bool)
    predictions["faces_found"] = predictions["faces_found"].fillna(0).astype(int)
    faces = pd.concat([dataset.faces.reset_index(drop=True), predictions], axis=1)
    return SetPredictions(faces, seconds, classified)

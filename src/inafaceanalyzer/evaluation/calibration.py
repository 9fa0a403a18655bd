"""Fit the gender calibration shipped in ``models/cydral_calibration.json``.

Only data whose licence allows it is used: the adults (20 and over) of
``fairface540`` (FairFace, CC BY 4.0). Each face is taken at its own size
and downscaled so that its detector box is 16, 20, 24, 30, 40 and 60 pixels,
so that the fit sees the resolutions of broadcast footage. For each
test-time augmentation mode, a logistic regression on ``(L, z, L * z)``
(see :func:`~inafaceanalyzer.classification.cydral.calibrated_prob_male`)
is fitted by Newton's method; its accuracy is measured by 10-fold
cross-validation grouped by image (all sizes of a face in the same fold), so
the numbers are those of faces the fit did not see.

``python -m inafaceanalyzer.evaluation.calibration ../shared/eval/fairface540 out.json``
rewrites the file; its sha256 must then be updated in ``models/registry.json``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ..alignment.chips import ChipExtractor, chip_side_px
from ..classification.cydral import MASTER_PADDING, MASTER_SIZE, TTA_MODES, CydralGenderAge
from ..detection import create_detector
from ..detection.base import FaceDetector
from ..io import load_image
from ..options import AnalysisOptions
from .dataset import load_labelled_set
from .runner import central_face

__all__ = ["FIT_SIZES", "central_faces", "collect", "face_at_size", "fit_logistic", "fit_calibration", "main"]

log = logging.getLogger(__name__)

#: detector-box sizes (pixels) each face is also seen at; 0: its own size
FIT_SIZES: tuple[int, ...] = (0, 16, 20, 24, 30, 40, 60)



def central_faces(
    paths: Iterable[str | Path], detector: FaceDetector
) -> Iterator[tuple[int, NDArray[np.uint8], NDArray[np.float64]]]:
    """Each labelled image's index, pixels and the detector's raw box of its central face.

    An image where no face is found is logged and skipped (its index is not
    yielded), as every fit on a labelled set does.
    """
    for index, path in enumerate(paths):
        image = load_image(path)
        faces = detector(image)
        chosen = central_face(faces, *image.shape[:2])
        if chosen is None:
            log.warning("%s: no face found", path)
            continue
        yield index, image, faces.data["raw_xyxy"][chosen]


def face_at_size(image: NDArray[np.uint8], raw: NDArray[np.float64], size: float) -> tuple[NDArray[np.uint8], float]:
    """``image`` shrunk so that the face of detector box ``raw`` has a longer side of ``size`` pixels, and the factor.

    The box in the shrunk image is ``raw * factor``. ``size`` 0, or a face
    already that small, leaves the image as it is (factor 1). Bilinear, with
    Pillow's reducing gap 2, as detections of small faces see them.
    """
    longest = max(raw[2] - raw[0], raw[3] - raw[1])
    factor = 1.0 if size == 0 else min(1.0, size / longest)
    if factor >= 1.0:
        return image, factor
    width = max(8, round(image.shape[1] * factor))
    height = max(8, round(image.shape[0] * factor))
    scaled = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0))
    return scaled, width / image.shape[1]

def _features(logodds: NDArray[np.float64], side: NDArray[np.float64]) -> NDArray[np.float64]:
    z = np.clip(np.log2(np.maximum(side, 1e-6) / 64.0), -2.5, 0.0)
    return np.column_stack([logodds, z, logodds * z, np.ones_like(z)])


def fit_logistic(x: NDArray[np.float64], y: NDArray[np.float64], ridge: float = 1e-2) -> NDArray[np.float64]:
    """Weights of a logistic regression (last column of ``x``: the intercept), by Newton's method."""
    w = np.zeros(x.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + ridge * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + ridge * np.eye(len(w))
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def collect(root: str | Path, threads: int | None = None) -> dict[str, NDArray]:
    """Per face and size: image index, label, chip side and mean log-odds of each TTA mode."""
    dataset = load_labelled_set(root, min_age=20)
    options = AnalysisOptions(engine="image", min_face_size_px=0, threads=threads, device="cpu")
    detector = create_detector(options)
    classifier = CydralGenderAge(threads=threads, device="cpu", tta="full")
    extractor = ChipExtractor((MASTER_SIZE,), MASTER_PADDING)
    rows: dict[str, list] = {"image": [], "male": [], "size": [], "side": [], **{m: [] for m in TTA_MODES}}
    for index, image, raw in central_faces(dataset.image_paths(), detector):
        for size in FIT_SIZES:
            scaled, factor = face_at_size(image, raw, size)
            chips = extractor(scaled, raw[None, :] * factor)
            gender, _ = classifier.probabilities(chips)
            p = np.clip(gender[0, :, 1], 1e-13, 1 - 1e-13)
            logodds = np.log(p) - np.log1p(-p)
            rows["image"].append(index)
            rows["male"].append(dataset.faces["gender"].iloc[index] == "m")
            rows["size"].append(size)
            rows["side"].append(chip_side_px(chips.landmarks)[0])
            # views are ordered (scale 1, mirrored, scale 0.93, mirrored, 1.07, mirrored)
            rows["none"].append(logodds[0])
            rows["flip"].append(logodds[:2].mean())
            rows["full"].append(logodds.mean())
    return {key: np.asarray(values) for key, values in rows.items()}


def fit_calibration(data: dict[str, NDArray], folds: int = 10) -> tuple[dict, dict]:
    """Coefficients per TTA mode, and grouped cross-validated accuracy per mode and size (raw and calibrated)."""
    coefficients, accuracy = {}, {}
    y = data["male"].astype(np.float64)
    fold_of_image = {image: k % folds for k, image in enumerate(np.unique(data["image"]))}
    fold = np.array([fold_of_image[i] for i in data["image"]])
    for mode in TTA_MODES:
        x = _features(data[mode], data["side"])
        w = fit_logistic(x, y)
        coefficients[mode] = {
            "logit": round(float(w[0]), 4),
            "size": round(float(w[1]), 4),
            "logit_x_size": round(float(w[2]), 4),
            "intercept": round(float(w[3]), 4),
        }
        predicted = np.empty(len(y))
        for k in range(folds):
            test = fold == k
            predicted[test] = x[test] @ fit_logistic(x[~test], y[~test])
        accuracy[mode] = {
            int(size): {
                "raw": float(np.mean((data[mode][data["size"] == size] > 0) == (y[data["size"] == size] > 0))),
                "calibrated_cv": float(np.mean((predicted[data["size"] == size] > 0) == (y[data["size"] == size] > 0))),
            }
            for size in FIT_SIZES
        }
    return coefficients, accuracy


def main(argv: list[str] | None = None) -> int:
    """``python -m inafaceanalyzer.evaluation.calibration FAIRFACE_DIR OUT.json``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO)
    data = collect(args[0])
    coefficients, accuracy = fit_calibration(data)
    document = {
        "description": (
            "Calibration of the Cydral gender network's output, by test-time augmentation mode: "
            "sex_decfunc = logit * L + z * (size + logit_x_size * L) + intercept, with L the mean log-odds "
            "of the views and z = clip(log2(chip side / 64), -2.5, 0). See "
            "inafaceanalyzer.classification.cydral and inafaceanalyzer.evaluation.calibration."
        ),
        "fitted_on": (
            f"fairface540: its {len(np.unique(data['image']))} adults (20 years and over), each at its own size "
            "and downscaled to LibFaceDetection boxes of 16, 20, 24, 30, 40 and 60 pixels "
            f"({len(data['image'])} faces). FairFace, CC BY 4.0, Karkkainen and Joo (2021). "
            "No UTKFace image was used."
        ),
        "cross_validation": {"folds": 10, "grouped_by": "image", "accuracy": accuracy},
        "gender": coefficients,
    }
    Path(args[1]).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    for mode, sizes in accuracy.items():
        log.info("%s: %s", mode, {s: (round(v["raw"], 3), round(v["calibrated_cv"], 3)) for s, v in sizes.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fit the fused gender and age decision of ``FusedGenderAge`` on fairface540, with grouped 10-fold CV.

Only fairface540 (FairFace, CC BY 4.0) is used: all 540 faces (children
included), each at its own size and downscaled so that its detector box is
:data:`SIZES` pixels (the resolutions of broadcast footage). Detection and
alignment are the pipeline's (LibFaceDetection, the labelled face being the
one nearest the image centre); the features are those the classifier
computes (:meth:`FusedGenderAge.features`), so the fit sees exactly what the
shipped classifier sees.

* Gender: a ridge logistic regression on :func:`gender_design` (Newton's
  method, :func:`~inafaceanalyzer.evaluation.calibration.fit_logistic`).
* Age: the weight of the HSE distribution in the mixture, on a grid of 0.05,
  minimising the mean absolute error against the bucket centres of the
  adults (20 and over).

Every figure printed and written is cross-validated: 10 folds grouped by
image (all sizes of a face in one fold), out-of-fold predictions. Writes:

* ``src/inafaceanalyzer/models/fused_gender_age.json`` (the parameters,
  fitted on all the faces, with the CV figures); when ``--out`` holds a
  ``registry.json`` that lists the two files (the package's ``models/``),
  their sha256 and size are updated there;
* ``src/inafaceanalyzer/models/FusedGenderAge.error_rates.json`` (counts
  of the out-of-fold decisions by predicted age band and face size band;
  format of ``/work/prompts/error_rates_format.md``).

Usage::

    python tools/fit_fused.py ../shared/eval/fairface540 [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
from pathlib import Path

import numpy as np

from inafaceanalyzer.alignment.chips import ChipExtractor
from inafaceanalyzer.classification import fused
from inafaceanalyzer.classification.fused import FusedGenderAge, gender_design, mixed_age
from inafaceanalyzer.classification.hse import MODELS as HSE_MODELS
from inafaceanalyzer.detection import create_detector
from inafaceanalyzer.evaluation.calibration import central_faces, face_at_size, fit_logistic
from inafaceanalyzer.evaluation.dataset import AGE_BUCKETS, load_labelled_set
from inafaceanalyzer.options import AnalysisOptions

log = logging.getLogger("fit_fused")

#: detector-box sizes (pixels) each face is also seen at; 0: its own size
SIZES = (0, 20, 30, 45, 80)
FOLDS = 10
RIDGE = 0.3
#: edges of the error-rates file's bands (predicted age in years; detector box longer side in pixels)
AGE_BANDS = (0, 20, 35, 50, 65)
SIZE_BANDS = (0, 60, 120)
_KEYS = ("hse_logodds", "cydral_logodds", "hse_age", "hse_age_sq", "cydral_age", "cydral_age_sq",
         "unit_embedding", "size")


def collect(root: str, threads: int | None = None, hse_model: str | None = None) -> dict[str, np.ndarray]:
    """Features of every face and size, with the image index, labels and detector box size."""
    dataset = load_labelled_set(root)
    options = AnalysisOptions(engine="image", min_face_size_px=0, threads=threads, device="cpu")
    detector = create_detector(options)
    classifier = FusedGenderAge(threads=threads, device="cpu", hse_model=hse_model)
    extractor = ChipExtractor(
        classifier.chip_sizes, classifier.chip_padding, classifier.chip_paddings, classifier.chip_mirror_edges
    )
    rows: dict[str, list] = {key: [] for key in (*_KEYS, "image", "male", "age_ref", "adult", "bucket", "size_px", "scale")}
    for index, image, raw in central_faces(dataset.image_paths(), detector):
        longest = max(raw[2] - raw[0], raw[3] - raw[1])
        label = dataset.faces.iloc[index]
        for size in SIZES:
            scaled, factor = face_at_size(image, raw, size)
            features = classifier.features(extractor(scaled, raw[None, :] * factor))
            for key in _KEYS:
                rows[key].append(features[key][0])
            rows["image"].append(index)
            rows["male"].append(label["gender"] == "m")
            rows["age_ref"].append(label["age_ref"])
            rows["adult"].append(label["age_low"] >= 20)
            rows["bucket"].append(label["age_bucket"])
            rows["size_px"].append(longest * factor)
            rows["scale"].append(size)
        if index % 50 == 0:
            log.info("%d / %d images", index, len(dataset))
    return {key: np.asarray(values) for key, values in rows.items()}


def _fold(data: dict[str, np.ndarray]) -> np.ndarray:
    fold_of_image = {image: k % FOLDS for k, image in enumerate(np.unique(data["image"]))}
    return np.array([fold_of_image[i] for i in data["image"]])


def _fit_age_weight(data: dict[str, np.ndarray], mask: np.ndarray) -> float:
    grid = np.round(np.arange(0.0, 1.0001, 0.05), 2)
    errors = [np.abs(mixed_age(_subset(data, mask), w)[0] - data["age_ref"][mask]).mean() for w in grid]
    return float(grid[int(np.argmin(errors))])


def _subset(data: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {key: values[mask] for key, values in data.items()}


def cross_validate(data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold gender scores and ages."""
    x = gender_design(data)
    y = data["male"].astype(np.float64)
    fold = _fold(data)
    score = np.empty(len(y))
    age = np.empty(len(y))
    for k in range(FOLDS):
        test = fold == k
        score[test] = x[test] @ fit_logistic(x[~test], y[~test], RIDGE)
        weight = _fit_age_weight(data, ~test & data["adult"])
        age[test] = mixed_age(_subset(data, test), weight)[0]
    return score, age


def summary(data: dict[str, np.ndarray], score: np.ndarray, age: np.ndarray, mask: np.ndarray) -> dict:
    """Cross-validated figures of the faces in ``mask``."""
    ok = (score > 0) == data["male"]
    women = ~data["male"]
    adult = data["adult"]
    old = np.isin(data["bucket"], ["50-59", "60-69", "70+"])
    error = age - data["age_ref"]
    out = {
        "faces": int(mask.sum()),
        "gender_accuracy_all": round(float(ok[mask].mean()) * 100, 1),
        "gender_accuracy_adults": round(float(ok[mask & adult].mean()) * 100, 1),
        "women_adults": round(float(ok[mask & adult & women].mean()) * 100, 1),
        "men_adults": round(float(ok[mask & adult & ~women].mean()) * 100, 1),
        "women_over_50": round(float(ok[mask & old & women].mean()) * 100, 1),
        "age_mae_adults": round(float(np.abs(error[mask & adult]).mean()), 2),
        "age_mean_error_adults": round(float(error[mask & adult].mean()), 2),
        "by_bucket": {},
    }
    for bucket in AGE_BUCKETS:
        cell = mask & (data["bucket"] == bucket.label)
        out["by_bucket"][bucket.label] = {
            "women": round(float(ok[cell & women].mean()) * 100, 1),
            "men": round(float(ok[cell & ~women].mean()) * 100, 1),
        }
    return out


def error_rates(data: dict[str, np.ndarray], score: np.ndarray, age: np.ndarray) -> dict:
    """The error-rates document of the out-of-fold decisions."""
    age_band = np.searchsorted(AGE_BANDS, age, side="right") - 1
    size_band = np.searchsorted(SIZE_BANDS, data["size_px"], side="right") - 1
    male = data["male"]
    said_male = score > 0
    cells = []
    for a in range(len(AGE_BANDS)):
        for s in range(len(SIZE_BANDS)):
            cell = (age_band == a) & (size_band == s)
            cells.append({
                "age_band": a, "size_band": s,
                "n_female": int((cell & ~male).sum()), "female_as_female": int((cell & ~male & ~said_male).sum()),
                "n_male": int((cell & male).sum()), "male_as_male": int((cell & male & said_male).sum()),
            })
    return {
        "classifier": FusedGenderAge.name,
        "dataset": "fairface540",
        "method": (
            f"{FOLDS}-fold cross-validation grouped by image; out-of-fold predictions of the shipped decision "
            f"(tools/fit_fused.py); each face at its own size and downscaled to detector boxes of "
            f"{', '.join(str(s) for s in SIZES if s)} pixels ({len(score)} faces of {len(np.unique(data['image']))} images)"
        ),
        "threshold": "sex_decfunc > 0 is male",
        "age_bands": list(AGE_BANDS),
        "size_bands": list(SIZE_BANDS),
        "cells": cells,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fairface", help="the fairface540 folder")
    parser.add_argument("--out", type=Path, default=Path(fused.__file__).parents[1] / "models",
                        help="folder of the two JSON files (default: the package's models/)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--hse_model", choices=sorted(HSE_MODELS.values()), default=HSE_MODELS["fp32"],
                        help="the HSE network file the decision is fitted on (and that the classifier then runs)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="an .npz of the collected features: read if it exists, else written")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.cache is not None and args.cache.is_file():
        with np.load(args.cache) as cached:
            data = {key: cached[key] for key in cached.files}
    else:
        data = collect(args.fairface, args.threads, args.hse_model)
        if args.cache is not None:
            np.savez(args.cache, **data)
    score, age = cross_validate(data)
    own = data["scale"] == 0
    figures = {"own_size": summary(data, score, age, own)}
    for size in SIZES[1:]:
        figures[f"box_{size}px"] = summary(data, score, age, data["scale"] == size)
    weights = fit_logistic(gender_design(data), data["male"].astype(np.float64), RIDGE)
    document = {
        "description": (
            "Fused gender decision and age mixture of FusedGenderAge (inafaceanalyzer.classification.fused): "
            "sex_decfunc = weights . [E/|E| (1024 values), HSE log-odds, Cydral log-odds, "
            "max(0, 20 - age0) / 10, max(0, age0 - 45) / 10, clip(log2(chip side / 64), -2.5, 0), 1], "
            "age0 the mean of the two networks' ages; age = hse_weight * HSE age distribution + "
            "(1 - hse_weight) * Cydral's."
        ),
        "fitted_on": (
            f"fairface540: {len(np.unique(data['image']))} faces, each at its own size and downscaled to "
            f"LibFaceDetection boxes of {', '.join(str(s) for s in SIZES if s)} pixels ({len(score)} faces). "
            "FairFace, CC BY 4.0, Karkkainen and Joo (2021). No UTKFace image was used. tools/fit_fused.py."
        ),
        "cross_validation": {"folds": FOLDS, "grouped_by": "image", "ridge": RIDGE, "figures": figures},
        "hse_model": args.hse_model,
        "gender": {"weights": [round(float(w), 6) for w in weights]},
        "age": {"hse_weight": _fit_age_weight(data, data["adult"])},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / fused.PARAMETERS_FILE
    target.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    rates = args.out / f"{FusedGenderAge.name}.error_rates.json"
    rates.write_text(json.dumps(error_rates(data, score, age), indent=1) + "\n", encoding="utf-8")
    registry_path = args.out / "registry.json"
    registry = json.loads(registry_path.read_text(encoding="utf-8")) if registry_path.is_file() else None
    for path in (target, rates):
        data_bytes = path.read_bytes()
        digest = hashlib.sha256(data_bytes).hexdigest()
        print(f"{path}: {len(data_bytes)} bytes, sha256 {digest}")
        if registry is not None and path.name in registry:  # the package's models/: keep its registry in step
            registry[path.name].update(sha256=digest, bytes=len(data_bytes))
    if registry is not None:
        registry_path.write_text(json.dumps(registry, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

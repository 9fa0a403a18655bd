"""Measure a classifier's gender error rates on fairface540 and write ``<Classifier>.error_rates.json``.

The file (format: docs/statistics.md, "Error rates") holds, per predicted age
band and face-size band, how many labelled women were called women and how
many men were called men, so that :mod:`inafaceanalyzer.stats.correction`
can correct observed shares (Rogan-Gladen) and carry the rates' uncertainty.
Unreliable faces are left out (the statistics never count them either).

Two methods:

- default: the project's evaluation pipeline in ``full`` mode (detection,
  alignment, classification; the shipped decision ``sex_decfunc > 0`` is
  male) on every labelled face at its own size. In-sample for Cydral, whose
  gender calibration was fitted on FairFace's adults.
- ``--cross_validate`` (CydralGenderAge): each face is also downscaled so that
  its detector box is 90 and 45 pixels (as
  :mod:`inafaceanalyzer.evaluation.calibration` does), which fills the
  size bands; the calibration is refitted 10 times on the adults of 9 folds
  (grouped by image) and each face is decided by the fit that did not see it.

Usage (reproducible: no randomness)::

    python tools/fit_error_rates.py --dataset /work/shared/eval/fairface540 --cross_validate \\
        -o src/inafaceanalyzer/models/CydralGenderAge.error_rates.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

AGE_BANDS = [0, 20, 35, 50, 65]
SIZE_BANDS = [0, 60, 120]


def count_cells(faces: pd.DataFrame, age_bands=AGE_BANDS, size_bands=SIZE_BANDS) -> list[dict]:
    """Counts per (predicted age band, face-size band) cell from labelled predictions."""
    kept = faces[faces["detected"].astype(bool) & faces["reliable"].astype(bool)]
    age = np.searchsorted(age_bands, kept["age_label"].to_numpy(float), side="right") - 1
    size = np.searchsorted(size_bands, kept["face_size"].to_numpy(float), side="right") - 1
    truth = kept["gender"].to_numpy()
    called = kept["sex_label"].to_numpy()
    cells = []
    for a in range(len(age_bands)):
        for s in range(len(size_bands)):
            inside = (age == a) & (size == s)
            women = inside & (truth == "f")
            men = inside & (truth == "m")
            cells.append({
                "age_band": a, "size_band": s,
                "n_female": int(women.sum()), "female_as_female": int((women & (called == "f")).sum()),
                "n_male": int(men.sum()), "male_as_male": int((men & (called == "m")).sum()),
            })
    return cells


#: detector-box sizes (pixels) each face is also seen at with --cross_validate; 0: its own size
CV_SIZES = (0, 90, 45)


def cross_validated_faces(root: str, folds: int = 10, threads: int | None = None) -> pd.DataFrame:
    """Per labelled face and size: predicted age, box size, reliability, and the out-of-fold decision."""
    from inafaceanalyzer.alignment.chips import ChipExtractor, chip_side_px
    from inafaceanalyzer.classification.cydral import MASTER_PADDING, MASTER_SIZE, CydralGenderAge
    from inafaceanalyzer.detection import create_detector
    from inafaceanalyzer.evaluation import load_labelled_set
    from inafaceanalyzer.evaluation.calibration import (  # the shipped fit's features
        _features,
        central_faces,
        face_at_size,
        fit_logistic,
    )
    from inafaceanalyzer.options import AnalysisOptions

    dataset = load_labelled_set(root)
    options = AnalysisOptions(engine="image", min_face_size_px=0, threads=threads, device="cpu",
                              classifier="CydralGenderAge")  # its own views (tta auto = full), not the default's
    detector = create_detector(options)
    classifier = CydralGenderAge(threads=threads, device="cpu", tta=options.effective_tta)
    extractor = ChipExtractor((MASTER_SIZE,), MASTER_PADDING)
    rows = []
    for index, image, raw in central_faces(dataset.image_paths(), detector):
        longest = max(raw[2] - raw[0], raw[3] - raw[1])
        for size in CV_SIZES:
            scaled, factor = face_at_size(image, raw, size)
            chips = extractor(scaled, raw[None, :] * factor)
            predicted = classifier.predict(chips)
            gender, _ = classifier.probabilities(chips)
            p = np.clip(gender[0, :, 1], 1e-13, 1 - 1e-13)
            rows.append({
                "image": index, "size": size, "gender": dataset.faces["gender"].iloc[index],
                "adult": str(dataset.faces["age"].iloc[index]) not in ("0-2", "3-9", "10-19"),
                "face_size": float(longest * factor), "age_label": float(predicted["age_label"][0]),
                "reliable": bool(predicted["reliable"][0]), "detected": True,
                "logodds": float((np.log(p) - np.log1p(-p)).mean()), "side": float(chip_side_px(chips.landmarks)[0]),
                "shipped": str(predicted["sex_label"][0]),
            })
    faces = pd.DataFrame(rows)
    x = _features(faces["logodds"].to_numpy(), faces["side"].to_numpy())
    y = (faces["gender"] == "m").to_numpy(np.float64)
    fold = faces["image"].to_numpy() % folds
    adult = faces["adult"].to_numpy(bool)
    score = np.empty(len(faces))
    for k in range(folds):
        test = fold == k
        fit = fit_logistic(x[~test & adult], y[~test & adult])  # as the shipped calibration: adults only
        score[test] = x[test] @ fit
    faces["sex_label"] = np.where(score > 0, "m", "f")
    return faces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="labelled set folder (fairface540)")
    parser.add_argument("-o", "--output", required=True, help="the JSON file to write")
    parser.add_argument("--classifier", default="CydralGenderAge")
    parser.add_argument("--predictions", help="also write (or, if it exists, reuse) the per-face predictions CSV")
    parser.add_argument("--cross_validate", action="store_true",
                        help="CydralGenderAge: out-of-fold decisions of the refitted calibration, at three face sizes")
    args = parser.parse_args(argv)

    from inafaceanalyzer.evaluation import load_labelled_set, predict_set
    from inafaceanalyzer.options import AnalysisOptions
    from inafaceanalyzer.pipeline.analyzer import FaceAnalyzer

    dataset = load_labelled_set(args.dataset)
    if args.predictions and Path(args.predictions).is_file():
        faces = pd.read_csv(args.predictions)
    elif args.cross_validate:
        faces = cross_validated_faces(args.dataset)
        if args.predictions:
            faces.to_csv(args.predictions, index=False)
    else:
        options = AnalysisOptions(engine="image", classifier=args.classifier)
        faces = predict_set(dataset, FaceAnalyzer(options), mode="full").faces
        if args.predictions:
            faces.to_csv(args.predictions, index=False)
    cells = count_cells(faces)
    if args.cross_validate:
        method = (
            "10-fold cross-validation grouped by image: each face at its own size and downscaled to detector "
            f"boxes of {CV_SIZES[1]} and {CV_SIZES[2]} pixels; the gender calibration (features of "
            "models/cydral_calibration.json) refitted on the adults of 9 folds, each face decided by the fit "
            "that did not see it (children were never in the calibration's fit). Reliable faces only"
        )
    else:
        method = (
            "in-sample: predictions of the shipped decision on every reliable detected face of the set "
            "(evaluation pipeline, full mode). The classifier's gender calibration was fitted on FairFace "
            "(models/cydral_calibration.json), so these rates are in-sample and likely optimistic; "
            "the networks themselves were not trained on fairface540"
        )
    document = {
        "classifier": args.classifier,
        "dataset": dataset.name,
        "method": method,
        "threshold": "sex_decfunc > 0 is male",
        "age_bands": AGE_BANDS,
        "size_bands": SIZE_BANDS,
        "faces": int(sum(c["n_female"] + c["n_male"] for c in cells)),
        "script": "tools/fit_error_rates.py",
        "cells": cells,
    }
    Path(args.output).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.output}: {document['faces']} faces in {len(cells)} cells", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measure a classifier's gender error rates on fairface540 and write ``<Classifier>.error_rates.json``.

The file (format: docs/statistics.md, "Error rates") holds, per predicted age
band and face-size band, how many labelled women were called women and how
many men were called men, so that :mod:`inafaceanalyzer.stats.correction`
can correct observed shares (Rogan-Gladen) and carry the rates' uncertainty.

The predictions are the project's evaluation pipeline in ``full`` mode
(detection, alignment, classification, the shipped decision ``sex_decfunc > 0``
is male) on every labelled face. Unreliable faces are left out (the statistics
never count them either).

Usage (reproducible: no randomness, the same predictions give the same file)::

    python tools/fit_error_rates.py --dataset /work/shared/eval/fairface540 \\
        -o src/inafaceanalyzer/models/CydralGenderAge.error_rates.json [--predictions preds.csv]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="labelled set folder (fairface540)")
    parser.add_argument("-o", "--output", required=True, help="the JSON file to write")
    parser.add_argument("--classifier", default="CydralGenderAge")
    parser.add_argument("--predictions", help="also write (or, if it exists, reuse) the per-face predictions CSV")
    args = parser.parse_args(argv)

    from inafaceanalyzer.evaluation import load_labelled_set, predict_set
    from inafaceanalyzer.options import AnalysisOptions
    from inafaceanalyzer.pipeline.analyzer import FaceAnalyzer

    dataset = load_labelled_set(args.dataset)
    if args.predictions and Path(args.predictions).is_file():
        faces = pd.read_csv(args.predictions)
    else:
        options = AnalysisOptions(engine="image", classifier=args.classifier)
        faces = predict_set(dataset, FaceAnalyzer(options), mode="full").faces
        if args.predictions:
            faces.to_csv(args.predictions, index=False)
    cells = count_cells(faces)
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

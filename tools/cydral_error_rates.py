"""Write ``models/CydralGenderAge.error_rates.json``: out-of-fold gender errors of the default classifier.

The shipped gender calibration of ``CydralGenderAge`` (``--tta full``, the
default with detection) is refitted in 10 folds grouped by image, as
:mod:`inafaceanalyzer.evaluation.calibration` fits it (the adults of the
training folds, each face at its own size and downscaled to the sizes of
:data:`~inafaceanalyzer.evaluation.calibration.FIT_SIZES`), and applied to
every face of the held-out fold (children included, who are never fitted on).
The decisions are counted by predicted age band and face size band, in the
format of ``tools/fit_fused.py``'s error-rates file. fairface540 only
(FairFace, CC BY 4.0).

Usage::

    python tools/cydral_error_rates.py ../shared/eval/fairface540 [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from inafaceanalyzer.alignment.chips import ChipExtractor, chip_side_px
from inafaceanalyzer.classification import cydral
from inafaceanalyzer.classification.cydral import MASTER_PADDING, MASTER_SIZE, CydralGenderAge
from inafaceanalyzer.detection import create_detector
from inafaceanalyzer.evaluation.calibration import FIT_SIZES, _features, fit_logistic
from inafaceanalyzer.evaluation.dataset import load_labelled_set
from inafaceanalyzer.evaluation.runner import central_face
from inafaceanalyzer.io import load_image
from inafaceanalyzer.options import AnalysisOptions

sys.path.insert(0, str(Path(__file__).parent))
from fit_fused import FOLDS, error_rates  # noqa: E402

log = logging.getLogger("cydral_error_rates")


def collect(root: str, threads: int | None = None) -> dict[str, np.ndarray]:
    dataset = load_labelled_set(root)
    detector = create_detector(AnalysisOptions(engine="image", min_face_size_px=0, threads=threads, device="cpu"))
    classifier = CydralGenderAge(threads=threads, device="cpu", tta="full")
    extractor = ChipExtractor((MASTER_SIZE,), MASTER_PADDING)
    rows: dict[str, list] = {k: [] for k in ("image", "male", "adult", "logodds", "side", "age", "size_px", "scale")}
    for index, path in enumerate(dataset.image_paths()):
        image = load_image(path)
        faces = detector(image)
        chosen = central_face(faces, *image.shape[:2])
        if chosen is None:
            continue
        raw = faces.data["raw_xyxy"][chosen]
        longest = max(raw[2] - raw[0], raw[3] - raw[1])
        label = dataset.faces.iloc[index]
        for size in FIT_SIZES:
            factor = 1.0 if size == 0 else min(1.0, size / longest)
            scaled = image
            if factor < 1.0:
                width, height = max(8, round(image.shape[1] * factor)), max(8, round(image.shape[0] * factor))
                scaled = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0))
                factor = width / image.shape[1]
            chips = extractor(scaled, raw[None, :] * factor)
            gender, age = classifier.probabilities(chips)
            p = np.clip(gender[0, :, 1], 1e-13, 1 - 1e-13)
            rows["image"].append(index)
            rows["male"].append(label["gender"] == "m")
            rows["adult"].append(label["age_low"] >= 20)
            rows["logodds"].append(float((np.log(p) - np.log1p(-p)).mean()))
            rows["side"].append(chip_side_px(chips.landmarks)[0])
            rows["age"].append(float(age[0].mean(axis=0) @ cydral._AGE_BINS))
            rows["size_px"].append(longest * factor)
            rows["scale"].append(size)
        if index % 100 == 0:
            log.info("%d / %d images", index, len(dataset))
    return {key: np.asarray(values) for key, values in rows.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fairface")
    parser.add_argument("--out", type=Path, default=Path(cydral.__file__).parents[1] / "models")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    data = collect(args.fairface, args.threads)
    x = _features(data["logodds"], data["side"])
    y = data["male"].astype(np.float64)
    fold_of_image = {image: k % FOLDS for k, image in enumerate(np.unique(data["image"]))}
    fold = np.array([fold_of_image[i] for i in data["image"]])
    score = np.empty(len(y))
    for k in range(FOLDS):
        test = fold == k
        train = ~test & data["adult"]
        score[test] = x[test] @ fit_logistic(x[train], y[train])
    document = error_rates(data, score, data["age"])
    document["classifier"] = CydralGenderAge.name
    document["method"] = (
        f"{FOLDS}-fold cross-validation grouped by image; out-of-fold predictions of the shipped decision "
        "(the --tta full gender calibration refitted on the adults of the other folds, "
        "tools/cydral_error_rates.py); each face at its own size and downscaled to detector boxes of "
        f"{', '.join(str(s) for s in FIT_SIZES if s)} pixels ({len(score)} faces of {len(fold_of_image)} images)"
    )
    target = args.out / f"{CydralGenderAge.name}.error_rates.json"
    target.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    own = data["scale"] == 0
    adult = own & data["adult"]
    print(f"{target}: out-of-fold accuracy, own size: adults {100 * np.mean((score[adult] > 0) == data['male'][adult]):.1f}%, "
          f"all {100 * np.mean((score[own] > 0) == data['male'][own]):.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())

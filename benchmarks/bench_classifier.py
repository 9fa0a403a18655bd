"""What test-time augmentation costs, per face, against the single-model pipeline.

Three measures, each repeated and interleaved (the median is kept, so that a
busy machine slows every variant alike):

1. alignment + classification only, on the central faces of fairface540
   (detector boxes found once): the single-model pipeline (dlib chips cut
   straight at 32 and 64 pixels, one network pass, as before this
   classifier) against ``--tta none``, ``flip`` and ``full``;
2. the image engine end to end (decoding, detection, alignment,
   classification) on the same images;
3. the video engine on the crowd clip of ``../shared/media`` (1080p, about
   8 faces per frame), every frame.

Usage: ``python benchmarks/bench_classifier.py [--images 200] [--repeats 3] [--threads 2]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from inafaceanalyzer import AnalysisOptions, FaceAnalyzer, analyze_images, analyze_video
from inafaceanalyzer.alignment.chips import ChipExtractor
from inafaceanalyzer.classification.cydral import CydralGenderAge, to_network_input
from inafaceanalyzer.evaluation import central_face, load_labelled_set
from inafaceanalyzer.io import load_image

SHARED = Path(__file__).resolve().parents[2] / "shared"
FAIRFACE = SHARED / "eval" / "fairface540"
CROWD = SHARED / "media" / "videos" / "facenet-pytorch__video.mp4"
MODES = ("none", "flip", "full")


def single_model(classifier: CydralGenderAge, extractor: ChipExtractor, images, boxes) -> None:
    """The former pipeline: dlib chips at 32 and 64 pixels, one pass of each network."""
    for image, box in zip(images, boxes, strict=True):
        chips = extractor(image, box[None, :])
        classifier._gender.run(None, {"images": to_network_input(chips.chips[32])})
        classifier._age.run(None, {"images": to_network_input(chips.chips[64])})


def stage(analyzer: FaceAnalyzer, images, boxes) -> None:
    for image, box in zip(images, boxes, strict=True):
        analyzer.classifier.predict(analyzer.chips(image, box[None, :]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    dataset = load_labelled_set(FAIRFACE, sample=args.images, seed=0)
    paths = dataset.image_paths()
    images = [load_image(p) for p in paths]
    analyzers = {m: FaceAnalyzer(AnalysisOptions(engine="image", tta=m, threads=args.threads)) for m in MODES}
    boxes = []
    for image in images:
        faces = analyzers["none"].detect(image)
        chosen = central_face(faces, *image.shape[:2])
        boxes.append(faces.data["raw_xyxy"][chosen] if chosen is not None else np.array([0, 0, *image.shape[1::-1]], float))
    legacy = CydralGenderAge(threads=args.threads, device="cpu", tta="none")
    legacy_chips = ChipExtractor((32, 64), 0.2)

    times: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        t = time.perf_counter()
        single_model(legacy, legacy_chips, images, boxes)
        times.setdefault("stage: single model", []).append((time.perf_counter() - t) / len(images))
        for mode in MODES:
            t = time.perf_counter()
            stage(analyzers[mode], images, boxes)
            times.setdefault(f"stage: tta {mode}", []).append((time.perf_counter() - t) / len(images))
        for mode in ("none", "full"):
            t = time.perf_counter()
            table = analyze_images(paths, analyzer=analyzers[mode])
            times.setdefault(f"image engine: tta {mode}", []).append((time.perf_counter() - t) / max(1, len(table)))
        if CROWD.is_file():
            for mode in ("none", "full"):
                options = AnalysisOptions(engine="video", tta=mode, threads=args.threads)
                t = time.perf_counter()
                table = analyze_video(CROWD, options, analyzer=FaceAnalyzer(options, classifier=analyzers[mode].classifier))
                times.setdefault(f"video engine (crowd, 1080p): tta {mode}", []).append(
                    (time.perf_counter() - t) / max(1, len(table))
                )
    med = {name: statistics.median(values) for name, values in times.items()}
    # the engines cannot run the former pipeline any more: its end-to-end time is estimated as the
    # engine's time with tta none, less the extra cost of tta none's chips over the single model's
    extra = med["stage: tta none"] - med["stage: single model"]
    print(f"{'measure':48s} {'ms per face':>12s} {'x single model':>15s}")
    for name, median in med.items():
        group = name.split(":")[0]
        reference = med["stage: single model"] if group == "stage" else med[f"{group}: tta none"] - extra
        print(f"{name:48s} {1000 * median:12.2f} {median / reference:15.2f}")
    for group in sorted({name.split(":")[0] for name in med} - {"stage"}):
        print(f"{group + ': single model (estimated)':48s} {1000 * (med[group + ': tta none'] - extra):12.2f} {1.0:15.2f}")

if __name__ == "__main__":
    main()

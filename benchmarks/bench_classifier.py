"""What test-time augmentation costs, per face, against the single-model pipeline.

Three measures, each repeated and interleaved (the median is kept, so that a
busy machine slows every variant alike):

1. alignment + classification only, on the central faces of fairface540
   (detector boxes found once): the single-model pipeline (dlib chips cut
   straight at 32 and 64 pixels, one network pass, as before this
   classifier) against ``--tta none``, ``flip``, ``full`` and ``adaptive``;
2. the image engine end to end (decoding, detection, alignment,
   classification) on the same images;
3. the video engine on the crowd clip of ``../shared/media`` (1080p, about
   8 faces per frame), every frame.

``--stages`` instead splits the classification of the same faces into its
steps (alignment, resampling of the views, network input, each network,
sharpness and contrast), per face, for each batch size of ``--batches``,
with the sessions' intra-op threads ``--threads``.

``--defaults`` compares the default classifier (``FusedGenderAge``) with the
previous default (``CydralGenderAge``, ``--tta auto``): CPU and wall time per
face of alignment and classification, of the image engine and of the video
engine, interleaved.

Usage: ``python benchmarks/bench_classifier.py [--images 200] [--repeats 3] [--threads 2] [--stages | --defaults]``
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from inafaceanalyzer import AnalysisOptions, FaceAnalyzer, analyze_images, analyze_video
from inafaceanalyzer.alignment.chips import ChipExtractor, FaceChips
from inafaceanalyzer.classification import cydral
from inafaceanalyzer.classification.cydral import CydralGenderAge, to_network_input
from inafaceanalyzer.evaluation import central_face, load_labelled_set
from inafaceanalyzer.io import load_image

SHARED = Path(__file__).resolve().parents[2] / "shared"
FAIRFACE = SHARED / "eval" / "fairface540"
CROWD = SHARED / "media" / "videos" / "facenet-pytorch__video.mp4"
MODES = ("none", "flip", "full", "adaptive")


def single_model(classifier: CydralGenderAge, extractor: ChipExtractor, images, boxes) -> None:
    """The former pipeline: dlib chips at 32 and 64 pixels, one pass of each network."""
    for image, box in zip(images, boxes, strict=True):
        chips = extractor(image, box[None, :])
        classifier._gender.run(None, {"images": to_network_input(chips.chips[32])})
        classifier._age.run(None, {"images": to_network_input(chips.chips[64])})


def stage(analyzer: FaceAnalyzer, images, boxes) -> None:
    for image, box in zip(images, boxes, strict=True):
        analyzer.classifier.predict(analyzer.chips(image, box[None, :]))


def _steps(classifier: CydralGenderAge, master, landmarks, size: int) -> dict:
    """The steps of ``classifier.predict`` on ``master`` chips, ``size`` faces per call, as callables."""
    tta = "none" if classifier.tta == "adaptive" else classifier.tta
    scales, flip = cydral.TTA_MODES[tta]
    views = len(scales) * (2 if flip else 1)
    parts = [slice(start, start + size) for start in range(0, len(master), size)]
    faces = [FaceChips({cydral.MASTER_SIZE: master[p]}, landmarks[p], np.zeros(len(master[p]))) for p in parts]
    resampled = [cydral._scaled_chips(master[p], scales) for p in parts]
    inputs = [{s: cydral._planar_input(c[s], flip) for s in c} for c in resampled]
    greys = [cydral._grey(c[64][:: len(scales)]) for c in resampled]
    steps = {
        "views": lambda: [cydral._scaled_chips(master[p], scales) for p in parts],
        "network input": lambda: [[cydral._planar_input(c[s], flip) for s in c] for c in resampled],
        "gender network": lambda: [classifier._run(classifier._gender, x[32], views) for x in inputs],
        "age network": lambda: [classifier._run(classifier._age, x[64], views) for x in inputs],
        "sharpness+contrast": lambda: [(cydral._sharpness_of(g), cydral._contrast_of(g)) for g in greys],
        "predict": lambda: [classifier.predict(f) for f in faces],
    }
    # adaptive: only the whole is meaningful, the steps would be those of its first pass
    return {"predict": steps["predict"]} if classifier.tta == "adaptive" else steps


def stages(extractor: ChipExtractor, images, boxes, batches: list[int], threads: int, repeats: int) -> None:
    """Print the per-face time of each step of alignment and classification (median of ``repeats``)."""
    chips = []
    started = time.perf_counter()
    for image, box in zip(images, boxes, strict=True):
        chips.append(extractor(image, box[None, :]))
    seconds = (time.perf_counter() - started) / len(images)
    print(f"alignment (landmarks and {cydral.MASTER_SIZE}-pixel chip): {1000 * seconds:.3f} ms per face")
    master = np.concatenate([c.chips[cydral.MASTER_SIZE] for c in chips])
    landmarks = np.concatenate([c.landmarks for c in chips])
    names = ("views", "network input", "gender network", "age network", "sharpness+contrast", "predict")
    print(f"{'tta':9s} {'batch':>5s} " + " ".join(f"{name:>18s}" for name in names) + "   (ms per face)")
    for tta in ("none", "flip", "full", "adaptive"):
        classifier = CydralGenderAge(threads=threads, device="cpu", tta=tta)
        for size in batches:
            classifier.batch_size = size
            steps = _steps(classifier, master, landmarks, size)
            times: dict[str, list[float]] = {name: [] for name in steps}
            for _ in range(repeats):
                for name, run in steps.items():
                    started = time.perf_counter()
                    run()
                    times[name].append((time.perf_counter() - started) / len(master))
            cells = [f"{1000 * statistics.median(times[n]):18.3f}" if n in times else f"{'':18s}" for n in names]
            print(f"{tta:9s} {size:5d} " + " ".join(cells))


def compare_defaults(paths, images, threads: int, repeats: int) -> None:
    """CPU and wall time per face of the previous default (Cydral, ``--tta auto``) and the new one, interleaved.

    Measures: alignment + classification of the central faces, the image
    engine end to end, and the video engine on the crowd clip.
    """
    names = ("CydralGenderAge", "FusedGenderAge")
    analyzers = {name: FaceAnalyzer(AnalysisOptions(engine="image", classifier=name, threads=threads)) for name in names}
    detector = analyzers[names[0]].detector
    boxes = []
    for image in images:
        faces = detector(image)
        chosen = central_face(faces, *image.shape[:2])
        boxes.append(faces.data["raw_xyxy"][chosen] if chosen is not None else np.array([0, 0, *image.shape[1::-1]], float))
    cpu: dict[str, list[float]] = {}
    wall: dict[str, list[float]] = {}

    def timed(key: str, action) -> None:
        c, w = time.process_time(), time.perf_counter()
        count = action()
        cpu.setdefault(key, []).append((time.process_time() - c) / max(1, count))
        wall.setdefault(key, []).append((time.perf_counter() - w) / max(1, count))

    for _ in range(repeats):
        for name in names:
            analyzer = analyzers[name]
            timed(f"alignment+classification: {name}", lambda a=analyzer: (stage(a, images, boxes), len(images))[1])
            timed(f"image engine: {name}", lambda a=analyzer: len(analyze_images(paths, analyzer=a)))
            if CROWD.is_file():
                options = AnalysisOptions(engine="video", classifier=name, threads=threads)
                timed(f"video engine (crowd, 1080p): {name}", lambda o=options, a=analyzer: len(
                    analyze_video(CROWD, o, analyzer=FaceAnalyzer(o, detector=a.detector, classifier=a.classifier))))
    print(f"{'measure':60s} {'CPU ms/face':>12s} {'wall ms/face':>13s} {'CPU x previous':>15s}")
    for key in cpu:
        group = key.split(":")[0]
        reference = statistics.median(cpu[f"{group}: {names[0]}"])
        median = statistics.median(cpu[key])
        print(f"{key:60s} {1000 * median:12.2f} {1000 * statistics.median(wall[key]):13.2f} {median / reference:15.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stages", action="store_true", help="time each step of the classification instead")
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 32, 64, 128], help="with --stages: faces per call")
    parser.add_argument("--defaults", action="store_true",
                        help="compare the default classifier (FusedGenderAge) with the previous one (CydralGenderAge)")
    args = parser.parse_args()

    dataset = load_labelled_set(FAIRFACE, sample=args.images, seed=0)
    paths = dataset.image_paths()
    images = [load_image(p) for p in paths]
    if args.defaults:
        compare_defaults(paths, images, args.threads, args.repeats)
        return
    analyzers = {
        m: FaceAnalyzer(AnalysisOptions(engine="image", classifier="CydralGenderAge", tta=m, threads=args.threads))
        for m in MODES
    }
    boxes = []
    for image in images:
        faces = analyzers["none"].detect(image)
        chosen = central_face(faces, *image.shape[:2])
        boxes.append(faces.data["raw_xyxy"][chosen] if chosen is not None else np.array([0, 0, *image.shape[1::-1]], float))
    if args.stages:
        stages(analyzers["none"].chips, images, boxes, args.batches, args.threads, args.repeats)
        return
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
        for mode in ("none", "full", "adaptive"):
            t = time.perf_counter()
            table = analyze_images(paths, analyzer=analyzers[mode])
            times.setdefault(f"image engine: tta {mode}", []).append((time.perf_counter() - t) / max(1, len(table)))
        if CROWD.is_file():
            for mode in ("none", "full", "adaptive"):
                options = AnalysisOptions(engine="video", classifier="CydralGenderAge", tta=mode, threads=args.threads)
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

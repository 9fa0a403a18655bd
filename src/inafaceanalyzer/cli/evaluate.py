"""``ina_face_evaluate``: accuracy and bias of the predictions on a labelled face set.

Reads a folder with ``labels.csv`` (``path,gender,age,race``; see
:mod:`inafaceanalyzer.evaluation.dataset`), runs the pipeline on its images
and writes into ``-o``: ``predictions.csv``, ``summary.csv``,
``bias_cells.csv``, ``biases.csv``, ``race_gaps.csv`` and ``report.md``.

Exit status: 0 when the report was written, 1 when the set cannot be read,
2 for a usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from collections.abc import Sequence

from ..errors import InaFaceAnalyzerError
from .arguments import add_analysis_arguments, add_logging_arguments, new_parser, options_from_args, setup_logging

__all__ = ["build_parser", "main"]

log = logging.getLogger("inafaceanalyzer")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``ina_face_evaluate``."""
    parser = new_parser(
        "Measure gender and age accuracy, and the gender, race and age biases of the bias table, "
        "on a labelled face set (a folder with labels.csv and its images).",
        prog="ina_face_evaluate",
    )
    group = parser.add_argument_group("evaluation")
    group.add_argument("-d", "--dataset", required=True, metavar="DIR",
                       help="folder holding labels.csv, or a labels CSV file (paths relative to its folder)")
    group.add_argument("-o", "--output", required=True, metavar="DIR",
                       help="folder that receives report.md and the CSV files (created if missing)")
    group.add_argument("--mode", choices=("full", "crops", "tracks"), default="full",
                       help="full: detection, alignment and classification, the labelled face being the one "
                       "nearest the image centre. crops: each image is a face crop, classified whole. "
                       "tracks: each path is a video of one person, analysed with the videotracking engine; "
                       "per-frame and per-track (smoothed) predictions are compared")
    group.add_argument("--min_age", type=float, default=None, help="keep faces at least this old (years)")
    group.add_argument("--max_age", type=float, default=None, help="keep faces at most this old (years)")
    group.add_argument("--sample", type=int, default=None, help="evaluate this many faces drawn at random")
    group.add_argument("--seed", type=int, default=0, help="seed of the random draw")
    add_analysis_arguments(parser)
    add_logging_arguments(parser)
    parser.set_defaults(engine="image")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args)
    args.engine = {"full": "image", "crops": "preprocessed_image", "tracks": "videotracking"}[args.mode]
    if args.mode != "tracks" and args.fps is not None:
        parser.error("--fps only applies to --mode tracks")
    options = options_from_args(parser, args)
    if args.sample is not None and args.sample < 1:
        parser.error("--sample must be at least 1")
    if os.path.exists(args.output) and not os.path.isdir(args.output):
        parser.error(f"-o {args.output}: OUTPUT is a folder (it receives report.md and CSV files), and this is a "
                     "file: give a folder (created if missing)")

    from ..evaluation import evaluate, load_labelled_set

    if args.mode == "tracks":
        return _tracks(args, options)
    try:
        dataset = load_labelled_set(
            args.dataset, min_age=args.min_age, max_age=args.max_age, sample=args.sample, seed=args.seed
        )
        report = evaluate(dataset, mode=args.mode, options=options, progress=not (args.no_progress or args.quiet))
    except InaFaceAnalyzerError as error:
        log.error("%s", error)
        return 1
    command = "ina_face_evaluate " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    report.settings["command"] = command
    for path in report.write(args.output):
        log.info("wrote %s", path)
    summary = report.summary
    for subset in summary.index:
        row = summary.loc[subset]
        log.info(
            "%s: %d faces, gender accuracy %.1f%% (women %.1f%%, men %.1f%%), AUC %.4f, age MAE %.2f years, "
            "%d detection failure(s)",
            subset, row["faces"], row["gender_accuracy"], row["gender_accuracy_f"], row["gender_accuracy_m"],
            row["gender_auc"], row["age_mae"], row["detection_failures"],
        )
    return 0


def _tracks(args: argparse.Namespace, options) -> int:
    from pathlib import Path

    from ..evaluation import load_labelled_set
    from ..evaluation.videos import evaluate_tracks, tracks_markdown
    from ..export.atomic import atomic_path

    try:
        dataset = load_labelled_set(args.dataset, min_age=args.min_age, max_age=args.max_age,
                                    sample=args.sample, seed=args.seed)
        table = evaluate_tracks(dataset, options)
    except InaFaceAnalyzerError as error:
        log.error("%s", error)
        return 1
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    with atomic_path(output / "tracks.csv") as temporary:
        table.to_csv(temporary, index=False, float_format="%.6g")
    settings = {"fps": options.fps, "detect_period": options.detect_period, "tta": options.effective_tta,
                "command": "ina_face_evaluate " + " ".join(shlex.quote(a) for a in sys.argv[1:])}
    with atomic_path(output / "report.md") as temporary:
        temporary.write_text(tracks_markdown(table, dataset.description, settings), encoding="utf-8")
    total = table.iloc[-1]
    log.info("gender accuracy per frame %.1f%%, per track %.1f%% (%d face rows)",
             total["gender_accuracy_frame"], total["gender_accuracy_track"], total["rows"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

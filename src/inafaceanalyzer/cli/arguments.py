"""Command-line arguments of the analysis options, shared by every command.

Each analysis flag maps to a field of :class:`AnalysisOptions`, whose
defaults are the only ones: the parser shows them but does not own them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import fields

from .._version import __version__
from ..errors import OptionsError
from ..options import (
    CLASSIFIERS,
    DEFAULT_DETECTION_CONFIDENCE,
    ENGINES,
    FACE_DETECTORS,
    PRECISIONS,
    TRACKERS,
    TTA_VALUES,
    AnalysisOptions,
)

__all__ = [
    "EPILOG",
    "add_analysis_arguments",
    "add_export_arguments",
    "add_input_list_argument",
    "inputs_from_args",
    "exports_from_args",
    "add_logging_arguments",
    "new_parser",
    "options_from_args",
    "print_failures",
    "print_warnings",
    "setup_logging",
]

EPILOG = f"""inafaceanalyzer {__version__}. If you use it in published research, cite the
version number together with: David Doukhan and Thomas Petit (2022). inaFaceAnalyzer:
a Python toolbox for large-scale face-based description of gender representation in
media with limited gender, racial and age biases."""

_DEFAULTS = {f.name: f.default for f in fields(AnalysisOptions)}


class HelpFormatter(argparse.HelpFormatter):
    """Shows each flag's default once, and only where it means something.

    ``(default: X)`` is added to a flag that takes a value and has a default,
    unless its help already says its default; on/off switches
    (``--no_gender_calibration``) and flags without a default show none: the
    default of ``--no_squarify_bbox`` is that the switch is off, not "True".
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.default in (None, argparse.SUPPRESS)
            or action.nargs == 0  # store_true / store_false / version / help
            or not action.option_strings
        ):
            return text
        return text + " (default: %(default)s)"


def new_parser(description: str, prog: str | None = None) -> argparse.ArgumentParser:
    """A parser with the toolbox's formatting and epilog."""
    return argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )


def add_analysis_arguments(parser: argparse.ArgumentParser, engines: Sequence[str] = ENGINES) -> None:
    """Add the flags of every :class:`AnalysisOptions` field to ``parser``.

    ``engines`` are the ``--engine`` choices the command accepts (the live
    demo runs the video engine only). The choices and their help come from
    the registries (:data:`~inafaceanalyzer.options.ENGINES`,
    :data:`~inafaceanalyzer.classification.CLASSIFIERS`,
    :data:`~inafaceanalyzer.detection.DETECTORS`).
    """
    general = parser.add_argument_group("analysis")
    general.add_argument(
        "--engine",
        choices=list(engines),
        default=_DEFAULTS["engine"],
        help=" ".join(f"{engine}: {ENGINES[engine].description}." for engine in engines),
    )
    general.add_argument("--classifier", choices=list(CLASSIFIERS), default=_DEFAULTS["classifier"],
                         help="gender and age classifier: "
                         + ", ".join(f"{name} ({cls.description})" for name, cls in CLASSIFIERS.items()))
    general.add_argument("--batch_size", type=int, default=_DEFAULTS["batch_size"],
                         help="faces per classifier call (larger is faster on GPU, needs more memory)")
    general.add_argument("--threads", type=int, default=None,
                         help="CPU threads for the networks (default: all cores available)")
    general.add_argument("--device", choices=("auto", "cpu", "cuda"), default=_DEFAULTS["device"],
                         help="where ONNX networks run; auto uses CUDA when onnxruntime-gpu sees a GPU")
    general.add_argument("--tta", choices=TTA_VALUES, default=_DEFAULTS["tta"],
                         help="test-time augmentation: none (1 view per face), flip (2); with --classifier "
                         "CydralGenderAge also full (3 scales x mirror: 6 views) and adaptive (1 view, and full's 6 "
                         "for the faces whose gender is uncertain); auto: none for the default FusedGenderAge and "
                         "HSEGenderAge, for CydralGenderAge full (flip for preprocessed_image)")
    general.add_argument("--precision", choices=PRECISIONS, default=_DEFAULTS["precision"],
                         help="fp32: the gender and age networks as published; int8: their convolutions "
                         "quantised, about 1.5x faster on CPUs, results within float noise on the evaluation sets")
    general.add_argument("--min_reliable_face_px", type=float, default=_DEFAULTS["min_reliable_face_px"],
                         help="faces smaller than this (pixels), or as blurred, get reliable=False")
    general.add_argument("--no_gender_calibration", dest="calibrate_gender", action="store_false",
                         help="raw gender scores of the network, without the calibration fitted on FairFace")

    detection = parser.add_argument_group("face detection")
    defaults = ", ".join(f"{name}: {value}" for name, value in DEFAULT_DETECTION_CONFIDENCE.items())
    detection.add_argument("--face_detector", choices=list(FACE_DETECTORS), default=_DEFAULTS["face_detector"],
                           help=". ".join(f"{name}: {cls.description}" for name, cls in FACE_DETECTORS.items()))
    detection.add_argument("--face_detection_confidence", type=float, default=None,
                           help=f"minimal detection confidence in [0, 1] (defaults: {defaults})")
    detection.add_argument("--min_face_size_px", type=int, default=_DEFAULTS["min_face_size_px"],
                           help="faces smaller than this (longer side, pixels) are ignored")
    detection.add_argument("--min_face_size_percent", type=float, default=_DEFAULTS["min_face_size_percent"],
                           help="faces smaller than this fraction (0 to 1) of the frame's shorter side are ignored")
    detection.add_argument("--face_detection_padding", type=float, default=_DEFAULTS["face_detection_padding"],
                           help="black padding added around frames before detection, as a fraction of "
                           "their size (helps with faces cut by the frame edge)")
    detection.add_argument("--bbox_scaling", type=float, default=_DEFAULTS["bbox_scaling"],
                           help="detected boxes are scaled by this factor around their centre")
    detection.add_argument("--no_squarify_bbox", dest="squarify_bbox", action="store_false",
                           help="keep the detector's box shape instead of making boxes square")

    video = parser.add_argument_group("video")
    video.add_argument("--fps", type=float, default=None,
                       help="frames analysed per second: the frame nearest each multiple of 1/FPS s is "
                       "kept (default: every frame)")
    video.add_argument("--detect_period", type=int, default=_DEFAULTS["detect_period"],
                       help="videotracking: detect faces on one analysed frame in DETECT_PERIOD, track "
                       "them in between")
    video.add_argument("--classify_period", type=int, default=None,
                       help="videotracking: classify each track's face on one of its frames in CLASSIFY_PERIOD "
                       "(its first, then every CLASSIFY_PERIOD-th); its other rows carry the values of its nearest "
                       "classified frame, with classified=False (default: the --detect_period; 1: every frame)")
    video.add_argument("--embeddings", action="store_true",
                       help="also write the face embeddings (biometric data) beside the table: each "
                       "row's to <name>.embeddings.npy (FusedGenderAge, HSEGenderAge), or with videotracking "
                       "each track's to <name>.embeddings.npz; without it they stay in memory")
    video.add_argument("--tracker", choices=TRACKERS, default=_DEFAULTS["tracker"],
                       help="videotracking: what follows faces between detections (mosse: batched "
                       "correlation filters, fast; dlib: the seed's correlation tracker)")
    video.add_argument("--strict_decoding", action="store_true",
                       help="fail a video with damaged or missing data as a whole (no table); by default every "
                       "frame that decodes is analysed and each gap is reported as a warning (exit status 0)")
    general.add_argument("--url_timeout", type=float, default=_DEFAULTS["url_timeout"], metavar="SECONDS",
                         help="http(s) inputs: most seconds for an image's download, for a video's opening and "
                         "for each of its reads (a stalled or dripping server is abandoned)")


def options_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> AnalysisOptions:
    """The options the parsed flags say; contradictions end the program with a usage error."""
    values = {f.name: getattr(args, f.name) for f in fields(AnalysisOptions) if hasattr(args, f.name)}
    try:
        return AnalysisOptions(**values)
    except OptionsError as error:
        parser.error(str(error))
        raise  # unreachable: parser.error exits


def add_export_arguments(parser: argparse.ArgumentParser, tables: bool = True) -> None:
    """Flags of the outputs besides the tables (:class:`~inafaceanalyzer.export.options.ExportOptions`)."""
    from ..export.options import BATCH_REPORT_NAME

    group = parser.add_argument_group("exports")
    if tables:
        group.add_argument("--output_format", choices=("csv", "parquet"), default="csv",
                           help="format of the result tables: csv, or parquet (columnar, typed, compressed; for "
                           "large studies)")
    group.add_argument("--ass_subtitle_export", action="store_true",
                       help="video engines: also write <name>.ass, subtitles that draw each face's box and label "
                       "(vlc clip.mp4 --sub-file out/clip.ass)")
    group.add_argument("--mp4_export", action="store_true",
                       help="video engines: also write <name>.mp4, the video with the faces drawn (H.264, audio kept)")
    group.add_argument("--html_report", action="store_true",
                       help=f"video engines: also write <name>.html, a report per video, and {BATCH_REPORT_NAME} "
                       "for all of them when there are several (self-contained HTML, works offline)")
    if tables:
        group.add_argument("--stats", action="store_true",
                           help="also write <name>.stats.csv per video and batch.stats.csv for the run: screen "
                           "time by gender and age band with intervals and bias correction (see ina_face_stats)")
        group.add_argument("--skip_existing", action="store_true",
                           help="video engines: leave the inputs whose outputs asked for all exist with a "
                           "<name>.meta.json of the same analysis (engine, sampling, options, model files); "
                           "resumes an interrupted batch")


def exports_from_args(args: argparse.Namespace):
    """The :class:`~inafaceanalyzer.export.options.ExportOptions` the parsed flags say."""
    from ..export.options import ExportOptions

    return ExportOptions(
        table_format=getattr(args, "output_format", "csv"),
        ass=args.ass_subtitle_export,
        mp4=args.mp4_export,
        html_report=args.html_report,
        stats=getattr(args, "stats", False),
        skip_existing=getattr(args, "skip_existing", False),
    )


def add_input_list_argument(group: argparse._ActionsContainer, what: str = "path or URL") -> None:
    """``--input_list FILE`` (repeatable): inputs that do not fit on a command line."""
    group.add_argument("--input_list", action="append", default=[], metavar="FILE",
                       help=f"a text file of one {what} a line (blank lines and # comments skipped; - reads "
                       "stdin), for more inputs than a command line holds; may be repeated, and combined with -i")


def inputs_from_args(parser: argparse.ArgumentParser, inputs: Sequence[str] | None, input_lists: Sequence[str],
                     extensions: Iterable[str], flag: str = "-i") -> list[str]:
    """The inputs given with ``flag`` and ``--input_list``, directories walked
    (:func:`~inafaceanalyzer.io.inputs.expand_inputs`); an empty expansion is a usage error."""
    from ..io.inputs import expand_inputs

    try:
        return expand_inputs(inputs or [], input_lists, extensions, flag)
    except OptionsError as error:
        parser.error(str(error))
        raise  # unreachable: parser.error exits


def add_logging_arguments(parser: argparse.ArgumentParser) -> None:
    """``--verbose``, ``--quiet`` and ``--no_progress``."""
    group = parser.add_argument_group("output")
    group.add_argument("-v", "--verbose", action="store_true", help="log every step")
    group.add_argument("-q", "--quiet", action="store_true", help="log errors only")
    group.add_argument("--no_progress", action="store_true", help="hide progress bars")
    group.add_argument("--version", action="version", version=f"inafaceanalyzer {__version__}")


def setup_logging(args: argparse.Namespace) -> None:
    """Log to stderr at the level the flags ask for."""
    level = logging.DEBUG if args.verbose else logging.ERROR if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not args.verbose:
        logging.getLogger("libav").setLevel(logging.CRITICAL)


def print_failures(failures: Sequence[tuple[str, str]], total: int, noun: str) -> None:
    """Name each failed item with its reason on stderr, after a count line."""
    print(f"{len(failures)} of {total} {noun}(s) failed:", file=sys.stderr)
    for source, reason in failures:
        print(f"  {source}: {reason}", file=sys.stderr)


def print_warnings(warnings: Sequence[tuple[str, str]]) -> None:
    """Name each input analysed with a reservation (a gap in a video), after a count line, on stderr."""
    sources = {source for source, _ in warnings}
    print(f"{len(sources)} input(s) analysed with gaps (every frame that decoded is in the table):", file=sys.stderr)
    for source, message in warnings:
        print(f"  {source}: {message}", file=sys.stderr)

"""``ina_face_analyzer.py``: analyse images or videos and write CSV tables.

Exit status: 0 when every input was analysed, 1 when any failed (each named
on stderr with its reason, the others still written), 2 on a usage error,
130 when interrupted by SIGINT (Ctrl-C) and 143 by SIGTERM (128 + the
signal's number): the outputs of the inputs finished are kept, the input in
progress leaves none, and "interrupted" is printed with what was finished.
A video analysed with gaps (damaged data decoded past) counts as analysed:
each gap is listed on stderr, the status stays 0 (``--strict_decoding``
makes such a video fail, status 1).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .. import interrupts
from ..errors import InaFaceAnalyzerError, Interrupted, OptionsError
from ..options import AnalysisOptions
from .arguments import (
    add_analysis_arguments,
    add_export_arguments,
    add_input_list_argument,
    add_logging_arguments,
    exports_from_args,
    inputs_from_args,
    new_parser,
    options_from_args,
    print_failures,
    print_warnings,
    setup_logging,
)

if TYPE_CHECKING:
    from ..runs import BatchReport

__all__ = ["build_parser", "main"]

log = logging.getLogger("inafaceanalyzer")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``ina_face_analyzer.py``."""
    parser = new_parser(
        "Detect faces in images or videos, predict their gender and age, and write CSV tables.",
        prog="ina_face_analyzer.py",
    )
    required = parser.add_argument_group("inputs and outputs")
    required.add_argument("-i", dest="input", nargs="+", default=[], metavar="INPUT",
                          help="images or videos to analyse: paths, http(s) URLs, or directories (walked "
                          "recursively for the engine's media files by extension, sorted, hidden files skipped)")
    add_input_list_argument(required)
    required.add_argument("-o", dest="output", required=True, metavar="OUTPUT",
                          help="video engines: directory that receives one CSV per video (created if "
                          "missing). image engines: the CSV file to write")
    add_analysis_arguments(parser)
    add_export_arguments(parser)
    add_logging_arguments(parser)
    return parser


def _check_output(parser: argparse.ArgumentParser, options: AnalysisOptions, output: str, suffix: str = ".csv") -> None:
    if options.is_video:
        if os.path.exists(output) and not os.path.isdir(output):
            parser.error(f"-o {output}: with a video engine OUTPUT is a directory (one table per video), and this "
                         f"is a file: give a directory (created if missing), or --engine image to write one {suffix} "
                         "table of images")
        name = Path(output).name
        stem, extension = os.path.splitext(name)
        if not os.path.isdir(output) and not output.endswith(os.sep) and extension.lower() in (".csv", ".parquet") and stem:
            parent = Path(output).parent
            suggestion = f"{parent / stem}/" if str(parent) != "." else f"{stem}/"
            parser.error(f"-o {output}: with a video engine OUTPUT is a directory (one table per video); "
                         f"did you mean -o {suggestion} ?")
        directory = Path(output)
    else:
        if os.path.isdir(output) or output.endswith(os.sep):
            parser.error(f"-o {output}: with an image engine OUTPUT is the one {suffix} table of all images, and "
                         f"this is a directory: give a file, e.g. -o {Path(output) / ('faces' + suffix)}, or a video "
                         "engine (--engine video) to write one table per video")
        if not output.lower().endswith(suffix):
            parser.error(f"-o {output}: with an image engine OUTPUT is a {suffix[1:].upper()} file, ending in {suffix}")
        directory = Path(output).parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        from ..export.atomic import directory_error

        parser.error(f"-o {output}: cannot create the directory {directory}: {directory_error(directory, error)}")
    if not os.access(directory, os.W_OK):
        parser.error(f"-o {output}: the directory {directory} is not writable")


def _print_interrupted(report: BatchReport, number: int) -> None:
    """Say on stderr that the run was interrupted, what it finished and what it left."""
    print(f"interrupted by {signal.Signals(number).name}", file=sys.stderr)
    if report.written:
        print(f"finished before: {len(report.written)} file(s) written:", file=sys.stderr)
        for path in report.written:
            print(f"  {path}", file=sys.stderr)
    else:
        print("finished before: no output written", file=sys.stderr)
    if report.in_progress:
        print(f"in progress, left no output: {report.in_progress}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args)
    options = options_from_args(parser, args)
    exports = exports_from_args(args)
    _check_output(parser, options, args.output, exports.table_suffix)
    if exports.any_video_export and not options.is_video:
        parser.error("--ass_subtitle_export, --mp4_export and --html_report need a video engine")
    from ..io.inputs import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    inputs = inputs_from_args(parser, args.input, args.input_list,
                              VIDEO_EXTENSIONS if options.is_video else IMAGE_EXTENSIONS)

    from ..runs import BatchReport, run_batch

    report = BatchReport()
    try:
        with interrupts.interruptible():
            run_batch(
                inputs, args.output, options, progress=not (args.no_progress or args.quiet), exports=exports,
                report=report,
            )
            interrupts.check()  # a signal swallowed after the last frame still ends the run as interrupted
    except (Interrupted, KeyboardInterrupt) as interrupt:
        number = interrupt.signal if isinstance(interrupt, Interrupted) else signal.SIGINT
        _print_interrupted(report, number)
        return 128 + number
    except OptionsError as error:
        parser.error(str(error))
    except InaFaceAnalyzerError as error:
        log.error("%s", error)
        return 1
    for output in report.outputs:
        log.info("wrote %s", output)
    log.info(
        "%d input(s), %d face row(s), %d failure(s), %.1f s",
        len(inputs), report.faces, len(report.failures), report.seconds,
    )
    if report.skipped:
        log.info("%d input(s) finished already, skipped (--skip_existing)", len(report.skipped))
    if report.warnings:
        print_warnings([(w.source, w.message) for w in report.warnings])
    if report.failures:
        print_failures([(f.source, f.reason) for f in report.failures], len(inputs), "input")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

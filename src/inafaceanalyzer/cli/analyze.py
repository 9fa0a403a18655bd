"""``ina_face_analyzer.py``: analyse images or videos and write CSV tables.

Exit status: 0 when every input was analysed, 1 when any failed (each named
on stderr with its reason, the others still written), 2 on a usage error.
A video analysed with gaps (damaged data decoded past) counts as analysed:
each gap is listed on stderr, the status stays 0 (``--strict_decoding``
makes such a video fail, status 1).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from ..errors import InaFaceAnalyzerError
from ..options import AnalysisOptions
from .arguments import (
    add_analysis_arguments,
    add_export_arguments,
    add_logging_arguments,
    exports_from_args,
    new_parser,
    options_from_args,
    print_failures,
    print_warnings,
    setup_logging,
)

__all__ = ["build_parser", "main"]

log = logging.getLogger("inafaceanalyzer")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``ina_face_analyzer.py``."""
    parser = new_parser(
        "Detect faces in images or videos, predict their gender and age, and write CSV tables.",
        prog="ina_face_analyzer.py",
    )
    required = parser.add_argument_group("inputs and outputs")
    required.add_argument("-i", dest="input", nargs="+", required=True, metavar="INPUT",
                          help="images or videos to analyse: paths or http(s) URLs")
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
            parser.error(f"-o {output}: with a video engine OUTPUT is a directory, and this is a file")
    else:
        if not output.lower().endswith(suffix):
            parser.error(f"-o {output}: with an image engine OUTPUT is a {suffix[1:].upper()} file, ending in {suffix}")
        if os.path.isdir(output):
            parser.error(f"-o {output}: is a directory; give the CSV file to write")


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

    from ..pipeline.batch import run_batch

    try:
        report = run_batch(
            args.input, args.output, options, progress=not (args.no_progress or args.quiet), exports=exports
        )
    except InaFaceAnalyzerError as error:
        log.error("%s", error)
        return 1
    for output in report.outputs:
        log.info("wrote %s", output)
    log.info(
        "%d input(s), %d face row(s), %d failure(s), %.1f s",
        len(args.input), report.faces, len(report.failures), report.seconds,
    )
    if report.warnings:
        print_warnings([(w.source, w.message) for w in report.warnings])
    if report.failures:
        print_failures([(f.source, f.reason) for f in report.failures], len(args.input), "input")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``ina_face_stats``: representation statistics from results tables already written.

Reads the tables (``ina_face_analyzer.py`` outputs, CSV or Parquet, with
the ``<name>.tracks.csv`` beside each), optionally groups the videos with a
user's CSV (``video,programme`` ...), and writes the statistics table of
:mod:`inafaceanalyzer.stats` with its ``.meta.json`` sidecar.

Exit status: 0 when every table was counted, 1 when any could not be read
(named on stderr; the others are counted), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ..options import CLASSIFIERS, DEFAULT_CLASSIFIER
from .arguments import add_logging_arguments, new_parser, print_failures, setup_logging

__all__ = ["build_parser", "main"]

log = logging.getLogger("inafaceanalyzer")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``ina_face_stats``."""
    parser = new_parser(
        "Screen time of women and men by age band, with 95% intervals and bias correction, from result tables.",
        prog="ina_face_stats",
    )
    group = parser.add_argument_group("inputs and outputs")
    group.add_argument("-i", dest="input", nargs="+", required=True, metavar="TABLE",
                       help="result tables (out/*.csv or .parquet); tracks, stats and people tables beside them "
                       "are recognised and skipped")
    group.add_argument("-o", dest="output", required=True, metavar="STATS",
                       help="the statistics table to write (.csv or .parquet), with <name>.meta.json beside it")
    group.add_argument("--groups", metavar="CSV",
                       help="CSV mapping each video (first column: its table's name, e.g. clip for out/clip.csv) "
                       "to a group (programme, channel, date, genre...)")
    group.add_argument("--group_by", metavar="COLUMN",
                       help="the column of --groups to group by (default: its second column)")
    group.add_argument("--person_overrides", metavar="CSV",
                       help="a user's corrections of one video's people: person_id,gender,age rows (see the "
                       "report's gallery); with a single input table. The output's .meta.json names the file")
    counting = parser.add_argument_group("statistics")
    counting.add_argument("--age_groups", default="20,35,50,65", metavar="AGES",
                          help="upper bounds of the age bands, comma-separated (default 20,35,50,65: "
                          "0-19, 20-34, 35-49, 50-64, 65+)")
    counting.add_argument("--error_rates", metavar="JSON",
                          help="the classifier's measured error rates for share_adjusted (default: the ones "
                          "shipped for --classifier), or 'none'")
    counting.add_argument("--classifier", default=DEFAULT_CLASSIFIER, choices=CLASSIFIERS,
                          help="the classifier that made the tables (picks its shipped error rates)")
    counting.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    counting.add_argument("--seed", type=int, default=None, help="bootstrap seed (default: fixed)")
    add_logging_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args)
    from ..stats import batch_statistics, parse_age_groups, read_groups, stats_inputs, write_statistics
    from ..stats.bootstrap import DEFAULT_SEED
    from ..stats.correction import default_error_rates, load_error_rates
    from ..stats.files import is_results_table

    output = Path(args.output)
    if output.suffix.lower() not in (".csv", ".parquet"):
        parser.error(f"-o {args.output}: the statistics table is a .csv or .parquet file")
    if args.resamples < 1:
        parser.error("--resamples must be at least 1")
    try:
        edges = parse_age_groups(args.age_groups)
    except ValueError as error:
        parser.error(f"--age_groups: {error}")
    try:
        if args.error_rates and args.error_rates.lower() == "none":
            rates = None
        elif args.error_rates:
            rates = load_error_rates(args.error_rates)
        else:
            rates = default_error_rates(args.classifier)
            if rates is None:
                log.warning("%s has no shipped error rates: share_adjusted is left empty", args.classifier)
    except ValueError as error:
        parser.error(f"--error_rates: {error}")
    groups, group_by = None, None
    if args.groups:
        try:
            groups, group_by = read_groups(args.groups, args.group_by)
        except ValueError as error:
            parser.error(f"--groups: {error}")

    overrides = None
    if args.person_overrides:
        from ..errors import OptionsError
        from ..identity import read_person_overrides

        try:
            overrides = read_person_overrides(args.person_overrides)
        except OptionsError as error:
            parser.error(str(error))

    tables = [path for path in args.input if is_results_table(path)]
    if overrides is not None and len(tables) != 1:
        parser.error(f"--person_overrides corrects the people of one video: give one table, not {len(tables)}")
    for path in set(args.input) - set(tables):
        log.info("%s: not a results table (a derived table), skipped", path)
    if output.resolve() in {Path(p).resolve() for p in tables}:
        parser.error(f"-o {args.output} is one of the input tables")
    failures: list[tuple[str, str]] = []
    inputs = []
    for path in tables:
        try:
            inputs.extend(stats_inputs([path]))
        except (OSError, ValueError) as error:
            log.error("%s: %s", path, error)
            failures.append((path, str(error)))
    if overrides is not None and inputs:
        inputs = [_corrected(parser, item, overrides) for item in inputs]
    if groups is not None:
        missing = [item.name for item in inputs if item.name not in groups]
        if missing:
            parser.error(f"--groups {args.groups}: no group for {', '.join(missing)}")
    if not inputs:
        print_failures(failures, len(tables), "table")
        return 1
    try:
        stats = batch_statistics(inputs, groups, age_groups=edges, error_rates=rates, resamples=args.resamples,
                                 seed=DEFAULT_SEED if args.seed is None else args.seed)
    except ValueError as error:
        parser.error(str(error))
    if group_by is not None:
        stats.attrs["group_by"] = group_by
    try:
        write_statistics(stats, output, inputs=[str(p) for p in tables], groups=args.groups,
                         person_overrides=args.person_overrides)
    except OSError as error:
        log.error("cannot write %s: %s", output, error.strerror or error)
        return 1
    log.info("wrote %s (%d tables, %d groups)", output, len(inputs), stats["group"].nunique())
    if failures:
        print_failures(failures, len(tables), "table")
        return 1
    return 0


def _corrected(parser: argparse.ArgumentParser, item, overrides):  # noqa: ANN001, ANN202 - stats imported lazily
    """``item`` (a :class:`~inafaceanalyzer.stats.StatsInput`) with the user's corrections applied."""
    import dataclasses

    from ..errors import OptionsError
    from ..identity import apply_person_overrides

    if "person_id" not in item.frames.columns:
        parser.error(f"--person_overrides: {item.name} has no person_id column (analyse it with --engine videotracking)")
    try:
        frames, tracks, _ = apply_person_overrides(item.frames, item.tracks, None, overrides)
    except OptionsError as error:
        parser.error(f"--person_overrides: {item.name}: {error}")
    log.info("%s: gender and age of %d person(s) corrected by %s", item.name, len(overrides), "--person_overrides")
    return dataclasses.replace(item, frames=frames, tracks=tracks)


if __name__ == "__main__":
    sys.exit(main())

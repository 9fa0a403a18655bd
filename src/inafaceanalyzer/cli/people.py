"""``ina_face_people``: the people of several analysed videos linked into global ids.

Reads the ``<name>.embeddings.npz`` beside each table (written by
``ina_face_analyzer.py --engine videotracking --embeddings``) and writes one
row per person of each video with its ``global_id``
(:func:`inafaceanalyzer.identity.across.link_videos`)::

    ina_face_people -i out/*.csv -o out/people_global.csv

Exit status: 0 when every table was linked, 1 when any failed (each named on
stderr; the others are still linked and written), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import OptionsError
from ..export.table import CsvTableWriter, table_stem
from ..identity.across import GLOBAL_COLUMNS, link_videos, read_person_embeddings
from ..identity.people import LINK_THRESHOLD, embeddings_path
from .arguments import add_logging_arguments, new_parser, setup_logging

__all__ = ["build_parser", "main"]

log = logging.getLogger("inafaceanalyzer")

_SIDE_TABLES = (".tracks", ".people", ".stats")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``ina_face_people``."""
    parser = new_parser(
        "Link the people of several videos analysed with --engine videotracking --embeddings into global ids.",
        prog="ina_face_people",
    )
    group = parser.add_argument_group("inputs and outputs")
    group.add_argument("-i", dest="tables", nargs="+", required=True, metavar="TABLE",
                       help="frame tables of videotracking runs (.csv or .parquet) with their <name>.embeddings.npz; "
                       "<name>.tracks and <name>.people tables among them are skipped")
    group.add_argument("-o", dest="output", required=True, metavar="CSV",
                       help="the table of global people: video,person_id,global_id,n_tracks")
    group.add_argument("--threshold", type=float, default=LINK_THRESHOLD,
                       help="cosine distance under which two people are linked (average linkage)")
    add_logging_arguments(parser)
    return parser


def _is_own_output(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.readline().strip() == ",".join(GLOBAL_COLUMNS)
    except (OSError, UnicodeDecodeError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args)
    if not 0 < args.threshold < 2:
        parser.error(f"--threshold is a cosine distance within (0, 2), not {args.threshold}")
    output = Path(args.output)
    if output.exists() and not _is_own_output(output):
        parser.error(f"{output} exists and is not a table of global people: not overwritten")
    tables = [Path(t) for t in args.tables if not table_stem(Path(t)).endswith(_SIDE_TABLES)]
    if not tables:
        parser.error("no frame table among the inputs")
    failures: list[tuple[str, str]] = []
    sources = []
    names: dict[str, Path] = {}
    for table in tables:
        name = table_stem(table)
        if name in names and names[name] != table:
            failures.append((str(table), f"same name as {names[name]}: the global table names videos by their stem"))
            continue
        try:
            read_person_embeddings(embeddings_path(table))
        except OptionsError as error:
            failures.append((str(table), str(error)))
            continue
        names[name] = table
        sources.append((name, embeddings_path(table)))
    people = link_videos(sources, threshold=args.threshold)
    try:
        with CsvTableWriter(output, GLOBAL_COLUMNS) as writer:
            writer.write_rows(people.to_dict("records"))
        log.info("wrote %s: %d people of %d videos, %d global ids", output, len(people), len(sources),
                 people.global_id.nunique())
    except OSError as error:
        failures.append((str(output), f"cannot write: {error.strerror or error}"))
    if failures:
        print(f"{len(failures)} of {len(tables)} table(s) failed:", file=sys.stderr)
        for source, reason in failures:
            print(f"  {source}: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

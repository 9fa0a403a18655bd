"""``ina_face_render``: subtitles, annotated videos and reports from existing result tables.

No analysis runs: each table (CSV or Parquet, as ``ina_face_analyzer.py``
wrote it) is drawn over its source video, so the outputs of a large batch
can be looked at later::

    ina_face_render --mp4_export --ass_subtitle_export -i out/clip.csv --video clip.mp4 -o rendered/
    ina_face_render --html_report -i out/*.csv --video videos/*.mp4 -o out/

Tables and videos are paired by name (``clip.csv`` with ``clip.mp4``), or
in order when there is one of each. ``<name>.tracks.csv`` files given with
the tables are used as tracks, not drawn. The frames the analysis sampled
are those the table's sidecar ``<name>.meta.json`` lists (written by the
run, :mod:`inafaceanalyzer.export.sidecar`); a table without one is drawn
only when ``--fps``, ``--keyframes`` or ``--every_frame`` says the sampling
the analysis used, and ``--video`` gives its source, whose packets rebuild
the frames exactly. ``--person_overrides FILE`` (one table) applies a user's
``person_id,gender,age`` corrections (:mod:`inafaceanalyzer.identity.overrides`)
to the people's smoothed gender and age before drawing; the report says so.

Exit status: 0 when everything was written, 1 when anything failed (each
named on stderr), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

from ..errors import MediaError, OptionsError, OutputError
from ..export.options import BATCH_REPORT_NAME, VideoOutputs
from ..export.table import table_stem
from ..io.inputs import TABLE_EXTENSIONS, VIDEO_EXTENSIONS, expand_inputs
from ..runs.names import output_stem
from .arguments import (
    add_export_arguments,
    add_input_list_argument,
    add_logging_arguments,
    inputs_from_args,
    new_parser,
    setup_logging,
)

__all__ = ["build_parser", "main", "pair_tables_and_videos"]

log = logging.getLogger("inafaceanalyzer")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``ina_face_render``."""
    parser = new_parser(
        "Draw existing result tables over their videos (ASS subtitles, annotated MP4) and write HTML "
        "reports, without analysing again.",
        prog="ina_face_render",
    )
    group = parser.add_argument_group("inputs and outputs")
    group.add_argument("-i", dest="tables", nargs="+", default=[], metavar="TABLE",
                       help="result tables of video engines (.csv or .parquet), or directories of them (walked "
                       "recursively, sorted, hidden files skipped); <name>.tracks.csv files are taken as the "
                       "tracks of <name>")
    add_input_list_argument(group, "result table")
    group.add_argument("--video", dest="videos", nargs="+", default=[], metavar="VIDEO",
                       help="the analysed videos (paths, URLs, or directories walked for video files), paired "
                       "with the tables by name; needed for subtitles and MP4, optional for reports (thumbnails)")
    group.add_argument("-o", dest="output", metavar="DIRECTORY", default=None,
                       help="directory of the outputs (created if missing; default: each table's directory)")
    sampling = parser.add_argument_group(
        "the analysis' sampling (default: the table's <name>.meta.json; needed, with --video, for a table without it)")
    exclusive = sampling.add_mutually_exclusive_group()
    exclusive.add_argument("--fps", type=float, default=None,
                           help="the --fps the analysis used (every analysed frame is rebuilt exactly from --video)")
    exclusive.add_argument("--keyframes", action="store_true", help="the analysis used --engine videokeyframes")
    exclusive.add_argument("--every_frame", action="store_true", help="the analysis used every frame (no --fps)")
    group.add_argument("--person_overrides", metavar="FILE", default=None,
                       help="CSV of person_id,gender,age corrections of the people of the (one) table "
                       "(videotracking); the people's *_avg values take them")
    add_export_arguments(parser, tables=False)
    add_logging_arguments(parser)
    return parser


def pair_tables_and_videos(tables: Sequence[str], videos: Sequence[str]) -> list[tuple[Path, str | None]]:
    """Each table with its video (``None`` when none was given), by name or, one of each, in order.

    Raises:
        OptionsError: two videos share a name, or a video matches no table.
    """
    paths = [Path(t) for t in tables]
    if len(paths) == 1 and len(videos) == 1:
        return [(paths[0], videos[0])]
    by_name: dict[str, str] = {}
    for video in videos:
        name = output_stem(video)
        if name in by_name and by_name[name] != video:
            raise OptionsError(f"videos {by_name[name]} and {video} have the same name: give them one at a time")
        by_name[name] = video
    names = {table_stem(p) for p in paths}
    unmatched = [v for n, v in by_name.items() if n not in names]
    if unmatched:
        raise OptionsError(f"no table for {', '.join(unmatched)} (tables and videos are paired by name)")
    return [(p, by_name.get(table_stem(p))) for p in paths]


def _is_tracks_table(path: Path) -> bool:
    return table_stem(path).endswith(".tracks")


def _with_overrides(table: Path, overrides):  # noqa: ANN001, ANN202 - pandas imported lazily
    """The frame table and its table of tracks, read and corrected (:func:`apply_person_overrides`)."""
    from ..export.table import read_table
    from ..identity import apply_person_overrides
    from ..report import find_tracks_file

    tracks_file = find_tracks_file(table)
    tracks = read_table(tracks_file) if tracks_file is not None else None
    frames, tracks, _ = apply_person_overrides(read_table(table), tracks, None, overrides)
    return frames, tracks


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args)
    if not (args.ass_subtitle_export or args.mp4_export or args.html_report):
        parser.error("nothing to do: ask for --ass_subtitle_export, --mp4_export and/or --html_report")
    if args.fps is not None and not args.fps > 0:
        parser.error(f"--fps must be > 0, not {args.fps}")
    given = inputs_from_args(parser, args.tables, args.input_list, TABLE_EXTENSIONS)
    try:
        videos = expand_inputs(args.videos, (), VIDEO_EXTENSIONS, "--video") if args.videos else []
    except OptionsError as error:
        parser.error(str(error))
    tables = [t for t in given if not _is_tracks_table(Path(t))]
    if not tables:
        parser.error("no result table among the inputs (only tracks tables)")
    try:
        pairs = pair_tables_and_videos(tables, videos)
    except OptionsError as error:
        parser.error(str(error))
    if (args.ass_subtitle_export or args.mp4_export) and any(video is None for _, video in pairs):
        missing = ", ".join(str(t) for t, video in pairs if video is None)
        parser.error(f"subtitles and MP4 need the source video (--video) of: {missing}")
    overrides = None
    if args.person_overrides is not None:
        from ..identity import read_person_overrides

        if len(pairs) != 1:
            parser.error("--person_overrides applies to one table: person ids are per video")
        try:
            overrides = read_person_overrides(args.person_overrides)
        except OptionsError as error:
            parser.error(str(error))

    from ..io.sampling import Sampling
    from ..report import write_batch_report
    from ..runs import render_to_outputs

    sampling = None
    if args.fps is not None or args.keyframes or args.every_frame:
        sampling = Sampling(Fraction(str(args.fps)) if args.fps is not None else None, keyframes=args.keyframes)
    progress = not (args.no_progress or args.quiet)
    failures: list[tuple[str, str]] = []
    summaries = []
    for table, video in pairs:
        directory = Path(args.output) if args.output else table.parent
        name = table_stem(table)
        outputs = VideoOutputs(
            table=directory / name,
            ass=directory / f"{name}.ass" if args.ass_subtitle_export else None,
            mp4=directory / f"{name}.mp4" if args.mp4_export else None,
            report=directory / f"{name}.html" if args.html_report else None,
        )
        try:
            directory.mkdir(parents=True, exist_ok=True)
            results, tracks = (None, None) if overrides is None else _with_overrides(table, overrides)
            notes = [] if overrides is None else [
                f"Gender and age of {len(overrides)} person(s) corrected by the user ({Path(args.person_overrides).name})"]
            outcome = render_to_outputs(table, outputs, source=video, sampling=sampling, results=results,
                                        tracks=tracks, notes=notes, progress=progress)
            if outcome.summary is not None:
                summaries.append(outcome.summary)
        except MediaError as error:
            failures.append((str(error.source), error.reason))
        except (OptionsError, ValueError, OutputError) as error:
            failures.append((str(table), str(error).removeprefix(f"{table}: ")))
        except OSError as error:
            failures.append((str(table), f"cannot write: {error.strerror or error}"))
    if args.html_report and len(pairs) > 1 and summaries:
        directory = Path(args.output) if args.output else pairs[0][0].parent
        try:
            write_batch_report(directory / BATCH_REPORT_NAME, summaries, title=f"{len(summaries)} videos")
            log.info("wrote %s", directory / BATCH_REPORT_NAME)
        except OSError as error:
            failures.append((str(directory / BATCH_REPORT_NAME), f"cannot write: {error.strerror or error}"))
    if failures:
        print(f"{len(failures)} of {len(pairs)} table(s) failed:", file=sys.stderr)
        for source, reason in failures:
            print(f"  {source}: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())


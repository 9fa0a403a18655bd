"""One input to its files: the unit of work of a local batch, a distributed job and a re-render.

:func:`analyze_to_outputs` analyses one video and writes every output asked
for in a :class:`~inafaceanalyzer.export.options.VideoOutputs`: the table,
the tables of tracks and people (``videotracking``), the sidecar
``<name>.meta.json`` (:mod:`~inafaceanalyzer.export.sidecar`), the
subtitles, the annotated video, the report and the statistics. The rules are
the same wherever it runs:

- all or nothing: every file is written under a temporary name and they are
  renamed together (:class:`~inafaceanalyzer.export.atomic.OutputSet`), the
  sidecar first; temporaries a killed run left are removed first;
- one sampling: the analysis' :class:`~inafaceanalyzer.io.sampling.Sampling`
  and the times of the frames it analysed go into the sidecar, and every
  export of the set is drawn from those same frames (no second scan of the
  source's packets, no guess);
- never over someone else's file: an output path that exists is replaced
  only when the sidecar beside the table names it as an output of ours;
  outputs of an earlier, different analysis that this one does not write
  again are removed (they describe another table), those of the same
  analysis are kept and still listed;
- ``skip_existing``: an input is finished (:func:`is_finished`) when every
  file asked for exists and the sidecar is of the same analysis (engine,
  sampling, options, model files); it is then not analysed again.

:func:`render_to_outputs` draws the same exports from a table already
written, with the frames its sidecar lists (``ina_face_render``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from tqdm import tqdm

from .. import interrupts
from ..errors import OptionsError, OutputError
from ..export.atomic import OutputSet, remove_stale_temporaries
from ..export.embeddings import EmbeddingsWriter
from ..export.options import VideoOutputs
from ..export.render import check_not_source, export_annotations
from ..export.sidecar import PARQUET_KEY, ResultsMeta, meta_path, model_hashes, read_meta, results_options, write_meta
from ..export.table import open_table_writer, read_table, table_stem
from ..export.timeline import AnalysedFrames
from ..io import DecodingGap
from ..io.packets import VideoTiming, read_timing
from ..io.sampling import Sampling
from ..options import AnalysisOptions
from ..pipeline.analyzer import FaceAnalyzer
from ..pipeline.engines import VideoAnalysis
from ..pipeline.results import result_rows
from .names import output_stem

if TYPE_CHECKING:
    from ..report import VideoSummary
    from ..stats.files import AnalysedTable

__all__ = [
    "InputOutcome",
    "analyze_to_outputs",
    "analyze_video_to_files",
    "expected_meta",
    "finished_outcome",
    "foreign_outputs",
    "is_finished",
    "planned_files",
    "render_to_outputs",
]

log = logging.getLogger(__name__)


@dataclass
class InputOutcome:
    """What one input's unit of work did.

    Attributes:
        source: the input.
        outputs: the files asked for.
        rows: face rows of its table (0 when skipped).
        written: the files written, once committed (none when skipped).
        gaps: stretches of the video that could not be decoded.
        meta: the sidecar of its table (the one found, when skipped).
        summary: its report's totals, when a report was asked for (for a
            batch report), else ``None``.
        stats: its statistics (``stats`` asked for), for the batch's table.
        skipped: the input was finished already (``skip_existing``).
    """

    source: str
    outputs: VideoOutputs
    rows: int = 0
    written: list[Path] = field(default_factory=list)
    gaps: list[DecodingGap] = field(default_factory=list)
    meta: ResultsMeta | None = None
    summary: VideoSummary | None = None
    stats: AnalysedTable | None = None
    skipped: bool = False


def _is_tracking(engine: str) -> bool:
    """Whether the engine writes tables of tracks and people beside its table (the registry's fact)."""
    from ..options import ENGINES

    return ENGINES[engine].tracks


def _video_engine(options: AnalysisOptions) -> type[VideoAnalysis]:
    if _is_tracking(options.engine):
        from ..tracking.engine import TrackingAnalysis

        return TrackingAnalysis
    return VideoAnalysis


def planned_files(outputs: VideoOutputs, options: AnalysisOptions) -> list[Path]:
    """Every file the unit of work writes for these outputs, in the order they are written."""
    table = outputs.table
    files = [table]
    if _is_tracking(options.engine):
        from ..identity.people import embeddings_path, people_path
        from ..tracking.engine import tracks_path

        files += [tracks_path(table), people_path(table)]
        if options.embeddings:
            files.append(embeddings_path(table))
    elif options.embeddings:
        from ..export.embeddings import face_embeddings_path

        files.append(face_embeddings_path(table))
    if outputs.stats is not None:
        from ..stats.files import meta_path as stats_meta_path

        files += [stats_meta_path(outputs.stats), outputs.stats]
    files += [p for p in (outputs.ass, outputs.mp4, outputs.report) if p is not None]
    return [meta_path(table), *files]


def expected_meta(options: AnalysisOptions, source: str = "") -> ResultsMeta:
    """The sidecar an analysis with ``options`` writes, less what only the video says (for comparisons)."""
    return ResultsMeta(options.engine, Sampling.from_options(options), results_options(options), model_hashes(),
                       str(source), None, None, None, AnalysedFrames.from_times([], 0.0))


def _listed(meta: ResultsMeta | None, table: Path) -> set[Path]:
    """The files a sidecar beside ``table`` names as its set's."""
    if meta is None:
        return set()
    return {Path(os.path.normpath(table.parent / name)) for name in meta.outputs}


def _existing_meta(table: Path) -> ResultsMeta | None:
    try:
        return read_meta(table)
    except ValueError as error:
        log.warning("%s", error)
        return None


def foreign_outputs(outputs: VideoOutputs, options: AnalysisOptions) -> list[Path]:
    """The files in the way of these outputs that are not ours (no sidecar beside the table names them)."""
    meta_file = meta_path(outputs.table)
    meta = _existing_meta(outputs.table)
    ours = _listed(meta, outputs.table) | ({meta_file} if meta is not None else set())
    return [p for p in planned_files(outputs, options)
            if os.path.lexists(p) and Path(os.path.normpath(p)) not in ours]


def is_finished(outputs: VideoOutputs, options: AnalysisOptions) -> bool:
    """Whether these outputs are all there, from the same analysis (the ``skip_existing`` rule).

    Every file asked for exists and is named by the table's sidecar, whose
    engine, sampling, options and model files are those of ``options``.
    """
    meta = _existing_meta(outputs.table)
    if meta is None or not meta.same_analysis(expected_meta(options)):
        return False
    listed = _listed(meta, outputs.table) | {meta_path(outputs.table)}
    return all(Path(os.path.normpath(p)) in listed and p.is_file() for p in planned_files(outputs, options))


def finished_outcome(source: str, outputs: VideoOutputs) -> InputOutcome:
    """The outcome of an input found finished: its sidecar, and its totals when a report is asked for."""
    meta = read_meta(outputs.table)
    outcome = InputOutcome(source, outputs, meta=meta, skipped=True)
    if outputs.report is not None:
        from ..report import load_video_data

        summary = load_video_data(outputs.table, name=output_stem(source)).summary
        summary.report = outputs.report.name
        outcome.summary = summary
    if outputs.stats is not None:
        from ..stats.files import AnalysedTable

        outcome.stats = AnalysedTable(output_stem(source), outputs.table, meta.analysed)  # type: ignore[union-attr]
    return outcome


def _analysed_end(timing: VideoTiming, sampling: Sampling) -> float:
    """Where the last analysed frame ends: the end of the video stream (keyframes: of the container's duration)."""
    end = timing.end
    if sampling.keyframes and timing.duration is not None:
        end = max(end, timing.duration)  # as the decoder: the last keyframe stands for the rest
    return float(end)


def analyze_to_outputs(
    source: str,
    outputs: VideoOutputs,
    options: AnalysisOptions,
    *,
    analyzer: FaceAnalyzer | None = None,
    skip_existing: bool = False,
    progress: bool = False,
    label: str | None = None,
) -> InputOutcome:
    """Analyse one video and write the files of ``outputs`` together (see the module's doc).

    Args:
        source: path or URL of the video.
        outputs: the files to write (the table's format by its suffix).
        options: analysis settings (a video engine).
        analyzer: the models (built from ``options`` if not given).
        skip_existing: do nothing for an input already finished (:func:`is_finished`).
        progress: show a progress bar on stderr.
        label: the progress bar's text.

    Raises:
        MediaError: the video cannot be read.
        OptionsError: the annotated video would be the source.
        OutputError: an output cannot be written (named), or a file in its
            way is not ours.
    """
    if outputs.mp4 is not None:
        check_not_source(source, outputs.mp4)
    if skip_existing and is_finished(outputs, options):
        log.info("%s: finished already (%s and its sidecar match): skipped", source, outputs.table)
        return finished_outcome(source, outputs)
    planned = planned_files(outputs, options)
    for stale in remove_stale_temporaries(planned):
        log.warning("removed %s, left by an interrupted run", stale)
    foreign = foreign_outputs(outputs, options)
    if foreign:
        raise OutputError(foreign[0], f"exists and is not an output of ours (no {meta_path(outputs.table).name} "
                          "names it): move it away, or write elsewhere (-o)")
    previous = _existing_meta(outputs.table)
    analysis = _video_engine(options)(source, options, analyzer)
    sampling = analysis.sampling
    header = expected_meta(options, source)
    bar = tqdm(total=analysis.expected_frames, desc=label or output_stem(source), unit="frame",
               disable=not progress, leave=False)
    times: list[float] = []
    outcome = InputOutcome(source, outputs)
    embeddings = face_embeddings_writer(outputs.table, options)
    with OutputSet() as files:
        metadata = {PARQUET_KEY: _json(header.header())}
        with bar, open_table_writer(outputs.table, analysis.columns, metadata=metadata) as writer, \
                embeddings or nullcontext():
            for result in analysis:
                writer.write_rows(result_rows(result, options.engine, options.classifier))
                if embeddings is not None:
                    embeddings.write(result.faces)
                times.append(float(result.time_s or 0.0))
                bar.update(1)
                interrupts.check()
        outcome.gaps = list(analysis.gaps)
        analysis.write_extras(outputs.table)
        timing = read_timing(source, packets=False)
        analysed = AnalysedFrames.from_times(times, _analysed_end(timing, sampling))
        info = analysis.info
        meta = ResultsMeta(header.engine, sampling, header.options, header.models, header.source,
                           None if info.duration is None else float(info.duration), info.frame_count,
                           info.frame_rate, analysed)
        _write_derived(source, outputs, files, analysed, timing, progress, outcome)
        names = [os.path.relpath(p, outputs.table.parent) for p in [meta_path(outputs.table), *files.destinations]
                 if Path(p) in set(planned)]
        same = previous is not None and previous.same_analysis(header)
        if same:  # the earlier outputs of the same analysis not written again still describe this table
            names += [os.path.relpath(p, outputs.table.parent) for p in sorted(_listed(previous, outputs.table))
                      if p.is_file()]
        outcome.meta = meta.with_outputs(list(dict.fromkeys(names)))
        write_meta(outcome.meta, outputs.table)
        files.commit_first(meta_path(outputs.table))
    outcome.written = list(files.committed)
    outcome.rows = writer.rows_written
    if not same:
        _remove_previous(previous, outputs.table, outcome.written)
    return outcome


def face_embeddings_writer(table: Path, options: AnalysisOptions) -> EmbeddingsWriter | None:
    """The writer of ``<name>.embeddings.npy`` when ``options.embeddings`` asks for the rows' embeddings
    (the tracking engine writes one per track instead, in its own file)."""
    if not options.embeddings or _is_tracking(options.engine):
        return None
    from ..classification import classifier_classes
    from ..export.embeddings import EmbeddingsWriter, face_embeddings_path

    return EmbeddingsWriter(face_embeddings_path(table), classifier_classes()[options.classifier].embedding_dim)


def _json(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)


def _remove_previous(previous: ResultsMeta | None, table: Path, written: Sequence[Path]) -> None:
    """Delete the files of an earlier, different analysis of this input that this one did not write again
    (they describe another table)."""
    kept = {Path(os.path.normpath(p)) for p in written}
    for path in sorted(_listed(previous, table) - kept):
        if path.is_file():
            path.unlink()
            log.info("removed %s, an output of the earlier analysis of %s", path, table.name)


def _write_derived(
    source: str | None,
    outputs: VideoOutputs,
    files: OutputSet,
    analysed: AnalysedFrames,
    timing: VideoTiming | None,
    progress: bool,
    outcome: InputOutcome,
    *,
    results: pd.DataFrame | None = None,
    tracks: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
    name: str | None = None,
) -> None:
    """The statistics, subtitles, annotated video and report of one table, drawn from ``analysed``."""
    table = outputs.table
    name = name or output_stem(source or table.name)
    if outputs.stats is not None:
        from ..stats.files import write_video_statistics

        outcome.stats = write_video_statistics(name, table, analysed, None, outputs.stats)
    if outputs.ass is None and outputs.mp4 is None and outputs.report is None:
        return
    if results is None:
        results = read_table(files.pending(table), name=table)
    if outputs.ass is not None or outputs.mp4 is not None:
        if source is None:
            raise OptionsError("subtitles and MP4 need the source video")
        rendered = export_annotations(source, results, ass_path=outputs.ass, mp4_path=outputs.mp4, analysed=analysed,
                                      timing=timing, progress=progress)
        timing = rendered.timing
    if outputs.report is not None:
        from ..report import load_video_data, write_video_report

        if tracks is None:
            from ..tracking.engine import tracks_path

            tracks_file = tracks_path(table)
            tracks = read_table(files.pending(tracks_file), name=tracks_file) if tracks_file in files else None
        if source is not None and timing is None:
            timing = read_timing(source, packets=False)
        data = load_video_data(results, name=name, source=source, analysed=analysed, timing=timing, tracks=tracks)
        data.notes.extend(notes)
        outcome.summary = write_video_report(outputs.report, data)
        log.info("wrote %s", outputs.report)


def render_to_outputs(
    table: Path,
    outputs: VideoOutputs,
    *,
    source: str | None = None,
    sampling: Sampling | None = None,
    results: pd.DataFrame | None = None,
    tracks: pd.DataFrame | None = None,
    notes: Sequence[str] = (),
    progress: bool = False,
) -> InputOutcome:
    """Draw the exports of ``outputs`` (subtitles, video, report, statistics) from a table already written.

    The analysed frames are the ones the table's sidecar lists; a table
    without a sidecar needs ``sampling`` (the analysis' own, given by the
    user) and its ``source``, from whose packets they are rebuilt. All the
    files appear together or none does. ``outputs.table`` names the
    outputs' directory and stem (nothing is written there).

    Args:
        results, tracks: the table and its tracks, when already read (corrected).
        notes: lines the report adds (e.g. the user's corrections).

    Raises:
        OptionsError: no sidecar and no ``sampling``, or a sampling without
            the source, or one that contradicts the sidecar.
        MediaError: the source cannot be read.
        OutputError: an output cannot be written.
    """
    meta = read_meta(table)
    if meta is not None and sampling is not None and (sampling.rate, sampling.keyframes) != (
            meta.sampling.rate, meta.sampling.keyframes):
        raise OptionsError(f"{table}: its sidecar says the analysis sampled {meta.sampling.describe()}, "
                           f"not {sampling.describe()}: drop the sampling flag")
    timing = None
    if meta is not None:
        analysed = meta.analysed
    elif sampling is None:
        raise OptionsError(f"{table}: no {meta_path(table).name} beside it, so the frames it analysed are not known: "
                           "give the sampling the analysis used (--fps F, --keyframes or --every_frame) and the "
                           "source video (--video)")
    elif source is None:
        raise OptionsError(f"{table}: no {meta_path(table).name} beside it: rebuilding its analysed frames from "
                           f"--fps / --keyframes / --every_frame needs the source video (--video)")
    else:
        timing = read_timing(source, packets=True)
        from ..export.render import resolve_analysed_frames

        frame_table = results if results is not None else read_table(table)
        analysed = resolve_analysed_frames(frame_table, timing, None, sampling)
    outcome = InputOutcome(source or str(table), outputs, meta=meta)
    if tracks is None and outputs.report is not None:
        from ..export.table import find_tracks_file

        tracks_file = find_tracks_file(table)
        tracks = read_table(tracks_file) if tracks_file is not None else None
    with OutputSet() as files:
        derived = VideoOutputs(table=table, ass=outputs.ass, mp4=outputs.mp4, report=outputs.report,
                               stats=outputs.stats)
        if results is None:
            results = read_table(table)
        _write_derived(source, derived, files, analysed, timing, progress, outcome, results=results, tracks=tracks,
                       notes=notes, name=table_stem(table))
    outcome.written = list(files.committed)
    return outcome


def analyze_video_to_files(
    source: str,
    destination: Path,
    options: AnalysisOptions,
    analyzer: FaceAnalyzer | None = None,
    progress: bool = False,
    label: str | None = None,
    *,
    ass_path: Path | None = None,
    mp4_path: Path | None = None,
    report_path: Path | None = None,
    stats_path: Path | None = None,
    written: list[Path] | None = None,
    gaps: list[DecodingGap] | None = None,
) -> int:
    """:func:`analyze_to_outputs` with the outputs as keywords; returns the number of face rows.

    ``written`` and ``gaps`` receive the files committed and the stretches
    that could not be decoded.
    """
    outputs = VideoOutputs(table=Path(destination), ass=ass_path, mp4=mp4_path, report=report_path, stats=stats_path)
    outcome = analyze_to_outputs(source, outputs, options, analyzer=analyzer, progress=progress, label=label)
    if written is not None:
        written.extend(outcome.written)
    if gaps is not None:
        gaps.extend(outcome.gaps)
    return outcome.rows

"""Subtitles and annotated video from a results table and its source: for live runs and re-rendering.

A run knows which frames it analysed and passes their times (and writes
them in the table's sidecar, :mod:`.sidecar`, where a re-rendering reads
them); given only the sampling the analysis used
(:class:`~inafaceanalyzer.io.sampling.Sampling`), they are rebuilt from the
source's packets; given neither, they are inferred from the table (see
:func:`~.timeline.infer_analysed_frames`), a guess.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import OptionsError
from ..io import is_url
from ..io.packets import VideoTiming, read_timing
from ..io.sampling import Sampling
from .overlay import build_overlay
from .table import read_table
from .timeline import AnalysedFrames, analysed_frames, infer_analysed_frames

__all__ = ["Rendered", "Sampling", "check_not_source", "export_annotations", "resolve_analysed_frames"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rendered:
    """What :func:`export_annotations` found out, to reuse (e.g. for a report)."""

    timing: VideoTiming
    analysed: AnalysedFrames


def resolve_analysed_frames(
    table: pd.DataFrame,
    timing: VideoTiming | None,
    analysed: AnalysedFrames | Sequence[float] | None = None,
    sampling: Sampling | None = None,
) -> AnalysedFrames:
    """The analysed frames of ``table``: recorded (``analysed``), rebuilt (``sampling``) or inferred.

    ``timing`` must hold the packets (:func:`~inafaceanalyzer.io.packets.read_timing`) to
    rebuild them from ``sampling``; without ``analysed`` and without a
    source (``timing`` ``None``) or a sampling, the frames are inferred from
    the table alone (marked not exact).
    """
    table_times = pd.to_numeric(table.get("time_s", pd.Series(dtype=float)), errors="coerce").dropna().to_numpy()
    if isinstance(analysed, AnalysedFrames):
        return analysed
    if analysed is not None:
        end = float(timing.end) if timing is not None else (max(analysed) if len(analysed) else 0.0)
        return AnalysedFrames.from_times(np.asarray(analysed, np.float64), end)
    if timing is not None and timing.frame_count and sampling is not None:
        return analysed_frames(timing, fps=sampling.rate, keyframes=sampling.keyframes)
    return infer_analysed_frames(table_times, timing)


def check_not_source(source: str | os.PathLike[str], output: str | os.PathLike[str]) -> None:
    """Refuse to write an output over its own source video.

    Raises:
        OptionsError: ``output`` is ``source``.
    """
    if is_url(os.fspath(source)):
        return
    if Path(output).resolve() == Path(source).resolve():
        raise OptionsError(f"{output} is the source video itself: write the annotated video elsewhere")


def export_annotations(
    source: str | os.PathLike[str],
    table: pd.DataFrame | str | os.PathLike[str],
    *,
    ass_path: str | os.PathLike[str] | None = None,
    mp4_path: str | os.PathLike[str] | None = None,
    analysed: AnalysedFrames | Sequence[float] | None = None,
    sampling: Sampling | None = None,
    timing: VideoTiming | None = None,
    progress: bool = False,
) -> Rendered:
    """Write the subtitles and/or the annotated video of one analysed video.

    Args:
        source: the analysed video (path or URL).
        table: its results (DataFrame, or a CSV or Parquet file).
        ass_path: where to write the ASS subtitles, if wanted.
        mp4_path: where to write the annotated MP4, if wanted.
        analysed: the times of all analysed frames, when known (live runs).
        sampling: else the sampling the analysis used; if neither, it is inferred.
        timing: the source's timing, if already read.
        progress: show a progress bar while writing the video.

    Returns:
        the source's timing and the analysed frames (to reuse, e.g. for a report).

    Raises:
        MediaError: the source cannot be read.
        OptionsError: the MP4 would overwrite the source.
        ValueError: the table is not a video results table.
        OSError: an output cannot be written.
    """
    if mp4_path is not None:
        check_not_source(source, mp4_path)
    if not isinstance(table, pd.DataFrame):
        table = read_table(table)
    needs_packets = analysed is None
    if timing is None or (needs_packets and not timing.frame_count):
        timing = read_timing(source, packets=needs_packets)
    frames = resolve_analysed_frames(table, timing, analysed, sampling)
    overlay = build_overlay(table, frames)
    name = Path(os.fspath(source)).name
    if ass_path is not None:
        from .ass import write_ass

        faces = write_ass(
            ass_path, overlay, timing.width, timing.height, offset=float(timing.player_offset), title=name
        )
        log.info("wrote %s (%d faces, offset %.3f s)", ass_path, faces, float(timing.player_offset))
    if mp4_path is not None:
        from .annotated import write_annotated_mp4

        write_annotated_mp4(source, overlay, mp4_path, timing=timing, progress=progress)
        log.info("wrote %s", mp4_path)
    return Rendered(timing, frames)


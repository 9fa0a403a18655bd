"""Runs: analyses turned into files, with one set of rules for every entry point.

The layer above the pipeline (io -> ... -> pipeline -> tracking/identity ->
runs -> cli): it calls the analysis and then export and report to write
what each input produces.

* :func:`analyze_to_outputs`: one input's unit of work (table, sidecar,
  tracks, subtitles, video, report, statistics, all or nothing), the same
  for the local batch (:func:`run_batch`), the distributed jobs
  (:mod:`inafaceanalyzer.distributed.task`) and, from a table already
  written, ``ina_face_render`` (:func:`render_to_outputs`).
* :func:`is_finished`: the ``--skip_existing`` rule, local and distributed.
* :func:`read_results`: a results folder read back (tables and sidecars).
"""

from .batch import BatchReport, Failure, InputWarning, run_batch
from .names import as_sources, output_stem, video_output_paths
from .readback import Results, read_results
from .unit import (
    InputOutcome,
    analyze_to_outputs,
    analyze_video_to_files,
    finished_outcome,
    is_finished,
    planned_files,
    render_to_outputs,
)

__all__ = [
    "BatchReport",
    "Failure",
    "InputOutcome",
    "InputWarning",
    "Results",
    "analyze_to_outputs",
    "analyze_video_to_files",
    "as_sources",
    "finished_outcome",
    "is_finished",
    "output_stem",
    "planned_files",
    "read_results",
    "render_to_outputs",
    "run_batch",
    "video_output_paths",
]

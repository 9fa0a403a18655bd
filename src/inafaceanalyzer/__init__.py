"""inafaceanalyzer: face detection, tracking, gender and age analysis of images and videos.

The public API:

- :class:`AnalysisOptions`: every setting, shared by the API, the CLI and workers.
- :func:`analyze_video`, :func:`iter_video`: a video as a DataFrame, or streamed.
- :func:`analyze_images`, :func:`analyze_preprocessed_images`: image files.
- :class:`FaceAnalyzer`: the models, to load once and share between calls.
- :func:`run_batch`: the batch run behind ``ina_face_analyzer.py``.
- :func:`read_results`: a results folder read back: frames, tracks, people
  and statistics, with each table's sidecar (:class:`Results`).
- :func:`face_statistics`, :func:`batch_statistics`: screen time by gender and
  age band with intervals and bias correction (:mod:`inafaceanalyzer.stats`).
- :class:`Detections`, :class:`FrameResult`: the result types.
"""

from __future__ import annotations

from ._version import __version__
from .api import analyze_images, analyze_preprocessed_images, analyze_video, iter_video
from .detections import Detections
from .errors import InaFaceAnalyzerError, MediaError, OptionsError, OutputError
from .options import AnalysisOptions
from .pipeline.analyzer import FaceAnalyzer
from .pipeline.results import COLUMNS, FrameResult
from .runs import BatchReport, Results, read_results, run_batch
from .stats import batch_statistics, face_statistics

__all__ = [
    "COLUMNS",
    "AnalysisOptions",
    "BatchReport",
    "Detections",
    "FaceAnalyzer",
    "FrameResult",
    "InaFaceAnalyzerError",
    "MediaError",
    "OptionsError",
    "OutputError",
    "Results",
    "__version__",
    "analyze_images",
    "analyze_preprocessed_images",
    "analyze_video",
    "batch_statistics",
    "face_statistics",
    "iter_video",
    "read_results",
    "run_batch",
]

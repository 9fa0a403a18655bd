"""The Python API: DataFrames for convenience, generators for long videos.

>>> from inafaceanalyzer import AnalysisOptions, analyze_video, iter_video
>>> df = analyze_video("clip.mp4", AnalysisOptions(fps=1))          # doctest: +SKIP
>>> analysis = iter_video("clip.mp4", AnalysisOptions(fps=1))       # doctest: +SKIP
>>> analysis.info.frame_rate, analysis.info.duration                # known at once
>>> for result in analysis:                                         # one frame at a time
...     print(result.frame, result.time_s, len(result.faces))

Pass one :class:`FaceAnalyzer` to many calls to load the models once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Literal

import pandas as pd

from .errors import MediaError
from .options import AnalysisOptions
from .pipeline.analyzer import FaceAnalyzer
from .pipeline.engines import VideoAnalysis, iter_images
from .pipeline.results import results_dataframe
from .runs.names import as_sources

__all__ = ["analyze_images", "analyze_video", "iter_video", "analyze_preprocessed_images"]

Source = str | os.PathLike[str]


def _video_options(options: AnalysisOptions | None) -> AnalysisOptions:
    options = options or AnalysisOptions()
    return options if options.is_video else options.replace(engine="video")


def iter_video(source: Source, options: AnalysisOptions | None = None, analyzer: FaceAnalyzer | None = None) -> VideoAnalysis:
    """Open a video for analysis: ``.info`` at once, :class:`FrameResult` objects when iterated.

    With ``options.engine == "videotracking"`` the results carry track
    identifiers (see :mod:`inafaceanalyzer.tracking`).

    Raises:
        MediaError: the source cannot be opened (at once) or turns out
            truncated or corrupt (while iterating).
    """
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"one video is a path or URL (str or PathLike), not {type(source).__name__}; "
                        "for several, call once per video or use run_batch")
    options = _video_options(options)
    analyzer = analyzer or FaceAnalyzer(options)
    if options.engine_spec.tracks:
        from .tracking.engine import TrackingAnalysis

        return TrackingAnalysis(os.fspath(source), options, analyzer)
    return VideoAnalysis(os.fspath(source), options, analyzer)


def analyze_video(
    source: Source, options: AnalysisOptions | None = None, analyzer: FaceAnalyzer | None = None
) -> pd.DataFrame:
    """All faces of a video as a DataFrame, with the columns of the engine's CSV."""
    analysis = iter_video(source, options, analyzer)
    return analysis.dataframe()


def _images(
    sources: Source | Iterable[Source],
    options: AnalysisOptions,
    analyzer: FaceAnalyzer | None,
    errors: Literal["raise", "skip"],
) -> pd.DataFrame:
    paths = as_sources(sources)
    analyzer = analyzer or FaceAnalyzer(options)
    failures: list[MediaError] = []
    results = list(
        iter_images(
            paths,
            analyzer,
            on_error=failures.append,
            preprocessed=not options.engine_spec.detects,
        )
    )
    if failures and errors == "raise":
        raise failures[0]
    return results_dataframe(results, options.engine, options.classifier)


def analyze_images(
    sources: Source | Iterable[Source],
    options: AnalysisOptions | None = None,
    analyzer: FaceAnalyzer | None = None,
    errors: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame:
    """All faces of image files (or URLs), one row per face, ``frame`` = the source.

    Args:
        sources: paths or URLs; one path or URL alone is a list of one.
        errors: ``raise`` raises the first :class:`MediaError` after
            analysing the readable images; ``skip`` logs and skips them.
    """
    options = (options or AnalysisOptions(engine="image")).replace(engine="image")
    return _images(sources, options, analyzer, errors)


def analyze_preprocessed_images(
    sources: Source | Iterable[Source],
    options: AnalysisOptions | None = None,
    analyzer: FaceAnalyzer | None = None,
    errors: Literal["raise", "skip"] = "raise",
) -> pd.DataFrame:
    """Gender and age of face crops (one face per image, no detection), ``filename`` column.

    ``sources`` and ``errors`` as in :func:`analyze_images`.
    """
    options = (options or AnalysisOptions(engine="preprocessed_image")).replace(engine="preprocessed_image")
    return _images(sources, options, analyzer, errors)

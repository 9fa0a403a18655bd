"""``<name>.meta.json``: what a results table does not say, written beside it by the run that made it.

A results table lists faces; an analysed frame without a face leaves no
row. The sidecar carries the facts the table cannot: the sampling
(:class:`~inafaceanalyzer.io.sampling.Sampling`), the options, the package
version, the model files and their sha256, the source's duration and frame
count, the time of every analysed frame and where the last one ends, and
the files of the input's output set. Exports, reports, ``ina_face_stats``
and ``ina_face_render`` read it instead of rebuilding or guessing the
sampling; a batch with ``--skip_existing`` reads it to tell a finished
input (:meth:`ResultsMeta.same_analysis`) and to know which files it may
replace (:attr:`ResultsMeta.outputs`).

It is deterministic: no wall-clock time, no thread count, no host name, so
that the same analysis writes the same bytes. The up-front part of it (all
but the frames) also goes into a Parquet table's schema metadata, under the
key :data:`PARQUET_KEY`.

Format (``"format": 1``)::

    {"format": 1, "generator": "inafaceanalyzer 1.2.0", "engine": "video",
     "sampling": {"rate": "2", "keyframes": false, "detect_period": 1},
     "options": {...}, "models": {"centerface.onnx": "<sha256>", ...},
     "source": {"path": "clip.mp4", "duration_s": 10.01, "frame_count": 300,
                "frame_rate": "30000/1001"},
     "analysed": {"count": 21, "end_s": 10.01, "times_s": [0.0, 0.5005, ...]},
     "outputs": ["clip.meta.json", "clip.csv", "clip.ass"]}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import OptionsError
from ..io.sampling import Sampling
from .atomic import atomic_path
from .table import table_stem
from .timeline import AnalysedFrames

__all__ = [
    "FORMAT",
    "PARQUET_KEY",
    "ResultsMeta",
    "meta_path",
    "model_hashes",
    "read_meta",
    "results_options",
    "write_meta",
]

#: Version of the sidecar's layout.
FORMAT = 1
#: Key of the run's facts in a Parquet table's schema metadata.
PARQUET_KEY = "inafaceanalyzer"
#: Options that change how a run goes, not what it finds: left out of the sidecar.
_RUN_ONLY_OPTIONS = ("threads", "url_timeout")


def meta_path(table: str | os.PathLike[str]) -> Path:
    """The sidecar of a results table: ``out/clip.csv`` -> ``out/clip.meta.json``."""
    table = Path(table)
    return table.with_name(f"{table_stem(table)}.meta.json")


def results_options(options: Any) -> dict[str, Any]:
    """The options that decide what an analysis finds (:meth:`AnalysisOptions.to_dict` less run-only ones)."""
    values = options.to_dict() if hasattr(options, "to_dict") else dict(options)
    return {key: value for key, value in values.items() if key not in _RUN_ONLY_OPTIONS}


def model_hashes() -> dict[str, str]:
    """The sha256 of every model file the package ships (``models/registry.json``), by file name."""
    from ..models import registry

    return {name: entry["sha256"] for name, entry in sorted(registry().items())}


def _text(value: Fraction | None) -> str | None:
    return None if value is None else str(Fraction(value))


@dataclass(frozen=True)
class ResultsMeta:
    """The facts of one analysed video that its table does not hold (see the module's doc).

    Attributes:
        engine: the engine that wrote the table.
        sampling: how its frames were picked.
        options: :func:`results_options` of the run.
        models: model file name -> sha256 (:func:`model_hashes`).
        source: the analysed video, as given.
        duration_s, frame_count, frame_rate: the source's, as its container
            states them (``None`` when unknown); ``frame_rate`` exact.
        analysed: the time of every analysed frame, and where the last ends.
        outputs: file names of the input's output set (all in the table's
            directory), the sidecar's own first.
        generator: ``"inafaceanalyzer <version>"``.
    """

    engine: str
    sampling: Sampling
    options: Mapping[str, Any]
    models: Mapping[str, str]
    source: str
    duration_s: float | None
    frame_count: int | None
    frame_rate: Fraction | None
    analysed: AnalysedFrames
    outputs: tuple[str, ...] = ()
    generator: str = f"inafaceanalyzer {__version__}"

    def same_analysis(self, other: ResultsMeta) -> bool:
        """Whether ``other`` comes from the same analysis settings: engine, sampling, options, model files."""
        return (self.engine == other.engine and self.sampling == other.sampling
                and dict(self.options) == dict(other.options) and dict(self.models) == dict(other.models))

    def header(self) -> dict[str, Any]:
        """The facts known before the analysis (everything but the frames and the outputs)."""
        return {"format": FORMAT, "generator": self.generator, "engine": self.engine,
                "sampling": self.sampling.to_dict(), "options": dict(self.options), "models": dict(self.models)}

    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""
        return {
            **self.header(),
            "source": {"path": self.source, "duration_s": self.duration_s, "frame_count": self.frame_count,
                       "frame_rate": _text(self.frame_rate)},
            "analysed": {"count": len(self.analysed.times), "end_s": self.analysed.end,
                         "times_s": [float(t) for t in self.analysed.times]},
            "outputs": list(self.outputs),
        }

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> ResultsMeta:
        """The inverse of :meth:`to_dict`.

        Raises:
            ValueError: not a sidecar of this format (says what is wrong).
        """
        if document.get("format") != FORMAT:
            raise ValueError(f"not a results sidecar of format {FORMAT} (format: {document.get('format')!r})")
        try:
            source, analysed = document["source"], document["analysed"]
            times = analysed["times_s"]
            if len(times) != analysed["count"]:
                raise ValueError(f"{analysed['count']} analysed frames announced, {len(times)} listed")
            rate = source.get("frame_rate")
            return cls(
                engine=str(document["engine"]),
                sampling=Sampling.from_dict(document["sampling"]),
                options=dict(document["options"]),
                models=dict(document["models"]),
                source=str(source["path"]),
                duration_s=source.get("duration_s"),
                frame_count=source.get("frame_count"),
                frame_rate=None if rate is None else Fraction(rate),
                analysed=AnalysedFrames.from_times(times, float(analysed["end_s"])),
                outputs=tuple(document.get("outputs", ())),
                generator=str(document.get("generator", "")),
            )
        except (KeyError, TypeError, ValueError, ZeroDivisionError, OptionsError) as error:
            raise ValueError(f"not a valid results sidecar: {error}") from error

    def with_outputs(self, names: Sequence[str]) -> ResultsMeta:
        """A copy that lists these output file names."""
        return ResultsMeta(self.engine, self.sampling, self.options, self.models, self.source, self.duration_s,
                           self.frame_count, self.frame_rate, self.analysed, tuple(names), self.generator)


def write_meta(meta: ResultsMeta, table: str | os.PathLike[str]) -> Path:
    """Write the sidecar of ``table`` (complete or absent; inside an output set, with it)."""
    path = meta_path(table)
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(meta.to_dict(), indent=1) + "\n", encoding="utf-8")
    return path


def read_meta(table: str | os.PathLike[str]) -> ResultsMeta | None:
    """The sidecar of ``table``, or ``None`` when there is none.

    Raises:
        ValueError: the sidecar exists but cannot be read as one (names the file).
    """
    path = meta_path(table)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ValueError(f"{path}: cannot read: {error.strerror or error}") from error
    try:
        return ResultsMeta.from_dict(json.loads(text))
    except (ValueError, AttributeError) as error:
        raise ValueError(f"{path}: {error}") from error

"""The inputs of a run as a list, and the name of each input's outputs."""

from __future__ import annotations

import os
import posixpath
import urllib.parse
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import OptionsError
from ..io import is_url

__all__ = ["as_sources", "output_stem", "video_output_paths"]


def output_stem(source: str) -> str:
    """The output base name of an input: its file name without extension (URLs too)."""
    if is_url(source):
        path = urllib.parse.urlparse(source).path
        name = posixpath.basename(path.rstrip("/")) or urllib.parse.urlparse(source).netloc
    else:
        name = os.path.basename(os.fspath(source).rstrip("/"))
    stem, _ = os.path.splitext(name)
    return stem or name


def video_output_paths(sources: Sequence[str], directory: Path, suffix: str = ".csv") -> dict[str, Path]:
    """One output path per input in ``directory``; two inputs may not share one."""
    paths: dict[str, Path] = {}
    owners: dict[Path, str] = {}
    for source in sources:
        path = directory / (output_stem(source) + suffix)
        if path in owners and owners[path] != source:
            raise OptionsError(f"inputs {owners[path]} and {source} would both write {path}: rename one")
        owners[path] = source
        paths[source] = path
    return paths


def as_sources(sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """The inputs as a list of strings; one path (or URL) alone is a list of one.

    Raises:
        TypeError: ``sources`` is neither a path nor an iterable of paths.
    """
    if isinstance(sources, (str, os.PathLike)):
        return [os.fspath(sources)]
    if isinstance(sources, bytes) or not isinstance(sources, Iterable):
        raise TypeError(f"inputs must be a path or URL, or a list of them, not {type(sources).__name__}")
    listed = []
    for source in sources:
        if not isinstance(source, (str, os.PathLike)):
            raise TypeError(f"each input must be a path or URL (str or PathLike), not {type(source).__name__}: "
                            f"{source!r}")
        listed.append(os.fspath(source))
    return listed

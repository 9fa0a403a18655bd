"""The inputs a command is given: paths and URLs, directories walked, lists read.

Large collections do not fit on a command line (argv is limited, and long
ones have crashed native libraries): a directory given as an input stands
for the media files under it, and an input list names one input a line.
Every command expands its inputs here, so that they all follow one rule:

* a directory is walked recursively; the files whose extension is one of
  the wanted ones are kept, hidden files and directories (``.name``) are
  skipped, and the paths come sorted;
* an input list (``-`` for stdin) has one path or URL a line; blank lines and
  lines starting with ``#`` are skipped; each line is taken as written
  (relative paths from the current directory), a directory in it is walked;
* anything else (a file, a URL, a path that does not exist) is kept as
  given, for the analysis to read or to report as missing.

A directory or a list that yields nothing is a usage error naming it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from ..errors import OptionsError
from .remote import is_url

__all__ = [
    "IMAGE_EXTENSIONS",
    "TABLE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "expand_inputs",
    "read_input_list",
    "walk_directory",
]

#: Still images that :func:`~inafaceanalyzer.io.load_image` reads.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
#: Video containers that FFmpeg reads.
VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".mpe", ".ts", ".mts", ".m2ts", ".vob",
    ".flv", ".wmv", ".asf", ".3gp", ".3g2", ".ogv", ".ogg", ".mxf", ".dv", ".y4m", ".gif",
})
#: Result tables written by the analysis.
TABLE_EXTENSIONS = frozenset({".csv", ".parquet"})


def _hidden(name: str) -> bool:
    return name.startswith(".")


def walk_directory(directory: str | os.PathLike[str], extensions: Iterable[str]) -> list[str]:
    """The files under ``directory`` (recursively) whose extension is in ``extensions``, sorted.

    Hidden files and directories are skipped; symbolic links to directories
    are not followed (no loops), links to files are kept.
    """
    wanted = {e.lower() for e in extensions}
    found: list[str] = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not _hidden(d))
        for name in sorted(files):
            if not _hidden(name) and os.path.splitext(name)[1].lower() in wanted:
                found.append(os.path.join(root, name))
    return sorted(found)


def read_input_list(path: str, stdin: TextIO | None = None) -> list[str]:
    """The inputs of an input list: one path or URL a line, blank lines and ``#`` comments skipped.

    Args:
        path: the list's file, or ``-`` for ``stdin``.
        stdin: what ``-`` reads (default: :data:`sys.stdin`).

    Raises:
        OptionsError: the list cannot be read (naming it and why).
    """
    try:
        if path == "-":
            text = (stdin or sys.stdin).read()
        else:
            with open(path, encoding="utf-8-sig") as handle:
                text = handle.read()
    except OSError as error:
        raise OptionsError(f"--input_list {path}: cannot read it ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise OptionsError(f"--input_list {path}: not a UTF-8 text file ({error.reason} at byte {error.start})") from None
    entries = []
    for line in text.splitlines():
        entry = line.strip()
        if entry and not entry.startswith("#"):
            entries.append(entry)
    return entries


def _describe(extensions: Iterable[str]) -> str:
    return ", ".join(sorted(extensions))


def expand_inputs(
    inputs: Sequence[str] = (),
    input_lists: Sequence[str] = (),
    extensions: Iterable[str] = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS,
    flag: str = "-i",
    stdin: TextIO | None = None,
) -> list[str]:
    """The inputs of a command: ``inputs`` then the entries of each list, directories walked.

    Args:
        inputs: paths, URLs and directories, as given on the command line.
        input_lists: files of one input a line (``-``: stdin).
        extensions: the extensions a walked directory's files must have.
        flag: the option ``inputs`` came with, for the error messages.
        stdin: what the list ``-`` reads.

    Raises:
        OptionsError: a directory holds no wanted file, a list is empty or
            unreadable, or there is no input at all.
    """
    extensions = frozenset(e.lower() for e in extensions)

    def expand(item: str, where: str) -> list[str]:
        if not is_url(item) and os.path.isdir(item):
            found = walk_directory(item, extensions)
            if not found:
                raise OptionsError(f"{where}: no file with the extension {_describe(extensions)} in the "
                                   "directory (hidden files skipped)")
            return found
        return [item]

    expanded: list[str] = []
    for item in inputs:
        expanded.extend(expand(item, f"{flag} {item}"))
    for path in input_lists:
        entries = read_input_list(path, stdin)
        if not entries:
            raise OptionsError(f"--input_list {path}: no path or URL in it (one a line; blank lines and # "
                               "comments are skipped)")
        for number, entry in enumerate(entries, start=1):
            expanded.extend(expand(entry, f"--input_list {path}, entry {number} ({entry})"))
    if not expanded:
        raise OptionsError(f"no input: give {flag} and/or --input_list")
    return expanded

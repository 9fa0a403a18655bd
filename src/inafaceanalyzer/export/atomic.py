"""Outputs that are either complete or absent: write to a temporary name, then rename.

One file (:func:`atomic_path`) is renamed as soon as it is complete. The
files of one input (table, tracks, subtitles, video, report) are written
inside an :class:`OutputSet`: each is still written under its temporary
name, and they are renamed together only when every one is complete; if
any fails, or the run is interrupted, none of them appears.

Temporary names are ``.<name>.<8 hex digits>.partial`` beside the output
(:func:`is_temporary_of`); :func:`remove_stale_temporaries` deletes those a
killed run left, and only those.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from .. import interrupts
from ..errors import OutputError

__all__ = ["OutputSet", "atomic_path", "directory_error", "is_temporary_of", "remove_stale_temporaries", "temporary_path"]

#: The output set that :func:`atomic_path` files its temporaries with, if any.
_current: contextvars.ContextVar[OutputSet | None] = contextvars.ContextVar("output_set", default=None)


def temporary_path(destination: str | os.PathLike[str]) -> Path:
    """A fresh temporary name beside ``destination``: ``.<name>.<8 hex>.partial``."""
    destination = Path(destination)
    return destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:8]}.partial")


def is_temporary_of(path: str | os.PathLike[str], destination: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is named as a temporary file of ``destination`` (see :func:`temporary_path`)."""
    path, destination = Path(path), Path(destination)
    pattern = rf"\.{re.escape(destination.name)}\.[0-9a-f]{{8}}\.partial"
    return path.parent == destination.parent and re.fullmatch(pattern, path.name) is not None


def remove_stale_temporaries(destinations: Iterable[str | os.PathLike[str] | None]) -> list[Path]:
    """Delete the temporary files that an interrupted run left for these outputs; returns them.

    Only files named as a temporary of one of ``destinations`` are removed
    (``.<name>.<8 hex>.partial``), never any other file. Each directory is
    listed once.
    """
    names: dict[Path, set[str]] = {}
    for destination in destinations:
        if destination is not None:
            destination = Path(destination)
            names.setdefault(destination.parent, set()).add(destination.name)
    removed = []
    for directory, wanted in names.items():
        try:
            entries = [entry.name for entry in os.scandir(directory)
                       if entry.name.endswith(".partial") and entry.name.startswith(".")]
        except OSError:  # no directory yet: nothing to remove
            continue
        for name in entries:
            owner = name[1:-len(".partial") - 9]  # ".<name>.<8 hex>.partial" -> "<name>"
            path = directory / name
            if owner in wanted and is_temporary_of(path, directory / owner) and path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def directory_error(directory: Path, error: OSError) -> str:
    """Why ``directory`` could not be created, in words: names the file in its way if there is one."""
    if isinstance(error, (FileExistsError, NotADirectoryError)):
        for ancestor in (directory, *directory.parents):
            if ancestor.exists():
                if not ancestor.is_dir():
                    return f"{ancestor} is a file, not a directory"
                break
    return _reason(error)


class OutputSet:
    """The outputs of one input, renamed into place together once all are written.

    Inside ``with OutputSet() as outputs:``, every :func:`atomic_path` of
    this thread leaves its complete temporary file in ``outputs`` instead of
    renaming it. Leaving the block normally renames them all
    (:meth:`commit`); leaving it with an exception (a failed output, an
    interrupt) deletes them all (:meth:`discard`).
    """

    def __init__(self) -> None:
        self._temporaries: dict[Path, Path] = {}
        self._token: contextvars.Token[OutputSet | None] | None = None
        self.committed: list[Path] = []

    def __enter__(self) -> OutputSet:
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._token is not None:
            _current.reset(self._token)
            self._token = None
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False

    def add(self, destination: Path, temporary: Path) -> None:
        """File ``temporary``, the complete content of ``destination``, for the commit."""
        previous = self._temporaries.pop(destination, None)
        if previous is not None:
            with contextlib.suppress(FileNotFoundError):
                previous.unlink()
        self._temporaries[destination] = temporary

    def __contains__(self, destination: object) -> bool:
        """Whether ``destination`` is written and waits for the commit."""
        return isinstance(destination, (str, os.PathLike)) and Path(destination) in self._temporaries

    @property
    def destinations(self) -> list[Path]:
        """The outputs written and waiting for the commit, in commit order."""
        return list(self._temporaries)

    def commit_first(self, destination: str | os.PathLike[str]) -> None:
        """Rename ``destination`` (already written) before the others at the commit.

        A run killed in the middle of the commit then leaves this file (a
        sidecar that names the set) rather than files that nothing names.
        """
        destination = Path(destination)
        temporary = self._temporaries.pop(destination)
        self._temporaries = {destination: temporary, **self._temporaries}

    def pending(self, destination: str | os.PathLike[str]) -> Path:
        """Where ``destination``'s content is now: its temporary file until the commit."""
        destination = Path(destination)
        return self._temporaries.get(destination, destination)

    def commit(self) -> list[Path]:
        """Rename every temporary file to its output; returns the outputs.

        If a rename fails or is interrupted, the outputs already renamed are
        removed again and the other temporaries deleted: none or all. A stop
        asked by a signal that a finaliser swallowed (:mod:`~inafaceanalyzer.interrupts`)
        commits nothing.
        """
        done: list[Path] = []
        try:
            interrupts.check()
            for destination, temporary in list(self._temporaries.items()):
                try:
                    os.replace(temporary, destination)
                except OSError as error:
                    raise OutputError(destination, _reason(error), error.errno) from error
                done.append(destination)
                del self._temporaries[destination]
        except BaseException:
            for destination in done:
                with contextlib.suppress(OSError):
                    destination.unlink()
            self.discard()
            raise
        self.committed.extend(done)
        return done

    def discard(self) -> None:
        """Delete every temporary file not committed yet."""
        for temporary in self._temporaries.values():
            with contextlib.suppress(OSError):
                temporary.unlink()
        self._temporaries.clear()


def current_content(destination: str | os.PathLike[str]) -> Path | None:
    """Where ``destination``'s content is now: its temporary file while this thread's
    :class:`OutputSet` holds it, else the file itself if it exists (``None`` when neither)."""
    destination = Path(destination)
    outputs = _current.get()
    if outputs is not None and destination in outputs:
        return outputs.pending(destination)
    return destination if destination.is_file() else None


@contextlib.contextmanager
def atomic_path(destination: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``destination``; rename it there on success.

    The temporary name starts with a dot and ends with ``.partial``, so a
    half-written file never looks like a result. On any exception the
    temporary file is removed and the exception propagates; an existing
    ``destination`` is left untouched until the new one is complete. Inside
    an :class:`OutputSet`, the rename waits for the set's commit.

    Raises:
        OutputError: the file or its directory cannot be written (full disk,
            read-only file system...); it names ``destination``.
    """
    destination = Path(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(destination, f"cannot create its directory: {directory_error(destination.parent, error)}",
                          error.errno) from error
    temporary = temporary_path(destination)
    outputs = _current.get()
    try:
        yield temporary
        if outputs is not None:
            outputs.add(destination, temporary)
        else:
            os.replace(temporary, destination)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        if isinstance(error, OSError) and not isinstance(error, OutputError) and _about(error, temporary):
            raise OutputError(destination, _reason(error), error.errno) from error
        raise


def _about(error: OSError, temporary: Path) -> bool:
    """Whether ``error`` is about writing ``temporary`` (and not, e.g., about reading a source)."""
    return error.filename is None or str(error.filename) in (str(temporary), temporary.name)

"""Errors the toolbox raises about its inputs and outputs."""

from __future__ import annotations

__all__ = ["InaFaceAnalyzerError", "Interrupted", "MediaError", "OptionsError", "OutputError"]


class InaFaceAnalyzerError(Exception):
    """Base class of the toolbox's own errors."""


class MediaError(InaFaceAnalyzerError):
    """A source could not be read: missing, empty, truncated, not media, unreachable.

    Attributes:
        source: the path or URL as the user gave it.
        reason: what is wrong, in words a user can act on.
    """

    def __init__(self, source: object, reason: str) -> None:
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")


class OptionsError(InaFaceAnalyzerError, ValueError):
    """Analysis options that contradict each other or are out of range."""


class OutputError(InaFaceAnalyzerError, OSError):
    """An output file could not be written (full disk, read-only file system, a path through a file).

    An :class:`OSError` (``errno``, ``strerror``, ``filename`` are the
    cause's), whose message names the output, not its temporary file.

    Attributes:
        path: the output as its caller named it.
        reason: what went wrong, in words (``No space left on device``).
    """

    def __init__(self, path: object, reason: str, errno: int | None = None) -> None:
        super().__init__(errno, reason, str(path))
        self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.reason}"


class Interrupted(BaseException):  # noqa: N818 - a signal, like KeyboardInterrupt, not an error
    """The process received SIGINT or SIGTERM; raised where it was, so that cleanups run.

    A :class:`BaseException`, like :class:`KeyboardInterrupt`: the handlers of
    failed inputs do not catch it.

    Attributes:
        signal: the signal's number.
    """

    def __init__(self, signal: int) -> None:
        super().__init__(signal)
        self.signal = signal

"""Errors the toolbox raises about its inputs and outputs."""

from __future__ import annotations

__all__ = ["InaFaceAnalyzerError", "MediaError", "OptionsError"]


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

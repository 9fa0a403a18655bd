"""Streaming table writers: rows go to disk as they come, and appear complete or not at all."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .atomic import atomic_path

__all__ = ["CsvTableWriter"]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if value != value else repr(value)
    return value


class CsvTableWriter:
    """Writes rows to a CSV file under a temporary name; :meth:`commit` renames it.

    Use as a context manager: leaving the block normally commits the file,
    leaving it with an exception removes the partial file. The header is
    always written, so a video without faces gets a file with its header.
    """

    def __init__(self, destination: str | os.PathLike[str], columns: Sequence[str]) -> None:
        self.destination = Path(destination)
        self.columns = list(columns)
        self._stack = ExitStack()
        self.rows_written = 0

    def __enter__(self) -> CsvTableWriter:
        temporary = self._stack.enter_context(atomic_path(self.destination))
        handle = self._stack.enter_context(open(temporary, "w", newline="", encoding="utf-8"))
        self._writer = csv.writer(handle)
        self._writer.writerow(self.columns)
        self._handle = handle
        return self

    def write_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append rows (dicts keyed by column name; missing keys are empty cells)."""
        for row in rows:
            self._writer.writerow([_cell(row.get(column)) for column in self.columns])
            self.rows_written += 1

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
        return self._stack.__exit__(exc_type, exc, tb)

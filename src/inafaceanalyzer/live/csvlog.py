"""The rolling CSV of a live session: one row per face per analysed frame, flushed regularly.

A live log grows while it runs, so the atomic write-then-rename of the batch
tables does not apply. Instead rows are appended, and the file is flushed and
synced to disk every ``flush_s`` seconds (and when closed): a crash loses at
most the last seconds. An existing log with the same header is appended to
(a restarted session continues its log); a file with another header is
refused rather than mixed.

Columns: the toolbox's video columns (:data:`~inafaceanalyzer.pipeline.results.COLUMNS`),
with ``frame`` the frame's number among the frames read since the session
started and ``time_s`` its capture time in seconds from the start of the
session, then ``capture_time``, the capture time as ISO 8601 UTC.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from ..errors import OptionsError
from ..pipeline.results import COLUMNS, FrameResult, result_rows

__all__ = ["LIVE_COLUMNS", "RollingCsv"]

log = logging.getLogger(__name__)

#: Header of the rolling CSV.
LIVE_COLUMNS: tuple[str, ...] = (*COLUMNS["video"], "capture_time")


class RollingCsv:
    """Append the faces of each analysed frame to a CSV file, flushed every ``flush_s`` seconds.

    Raises:
        OptionsError: the file exists with another header, or cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str], flush_s: float = 1.0) -> None:
        self.path = Path(path)
        self.flush_s = float(flush_s)
        self.rows = 0
        self._handle: IO[str] | None = self._open()
        self._writer = csv.DictWriter(self._handle, fieldnames=LIVE_COLUMNS, lineterminator="\n")
        self._last_flush = time.monotonic()

    def _open(self) -> IO[str]:
        header = ",".join(LIVE_COLUMNS)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.is_file() and self.path.stat().st_size:
                with self.path.open("r", encoding="utf-8", newline="") as existing:
                    first = existing.readline().rstrip("\r\n")
                if first != header:
                    raise OptionsError(f"{self.path}: exists with other columns; give a new file for the live CSV")
                handle = self.path.open("a", encoding="utf-8", newline="")
                with self.path.open("rb") as raw:  # a line cut by a crash is ended first
                    raw.seek(-1, os.SEEK_END)
                    if raw.read(1) != b"\n":
                        handle.write("\n")
                log.info("appending to %s", self.path)
                return handle
            handle = self.path.open("w", encoding="utf-8", newline="")
            handle.write(header + "\n")
            return handle
        except OSError as error:
            raise OptionsError(f"{self.path}: cannot write the live CSV: {error.strerror or error}") from error

    def write(self, result: FrameResult, capture_time: float) -> None:
        """Append the rows of one analysed frame; flush if ``flush_s`` has passed."""
        if self._handle is None:
            raise ValueError(f"{self.path}: the live CSV is closed")
        stamp = datetime.fromtimestamp(capture_time, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        for row in result_rows(result, "video"):
            row["capture_time"] = stamp
            self._writer.writerow(row)
            self.rows += 1
        self.maybe_flush()

    def maybe_flush(self, now: float | None = None) -> None:
        """Flush and sync to disk if ``flush_s`` seconds passed since the last time."""
        now = time.monotonic() if now is None else now
        if self._handle is not None and now - self._last_flush >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered to disk."""
        if self._handle is None:
            return
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._last_flush = time.monotonic()

    def close(self) -> None:
        """Flush and close (idempotent)."""
        if self._handle is None:
            return
        try:
            self.flush()
        finally:
            self._handle.close()
            self._handle = None
            log.info("wrote %d row(s) to %s", self.rows, self.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

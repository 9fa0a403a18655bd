"""Streaming table writers: rows go to disk as they come, and appear complete or not at all.

Two formats hold the same columns: CSV (the seed's) and Parquet (columnar,
typed and compressed, for the million-row tables of large studies). The
destination's suffix picks the writer (:func:`open_table_writer`);
:func:`read_table` reads either back as a DataFrame.
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pandas as pd

from .atomic import atomic_path, current_content

__all__ = [
    "TABLE_FORMATS",
    "CsvTableWriter",
    "find_tracks_file",
    "ParquetTableWriter",
    "open_table_writer",
    "read_table",
    "table_stem",
]

#: Table formats and their file suffixes.
TABLE_FORMATS: dict[str, str] = {"csv": ".csv", "parquet": ".parquet"}


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

    def _finish(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def __exit__(self, exc_type, exc, tb) -> bool:
        return _close(self._stack, self._finish, exc_type, exc, tb)


# Arrow types of the known columns; other columns take the type of their first value.
_FLOAT = ("detect_conf", "sex_decfunc", "age_decfunc", "age_label", "time_s", "face_size", "sex_prob_male",
          "age_std", "track_conf", "start_s", "end_s", "duration_s", "median_face_size")
_STRING = ("bbox", "sex_label", "sex_label_avg", "filename", "timecode")
_INT = ("face_id", "first_frame", "last_frame", "n_frames", "n_detections", "left", "top", "right", "bottom",
        "person_id")


def _arrow_type(column: str, values: list[Any]) -> Any:
    import pyarrow as pa

    if column in _FLOAT or (column.endswith("_avg") and column not in _STRING):
        return pa.float64()
    if column in _STRING:
        return pa.string()
    if column in _INT:
        return pa.int64()
    first = next((v for v in values if v is not None and v == v), None)
    if isinstance(first, bool):
        return pa.bool_()
    if isinstance(first, int) or (first is None and column == "frame"):
        return pa.int64()
    if isinstance(first, float):
        return pa.float64()
    return pa.string()


class ParquetTableWriter:
    """Writes rows to a Parquet file in row groups, under a temporary name; renames it when complete.

    The same interface as :class:`CsvTableWriter`. Rows are buffered up to
    ``row_group_size`` and written as one row group, so memory stays small.
    Column types are fixed by the known columns (``frame`` int or, for
    images, string; scores float; labels string; ``face_id`` int), others by
    their first value. Cells that are ``None`` or NaN are nulls.
    ``metadata`` (text keys and values) goes into the schema's metadata.
    """

    def __init__(
        self, destination: str | os.PathLike[str], columns: Sequence[str], row_group_size: int = 65_536,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.destination = Path(destination)
        self.columns = list(columns)
        self.metadata = dict(metadata or {})
        self.row_group_size = row_group_size
        self._stack = ExitStack()
        self._buffer: list[Mapping[str, Any]] = []
        self._writer: Any = None
        self._schema: Any = None
        self.rows_written = 0

    def __enter__(self) -> ParquetTableWriter:
        temporary = self._stack.enter_context(atomic_path(self.destination))
        self._handle = self._stack.enter_context(open(temporary, "wb"))
        return self

    def write_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append rows (dicts keyed by column name; missing keys are nulls)."""
        for row in rows:
            self._buffer.append(row)
            self.rows_written += 1
            if len(self._buffer) >= self.row_group_size:
                self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = {
            column: [None if (v := row.get(column)) is None or (isinstance(v, float) and v != v) else v
                     for row in self._buffer]
            for column in self.columns
        }
        if self._schema is None:
            self._schema = pa.schema([(column, _arrow_type(column, data[column])) for column in self.columns],
                                     metadata=self.metadata or None)
            self._writer = pq.ParquetWriter(self._handle, self._schema, compression="zstd")
        self._writer.write_table(pa.table(data, schema=self._schema))
        self._buffer = []

    def _finish(self) -> None:
        if self._buffer or self._writer is None:
            self._flush()
        writer, self._writer = self._writer, None
        writer.close()
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        return _close(self._stack, self._finish, exc_type, exc, tb)


def _close(stack: ExitStack, finish: Callable[[], None], exc_type, exc, tb) -> bool:
    """Leave a writer's ``stack`` (its file, its temporary name) after ``finish`` on success.

    A ``finish`` that fails (a full disk on the last flush) leaves the stack
    with that exception, so that the temporary file is removed.
    """
    if exc_type is None:
        try:
            finish()
        except BaseException as error:
            if stack.__exit__(type(error), error, error.__traceback__):
                return False
            raise
    return stack.__exit__(exc_type, exc, tb)


def open_table_writer(
    destination: str | os.PathLike[str], columns: Sequence[str], metadata: Mapping[str, str] | None = None
) -> CsvTableWriter | ParquetTableWriter:
    """The writer for ``destination``'s format: Parquet for ``.parquet`` (with ``metadata`` in its
    schema), else CSV (whose facts go in the sidecar only, :mod:`~inafaceanalyzer.export.sidecar`)."""
    if Path(destination).suffix.lower() == ".parquet":
        return ParquetTableWriter(destination, columns, metadata=metadata)
    return CsvTableWriter(destination, columns)


def read_table(path: str | os.PathLike[str], name: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """A results (or tracks) table written as CSV or Parquet, as a DataFrame.

    A table that this thread's :class:`~.atomic.OutputSet` is writing (not
    committed yet) is read from its temporary file.

    Args:
        name: the table's own name, whose suffix gives the format, when
            ``path`` is a temporary file (``.clip.parquet.1a2b3c4d.partial``).
    """
    path = Path(path)
    source = current_content(path) or path
    if Path(name if name is not None else path).suffix.lower() == ".parquet":
        return pd.read_parquet(source)
    return pd.read_csv(source)


def table_stem(path: str | os.PathLike[str]) -> str:
    """The video name of a table: ``out/clip.csv`` -> ``clip`` (also ``.parquet``)."""
    name = Path(path).name
    for suffix in TABLE_FORMATS.values():
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(path).stem


def find_tracks_file(table_path: str | os.PathLike[str]) -> Path | None:
    """``<name>.tracks.csv`` (or ``.tracks.parquet``) beside the table ``<name>.csv``, if any."""
    table_path = Path(table_path)
    stem = table_stem(table_path)
    for suffix in TABLE_FORMATS.values():
        candidate = table_path.with_name(f"{stem}.tracks{suffix}")
        if current_content(candidate) is not None:  # on disk, or written with the table
            return candidate
    return None

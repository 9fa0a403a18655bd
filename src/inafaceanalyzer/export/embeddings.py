"""Per-face embeddings beside a frame table: ``<name>.embeddings.npy``, one record per table row.

With ``--embeddings`` (:attr:`~inafaceanalyzer.options.AnalysisOptions.embeddings`),
the ``image``, ``preprocessed_image``, ``video`` and ``videokeyframes``
engines also write the classifier's face embedding of every row of the table
(biometric data: written only on request). The ``videotracking`` engine
writes one embedding per track instead (``<name>.embeddings.npz``, see
:mod:`inafaceanalyzer.identity.people`).

Format: a NumPy ``.npy`` file holding a structured array of one record per
data row of the table (header excluded), in the table's order:

- ``row`` (int64): the row's 0-based index among the table's data rows
  (``pandas.read_csv(table)`` index), the key that joins the two files;
- ``embedding`` (float16, ``(dim,)``): the face's embedding scaled to unit
  length (for :class:`~inafaceanalyzer.classification.fused.FusedGenderAge`
  and ``HSEGenderAge``, the 1024-d global pooling of the HSE network on its
  224-pixel chip of padding 0.55; cosine similarity is the dot product).

Reading it::

    records = np.load("out/clip.embeddings.npy")
    table = pd.read_csv("out/clip.csv")
    vectors = records["embedding"].astype(np.float32)   # vectors[i] is table.iloc[records["row"][i]]

The records are streamed to the file as the rows are written (memory does
not grow with the video), under a temporary name: the count in the ``.npy``
header is written last, and the file is renamed into place with the table
(:class:`~.atomic.OutputSet`), so an interrupted run leaves neither.
"""

from __future__ import annotations

import contextlib
import os
import struct
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import numpy as np

from ..detections import Detections
from .atomic import atomic_path
from .table import table_stem

__all__ = ["EmbeddingsWriter", "embeddings_dtype", "face_embeddings_path", "read_face_embeddings"]

#: bytes of the ``.npy`` header (magic, version, length, padded dictionary): room for any count
_HEADER_BYTES = 128


def face_embeddings_path(table_path: str | os.PathLike[str]) -> Path:
    """``out/clip.csv`` (or ``.parquet``) -> ``out/clip.embeddings.npy``."""
    table_path = Path(table_path)
    return table_path.with_name(f"{table_stem(table_path)}.embeddings.npy")


def embeddings_dtype(dim: int) -> np.dtype:
    """The record of one row: ``row`` (int64) and ``embedding`` (``dim`` float16)."""
    return np.dtype([("row", "<i8"), ("embedding", "<f2", (int(dim),))])


def _npy_header(dtype: np.dtype, count: int) -> bytes:
    """A version 1.0 ``.npy`` header of ``count`` records, padded to :data:`_HEADER_BYTES`."""
    text = repr({"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (int(count),)})
    room = _HEADER_BYTES - 10
    if len(text) + 1 > room:
        raise ValueError(f"the .npy header of {dtype} does not fit in {_HEADER_BYTES} bytes")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", room) + (text.ljust(room - 1) + "\n").encode("latin1")


def read_face_embeddings(table_path: str | os.PathLike[str]) -> np.ndarray:
    """The ``(rows, dim)`` float32 embeddings of a table's rows, from its ``<name>.embeddings.npy``.

    Raises:
        FileNotFoundError: the table has no embeddings file (run with ``--embeddings``).
        ValueError: the file is not one this module wrote, or its rows are not the table's in order.
    """
    path = face_embeddings_path(table_path)
    records = np.load(path, allow_pickle=False)
    if records.dtype.names != ("row", "embedding") or records.ndim != 1:
        raise ValueError(f"{path}: not a per-row embeddings file (fields row, embedding)")
    if not np.array_equal(records["row"], np.arange(len(records))):
        raise ValueError(f"{path}: its rows are not 0, 1, 2... in order")
    return records["embedding"].astype(np.float32)


class EmbeddingsWriter:
    """Streams the embeddings of a table's rows to ``destination`` (see the module doc).

    Use as a context manager beside the table's writer and call :meth:`write`
    with the faces of each result whose rows the table receives, in the same
    order. Leaving the block with an exception removes the temporary file.

    Args:
        destination: the ``.npy`` file (:func:`face_embeddings_path` of the table).
        dim: length of one embedding.
    """

    def __init__(self, destination: str | os.PathLike[str], dim: int) -> None:
        self.destination = Path(destination)
        self.dtype = embeddings_dtype(dim)
        self.dim = int(dim)
        self.rows_written = 0
        self._stack: contextlib.ExitStack | None = None
        self._handle: BinaryIO | None = None

    def __enter__(self) -> EmbeddingsWriter:
        with contextlib.ExitStack() as stack:
            temporary = stack.enter_context(atomic_path(self.destination))
            self._handle = stack.enter_context(open(temporary, "wb"))
            self._handle.write(_npy_header(self.dtype, 0))
            self._stack = stack.pop_all()
        return self

    def write(self, faces: Detections) -> None:
        """Append the records of these faces (one per table row they make)."""
        if self._handle is None:
            raise RuntimeError("EmbeddingsWriter.write outside its with block")
        n = len(faces)
        if n == 0:
            return
        embedding = faces.data.get("embedding")
        if embedding is None:
            raise ValueError("these faces carry no embedding (their classifier computes none)")
        embedding = np.asarray(embedding, dtype=np.float32).reshape(n, -1)
        if embedding.shape[1] != self.dim:
            raise ValueError(f"embeddings of {embedding.shape[1]} values, not {self.dim}")
        norms = np.linalg.norm(embedding, axis=1, keepdims=True)
        records = np.empty(n, dtype=self.dtype)
        records["row"] = np.arange(self.rows_written, self.rows_written + n)
        records["embedding"] = np.divide(embedding, norms, out=np.zeros_like(embedding), where=norms > 0)
        self._handle.write(records.tobytes())
        self.rows_written += n

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        stack, self._stack = self._stack, None
        handle, self._handle = self._handle, None
        if stack is None or handle is None:
            return False
        if exc_type is None:
            with stack:  # a failure here still closes the file and removes the temporary
                handle.seek(0)
                handle.write(_npy_header(self.dtype, self.rows_written))
            return False
        return bool(stack.__exit__(exc_type, exc, tb))

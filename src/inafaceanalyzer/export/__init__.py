"""Outputs: result tables (CSV, Parquet), subtitles, annotated video.

- :func:`open_table_writer`, :func:`read_table`: streaming, atomic table
  writers (``.csv`` or ``.parquet``) and their reader;
- :class:`ExportOptions`: which of these a batch run writes;
- :class:`ResultsMeta`, :func:`read_meta`: a table's sidecar
  ``<name>.meta.json`` (:mod:`.sidecar`: the sampling, options, model files
  and analysed frames of the run that wrote it);
- :func:`export_annotations`: ASS subtitles and/or an annotated MP4 of a
  video from its results table, for live runs and re-rendering alike;
- underneath: :mod:`.timeline` (which frames were analysed, exact times),
  :mod:`.overlay` (boxes and labels per analysed frame), :mod:`.ass`,
  :mod:`.annotated` (the annotated MP4). The source's packet timing is
  read by :mod:`inafaceanalyzer.io.packets`.

Every file is written under a temporary name and renamed when complete
(:func:`atomic_path`); the files of one input are renamed together once
all are complete (:class:`OutputSet`).
"""

from .atomic import OutputSet, atomic_path
from .options import ExportOptions
from .render import Sampling, export_annotations
from .sidecar import ResultsMeta, meta_path, read_meta
from .table import TABLE_FORMATS, CsvTableWriter, ParquetTableWriter, open_table_writer, read_table

__all__ = [
    "TABLE_FORMATS",
    "CsvTableWriter",
    "ExportOptions",
    "OutputSet",
    "ParquetTableWriter",
    "ResultsMeta",
    "Sampling",
    "atomic_path",
    "export_annotations",
    "meta_path",
    "open_table_writer",
    "read_meta",
    "read_table",
]

"""Parquet tables: the same columns as the CSV, typed, streamed in row groups, atomic."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from inafaceanalyzer.export.table import (
    CsvTableWriter,
    ParquetTableWriter,
    open_table_writer,
    read_table,
    table_stem,
)
from inafaceanalyzer.pipeline.results import COLUMNS

from .conftest import HAMILTON, INDIA, KNUTH
from .export_helpers import ANALYZER, run, table


def rows_of(df: pd.DataFrame) -> list[dict]:
    return df.to_dict("records")


def test_parquet_round_trip_with_types(tmp_path):
    df = table([0.0, 0.5, 1.0], [[(1, 2, 30, 31)], [(3, 4, 33, 34), (50, 5, 80, 35)], []])
    rows = rows_of(df)
    rows[0]["detect_conf"] = float("nan")  # a tracked face: no detection confidence
    path = tmp_path / "t.parquet"
    with ParquetTableWriter(path, COLUMNS["video"], row_group_size=2) as writer:
        writer.write_rows(rows)
    assert writer.rows_written == 3
    parquet = pq.ParquetFile(path)
    assert parquet.metadata.num_row_groups == 2  # streamed, not built in memory
    schema = {field.name: str(field.type) for field in parquet.schema_arrow}
    assert schema["frame"] == "int64" and schema["bbox"] == "string" and schema["time_s"] == "double"
    assert schema["sex_label"] == "string" and schema["age_label"] == "double"
    back = read_table(path)
    assert list(back.columns) == list(COLUMNS["video"])
    assert back.detect_conf.isna().tolist() == [True, False, False]
    assert back.bbox.tolist() == df.bbox.tolist()
    assert back.time_s.tolist() == df.time_s.tolist()


def test_empty_table_has_its_columns(tmp_path):
    path = tmp_path / "empty.parquet"
    with open_table_writer(path, COLUMNS["video"]) as writer:
        assert isinstance(writer, ParquetTableWriter)
    back = read_table(path)
    assert list(back.columns) == list(COLUMNS["video"]) and len(back) == 0
    assert isinstance(open_table_writer(tmp_path / "x.csv", ["a"]), CsvTableWriter)


def test_a_failure_leaves_no_file(tmp_path):
    path = tmp_path / "t.parquet"
    with pytest.raises(RuntimeError), ParquetTableWriter(path, ["frame", "bbox"]) as writer:
        writer.write_rows([{"frame": 1, "bbox": "(1, 2, 3, 4)"}])
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_table_stem():
    assert table_stem("out/clip.csv") == "clip"
    assert table_stem("out/my.clip.parquet") == "my.clip"
    assert table_stem("out/clip.tracks.csv") == "clip.tracks"


@pytest.mark.shared_media
def test_cli_writes_parquet_with_the_csv_rows(tmp_path):
    csv_out, parquet_out = tmp_path / "csv", tmp_path / "parquet"
    for out, fmt in ((csv_out, "csv"), (parquet_out, "parquet")):
        proc = run(ANALYZER, "--engine", "videokeyframes", "--output_format", fmt, "-i", HAMILTON, "-o", out)
        assert proc.returncode == 0, proc.stderr
    csv = pd.read_csv(csv_out / (HAMILTON.stem + ".csv"))
    parquet = read_table(parquet_out / (HAMILTON.stem + ".parquet"))
    assert list(parquet.columns) == list(csv.columns)
    assert len(parquet) == len(csv) > 0
    assert parquet.frame.tolist() == csv.frame.tolist()
    assert parquet.bbox.tolist() == csv.bbox.tolist()
    assert all(str(parquet[c].dtype) == "int64" for c in ("left", "top", "right", "bottom"))
    assert parquet.timecode.tolist() == csv.timecode.tolist()
    assert (parquet.sex_decfunc - csv.sex_decfunc).abs().max() < 1e-12


@pytest.mark.shared_media
def test_cli_image_engine_writes_parquet(tmp_path):
    out = tmp_path / "photos.parquet"
    proc = run(ANALYZER, "--engine", "image", "--output_format", "parquet", "-i", INDIA, KNUTH, "-o", out)
    assert proc.returncode == 0, proc.stderr
    df = read_table(out)
    assert pd.api.types.is_string_dtype(df.frame) and set(df.frame) == {str(INDIA), str(KNUTH)}


def test_image_engine_output_suffix_must_match_the_format(tmp_path, capsys):
    from inafaceanalyzer.cli.analyze import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--engine", "image", "--output_format", "parquet", "-i", str(KNUTH), "-o", str(tmp_path / "x.csv")])
    assert exit_info.value.code == 2 and "PARQUET" in capsys.readouterr().err


def test_timecodes_are_truncated_exact_times():
    from fractions import Fraction

    from inafaceanalyzer.pipeline.results import format_timecode

    ntsc = Fraction(1001, 30000)
    assert format_timecode(float(15 * ntsc)) == "00:00:00.500"  # 0.5005 s: never a time after the frame's
    assert format_timecode(float(30 * ntsc)) == "00:00:01.001"
    assert format_timecode(sum([0.1] * 10)) == "00:00:01.000"  # 0.9999999999999999: a float a hair under 1 s
    assert format_timecode(float(107_892 * ntsc)) == "00:59:59.996"  # the last NTSC frame before the hour
    assert format_timecode(float(107_893 * ntsc)) == "01:00:00.029"
    assert format_timecode(0.0) == "00:00:00.000"

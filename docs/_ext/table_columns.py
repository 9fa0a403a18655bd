"""The columns of every table the toolbox writes, in order, from the package's own constants.

Written at each build to ``docs/_generated/columns.md`` (see ``conf.py``), so
that the documented order is the order of the files.
"""

from __future__ import annotations

from pathlib import Path


def columns_markdown() -> str:
    """A Markdown table: each table the toolbox writes, and its columns in order."""
    from inafaceanalyzer import COLUMNS
    from inafaceanalyzer.distributed.record import RECORD_COLUMNS
    from inafaceanalyzer.live import LIVE_COLUMNS
    from inafaceanalyzer.tracking import TRACK_COLUMNS

    tables = [(f"`--engine {engine}`", columns) for engine, columns in COLUMNS.items()]
    tables += [
        ("tracks table (`<name>.tracks.csv`, `videotracking`)", TRACK_COLUMNS),
        ("live CSV (`ina_face_analyzer_webcam_demo.py --csv`)", LIVE_COLUMNS),
        ("distributed run record (`jobs.run-DATE-TIME.csv`)", RECORD_COLUMNS),
    ]
    lines = ["| table | columns, in order |", "|---|---|"]
    for name, columns in tables:
        lines.append(f"| {name} | " + ", ".join(f"`{column}`" for column in columns) + " |")
    return "\n".join(lines) + "\n"


def write_columns(path: Path) -> None:
    """Write :func:`columns_markdown` to ``path`` unless it already holds it."""
    text = columns_markdown()
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")

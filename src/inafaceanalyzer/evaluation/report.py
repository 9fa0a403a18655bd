"""The evaluation report: tables computed once, written as Markdown and CSV.

Files written by :meth:`EvaluationReport.write` into one folder:

- ``predictions.csv``: one row per labelled face, labels and predictions;
- ``summary.csv``: :func:`~.metrics.summary_table` (rows ``all``, ``adults``);
- ``bias_cells.csv``: the 8 (or 4) cells of the bias table;
- ``biases.csv``: gender, race and age biases of each metric;
- ``race_gaps.csv``: women's and men's gender accuracy in each race (adults);
- ``report.md``: all of the above as Markdown, with how the run was made.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..export.atomic import atomic_path
from . import metrics

__all__ = ["EvaluationReport", "build_report"]

_SUMMARY_LABELS = {
    "faces": "faces",
    "detection_failures": "detection failures",
    "gender_accuracy": "gender accuracy (%)",
    "gender_accuracy_f": "women (%)",
    "gender_accuracy_m": "men (%)",
    "gender_gap": "gap m - f (points)",
    "gender_accuracy_detected": "gender accuracy, found faces (%)",
    "gender_auc": "gender AUC",
    "age_mae": "age MAE (years)",
    "age_rmse": "age RMSE (years)",
    "age_mean_error": "age mean error (years)",
    "age_bucket_accuracy": "age bucket accuracy (%)",
    "unreliable": "flagged unreliable",
    "gender_accuracy_reliable": "gender accuracy, reliable faces (%)",
}


@dataclass(frozen=True)
class EvaluationReport:
    """Everything an evaluation found.

    Attributes:
        name: the set's name.
        description: which faces, and how they were chosen.
        mode: ``full`` or ``crops``.
        faces: per-face labels and predictions.
        summary, bias_cells, biases, race_gaps: the metric tables.
        settings: how the run was made (options, command), for the record.
        seconds: wall-clock time of the predictions.
        faces_classified: faces that went through the classifier.
    """

    name: str
    description: str
    mode: str
    faces: pd.DataFrame
    summary: pd.DataFrame
    bias_cells: pd.DataFrame
    biases: pd.DataFrame
    race_gaps: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = float("nan")
    faces_classified: int = 0

    def metric(self, name: str, subset: str = "all") -> float:
        """One summary number, e.g. ``report.metric("gender_accuracy", "adults")``."""
        return float(self.summary.loc[subset, name])

    def to_markdown(self) -> str:
        """The report as a Markdown document."""
        lines = [f"# Evaluation: {self.name}", ""]
        lines.append(f"- faces: {self.description}")
        lines.append(f"- mode: `{self.mode}`")
        for key, value in self.settings.items():
            lines.append(f"- {key}: `{value}`")
        if self.faces_classified and not math.isnan(self.seconds):
            per_face = 1000.0 * self.seconds / self.faces_classified
            lines.append(
                f"- time: {self.seconds:.1f} s for {len(self.faces)} images, "
                f"{self.faces_classified} faces classified ({per_face:.1f} ms per face, decoding included)"
            )
        lines += ["", "## Summary", "", _markdown(_summary_for_display(self.summary)), ""]
        lines += [
            "Gender accuracies count a face the detector missed as an error; age errors are measured "
            "on found faces, against the age in years or the centre of the label's bucket.",
            "",
            "## Bias table (adults)",
            "",
            _markdown(_rounded(self.bias_cells)),
            "",
            _markdown(_rounded(self.biases.reset_index())),
            "",
            "Each bias is the difference between the two groups' metric, averaged over the cells of the "
            "other two factors (the inaFaceAnalyzer paper's definition).",
            "",
        ]
        if len(self.race_gaps):
            lines += ["## Gender accuracy by race (adults)", "", _markdown(_rounded(self.race_gaps)), ""]
        return "\n".join(lines)

    def write(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Write the CSV files and ``report.md`` into ``directory`` (created); returns their paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tables = {
            "predictions.csv": self.faces,
            "summary.csv": self.summary.reset_index(),
            "bias_cells.csv": self.bias_cells,
            "biases.csv": self.biases.reset_index(),
            "race_gaps.csv": self.race_gaps,
        }
        written = []
        for filename, table in tables.items():
            with atomic_path(directory / filename) as temporary:
                table.to_csv(temporary, index=False, float_format="%.6g")
            written.append(directory / filename)
        with atomic_path(directory / "report.md") as temporary:
            temporary.write_text(self.to_markdown(), encoding="utf-8")
        written.append(directory / "report.md")
        return written


def build_report(
    name: str,
    description: str,
    mode: str,
    faces: pd.DataFrame,
    settings: dict[str, Any] | None = None,
    seconds: float = float("nan"),
    faces_classified: int = 0,
) -> EvaluationReport:
    """Compute every table from per-face labels and predictions."""
    cells = metrics.bias_cells(faces)
    return EvaluationReport(
        name=name,
        description=description,
        mode=mode,
        faces=faces,
        summary=metrics.summary_table(faces),
        bias_cells=cells,
        biases=metrics.bias_summary(cells),
        race_gaps=metrics.race_gaps(faces),
        settings=dict(settings or {}),
        seconds=seconds,
        faces_classified=faces_classified,
    )


def _summary_for_display(summary: pd.DataFrame) -> pd.DataFrame:
    table = summary.T.rename(index=_SUMMARY_LABELS)
    table.index.name = "metric"
    return _rounded(table.reset_index())


def _rounded(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    for column in out.columns:
        if pd.api.types.is_float_dtype(out[column]):
            out[column] = out[column].map(_format_number)
    return out


def _format_number(value: float) -> str:
    if pd.isna(value):
        return ""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def _markdown(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *rows])

"""Accuracy and bias of per-face predictions against labels.

Input: one row per labelled face with the label columns of
:class:`~inafaceanalyzer.evaluation.dataset.LabelledSet` and the prediction
columns ``detected`` (bool), ``sex_label``, ``age_label`` (years) and
``reliable`` (bool). A face the pipeline missed (``detected`` false) counts
as a gender error, so gender accuracies are end to end; age errors are
measured on the faces that were found.

Definitions (percentages for accuracies, years for ages):

- ``gender_accuracy``: share of faces whose predicted gender is the label's
  (faces with a gender label);
  ``gender_auc``: area under the ROC curve of ``sex_decfunc`` (found faces);
  ``gender_accuracy_f`` / ``_m``: the same among women / men;
  ``gender_gap``: ``gender_accuracy_m - gender_accuracy_f``.
- ``age_mae``, ``age_rmse``, ``age_mean_error`` (predicted minus true):
  against the age in years, or the centre of the label's bucket.
- ``age_bucket_accuracy``: share of found faces whose predicted age falls in
  the label's FairFace bucket.
- The bias table (the inaFaceAnalyzer paper's): adults split into 8 cells,
  gender (f, m) x race group (white, non-white) x age band (20-50, over 50);
  with the metric of each cell, the **gender bias** is the mean over the 4
  (race, band) pairs of ``metric(m) - metric(f)``, the **race bias** the mean
  over the (gender, band) pairs of ``metric(white) - metric(non-white)``,
  the **age bias** the mean over the (gender, race) pairs of
  ``metric(20-50) - metric(over 50)``. A set without race labels has 4 cells
  and no race bias.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .dataset import AGE_BUCKETS, BAND_OLD, BAND_YOUNG, age_bucket_of

__all__ = [
    "SUBSETS",
    "BIAS_METRICS",
    "summary_metrics",
    "summary_table",
    "bias_cells",
    "bias_summary",
    "race_gaps",
    "subset_mask",
    "gender_auc",
]

SUBSETS: tuple[str, ...] = ("all", "adults")
"""``all`` faces, and ``adults``: 20 years and over (buckets from 20-29)."""

BIAS_METRICS: tuple[str, ...] = ("gender_accuracy", "age_mae")

_GENDERS = ("f", "m")
_RACES = ("white", "non-white")
_BANDS = (BAND_YOUNG, BAND_OLD)


def subset_mask(faces: pd.DataFrame, subset: str) -> pd.Series:
    """The faces of a subset (:data:`SUBSETS`)."""
    if subset == "all":
        return pd.Series(True, index=faces.index)
    if subset == "adults":
        return faces["age_low"] >= 20
    raise ValueError(f"unknown subset {subset!r}: expected one of {SUBSETS}")


def _correct(faces: pd.DataFrame) -> pd.Series:
    return faces["detected"].astype(bool) & (faces["sex_label"] == faces["gender"])


def gender_auc(faces: pd.DataFrame) -> float:
    """Area under the ROC curve of ``sex_decfunc`` for men against women, found faces with a gender label.

    The probability that a man's score is above a woman's (ties count half);
    NaN when either gender is absent (or the table has no ``sex_decfunc``).
    """
    if "sex_decfunc" not in faces:
        return float("nan")
    found = faces[faces["detected"].astype(bool) & faces["gender"].isin(["m", "f"])]
    scores = found["sex_decfunc"].to_numpy(dtype=np.float64)
    male = (found["gender"] == "m").to_numpy()
    n_male, n_female = int(male.sum()), int((~male).sum())
    if n_male == 0 or n_female == 0:
        return float("nan")
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    return float((ranks[male].sum() - n_male * (n_male + 1) / 2) / (n_male * n_female))


def _percent(values: pd.Series) -> float:
    return float(100.0 * values.mean()) if len(values) else float("nan")


def summary_metrics(faces: pd.DataFrame) -> dict[str, float]:
    """Every summary metric of a group of faces (see the module's definitions)."""
    detected = faces["detected"].astype(bool)
    gendered = faces["gender"].isin(["m", "f"])
    correct = _correct(faces)[gendered]
    found = faces[detected & faces["age_ref"].notna()]
    error = found["age_label"].astype(float) - found["age_ref"].astype(float)
    women = faces["gender"] == "f"
    men = faces["gender"] == "m"
    reliable = (detected & faces["reliable"].astype(bool))[gendered]
    detected_gendered = detected[gendered]
    predicted_bucket = age_bucket_of(found["age_label"].to_numpy(dtype=np.float64)) if len(found) else []
    metrics = {
        "faces": float(len(faces)),
        "detection_failures": float((~detected).sum()),
        "gender_accuracy": _percent(correct),
        "gender_accuracy_f": _percent(correct[women]),
        "gender_accuracy_m": _percent(correct[men]),
        "gender_gap": _percent(correct[men]) - _percent(correct[women]),
        "gender_accuracy_detected": _percent(correct[detected_gendered]),
        "gender_auc": gender_auc(faces),
        "age_mae": float(error.abs().mean()) if len(error) else float("nan"),
        "age_rmse": float(np.sqrt((error**2).mean())) if len(error) else float("nan"),
        "age_mean_error": float(error.mean()) if len(error) else float("nan"),
        "age_bucket_accuracy": _percent(pd.Series(predicted_bucket == found["age_bucket"].to_numpy())),
        "unreliable": float((detected & ~faces["reliable"].astype(bool)).sum()),
        "gender_accuracy_reliable": _percent(correct[reliable]),
    }
    return metrics


def summary_table(faces: pd.DataFrame) -> pd.DataFrame:
    """:func:`summary_metrics` of each subset (rows) that has faces."""
    rows = {}
    for subset in SUBSETS:
        part = faces[subset_mask(faces, subset)]
        if len(part):
            rows[subset] = summary_metrics(part)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "subset"
    return table


def _race_groups(faces: pd.DataFrame) -> tuple[str, ...]:
    known = faces["race_group"] != "unknown"
    return _RACES if known.any() else ("unknown",)


def bias_cells(faces: pd.DataFrame) -> pd.DataFrame:
    """The paper's cells: gender x race group x age band, with ``faces`` and each :data:`BIAS_METRICS`.

    Adults only (the two bands start at 20); faces of unknown race are left
    out when the set has race labels.
    """
    races = _race_groups(faces)
    rows = []
    for gender, race, band in itertools.product(_GENDERS, races, _BANDS):
        cell = faces[(faces["gender"] == gender) & (faces["race_group"] == race) & (faces["age_band"] == band)]
        metrics = summary_metrics(cell)
        rows.append(
            {
                "gender": gender,
                "race_group": race,
                "age_band": band,
                "faces": len(cell),
                **{name: metrics[name] for name in BIAS_METRICS},
            }
        )
    return pd.DataFrame(rows)


def _averaged_difference(cells: pd.DataFrame, metric: str, column: str, first: str, second: str) -> float:
    others = [name for name in ("gender", "race_group", "age_band") if name != column]
    pivot = cells.pivot_table(index=others, columns=column, values=metric, aggfunc="first", dropna=False)
    if first not in pivot.columns or second not in pivot.columns:
        return float("nan")
    return float((pivot[first] - pivot[second]).mean(skipna=False))


def bias_summary(cells: pd.DataFrame) -> pd.DataFrame:
    """Gender, race and age biases (rows) of each metric (columns), from :func:`bias_cells`.

    ``gender``: men minus women; ``race``: white minus non-white; ``age``:
    20-50 minus over 50, each averaged over the other two factors' cells.
    """
    rows = {
        "gender (m - f)": {m: _averaged_difference(cells, m, "gender", "m", "f") for m in BIAS_METRICS},
        "race (white - non-white)": {
            m: _averaged_difference(cells, m, "race_group", "white", "non-white") for m in BIAS_METRICS
        },
        "age (20-50 - over 50)": {m: _averaged_difference(cells, m, "age_band", BAND_YOUNG, BAND_OLD) for m in BIAS_METRICS},
    }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "bias"
    return table


def race_gaps(faces: pd.DataFrame) -> pd.DataFrame:
    """Gender accuracy of women and men within each labelled race (adults 20+), and their gap."""
    adults = faces[subset_mask(faces, "adults") & (faces["race"] != "")]
    rows = []
    for race in sorted(adults["race"].unique()):
        group = adults[adults["race"] == race]
        correct = _correct(group)
        women = group["gender"] == "f"
        rows.append(
            {
                "race": race,
                "faces_f": int(women.sum()),
                "faces_m": int((~women).sum()),
                "gender_accuracy_f": _percent(correct[women]),
                "gender_accuracy_m": _percent(correct[~women]),
                "gender_gap": _percent(correct[~women]) - _percent(correct[women]),
            }
        )
    return pd.DataFrame(rows, columns=["race", "faces_f", "faces_m", "gender_accuracy_f", "gender_accuracy_m", "gender_gap"])


def bucket_confusion(faces: pd.DataFrame) -> pd.DataFrame:
    """Counts of true (rows) against predicted (columns) FairFace age buckets, found faces only."""
    found = faces[faces["detected"].astype(bool)]
    labels = [bucket.label for bucket in AGE_BUCKETS]
    predicted = pd.Categorical(age_bucket_of(found["age_label"].to_numpy(dtype=np.float64)), categories=labels)
    true = pd.Categorical(found["age_bucket"], categories=labels)
    return pd.crosstab(true, predicted, dropna=False).rename_axis(index="true", columns="predicted")

"""Labelled face sets: ``labels.csv`` beside an ``images/`` folder.

The format is the one of ``../shared/eval/*/labels.csv``: columns
``path,gender,age,race`` (more columns are kept and ignored). ``path`` is
relative to the set's folder; ``gender`` is ``m`` or ``f``; ``age`` is whole
years (UTKFace) or a FairFace bucket (``0-2``, ``3-9``, ``10-19``, ``20-29``,
..., ``60-69``, ``70+``); ``race`` may be empty. A set may be labelled for
gender only or age only: the other column is missing or empty (each face
needs one of the two); gender metrics are then measured on the faces with a
gender, age metrics on those with an age.

Every face gets, besides its labels:

- ``age_ref``: the age errors are measured against: the age in years, or
  the centre of the bucket (the middle of ``[low, high + 1)``, e.g. 25 for
  ``20-29``; 75 for ``70+``, read as 70-79);
- ``age_bucket``: the FairFace bucket of the true age;
- ``age_band``: ``20-50`` (20 to 50 years; buckets 20-29 to 40-49) or
  ``over 50`` (51 and more; buckets from 50-59), the bands of the bias table;
  empty for children;
- ``race_group``: ``white``, ``non-white`` or ``unknown``, the race split of
  the bias table.

:func:`load_labelled_set` reads a set and can draw a reproducible sample
(``sample`` faces, ``seed``) within an age range, so that long sets are
evaluated quickly and identically each time.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InaFaceAnalyzerError

__all__ = [
    "AGE_BUCKETS",
    "AgeBucket",
    "LabelledSet",
    "LabelsError",
    "age_bucket_of",
    "load_labelled_set",
]


class LabelsError(InaFaceAnalyzerError, ValueError):
    """A labelled set is missing or its ``labels.csv`` is malformed."""


@dataclass(frozen=True, slots=True)
class AgeBucket:
    """One FairFace age bucket: ``low`` to ``high`` years inclusive (``high`` None: open)."""

    label: str
    low: int
    high: int | None

    @property
    def centre(self) -> float:
        """Middle of ``[low, high + 1)``; an open bucket is read as ten years wide."""
        high = self.high if self.high is not None else self.low + 9
        return (self.low + high + 1) / 2


AGE_BUCKETS: tuple[AgeBucket, ...] = (
    AgeBucket("0-2", 0, 2),
    AgeBucket("3-9", 3, 9),
    AgeBucket("10-19", 10, 19),
    AgeBucket("20-29", 20, 29),
    AgeBucket("30-39", 30, 39),
    AgeBucket("40-49", 40, 49),
    AgeBucket("50-59", 50, 59),
    AgeBucket("60-69", 60, 69),
    AgeBucket("70+", 70, None),
)
"""The FairFace age buckets, youngest first."""

_BY_LABEL = {bucket.label: bucket for bucket in AGE_BUCKETS}
_LOWS = np.array([bucket.low for bucket in AGE_BUCKETS], dtype=np.float64)

ADULT_AGE = 20
BAND_YOUNG = "20-50"
BAND_OLD = "over 50"


def age_bucket_of(age_years: np.ndarray | float) -> np.ndarray:
    """FairFace bucket labels of ages in years (a year is floored: 29.9 is ``20-29``)."""
    ages = np.atleast_1d(np.asarray(age_years, dtype=np.float64))
    index = np.clip(np.searchsorted(_LOWS, np.floor(ages), side="right") - 1, 0, len(AGE_BUCKETS) - 1)
    labels = np.array([bucket.label for bucket in AGE_BUCKETS], dtype=object)[index]
    return np.where(np.isnan(ages), None, labels)


@dataclass(frozen=True)
class LabelledSet:
    """A labelled set, possibly sampled.

    Attributes:
        name: the folder's name (e.g. ``fairface540``).
        root: the folder that holds ``labels.csv``.
        faces: one row per face: ``path`` (relative to ``root``), ``gender``,
            ``age`` (as written), ``race``, ``age_years`` (NaN for buckets),
            ``age_low``, ``age_high`` (NaN for an open bucket), ``age_ref``,
            ``age_bucket``, ``age_band``, ``race_group``.
        description: how the faces were chosen, for reports.
    """

    name: str
    root: Path
    faces: pd.DataFrame
    description: str

    @property
    def bucketed(self) -> bool:
        """Whether ages are FairFace buckets rather than years."""
        return bool(self.faces["age_years"].isna().all())

    def image_paths(self) -> list[str]:
        """Absolute paths of the faces' images, in order."""
        return [os.fspath(self.root / path) for path in self.faces["path"]]

    def __len__(self) -> int:
        return len(self.faces)


def _parse_ages(values: pd.Series) -> pd.DataFrame:
    years, lows, highs, refs, buckets = [], [], [], [], []
    for raw in values.astype(str).str.strip():
        if raw == "":  # no age label (a set labelled for gender only)
            years.append(math.nan)
            lows.append(math.nan)
            highs.append(math.nan)
            refs.append(math.nan)
            buckets.append(None)
            continue
        if raw in _BY_LABEL:
            bucket = _BY_LABEL[raw]
            years.append(math.nan)
            lows.append(float(bucket.low))
            highs.append(math.nan if bucket.high is None else float(bucket.high))
            refs.append(bucket.centre)
            buckets.append(bucket.label)
            continue
        try:
            age = float(raw)
        except ValueError:
            raise LabelsError(f"age {raw!r} is neither years nor a FairFace bucket") from None
        if not age >= 0:
            raise LabelsError(f"age {raw!r} is not a number of years >= 0")
        years.append(age)
        lows.append(age)
        highs.append(age)
        refs.append(age)
        buckets.append(age_bucket_of(age)[0])
    return pd.DataFrame(
        {"age_years": years, "age_low": lows, "age_high": highs, "age_ref": refs, "age_bucket": buckets},
        index=values.index,
    )


def _band(low: float, years: float) -> str:
    age = low if math.isnan(years) else years
    if math.isnan(age) or age < ADULT_AGE:
        return ""
    return BAND_YOUNG if age <= 50 and not (math.isnan(years) and low >= 50) else BAND_OLD


def load_labelled_set(
    root: str | os.PathLike[str],
    *,
    min_age: float | None = None,
    max_age: float | None = None,
    sample: int | None = None,
    seed: int = 0,
) -> LabelledSet:
    """Read ``root/labels.csv``, keep the faces within an age range, optionally sample them.

    Args:
        root: the set's folder, or a labels CSV file (paths relative to its folder).
        min_age, max_age: keep faces whose age (years, or the bucket's lower
            bound) is within ``[min_age, max_age]``; buckets are kept when
            they lie entirely within the range (``min_age=20`` keeps
            ``20-29`` and above).
        sample: keep this many faces drawn at random (all if fewer).
        seed: the random draw's seed (``pandas.DataFrame.sample``'s
            ``random_state``), so that a sample is the same on every run.

    Raises:
        LabelsError: no ``labels.csv``, a missing column, a bad gender or age.
    """
    root = Path(root)
    labels_path = root / "labels.csv"
    if root.suffix.lower() == ".csv" and root.is_file():
        root, labels_path = root.parent, root
    if not labels_path.is_file():
        raise LabelsError(f"{labels_path}: not found (a labelled set is a folder with labels.csv)")
    table = pd.read_csv(labels_path, dtype={"path": str, "gender": str, "age": str, "race": str}, keep_default_na=False)
    if "path" not in table.columns:
        raise LabelsError(f"{labels_path}: missing column path")
    if not {"gender", "age"} & set(table.columns):
        raise LabelsError(f"{labels_path}: missing columns gender and age (at least one is needed)")
    for column in ("gender", "age", "race"):
        if column not in table.columns:
            table[column] = ""
    table["gender"] = table["gender"].str.strip().str.lower()
    bad = ~table["gender"].isin(["m", "f", ""])
    if bad.any():
        raise LabelsError(f"{labels_path}: gender must be m, f or empty, not {table.loc[bad, 'gender'].iloc[0]!r}")
    unlabelled = (table["gender"] == "") & (table["age"].str.strip() == "")
    if unlabelled.any():
        raise LabelsError(f"{labels_path}: {table.loc[unlabelled, 'path'].iloc[0]!r} has neither gender nor age")
    table["race"] = table["race"].str.strip().str.lower()
    faces = pd.concat([table, _parse_ages(table["age"])], axis=1)
    faces["age_band"] = [_band(low, years) for low, years in zip(faces["age_low"], faces["age_years"], strict=True)]
    faces["race_group"] = np.where(
        faces["race"] == "", "unknown", np.where(faces["race"] == "white", "white", "non-white")
    )
    description = [f"{len(faces)} faces"]
    keep = pd.Series(True, index=faces.index)
    if min_age is not None:
        keep &= faces["age_low"] >= min_age
    if max_age is not None:
        top = faces["age_high"].fillna(np.inf)
        keep &= top <= max_age
    if min_age is not None and max_age is not None:
        description.append(f"aged {min_age:g} to {max_age:g}")
    elif min_age is not None:
        description.append(f"aged {min_age:g} and over")
    elif max_age is not None:
        description.append(f"aged up to {max_age:g}")
    faces = faces[keep]
    if sample is not None and sample < len(faces):
        faces = faces.sample(n=int(sample), random_state=int(seed))
        description.append(f"{int(sample)} drawn at random (seed {int(seed)})")
    faces = faces.reset_index(drop=True)
    if len(description) > 1:
        description.append(f"{len(faces)} evaluated")
    name = root.resolve().name if labels_path.name == "labels.csv" else labels_path.stem
    return LabelledSet(name, root, faces, ", ".join(description))

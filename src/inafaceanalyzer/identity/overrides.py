"""A user's corrections of people's gender and age: ``person_id,gender,age`` CSV files.

A user who sees a wrong label in a report writes one row per person to
correct, for example::

    person_id,gender,age
    3,f,
    7,,45
    12,m,70

``gender`` is ``m``, ``f`` or empty (kept as predicted); ``age`` is years or
empty. :func:`read_person_overrides` reads and checks such a file;
:func:`apply_person_overrides` applies it to one video's frame, track and
people tables: the person's ``*_avg`` columns take the given values (gender:
``sex_prob_male_avg`` 1 or 0, ``sex_decfunc_avg`` +-30, the clip of the
per-frame scores), and every table gains a ``person_override`` column, true
on the rows changed. The per-frame network outputs (``sex_label``,
``age_label``, ...) are left as predicted.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..classification import age_to_decfunc
from ..errors import OptionsError

__all__ = ["OVERRIDE_COLUMNS", "OVERRIDE_FLAG", "apply_person_overrides", "read_person_overrides"]

#: the header of an overrides file
OVERRIDE_COLUMNS: tuple[str, ...] = ("person_id", "gender", "age")
#: the column added to each corrected table
OVERRIDE_FLAG = "person_override"
_MAX_LOGODDS = 30.0
_MAX_AGE = 120.0


def read_person_overrides(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The overrides of a CSV file: columns ``person_id`` (int), ``gender`` (``m``, ``f`` or ``""``), ``age`` (float, NaN).

    Raises:
        OptionsError: the file is missing or unreadable, its header is not
            ``person_id,gender,age``, or a row is invalid (named by its line).
    """
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise OptionsError(f"person overrides {path}: file not found") from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise OptionsError(f"person overrides {path}: cannot read it as CSV ({error})") from None
    except pd.errors.EmptyDataError:
        raise OptionsError(f"person overrides {path}: empty file (expected the header person_id,gender,age)") from None
    if tuple(c.strip() for c in raw.columns) != OVERRIDE_COLUMNS:
        raise OptionsError(f"person overrides {path}: header is {','.join(raw.columns)}, expected person_id,gender,age")
    ids, genders, ages = [], [], []
    for line, (person, gender, age) in enumerate(raw.itertuples(index=False, name=None), start=2):
        where = f"person overrides {path}, line {line}"
        person, gender, age = person.strip(), gender.strip().lower(), age.strip()
        if not person.isdigit():
            raise OptionsError(f"{where}: person_id {person!r} is not a whole number >= 0")
        if gender not in ("m", "f", ""):
            raise OptionsError(f"{where}: gender {gender!r} is not m, f or empty")
        try:
            years = float(age) if age else math.nan
        except ValueError:
            raise OptionsError(f"{where}: age {age!r} is not a number of years") from None
        if age and not 0 <= years <= _MAX_AGE:
            raise OptionsError(f"{where}: age {age} is not within [0, {_MAX_AGE:g}] years")
        if not gender and not age:
            raise OptionsError(f"{where}: neither gender nor age given for person {person}")
        if int(person) in ids:
            raise OptionsError(f"{where}: person {person} is corrected twice")
        ids.append(int(person))
        genders.append(gender)
        ages.append(years)
    return pd.DataFrame({"person_id": np.array(ids, dtype=np.int64), "gender": genders,
                         "age": np.array(ages, dtype=np.float64)})


def _corrected(table: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    flag = np.zeros(len(table), dtype=bool)
    if "person_id" in table.columns:
        person = pd.to_numeric(table["person_id"], errors="coerce")
        for row in overrides.itertuples(index=False):
            rows = (person == row.person_id).to_numpy()
            if row.gender:
                male = row.gender == "m"
                table.loc[rows, "sex_label_avg"] = row.gender
                if "sex_decfunc_avg" in table.columns:
                    table.loc[rows, "sex_decfunc_avg"] = _MAX_LOGODDS if male else -_MAX_LOGODDS
                if "sex_prob_male_avg" in table.columns:
                    table.loc[rows, "sex_prob_male_avg"] = 1.0 if male else 0.0
            if not math.isnan(row.age):
                table.loc[rows, "age_label_avg"] = row.age
                if "age_decfunc_avg" in table.columns:
                    table.loc[rows, "age_decfunc_avg"] = float(age_to_decfunc(np.array([row.age]))[0])
            flag |= rows
    table[OVERRIDE_FLAG] = flag
    return table


def apply_person_overrides(
    frames: pd.DataFrame | None,
    tracks: pd.DataFrame | None,
    people: pd.DataFrame | None,
    overrides: pd.DataFrame,
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]:
    """The three tables of one video with ``overrides`` (:func:`read_person_overrides`) applied.

    Tables given as ``None`` come back ``None``; the inputs are not changed.

    Raises:
        OptionsError: an override names a ``person_id`` that none of the
            given tables has (a file meant for another video).
    """
    known: set[int] = set()
    for table in (frames, tracks, people):
        if table is not None and "person_id" in table.columns:
            known |= {int(p) for p in pd.to_numeric(table["person_id"], errors="coerce").dropna()}
    unknown = sorted(set(overrides["person_id"].tolist()) - known)
    if unknown:
        raise OptionsError(
            f"person overrides name person(s) {', '.join(map(str, unknown))}, absent from this video's tables "
            f"(people 0 to {max(known) if known else -1})"
        )
    return tuple(None if table is None else _corrected(table, overrides) for table in (frames, tracks, people))  # type: ignore[return-value]

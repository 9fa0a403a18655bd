"""Bias correction of gender shares with a classifier's measured error rates (Rogan-Gladen).

A classifier calls a woman a woman with probability ``se`` (sensitivity)
and a man a man with probability ``sp`` (specificity). If ``p`` is the true
share of women, the share it reports is ``q = se p + (1 - sp)(1 - p)``, so

    p = (q + sp - 1) / (se + sp - 1)          (Rogan and Gladen, 1978)

The rates depend on the face (children and older women are misread most,
small faces more than large ones), so they are measured per *predicted* age
band and face-size band (``models/<Classifier>.error_rates.json``, counts
of a labelled set) and the correction is applied per cell: the corrected
women's time of a cell is ``(F - N (1 - sp)) / (se + sp - 1)`` for observed
women's time ``F`` out of ``N``; cells are summed, then the share is clipped
to ``[0, 1]`` (a small cell can push it outside).

Cells with fewer than :data:`MIN_FACES` faces of either gender are pooled
with their neighbours in size, then in age (the pooling is listed in
:attr:`ErrorRates.notes`). Rates are uncertain: each bootstrap resample
draws them from their Beta posteriors, ``Beta(1 + correct, 1 + wrong)``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..options import DEFAULT_CLASSIFIER

__all__ = ["MIN_FACES", "ErrorRates", "default_error_rates", "error_rates_path", "load_error_rates"]

#: Fewest faces of each gender a cell needs before it is pooled with its neighbours.
MIN_FACES = 10
#: Below this, ``se + sp - 1`` leaves no information to correct with.
_MIN_INFORMATION = 0.05


def error_rates_path(classifier: str) -> Path:
    """The error rates shipped with ``classifier`` (``models/<classifier>.error_rates.json``)."""
    return Path(str(files("inafaceanalyzer") / "models" / f"{classifier}.error_rates.json"))


@dataclass(frozen=True)
class ErrorRates:
    """A classifier's gender error rates per predicted age band and face-size band.

    Attributes:
        classifier: its name.
        age_bands: lower edges of the predicted age bands (years; the last is open).
        size_bands: lower edges of the face-size bands (pixels, longer side of the box).
        female: ``(A, S, 2)`` counts after pooling: women seen, women called women.
        male: ``(A, S, 2)`` counts after pooling: men seen, men called men.
        method: how the counts were measured (from the file).
        notes: what the reader pooled.
    """

    classifier: str
    age_bands: tuple[float, ...]
    size_bands: tuple[float, ...]
    female: NDArray[np.float64]
    male: NDArray[np.float64]
    method: str = ""
    source: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.age_bands), len(self.size_bands)

    def cells(self, age: NDArray[np.float64], size: NDArray[np.float64]) -> NDArray[np.int64]:
        """Flat cell index of each face (predicted age, face size); unknown size counts as the largest."""
        a = np.clip(np.searchsorted(self.age_bands, np.nan_to_num(age, nan=30.0), side="right") - 1, 0, None)
        s = np.searchsorted(self.size_bands, np.nan_to_num(size, nan=np.inf), side="right") - 1
        return a * len(self.size_bands) + np.clip(s, 0, None)

    def point(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Sensitivity and specificity of each flat cell (observed proportions)."""
        se = self.female[..., 1] / np.maximum(self.female[..., 0], 1)
        sp = self.male[..., 1] / np.maximum(self.male[..., 0], 1)
        return se.reshape(-1), sp.reshape(-1)

    def draw(self, size: int, rng: np.random.Generator) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``size`` draws of (sensitivity, specificity) per flat cell from their Beta posteriors."""
        f, m = self.female.reshape(-1, 2), self.male.reshape(-1, 2)
        se = rng.beta(1 + f[:, 1], 1 + f[:, 0] - f[:, 1], size=(size, len(f)))
        sp = rng.beta(1 + m[:, 1], 1 + m[:, 0] - m[:, 1], size=(size, len(m)))
        return se, sp


def corrected_female(
    female: NDArray[np.float64], total: NDArray[np.float64], se: NDArray[np.float64], sp: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Rogan-Gladen corrected women's time, summed over the last axis (the error-rate cells).

    ``female``/``total``: observed women's time and women's plus men's time
    per cell; ``se``/``sp`` broadcast against them. Cells without
    information (``se + sp - 1`` near 0) give NaN.
    """
    information = se + sp - 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        cell = (female - total * (1.0 - sp)) / information
    cell = np.where(information > _MIN_INFORMATION, cell, np.where(total > 0, np.nan, 0.0))
    return cell.sum(axis=-1)


def _pool(counts: NDArray[np.float64], other: NDArray[np.float64], min_faces: int) -> tuple[
        NDArray[np.float64], NDArray[np.float64], list[str]]:
    """Cells too small pooled with neighbours in size, then in age (by growing distance)."""
    ages, sizes = counts.shape[:2]
    pooled_f, pooled_m = counts.copy(), other.copy()
    notes = []
    for a in range(ages):
        for s in range(sizes):
            if counts[a, s, 0] >= min_faces and other[a, s, 0] >= min_faces:
                continue
            f, m = counts[a, s].copy(), other[a, s].copy()
            used = [(a, s)]
            order = sorted(((da, ds) for da in range(ages) for ds in range(sizes)),
                           key=lambda c: (abs(c[0] - a), abs(c[1] - s)))
            for da, ds in order:
                if f[0] >= min_faces and m[0] >= min_faces:
                    break
                if (da, ds) == (a, s):
                    continue
                f += counts[da, ds]
                m += other[da, ds]
                used.append((da, ds))
            pooled_f[a, s], pooled_m[a, s] = f, m
            notes.append(f"cell age {a} size {s} pooled with {', '.join(f'age {x} size {y}' for x, y in used[1:])}")
    return pooled_f, pooled_m, notes


def load_error_rates(path: str | os.PathLike[str], min_faces: int = MIN_FACES) -> ErrorRates:
    """Read a classifier's error rates (the ``error_rates.json`` format of docs/statistics.md).

    Raises:
        ValueError: the file is not in that format (named in the message).
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        age_bands = tuple(float(v) for v in document["age_bands"])
        size_bands = tuple(float(v) for v in document["size_bands"])
        female = np.zeros((len(age_bands), len(size_bands), 2))
        male = np.zeros_like(female)
        for cell in document["cells"]:
            a, s = int(cell["age_band"]), int(cell["size_band"])
            female[a, s] += (cell["n_female"], cell["female_as_female"])
            male[a, s] += (cell["n_male"], cell["male_as_male"])
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        raise ValueError(f"{path}: not an error-rates file: {error}") from error
    if (female[..., 1] > female[..., 0]).any() or (male[..., 1] > male[..., 0]).any():
        raise ValueError(f"{path}: more correct calls than faces in a cell")
    female, male, notes = _pool(female, male, min_faces)
    return ErrorRates(
        classifier=str(document.get("classifier", "")), age_bands=age_bands, size_bands=size_bands,
        female=female, male=male, method=str(document.get("method", "")), source=str(path), notes=tuple(notes),
    )


def default_error_rates(classifier: str = DEFAULT_CLASSIFIER) -> ErrorRates | None:
    """The rates shipped with ``classifier`` (sha256 checked when registered), or ``None`` when it has none.

    Raises:
        ModelIntegrityError: the shipped file differs from the registered one.
    """
    from ..models import model_path, registry

    path = error_rates_path(classifier)
    if path.name in registry():
        path = model_path(path.name)
    return load_error_rates(path) if path.is_file() else None

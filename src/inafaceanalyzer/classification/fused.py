"""``FusedGenderAge``: the HSE and Cydral networks fused by a decision fitted on FairFace.

Each face goes through both networks, one view each: the HSE network
(:mod:`.hse`, its 224-pixel chip of padding 0.55) gives gender log-odds
``Lh``, an age distribution and its 1024-d embedding ``E``; the Cydral
networks (:mod:`.cydral`, their 256-pixel master chip) give gender log-odds
``Lc`` and an age distribution. Their errors are complementary: HSE calls old
women men, Cydral calls boys and small faces women.

Gender: ``sex_decfunc = w . E/|E| + a Lh + b Lc + c young + d old + e z + f``,
a logistic regression (the calibrated log-odds, > 0 male) where ``young =
max(0, 20 - age0) / 10`` and ``old = max(0, age0 - 45) / 10`` with ``age0``
the mean of the two networks' ages (so the threshold moves with the age, as
neither network's errors are the same at every age), and ``z = clip(log2(side
/ 64), -2.5, 0)`` with ``side`` the face's 0.2-padding chip side in source
pixels (the face's resolution). ``sex_prob_male`` is its sigmoid, symmetric
by construction.

Age: a weighted mixture of the two networks' age distributions; ``age_label``
is its expectation, ``age_std`` its standard deviation (it grows when the
networks disagree).

``reliable``: the face-quality rule of :mod:`.cydral` (big, sharp and
contrasted enough) and a gender decision away from a coin toss
(``sex_prob_male`` outside :data:`UNSURE`).

The parameters (``models/fused_gender_age.json``) were fitted by
``tools/fit_fused.py`` on fairface540 only (FairFace, CC BY 4.0), each face
also downscaled to small sizes, with 10-fold cross-validation grouped by
image for every figure reported; UTKFace is for evaluation only.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..alignment.chips import FaceChips, chip_side_px
from ..errors import OptionsError
from ..models import model_path
from .base import FaceClassifier
from .cydral import _AGE_BINS as CYDRAL_AGES
from .cydral import MASTER_PADDING, MASTER_SIZE, CydralGenderAge, network_views
from .hse import AGES as HSE_AGES
from .hse import HSE_PADDING, HSE_SIZE, HSENetwork, age_columns, gender_columns, reliable_quality
from .hse import MODELS as HSE_MODELS

__all__ = ["FusedGenderAge", "PARAMETERS_FILE", "UNSURE", "parameters", "raw_features", "gender_design"]

PARAMETERS_FILE = "fused_gender_age.json"
#: a face whose ``sex_prob_male`` lies strictly within these bounds is not ``reliable``
UNSURE = (0.2, 0.8)
_YOUNG, _OLD = 20.0, 45.0


@cache
def parameters() -> dict[str, Any]:
    """The fitted decision (``models/fused_gender_age.json``, sha256 checked)."""
    return json.loads(model_path(PARAMETERS_FILE).read_text(encoding="utf-8"))


def _expectation(bins: NDArray[np.float64], ages: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    mean = bins @ ages
    return mean, bins @ ages**2


def raw_features(hse: dict[str, NDArray], cydral_gender: NDArray, cydral_age: NDArray, side: NDArray) -> dict[str, NDArray]:
    """The per-face inputs of the fused decision.

    Args:
        hse: outputs of :class:`~.hse.HSENetwork` (``logodds``, ``age_bins``, ``embedding``).
        cydral_gender: ``(N, V, 2)`` Cydral gender probabilities of V views.
        cydral_age: ``(N, V, 81)`` Cydral age-bin probabilities.
        side: ``(N,)`` 0.2-padding chip side in source pixels.
    """
    eps = np.exp(-30.0)
    p = np.clip(cydral_gender[:, :, 1], eps, 1 - eps)
    cyd_bins = cydral_age.mean(axis=1)
    age_h, sq_h = _expectation(hse["age_bins"], HSE_AGES)
    age_c, sq_c = _expectation(cyd_bins, CYDRAL_AGES)
    embedding = np.asarray(hse["embedding"], dtype=np.float64)
    norm = np.linalg.norm(embedding, axis=1, keepdims=True)
    return {
        "hse_logodds": np.asarray(hse["logodds"], dtype=np.float64),
        "cydral_logodds": (np.log(p) - np.log1p(-p)).mean(axis=1),
        "hse_age": age_h,
        "hse_age_sq": sq_h,
        "cydral_age": age_c,
        "cydral_age_sq": sq_c,
        "unit_embedding": embedding / np.maximum(norm, 1e-12),
        "size": np.clip(np.log2(np.maximum(np.asarray(side, dtype=np.float64), 1e-6) / 64.0), -2.5, 0.0),
    }


def gender_design(features: dict[str, NDArray]) -> NDArray[np.float64]:
    """The design matrix of the gender decision: ``E/|E|`` (1024), ``Lh``, ``Lc``, young, old, z, 1."""
    age0 = (features["hse_age"] + features["cydral_age"]) / 2
    n = len(age0)
    return np.column_stack([
        features["unit_embedding"],
        features["hse_logodds"],
        features["cydral_logodds"],
        np.maximum(0.0, _YOUNG - age0) / 10,
        np.maximum(0.0, age0 - _OLD) / 10,
        features["size"],
        np.ones(n),
    ])


def mixed_age(features: dict[str, NDArray], hse_weight: float) -> tuple[NDArray, NDArray]:
    """Expectation and standard deviation of the age mixture (``hse_weight`` on the HSE distribution)."""
    w = float(hse_weight)
    mean = w * features["hse_age"] + (1 - w) * features["cydral_age"]
    second = w * features["hse_age_sq"] + (1 - w) * features["cydral_age_sq"]
    return mean, np.sqrt(np.maximum(second - mean**2, 0.0))


class FusedGenderAge(FaceClassifier):
    """Gender and age from the HSE and Cydral networks, fused.

    Args:
        batch_size, threads, device, min_reliable_face_px: as for
            :class:`~.cydral.CydralGenderAge`.
        tta: ``none`` (one view of each network: what the decision was
            fitted on, and the default) or ``flip`` (each chip and its mirror
            image, averaged; not measured to help, twice the cost).
        calibrate_gender: ``False`` gives the HSE network's raw log-odds
            as ``sex_decfunc`` (no fusion).
        precision: ``fp32``, or ``int8`` for the Cydral networks. The HSE
            network is the file the decision was fitted on (``hse_model`` of
            ``models/fused_gender_age.json``, the fp32 one when absent).
        hse_model: another HSE network file (:data:`~.hse.MODELS`), for
            ``tools/fit_fused.py`` that refits the decision on it; the HSE
            chip is cut at that network's input side (``HSENetwork.side``),
            directly from the frame.

    The per-face data also holds ``embedding``: ``(N, 1024)`` float32, the HSE network's.
    """

    name: ClassVar[str] = "FusedGenderAge"
    # those of the shipped HSE network (224 pixels); an instance whose
    # ``hse_model`` takes another side sets its own
    chip_sizes: ClassVar[tuple[int, ...]] = (HSE_SIZE, MASTER_SIZE)
    chip_padding: ClassVar[float] = MASTER_PADDING
    chip_paddings: ClassVar[dict[int, float]] = {HSE_SIZE: HSE_PADDING}
    chip_mirror_edges: ClassVar[tuple[int, ...]] = (HSE_SIZE,)
    columns: ClassVar[tuple[str, ...]] = (
        "sex_decfunc", "age_decfunc", "sex_label", "age_label", "sex_prob_male", "age_std", "reliable",
    )
    description: ClassVar[str] = "HSE and Cydral networks fused, the most accurate and least biased"
    embedding_dim: ClassVar[int] = 1024

    def __init__(
        self,
        batch_size: int = 32,
        threads: int | None = None,
        device: str = "auto",
        tta: str = "none",
        min_reliable_face_px: float = 30.0,
        calibrate_gender: bool = True,
        precision: str = "fp32",
        hse_model: str | None = None,
    ) -> None:
        if tta not in ("none", "flip"):
            raise OptionsError(f"the {self.name} classifier takes tta none or flip, not {tta!r}")
        self.tta = tta
        self.min_reliable_face_px = float(min_reliable_face_px)
        self.calibrate_gender = bool(calibrate_gender)
        if hse_model is None:
            hse_model = parameters().get("hse_model", HSE_MODELS["fp32"])
        self.network = HSENetwork(batch_size, threads, device, hse_model)
        side = self.network.side
        if side != HSE_SIZE:
            self.chip_sizes = (side, MASTER_SIZE)  # type: ignore[misc]
            self.chip_paddings = {side: HSE_PADDING}  # type: ignore[misc]
            self.chip_mirror_edges = (side,)  # type: ignore[misc]
        self.cydral = CydralGenderAge(
            batch_size=batch_size, threads=threads, device=device, tta=tta,
            min_reliable_face_px=min_reliable_face_px, calibrate_gender=False, precision=precision,
        )

    def features(self, chips: FaceChips) -> dict[str, NDArray]:
        """The raw per-face inputs of the decision (:func:`raw_features`), and ``embedding``."""
        hse = self.network(chips.chips[self.network.side], mirror=self.tta == "flip")
        gender, age = self.cydral.probabilities(chips)
        n = len(chips.landmarks)
        side = chip_side_px(chips.landmarks) if n else np.zeros(0)
        features = raw_features(hse, gender, age, side)
        features["embedding"] = hse["embedding"]
        return features

    def decide(self, features: dict[str, NDArray]) -> dict[str, NDArray]:
        """Gender and age columns from :meth:`features` (``reliable`` aside)."""
        fitted = parameters()
        if self.calibrate_gender:
            score = gender_design(features) @ np.asarray(fitted["gender"]["weights"], dtype=np.float64)
        else:
            score = features["hse_logodds"]
        age, std = mixed_age(features, fitted["age"]["hse_weight"])
        return {**gender_columns(score), **age_columns(age, std)}

    def predict(self, chips: FaceChips) -> dict[str, NDArray]:
        features = self.features(chips)
        columns = self.decide(features)
        quality = network_views(chips.chips[MASTER_SIZE], "none")[64]
        low, high = UNSURE
        confident = (columns["sex_prob_male"] <= low) | (columns["sex_prob_male"] >= high)
        columns["reliable"] = reliable_quality(quality, chips.landmarks, self.min_reliable_face_px) & confident
        columns["embedding"] = features["embedding"]
        return columns


"""The HSE multi-task MobileNet (age, gender, identity; Apache-2.0), run with ONNX Runtime.

A. V. Savchenko's network from ``HSE_FaceRec_tf`` (see
``models/hse-faceres-deep.LICENSE.md``), converted by ``tools/convert_hse.py``.
Input: 224x224, BGR minus the channel means (103.939, 116.779, 123.68), no
scaling, NHWC. Outputs: the probability of male, a softmax over ages 0 to 99
(the age is its expectation) and a 1024-d face embedding (its global pooling,
trained for identity on VGGFace2 before the age and gender heads).

The crop (measured on fairface540 and 1,000 utkface64 adults; gender AUC on
fairface540 adults, one view, the network's own threshold):

* dlib aligned chips (eyes levelled) at padding 0.25: AUC 0.962; 0.4: 0.974;
  **0.55: 0.975** (age MAE 8.3 against 9.1 at 0.4: the network was trained on
  loose detector boxes with a margin);
* unaligned square crops of the detector box, 1.15, 1.3 and 1.5 times its
  side, bilinear: 0.977, 0.977, 0.973; the same within the noise of 360
  faces as the 0.55 chip, which the aligner cuts anyway (no second crop
  path); the mirrored view adds 0.001 (noise), so one view is run.

:class:`HSEGenderAge` is the network alone, as published: ``sex_decfunc`` is
its raw log-odds (it leans male on FairFace's loose crops: see
classification.fused for the calibrated, fused decision).
"""

from __future__ import annotations

from functools import cache
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from ..alignment.chips import FaceChips, chip_side_px
from ..errors import OptionsError
from ..models import create_session, model_path
from .base import FaceClassifier, age_to_decfunc
from .cydral import CHIP_TO_BOX, MIN_CONTRAST, MIN_SHARPNESS, contrast, sharpness

__all__ = ["HSE_SIZE", "HSE_PADDING", "MODELS", "HSENetwork", "HSEGenderAge", "HSEOutputs", "hse_session", "quality_chip", "to_network_input"]

#: side of the network's input
HSE_SIZE = 224
#: dlib padding of its chip (see the module docstring)
HSE_PADDING = 0.55
_MEANS_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
#: ages of the softmax bins
AGES = np.arange(100, dtype=np.float64)
_MAX_LOGODDS = 30.0
#: dlib padding of the chip the quality measures (sharpness, contrast) were defined on
_QUALITY_PADDING = 0.2


class HSEOutputs(dict):
    """``logodds`` (N,), ``age_bins`` (N, 100), ``embedding`` (N, 1024), averaged over the views."""


def to_network_input(chips: NDArray[np.uint8]) -> NDArray[np.float32]:
    """The network's input of ``(N, S, S, 3)`` uint8 RGB chips: BGR minus the channel means, float32."""
    x = chips[..., ::-1].astype(np.float32)
    x -= _MEANS_BGR
    return x


def _logodds(p: NDArray[np.float64]) -> NDArray[np.float64]:
    p = np.clip(np.asarray(p, dtype=np.float64), np.exp(-_MAX_LOGODDS), 1 - np.exp(-_MAX_LOGODDS))
    return np.log(p) - np.log1p(-p)


#: the network files by precision: as converted (fp32). An int8 quantisation
#: (``tools/quantize_hse.py``) was measured and not kept: see docs/accuracy.md.
#: The same graph at a smaller input side (``tools/hse_input_side.py``: 160 and
#: 176 pixels) was measured and not kept either.
MODELS = {"fp32": "hse-faceres-deep.onnx"}


@cache
def hse_session(model: str = MODELS["fp32"], threads: int | None = None, device: str = "auto"):  # noqa: ANN201
    """One ONNX Runtime session per network file, thread count and device, built on first use.

    Shared by the classifiers and the identity embedder
    (:mod:`inafaceanalyzer.identity.embedders`): ``run`` is thread-safe.
    """
    return create_session(model_path(model), threads=threads, device=device)


class HSENetwork:
    """The HSE network (one cached ONNX Runtime session), run in batches of ``batch_size`` faces.

    Args:
        model: the network file, one of :data:`MODELS`.

    ``side`` is the input side its graph declares (224 for the converted
    network): the side of the chips it takes.
    """

    def __init__(
        self, batch_size: int = 32, threads: int | None = None, device: str = "auto", model: str = MODELS["fp32"]
    ) -> None:
        if model not in MODELS.values():
            raise OptionsError(f"the HSE network is one of {', '.join(MODELS.values())}, not {model!r}")
        self.batch_size = int(batch_size)
        self.model = model
        self._session = hse_session(model, threads, device)
        self.side = int(self._session.get_inputs()[0].shape[1])

    def __call__(self, chips: NDArray[np.uint8], mirror: bool = False) -> HSEOutputs:
        """Outputs for ``(N, side, side, 3)`` uint8 RGB chips; with ``mirror`` also their mirror images, averaged.

        Gender log-odds and embeddings are averaged over the views, age
        distributions mixed.
        """
        n = len(chips)
        views = [chips, chips[:, :, ::-1]] if mirror else [chips]
        logodds = np.zeros(n)
        age_bins = np.zeros((n, len(AGES)))
        embedding = np.zeros((n, 1024), dtype=np.float32)
        for view in views:
            for start in range(0, n, self.batch_size):
                part = view[start : start + self.batch_size]
                p_male, emb, bins = self._session.run(None, {"image": to_network_input(part)})
                logodds[start : start + len(part)] += _logodds(p_male[:, 0])
                age_bins[start : start + len(part)] += bins
                embedding[start : start + len(part)] += emb
        k = len(views)
        return HSEOutputs(logodds=logodds / k, age_bins=age_bins / k, embedding=embedding / np.float32(k))


def quality_chip(chip: NDArray[np.uint8], padding: float, size: int = 64) -> NDArray[np.uint8]:
    """The ``size``-pixel chip of padding 0.2 cut from the centre of ``(N, S, S, 3)`` chips of ``padding``.

    :func:`~.cydral.sharpness` and :func:`~.cydral.contrast` (and their
    thresholds) are defined on that chip.
    """
    from PIL import Image

    n, side = chip.shape[:2]
    half = side * (1 + 2 * _QUALITY_PADDING) / (1 + 2 * padding) / 2
    box = (side / 2 - half, side / 2 - half, side / 2 + half, side / 2 + half)
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        out[i] = Image.fromarray(chip[i]).resize((size, size), Image.Resampling.BOX, box=box)
    return out


def reliable_quality(
    chips64: NDArray[np.uint8], landmarks: NDArray[np.float64], min_reliable_face_px: float
) -> NDArray[np.bool_]:
    """The face-quality part of ``reliable``: big, sharp and contrasted enough (see :mod:`.cydral`)."""
    if len(chips64) == 0:
        return np.zeros(0, dtype=bool)
    side = chip_side_px(landmarks, _QUALITY_PADDING)
    return (
        (side >= CHIP_TO_BOX * min_reliable_face_px)
        & (sharpness(chips64) >= MIN_SHARPNESS)
        & (contrast(chips64) >= MIN_CONTRAST)
    )


def age_columns(age: NDArray[np.float64], age_std: NDArray[np.float64]) -> dict[str, NDArray]:
    """``age_decfunc``, ``age_label`` and ``age_std`` of ages in years."""
    return {"age_decfunc": age_to_decfunc(age), "age_label": age, "age_std": age_std}


def gender_columns(sex_decfunc: NDArray[np.float64]) -> dict[str, NDArray]:
    """``sex_decfunc`` (log-odds, > 0 male), ``sex_label`` and ``sex_prob_male`` (its sigmoid)."""
    score = np.clip(np.asarray(sex_decfunc, dtype=np.float64), -_MAX_LOGODDS, _MAX_LOGODDS)
    return {
        "sex_decfunc": score,
        "sex_label": np.where(score > 0, "m", "f"),
        "sex_prob_male": 1.0 / (1.0 + np.exp(-score)),
    }


class HSEGenderAge(FaceClassifier):
    """Gender and age from the HSE network alone (as published, uncalibrated), and the face embedding.

    Args:
        batch_size, threads, device: as for :class:`~.cydral.CydralGenderAge`.
        tta: ``none`` (default) or ``flip`` (the chip and its mirror image);
            ``full`` and ``adaptive`` run ``flip``.
        min_reliable_face_px: faces smaller than this are flagged unreliable.
        calibrate_gender: unused (the network alone is uncalibrated).
        precision: ``fp32`` only (see :data:`MODELS`).

    The per-face data also holds ``embedding``: ``(N, 1024)`` float32.
    """

    name: ClassVar[str] = "HSEGenderAge"
    chip_sizes: ClassVar[tuple[int, ...]] = (HSE_SIZE,)
    chip_padding: ClassVar[float] = HSE_PADDING
    chip_mirror_edges: ClassVar[tuple[int, ...]] = (HSE_SIZE,)
    columns: ClassVar[tuple[str, ...]] = (
        "sex_decfunc", "age_decfunc", "sex_label", "age_label", "sex_prob_male", "age_std", "reliable",
    )
    description: ClassVar[str] = "the HSE network alone"
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
    ) -> None:
        if precision not in MODELS:
            raise OptionsError(f"the {self.name} classifier runs in {' or '.join(MODELS)}, not {precision!r}")
        del calibrate_gender  # the network alone has no calibration
        self.tta = "none" if tta in ("none", "auto") else "flip"
        self.min_reliable_face_px = float(min_reliable_face_px)
        self.network = HSENetwork(batch_size, threads, device, MODELS[precision])

    def predict(self, chips: FaceChips) -> dict[str, NDArray]:
        chip = chips.chips[HSE_SIZE]
        out = self.network(chip, mirror=self.tta == "flip")
        bins = out["age_bins"]
        age = bins @ AGES
        std = np.sqrt(np.maximum(bins @ AGES**2 - age**2, 0.0))
        columns = {**gender_columns(out["logodds"]), **age_columns(age, std)}
        quality = quality_chip(chip, HSE_PADDING)
        columns["reliable"] = reliable_quality(quality, chips.landmarks, self.min_reliable_face_px)
        columns["embedding"] = out["embedding"]
        return columns

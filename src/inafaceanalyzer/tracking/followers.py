"""Followers: what moves each track's box from one analysed frame to the next.

A follower keeps, for every face it follows, an appearance model started on
a box of an RGB frame, and moves all of them onto each new frame in one
call. :class:`~.tracker.FaceTracker` decides what the boxes mean (matching,
misses, ends); a follower only says where each face went and how sure it is
(a peak-to-sidelobe ratio, PSR: about 10 or more on a followed face, below 7
once it is lost, for both followers).

``mosse`` (:class:`MosseFollower`, the default)
    A MOSSE correlation filter per face (Bolme et al., CVPR 2010) on a
    64x64 grayscale patch of twice the box, searched from where the face's
    recent motion predicts it. Each face's window alone is made grayscale
    and resampled by Pillow (the frame is never converted whole), and all
    patches go through single batched NumPy FFTs, which release the GIL:
    the Python work is per frame, not per face. On the shared clips, about
    0.4 ms of CPU per face and frame in a crowd (1080p) and 1.5 to 2 ms for
    a lone large face (2.5 to 10 times less than dlib); another thread waits
    at most one NumPy or Pillow call. The box keeps its size between
    detections (trying other scales cost more and gained nothing on the
    shared clips).
``dlib`` (:class:`DlibFollower`)
    dlib's correlation tracker (DSST), one per face on the grayscale frame,
    the seed's tracker: about 3.5 to 4 ms of CPU per face and frame, each
    face's update one call that keeps the GIL throughout.

:data:`FOLLOWERS` maps the names (:data:`~inafaceanalyzer.options.TRACKERS`,
``options.tracker``, ``--tracker``) to the classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ..options import TRACKERS

__all__ = ["FOLLOWERS", "DlibFollower", "Follower", "MosseFollower", "make_follower"]


class Follower(Protocol):
    """What :class:`~.tracker.FaceTracker` needs from a follower."""

    def start(self, face_id: int, image: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        """Follow face ``face_id`` from ``box`` (raw ``xyxy``) on this RGB frame (anew if followed)."""

    def update(self, image: NDArray[np.uint8], face_ids: Sequence[int]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Move the listed faces onto this RGB frame: their boxes (N, 4) and PSRs (N,)."""

    def drop(self, face_id: int) -> None:
        """Forget a face (no error if unknown)."""


class DlibFollower:
    """dlib's correlation tracker, one per face, on the grayscale frame (holds the GIL while it runs)."""

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self._trackers: dict[int, Any] = {}
        self._frame: tuple[NDArray[np.uint8], NDArray[np.uint8]] | None = None  # the last frame, in grayscale

    def _gray(self, image: NDArray[np.uint8]) -> NDArray[np.uint8]:
        if self._frame is None or self._frame[0] is not image:
            self._frame = (image, np.asarray(Image.fromarray(image).convert("L")))
        return self._frame[1]

    def start(self, face_id: int, image: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        tracker = self._trackers.get(face_id)
        if tracker is None:
            tracker = self._trackers[face_id] = self._dlib.correlation_tracker()
        tracker.start_track(self._gray(image), self._dlib.drectangle(*(float(v) for v in box)))

    def update(self, image: NDArray[np.uint8], face_ids: Sequence[int]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        gray = self._gray(image)
        boxes = np.zeros((len(face_ids), 4))
        psr = np.zeros(len(face_ids))
        for i, face_id in enumerate(face_ids):
            tracker = self._trackers[face_id]
            psr[i] = tracker.update(gray)
            position = tracker.get_position()
            boxes[i] = position.left(), position.top(), position.right(), position.bottom()
        return boxes, psr

    def drop(self, face_id: int) -> None:
        self._trackers.pop(face_id, None)


class MosseFollower:
    """MOSSE correlation filters for every face, updated together in batched FFTs.

    Args:
        side: patch side in pixels (a power of two for fast FFTs).
        padding: the patch covers the box scaled by this factor around its centre.
        scales: box scale changes tried on each frame (the best response wins).
        scale_penalty: a changed scale's response is multiplied by this, so
            the size changes only when the response clearly says so.
        learning_rate: weight of each new frame in the running appearance model.
        sigma: width in patch pixels of the desired Gaussian response.
        regularization: added to the filter's denominator, as a fraction of
            the patch's mean spectral power.
        min_psr: the appearance model learns from a frame only where the
            face is held (PSR at least this: ``TrackerSettings.min_track_conf``).
    """

    def __init__(
        self,
        side: int = 64,
        padding: float = 2.0,
        scales: Sequence[float] = (1.0,),
        scale_penalty: float = 0.97,
        learning_rate: float = 0.125,
        sigma: float = 2.0,
        regularization: float = 0.1,
        min_psr: float = 7.0,
        momentum: float = 0.5,
    ) -> None:
        self.min_psr = float(min_psr)
        self.momentum = float(momentum)
        self.side = int(side)
        self.padding = float(padding)
        self.scales = np.asarray(scales, dtype=np.float64)
        self.scale_penalty = float(scale_penalty)
        self.learning_rate = float(learning_rate)
        self.regularization = float(regularization)
        n = self.side
        hann = np.hanning(n + 2)[1:-1]
        self._window = np.outer(hann, hann).astype(np.float64)
        y, x = np.mgrid[0:n, 0:n] - n // 2
        self._goal = np.fft.rfft2(np.exp(-(x**2 + y**2) / (2 * sigma**2)).astype(np.float64))
        self._fy = np.fft.fftfreq(n)[:, None]
        self._fx = np.fft.rfftfreq(n)[None, :]
        self._penalty = np.where(np.isclose(self.scales, 1.0), 1.0, self.scale_penalty)
        self._ids: list[int] = []
        self._boxes = np.zeros((0, 4))
        self._velocity = np.zeros((0, 2))  # centre motion per frame, smoothed
        self._numerator = np.zeros((0, n, n // 2 + 1), dtype=np.complex128)  # G F*
        self._denominator = np.zeros((0, n, n // 2 + 1), dtype=np.float64)  # F F*

    # -- patches -------------------------------------------------------------

    def _patches(self, image: NDArray[np.uint8], boxes: NDArray[np.float64]) -> NDArray[np.float64]:
        """Normalised, windowed grayscale patches (N, side, side) of the padded ``boxes`` of an RGB image.

        Each patch is resampled by Pillow from the window alone, made
        grayscale (reduced by an integer factor first, then bilinear:
        antialiased at any face size), so the frame is never converted
        whole; where the window leaves the image, the patch takes the mean of
        its part inside.
        """
        n = self.side
        height, width = image.shape[:2]
        patches = np.empty((len(boxes), n, n), dtype=np.float64)
        for i, (left, top, right, bottom) in enumerate(boxes):
            cx, cy = (left + right) / 2, (top + bottom) / 2
            w = max(right - left, 1.0) * self.padding
            h = max(bottom - top, 1.0) * self.padding
            x0, y0, step_x, step_y = cx - w / 2, cy - h / 2, w / n, h / n
            # the patch's columns and rows whose source lies inside the image
            c0, r0 = max(0, math.ceil(-x0 / step_x)), max(0, math.ceil(-y0 / step_y))
            c1, r1 = min(n, math.floor((width - x0) / step_x)), min(n, math.floor((height - y0) / step_y))
            if c1 - c0 < 2 or r1 - r0 < 2:
                patches[i] = 0.0
                continue
            sx0, sy0 = max(0.0, x0 + c0 * step_x), max(0.0, y0 + r0 * step_y)
            sx1, sy1 = min(float(width), x0 + c1 * step_x), min(float(height), y0 + r1 * step_y)
            left_px, top_px = int(sx0), int(sy0)
            region = image[top_px : math.ceil(sy1), left_px : math.ceil(sx1)]
            window = Image.fromarray(np.ascontiguousarray(region)).convert("L")
            source = (sx0 - left_px, sy0 - top_px, sx1 - left_px, sy1 - top_px)
            inside = np.asarray(
                window.resize((c1 - c0, r1 - r0), Image.Resampling.BILINEAR, box=source, reducing_gap=2.0)
            )
            if (c0, r0, c1, r1) == (0, 0, n, n):
                patches[i] = inside
            else:
                patches[i] = inside.mean()
                patches[i, r0:r1, c0:c1] = inside
        patches = np.log1p(patches, out=patches)
        mean = patches.mean(axis=(1, 2), keepdims=True)
        std = patches.std(axis=(1, 2), keepdims=True)
        patches -= mean
        patches /= std + 1e-3
        patches *= self._window
        return patches

    def _learn(
        self, spectra: NDArray[np.complex128], rows: NDArray[np.intp], rate: float, goal: NDArray | None = None
    ) -> None:
        """Blend the appearance of ``spectra`` (the face at the patch centre, or where ``goal`` peaks) into ``rows``."""
        goal = self._goal if goal is None else goal
        self._numerator[rows] = (1 - rate) * self._numerator[rows] + rate * (goal * np.conj(spectra))
        self._denominator[rows] = (1 - rate) * self._denominator[rows] + rate * (spectra * np.conj(spectra)).real

    # -- the follower verbs ----------------------------------------------------

    def start(self, face_id: int, image: NDArray[np.uint8], box: NDArray[np.float64]) -> None:
        box = np.asarray(box, dtype=np.float64).reshape(1, 4)
        spectra = np.fft.rfft2(self._patches(image, box))
        if face_id in self._ids:
            row = self._ids.index(face_id)
            self._boxes[row] = box[0]
            self._learn(spectra, np.array([row]), 0.5)  # a detection: half the model from it
            return
        n = self.side
        self._ids.append(face_id)
        self._boxes = np.concatenate([self._boxes, box])
        self._velocity = np.concatenate([self._velocity, np.zeros((1, 2))])
        self._numerator = np.concatenate([self._numerator, np.zeros((1, n, n // 2 + 1), np.complex128)])
        self._denominator = np.concatenate([self._denominator, np.zeros((1, n, n // 2 + 1), np.float64)])
        self._learn(spectra, np.array([len(self._ids) - 1]), 1.0)

    def drop(self, face_id: int) -> None:
        if face_id not in self._ids:
            return
        row = self._ids.index(face_id)
        del self._ids[row]
        self._boxes = np.delete(self._boxes, row, axis=0)
        self._velocity = np.delete(self._velocity, row, axis=0)
        self._numerator = np.delete(self._numerator, row, axis=0)
        self._denominator = np.delete(self._denominator, row, axis=0)

    def update(self, image: NDArray[np.uint8], face_ids: Sequence[int]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        rows = np.array([self._ids.index(face_id) for face_id in face_ids], dtype=np.intp)
        if len(rows) == 0:
            return np.zeros((0, 4)), np.zeros(0)
        n, k = self.side, len(self.scales)
        boxes = self._boxes[rows]
        previous = (boxes[:, :2] + boxes[:, 2:]) / 2
        centres = previous + self._velocity[rows] if self.momentum else previous
        sizes = boxes[:, 2:] - boxes[:, :2]
        # every face at every scale: (faces * scales) patches, one FFT
        scaled = sizes[:, None, :] * self.scales[None, :, None]
        candidates = np.concatenate([centres[:, None, :] - scaled / 2, centres[:, None, :] + scaled / 2], axis=2)
        spectra = np.fft.rfft2(self._patches(image, candidates.reshape(-1, 4))).reshape(len(rows) * k, n, -1)
        power = self._denominator[rows]
        filters = self._numerator[rows] / (power + self.regularization * power.mean(axis=(1, 2), keepdims=True))
        responses = np.fft.irfft2(spectra.reshape(len(rows), k, n, -1) * filters[:, None], s=(n, n))
        responses = responses.reshape(len(rows) * k, n, n)
        flat = responses.reshape(len(responses), -1)
        peaks = flat.argmax(axis=1)
        peak = flat[np.arange(len(flat)), peaks]
        best = (peak.reshape(len(rows), k) * self._penalty).argmax(axis=1)
        chosen = np.arange(len(rows)) * k + best
        response = responses[chosen]
        py, px = np.divmod(peaks[chosen], n)
        psr = _psr(response, py, px)
        dy = _subpixel(response, py, px, axis=0)
        dx = _subpixel(response, py, px, axis=1)
        shift = np.stack([px + dx - n // 2, py + dy - n // 2], axis=1)
        new_sizes = scaled[np.arange(len(rows)), best]
        new_centres = centres + shift * new_sizes * self.padding / n
        new_boxes = np.concatenate([new_centres - new_sizes / 2, new_centres + new_sizes / 2], axis=1)
        # learn the appearance of the faces still held, where each now is
        held = psr >= self.min_psr
        if held.any():
            if self.momentum:
                moved = self.momentum * self._velocity[rows] + (1 - self.momentum) * (new_centres - previous)
                self._velocity[rows[held]] = moved[held]
            self._boxes[rows[held]] = new_boxes[held]
            # from the searched patch, with the goal's peak moved to where the face was found
            # (no second patch: the filter is shift-equivariant)
            phase = np.exp(-2j * np.pi * (self._fy * shift[held, 1, None, None] + self._fx * shift[held, 0, None, None]))
            self._learn(spectra[chosen[held]], rows[held], self.learning_rate, self._goal * phase)
        return new_boxes, psr


def _psr(responses: NDArray, py: NDArray[np.intp], px: NDArray[np.intp], exclude: int = 5) -> NDArray[np.float64]:
    """Peak-to-sidelobe ratio: (peak - mean) / std of each response outside 11x11 around its peak."""
    m, n, _ = responses.shape
    offsets = np.arange(-exclude, exclude + 1)
    iy = (py[:, None] + offsets) % n
    ix = (px[:, None] + offsets) % n
    around = responses[np.arange(m)[:, None, None], iy[:, :, None], ix[:, None, :]].reshape(m, -1)
    count = n * n - around.shape[1]
    total = responses.reshape(m, -1).sum(axis=1, dtype=np.float64) - around.sum(axis=1, dtype=np.float64)
    squares = (responses.reshape(m, -1).astype(np.float64) ** 2).sum(axis=1) - (around.astype(np.float64) ** 2).sum(axis=1)
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 1e-12))
    return (responses[np.arange(m), py, px] - mean) / std


def _subpixel(responses: NDArray, py: NDArray[np.intp], px: NDArray[np.intp], axis: int) -> NDArray[np.float64]:
    """Parabolic refinement of each peak along one axis, within half a pixel."""
    m, n, _ = responses.shape
    index = np.arange(m)
    if axis == 0:
        before, after = responses[index, (py - 1) % n, px], responses[index, (py + 1) % n, px]
    else:
        before, after = responses[index, py, (px - 1) % n], responses[index, py, (px + 1) % n]
    centre = responses[index, py, px]
    curvature = before - 2 * centre + after
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(curvature < 0, 0.5 * (before - after) / curvature, 0.0)
    return np.clip(offset, -0.5, 0.5)


#: The followers by name (``options.tracker``); the first is the default.
FOLLOWERS: dict[str, type] = {"mosse": MosseFollower, "dlib": DlibFollower}
assert tuple(FOLLOWERS) == TRACKERS, "options.TRACKERS and tracking.followers.FOLLOWERS must agree"


def make_follower(name: str) -> Follower:
    """A new follower of the given name (one of :data:`FOLLOWERS`)."""
    try:
        return FOLLOWERS[name]()
    except KeyError:
        raise ValueError(f"tracker must be one of {', '.join(FOLLOWERS)}, not {name!r}") from None

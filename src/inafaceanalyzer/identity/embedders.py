"""Face embeddings: one unit vector per face, close for one person, far apart for two.

A :class:`FaceEmbedder` takes an RGB image and the dlib five-point landmarks
of its faces (as :class:`~inafaceanalyzer.alignment.chips.ChipExtractor`
fits them) and returns an ``(N, dim)`` float32 array of L2-normalised
embeddings. The default, :class:`HseEmbedder`, is the 1024-d identity
embedding (``global_pooling/Mean:0``) of the HSE multi-task MobileNet
(``hse-faceres-deep.onnx``, Apache-2.0; see its ``LICENSE.md``) on a 224x224
dlib chip at padding 0.25. It was chosen over dlib's 128-d face-recognition
ResNet by measurement (``benchmarks/identity_pairs.py``; ``README.md``,
"People"): it separates identities better and costs a seventh of the time.
Another embedder plugs in by subclassing :class:`FaceEmbedder`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from functools import cache
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

__all__ = ["HSE_MODEL", "FaceEmbedder", "HseEmbedder", "dlib_shape", "face_chips", "hse_embedder", "normalise"]

HSE_MODEL = "hse-faceres-deep.onnx"


def normalise(vectors: NDArray[np.floating]) -> NDArray[np.float32]:
    """Rows scaled to unit length (a zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def dlib_shape(points: NDArray[np.float64]):  # noqa: ANN201 - dlib has no type stubs
    """A dlib ``full_object_detection`` from ``(5, 2)`` landmarks (in frame pixels)."""
    import dlib

    left, top = np.floor(points.min(axis=0)).astype(int)
    right, bottom = np.ceil(points.max(axis=0)).astype(int)
    return dlib.full_object_detection(
        dlib.rectangle(int(left), int(top), int(right), int(bottom)),
        [dlib.point(int(round(x)), int(round(y))) for x, y in points],
    )


def face_chips(image: NDArray[np.uint8], landmarks: NDArray[np.float64], size: int, padding: float) -> NDArray[np.uint8]:
    """``(N, size, size, 3)`` dlib chips of the faces with these ``(N, 5, 2)`` landmarks."""
    import dlib

    image = np.ascontiguousarray(image)
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    out = np.empty((len(points), size, size, 3), dtype=np.uint8)
    for i, face in enumerate(points):
        out[i] = dlib.extract_image_chip(image, dlib.get_face_chip_details(dlib_shape(face), size, padding))
    return out


class FaceEmbedder(ABC):
    """Computes identity embeddings of faces.

    Attributes:
        name: a short name, written beside saved embeddings.
        dim: length of one embedding.
    """

    name: ClassVar[str]
    dim: ClassVar[int]

    @abstractmethod
    def chips(self, image: NDArray[np.uint8], landmarks: NDArray[np.float64]) -> NDArray[np.uint8]:
        """What :meth:`embed` needs of the faces of an RGB image with these ``(N, 5, 2)`` landmarks (their chips).

        Cut while the frame is at hand, so that the frame need not wait whole for the embedding.
        """

    @abstractmethod
    def embed(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """``(N, dim)`` unit embeddings of faces from their :meth:`chips`."""

    def __call__(self, image: NDArray[np.uint8], landmarks: NDArray[np.float64]) -> NDArray[np.float32]:
        """``(N, dim)`` unit embeddings of the faces of an RGB image, from their ``(N, 5, 2)`` landmarks."""
        return self.embed(self.chips(image, landmarks))


class HseEmbedder(FaceEmbedder):
    """The HSE network's 1024-d embedding (see the module doc).

    Args:
        threads: ONNX Runtime intra-op threads (``None``: every core).
        device: ``cpu``, ``cuda`` or ``auto``.
    """

    name = "hse-faceres-deep"
    dim = 1024
    chip_size = 224
    chip_padding = 0.25

    def __init__(self, threads: int | None = None, device: str = "auto") -> None:
        from ..classification.hse import hse_session

        # the classifiers' session of the same file (one copy of the network in memory)
        self._session = hse_session(HSE_MODEL, threads, device)
        self._input = self._session.get_inputs()[0].name
        self._lock = threading.Lock()

    def chips(self, image: NDArray[np.uint8], landmarks: NDArray[np.float64]) -> NDArray[np.uint8]:
        return face_chips(image, landmarks, self.chip_size, self.chip_padding)

    def embed(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        if not len(chips):
            return np.zeros((0, self.dim), dtype=np.float32)
        from ..classification.hse import to_network_input

        x = to_network_input(chips)
        with self._lock:
            (embedding,) = self._session.run(["embedding"], {self._input: x})
        return normalise(embedding)


@cache
def hse_embedder(threads: int | None = None, device: str = "auto") -> HseEmbedder:
    """One :class:`HseEmbedder` per thread count and device, built on first use."""
    return HseEmbedder(threads=threads, device=device)

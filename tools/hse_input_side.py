"""Write the HSE network with another input side, from the committed 224-pixel ONNX graph, reproducibly.

The graph (``hse-faceres-deep.onnx``, written by ``tools/convert_hse.py``)
is fully convolutional up to a global average pooling, so its weights hold
at any input side; only the input's height and width are fixed (224), and
tf2onnx wrote TensorFlow's ``SAME`` padding as explicit pads computed for
224 pixels. This tool sets the input side to ``--side`` and each
convolution's pads to ``SAME`` at that side (checked first to reproduce the
source's pads at 224), and changes nothing else. For 224, 192 and 160 every
stride-2 convolution sees an even size and no pad changes; at 176 the last
one (``conv_dw_12``) sees 11 pixels and its pads become (1, 1) on each axis.

The same source file and side give the same bytes (ONNX serialisation is
deterministic). Tool-time dependency: ``onnx``. Usage::

    python tools/hse_input_side.py --side 160 \
        src/inafaceanalyzer/models/hse-faceres-deep.onnx src/inafaceanalyzer/models/hse-faceres-deep-160.onnx
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

#: sha256 of the graph this tool starts from (tools/convert_hse.py's output)
SOURCE_SHA256 = "655f00fb356edf5f38e5d9c130ff90a4e368bb118779c92c2af5a27d2708ec3e"
SOURCE_SIDE = 224


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's ``SAME`` padding (before, after) of one spatial axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def set_same_pads(model, side: int) -> list[str]:  # noqa: ANN001
    """Set every convolution's pads to TensorFlow's ``SAME`` padding at input ``side``; the layers changed.

    The graph is a chain of convolutions (MobileNet); the spatial size is
    followed from one to the next.
    """
    import onnx

    size = side
    changed = []
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: a for a in node.attribute}
        kernel = onnx.helper.get_attribute_value(attrs["kernel_shape"])
        stride = onnx.helper.get_attribute_value(attrs["strides"])
        if kernel[0] != kernel[1] or stride[0] != stride[1] or "auto_pad" in attrs:
            raise SystemExit(f"{node.name}: not a square convolution with explicit pads")
        before, after = same_pads(size, kernel[0], stride[0])
        pads = [before, before, after, after]
        if list(attrs["pads"].ints) != pads:
            del attrs["pads"].ints[:]
            attrs["pads"].ints.extend(pads)
            changed.append(node.name)
        size = -(-size // stride[0])
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="hse-faceres-deep.onnx (224 pixels)")
    parser.add_argument("target", type=Path, help="the ONNX file to write")
    parser.add_argument("--side", type=int, required=True, help="the input's height and width in pixels")
    args = parser.parse_args(argv)
    import onnx

    digest = hashlib.sha256(args.source.read_bytes()).hexdigest()
    if digest != SOURCE_SHA256:
        raise SystemExit(f"{args.source}: sha256 {digest}, not that of tools/convert_hse.py's output")
    if args.target.exists() and args.target.resolve() == args.source.resolve():
        raise SystemExit(f"{args.target}: the target would overwrite the source")
    model = onnx.load(str(args.source))
    if set_same_pads(model, SOURCE_SIDE):
        raise SystemExit(f"{args.source}: its pads are not TensorFlow's SAME padding at {SOURCE_SIDE} pixels")
    changed = set_same_pads(model, args.side)
    (image,) = model.graph.input
    dims = image.type.tensor_type.shape.dim
    if [d.dim_value for d in dims[1:]] != [SOURCE_SIDE, SOURCE_SIDE, 3]:
        raise SystemExit(f"{args.source}: input {image.name} is not (N, {SOURCE_SIDE}, {SOURCE_SIDE}, 3)")
    dims[1].dim_value = args.side
    dims[2].dim_value = args.side
    onnx.checker.check_model(model)
    data = model.SerializeToString(deterministic=True)
    partial = args.target.with_name(args.target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(args.target)
    print(
        f"{args.target}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}; "
        f"pads changed: {', '.join(changed) or 'none'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

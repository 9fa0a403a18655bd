"""Accuracy and bias of the gender and age predictions on labelled face sets.

>>> from inafaceanalyzer.evaluation import evaluate, load_labelled_set
>>> report = evaluate("../shared/eval/fairface540")                        # doctest: +SKIP
>>> report.metric("gender_accuracy", "adults"), report.biases              # doctest: +SKIP
>>> utk = load_labelled_set("../shared/eval/utkface64", min_age=20, max_age=80,
...                         sample=2000, seed=0)                           # doctest: +SKIP
>>> evaluate(utk, mode="crops").write("results/utk")                       # doctest: +SKIP

Modules: :mod:`.dataset` (labelled sets), :mod:`.runner` (predictions),
:mod:`.metrics` (definitions), :mod:`.report` (Markdown and CSV),
:mod:`.videos` (per-frame against per-track on videos), :mod:`.calibration`
(fitting the shipped gender calibration on FairFace).

:func:`evaluate` runs the pipeline (:mod:`.runner`), then computes the
report's tables (:mod:`.metrics`, :mod:`.report`). ``ina_face_evaluate`` is
the same from the command line.
"""

from __future__ import annotations

import os

from ..options import AnalysisOptions
from ..pipeline.analyzer import FaceAnalyzer
from .dataset import AGE_BUCKETS, AgeBucket, LabelledSet, LabelsError, age_bucket_of, load_labelled_set
from .metrics import BIAS_METRICS, SUBSETS, bias_cells, bias_summary, race_gaps, summary_metrics, summary_table
from .report import EvaluationReport, build_report
from .runner import MODES, SetPredictions, central_face, predict_set

__all__ = [
    "AGE_BUCKETS",
    "BIAS_METRICS",
    "MODES",
    "SUBSETS",
    "AgeBucket",
    "EvaluationReport",
    "LabelledSet",
    "LabelsError",
    "SetPredictions",
    "age_bucket_of",
    "bias_cells",
    "bias_summary",
    "build_report",
    "central_face",
    "evaluate",
    "load_labelled_set",
    "predict_set",
    "race_gaps",
    "summary_metrics",
    "summary_table",
]


def evaluate(
    dataset: LabelledSet | str | os.PathLike[str],
    mode: str = "full",
    options: AnalysisOptions | None = None,
    analyzer: FaceAnalyzer | None = None,
    progress: bool = False,
) -> EvaluationReport:
    """Run the pipeline over a labelled set and measure its accuracy and biases.

    Args:
        dataset: a :class:`LabelledSet`, or the folder of one (read whole).
        mode: ``full`` (detection, alignment, classification) or ``crops``
            (each image is a face crop, classified without detection).
        options: analysis settings (engine ``image`` for ``full``,
            ``preprocessed_image`` for ``crops``; the engine is set here).
        analyzer: models already loaded (built from ``options`` if not given).
        progress: show a progress bar.
    """
    if not isinstance(dataset, LabelledSet):
        dataset = load_labelled_set(dataset)
    engine = "image" if mode == "full" else "preprocessed_image"
    options = (options or AnalysisOptions(engine=engine)).replace(engine=engine)
    analyzer = analyzer or FaceAnalyzer(options)
    predictions = predict_set(dataset, analyzer, mode=mode, progress=progress)  # type: ignore[arg-type]
    settings = {
        key: value
        for key, value in analyzer.options.to_dict().items()
        if key not in ("engine", "fps", "detect_period", "threads", "device", "batch_size")
    }
    settings["tta"] = getattr(analyzer.classifier, "tta", analyzer.options.effective_tta)
    if mode == "crops":
        for key in ("face_detector", "face_detection_confidence", "min_face_size_px", "min_face_size_percent",
                    "face_detection_padding", "bbox_scaling", "squarify_bbox"):
            settings.pop(key, None)
    return build_report(
        dataset.name,
        dataset.description,
        mode,
        predictions.faces,
        settings=settings,
        seconds=predictions.seconds,
        faces_classified=predictions.faces_classified,
    )

"""Model files shipped inside the package, and ONNX Runtime sessions to run them.

Every file in this folder is listed in ``registry.json`` with its sha256, size,
licence and source; its licence text sits next to it (``<stem>.LICENSE.md``).
:func:`model_path` returns the path of a registered file once its sha256 has
been checked (once per process). :func:`create_session` builds an ONNX
Runtime session with explicit threads and execution providers; every ONNX
model of the toolbox (detectors, classifiers) goes through it.
"""

from __future__ import annotations

import json
import logging
import os
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InaFaceAnalyzerError, OptionsError
from .integrity import ModelIntegrityError, sha256_of, verify_file

if TYPE_CHECKING:
    import onnxruntime

__all__ = [
    "DEVICES",
    "DeviceUnavailableError",
    "ModelIntegrityError",
    "available_threads",
    "create_session",
    "model_path",
    "registry",
    "sha256_of",
    "uses_cuda",
    "verify_file",
]

logger = logging.getLogger(__name__)

#: the values of the ``device`` argument of :func:`create_session`
DEVICES = ("auto", "cpu", "cuda")

_CPU = "CPUExecutionProvider"
_CUDA = "CUDAExecutionProvider"


class DeviceUnavailableError(InaFaceAnalyzerError, RuntimeError):
    """The requested device cannot run ONNX models here (e.g. no CUDA provider)."""


@cache
def registry() -> dict[str, dict[str, Any]]:
    """The content of ``registry.json``: file name -> sha256, bytes, licence, source."""
    text = (files(__name__) / "registry.json").read_text(encoding="utf-8")
    entries: dict[str, dict[str, Any]] = json.loads(text)
    return entries


@cache
def model_path(name: str) -> Path:
    """The path of the packaged model file ``name``, its sha256 checked.

    The check runs once per process; a failure is not cached, so a repaired
    installation is picked up on the next call.

    Raises:
        ModelIntegrityError: ``name`` is not registered, or the file is
            missing, or its sha256 differs from the registered one.
    """
    entry = registry().get(name)
    if entry is None:
        raise ModelIntegrityError(f"unknown model {name!r}: registered models are {sorted(registry())}")
    resource = files(__name__) / name
    if not isinstance(resource, Path):
        # the package is imported from a zip archive: ONNX Runtime needs a real file
        raise ModelIntegrityError(f"model {name!r} is not a file on disk ({resource}); install the package unzipped")
    return verify_file(resource, entry["sha256"])


def available_threads() -> int:
    """The number of CPU cores this process may run on (its affinity mask)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as error:  # pragma: no cover - a dependency of the package
        raise ImportError(
            "onnxruntime is needed to run the ONNX models: pip install onnxruntime "
            "(or onnxruntime-gpu, via the 'gpu' extra, for CUDA)"
        ) from error
    return onnxruntime


def _providers(device: str, available: list[str]) -> list[str]:
    if device == "cpu":
        return [_CPU]
    if device == "cuda":
        if _CUDA not in available:
            raise DeviceUnavailableError(
                f"device 'cuda' requested but onnxruntime offers only {available}: "
                "install onnxruntime-gpu (the 'gpu' extra) with a matching CUDA, or use device 'cpu'"
            )
        return [_CUDA, _CPU]
    if device == "auto":
        return [_CUDA, _CPU] if _CUDA in available else [_CPU]
    raise OptionsError(f"unknown device {device!r}: expected one of {DEVICES}")


def uses_cuda(device: str) -> bool:
    """Whether sessions made by :func:`create_session` for ``device`` run on CUDA (when it loads)."""
    return _CUDA in _providers(device, _import_onnxruntime().get_available_providers())


def create_session(
    model: str | os.PathLike[str] | bytes,
    threads: int | None = None,
    device: str = "auto",
) -> onnxruntime.InferenceSession:
    """An ONNX Runtime session with explicit threads and execution providers.

    Args:
        model: path of an ``.onnx`` file, or the serialized model itself.
        threads: intra-op threads; ``None`` uses every core available to
            the process (:func:`available_threads`). Inter-op threads are 1:
            the toolbox's graphs are sequential.
        device: ``"cpu"`` (CPU provider only), ``"cuda"`` (CUDA provider,
            an error if it is missing or fails to load) or ``"auto"`` (CUDA
            when onnxruntime offers it, else CPU).

    Raises:
        OptionsError: unknown device or a thread count below 1.
        DeviceUnavailableError: ``device="cuda"`` and CUDA cannot be used.
    """
    ort = _import_onnxruntime()
    if threads is None:
        threads = available_threads()
    if threads < 1:
        raise OptionsError(f"threads must be at least 1, got {threads}")
    providers = _providers(device, ort.get_available_providers())
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    # Worker threads sleep instead of spinning between calls: decoding runs
    # beside inference, and spinning threads would steal its core.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: old exports make ORT warn at length
    source = model if isinstance(model, bytes) else os.fspath(model)
    session = ort.InferenceSession(source, sess_options=options, providers=providers)
    used = session.get_providers()
    if device == "cuda" and _CUDA not in used:
        # onnxruntime falls back to the CPU when the CUDA libraries fail to load
        raise DeviceUnavailableError(
            f"the CUDA provider failed to load (the session runs on {used}); see onnxruntime's log"
        )
    logger.debug("ONNX Runtime session on %s with %d intra-op threads", used[0], threads)
    return session

"""Checks that a model file is exactly the one the toolbox was validated with."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from ..errors import InaFaceAnalyzerError

__all__ = ["ModelIntegrityError", "verify_file"]

_verified: set[tuple[str, str]] = set()
_lock = threading.Lock()


class ModelIntegrityError(InaFaceAnalyzerError):
    """A model file is missing or differs from the expected sha256."""


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path | str, sha256: str) -> Path:
    """Return ``path`` once its sha256 has been checked (once per process and file).

    Raises:
        ModelIntegrityError: the file is missing or its content differs.
    """
    path = Path(path)
    key = (str(path), sha256)
    with _lock:
        if key in _verified:
            return path
        if not path.is_file():
            raise ModelIntegrityError(f"model file not found: {path} (reinstall the package)")
        actual = sha256_of(path)
        if actual != sha256:
            raise ModelIntegrityError(
                f"model file {path} has sha256 {actual}, expected {sha256}: "
                "the file is corrupt or was replaced (reinstall the package)"
            )
        _verified.add(key)
    return path

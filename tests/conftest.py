"""Shared test fixtures: where the real media lives, and one set of models per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("INAFACE_SHARED", REPO.parent / "shared"))
SHARED_IMAGES = SHARED / "media" / "images"
SHARED_VIDEOS = SHARED / "media" / "videos"
BUNDLED = REPO / "media"

HAMILTON = SHARED_VIDEOS / "face_recognition__short_hamilton_clip.mp4"
INDIA = SHARED_IMAGES / "800px-India_(236650352).jpg"
FAMILY = SHARED_IMAGES / "1328360239_e56cc26d26_o.jpg"
KNUTH = SHARED_IMAGES / "dknuth.jpg"
KNUTH224 = SHARED_IMAGES / "knuth224.jpg"
DIALLO = SHARED_IMAGES / "Europa21_-_2.jpg"
DIALLO224 = SHARED_IMAGES / "diallo224.jpg"


def pytest_collection_modifyitems(config, items):
    """Tests that need the shared media fail loudly in CI and skip elsewhere when it is absent."""
    if SHARED_IMAGES.is_dir():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"shared media not found at {SHARED}: set INAFACE_SHARED")
    skip = pytest.mark.skip(reason=f"shared media not found at {SHARED}")
    for item in items:
        if "shared_media" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def analyzer():
    """Default models, loaded once for the whole test session."""
    from inafaceanalyzer import AnalysisOptions, FaceAnalyzer

    return FaceAnalyzer(AnalysisOptions())

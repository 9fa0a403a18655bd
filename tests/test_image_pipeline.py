"""The image engine's overlapped pipeline finds what one image at a time finds.

The engine decodes and shrinks images in one thread, detects and aligns in
another and classifies batches of faces across images in a third
(:func:`~inafaceanalyzer.pipeline.engines.iter_images`); none of it may change a
face: the boxes, landmarks and every prediction are those of
``FaceAnalyzer.__call__`` on each image alone (the detector shrinking the image
itself, one classifier call per image), on the shared photos and on a sample
of fairface540 (FairFace, CC BY 4.0), images of many sizes interleaved.
"""

from __future__ import annotations

import numpy as np
import pytest

from inafaceanalyzer.io import load_image
from inafaceanalyzer.pipeline.engines import iter_images

from .conftest import SHARED_EVAL, SHARED_IMAGES

pytestmark = pytest.mark.shared_media

#: every 27th fairface540 image: 20 images
FAIRFACE_STEP = 27


def _photos() -> list[str]:
    shared = sorted(str(path) for path in SHARED_IMAGES.glob("*.jpg"))
    fairface = sorted(str(path) for path in (SHARED_EVAL / "fairface540" / "images").glob("*.jpg"))[::FAIRFACE_STEP]
    # interleaved, so that consecutive images differ in size
    mixed = [path for pair in zip(shared, fairface, strict=False) for path in pair]
    return mixed + shared[len(fairface):] + fairface[len(shared):]


def _fail(error: Exception) -> None:
    raise error


def test_engine_faces_and_labels_equal_one_image_at_a_time(analyzer):
    photos = _photos()
    assert len(photos) >= 25
    results = list(iter_images(photos, analyzer, _fail))
    assert [result.frame for result in results] == photos
    total = 0
    for path, result in zip(photos, results, strict=True):
        alone = analyzer(load_image(path))
        faces = result.faces
        total += len(faces)
        assert len(faces) == len(alone), path
        np.testing.assert_array_equal(faces.xyxy, alone.xyxy, err_msg=path)
        np.testing.assert_array_equal(faces.confidence, alone.confidence, err_msg=path)
        np.testing.assert_array_equal(faces.landmarks, alone.landmarks, err_msg=path)
        assert set(faces.data) == set(alone.data), path
        for name, values in alone.data.items():
            if np.asarray(values).dtype.kind in "fc":
                # one batch of many faces against one call per image: ONNX Runtime may
                # round the last bits differently; the labels must not move
                np.testing.assert_allclose(faces.data[name], values, rtol=1e-4, atol=1e-4, err_msg=f"{path} {name}")
            else:
                np.testing.assert_array_equal(faces.data[name], values, err_msg=f"{path} {name}")
    assert total >= 30  # the family photo alone has 7 faces, India 5, fairface one or more each

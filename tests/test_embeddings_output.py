"""Per-face embeddings on request: ``--embeddings`` with the image and video engines (``<name>.embeddings.npy``).

Real models on the shared photos (provenance: ``shared/media/README``) and the
bundled Hamilton clip.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from inafaceanalyzer import AnalysisOptions
from inafaceanalyzer.errors import OptionsError
from inafaceanalyzer.export.embeddings import embeddings_dtype, face_embeddings_path, read_face_embeddings
from inafaceanalyzer.export.sidecar import meta_path, read_meta
from inafaceanalyzer.io import load_image
from inafaceanalyzer.runs import analyze_video_to_files, run_batch

from .conftest import FAMILY, HAMILTON, INDIA, KNUTH, KNUTH224

pytestmark = pytest.mark.shared_media


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float32), b.astype(np.float32)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.logs_errors  # the missing input
def test_the_image_engine_writes_one_unit_embedding_per_row_that_tells_people_apart(tmp_path, analyzer):
    table_path = tmp_path / "photos.csv"
    missing = tmp_path / "missing.jpg"
    options = AnalysisOptions(engine="image", embeddings=True, threads=2)
    report = run_batch([str(INDIA), str(KNUTH), str(missing), str(KNUTH224), str(FAMILY)], table_path, options)
    assert [failure.source for failure in report.failures] == [str(missing)]  # the batch went on
    sidecar = face_embeddings_path(table_path)
    assert sidecar == tmp_path / "photos.embeddings.npy"
    assert set(report.written) == {table_path, sidecar}
    table = pd.read_csv(table_path)
    records = np.load(sidecar)
    assert records.dtype == embeddings_dtype(1024)
    assert list(records["row"]) == list(range(len(table))) and len(table) >= 12
    vectors = read_face_embeddings(table_path)
    assert vectors.shape == (len(table), 1024) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=2e-3)
    # the rows' own faces: the in-memory embedding of the classifier, as written
    faces = analyzer(load_image(KNUTH))
    knuth = np.flatnonzero(table.frame == str(KNUTH))
    assert len(knuth) == len(faces) == 1
    assert _cosine(vectors[knuth[0]], faces.data["embedding"][0]) > 0.999
    # Knuth's two photos are closer to each other than to any face of the India photo
    knuth224 = np.flatnonzero(table.frame == str(KNUTH224))[0]
    india = np.flatnonzero(table.frame == str(INDIA))
    same = _cosine(vectors[knuth[0]], vectors[knuth224])
    assert same > max(_cosine(vectors[knuth[0]], vectors[i]) for i in india) + 0.1


def test_the_video_engine_writes_them_only_on_request_and_with_the_table(tmp_path, analyzer):
    plain = tmp_path / "plain" / "hamilton.csv"
    analyze_video_to_files(str(HAMILTON), plain, AnalysisOptions(engine="video", fps=2), analyzer)
    assert plain.is_file() and not face_embeddings_path(plain).exists()
    saved = tmp_path / "saved" / "hamilton.parquet"
    written: list = []
    rows = analyze_video_to_files(str(HAMILTON), saved, AnalysisOptions(engine="video", fps=2, embeddings=True),
                                  analyzer, written=written)
    sidecar = face_embeddings_path(saved)
    assert set(written) == {saved, sidecar, meta_path(saved)} and rows > 0
    assert sidecar.name in read_meta(saved).outputs  # listed in the run's metadata with the table
    records = np.load(sidecar)
    table = pd.read_parquet(saved)
    assert len(records) == len(table) == rows
    assert list(records["row"]) == list(range(rows))
    assert not any(p.name.endswith(".partial") for p in saved.parent.iterdir())


def test_a_classifier_without_an_embedding_is_an_option_error():
    with pytest.raises(OptionsError, match="CydralGenderAge classifier computes no face embedding"):
        AnalysisOptions(engine="image", classifier="CydralGenderAge", embeddings=True)
    assert AnalysisOptions(engine="videokeyframes", classifier="HSEGenderAge", embeddings=True).embeddings

"""Shared test fixtures: where the real media lives, and one set of models per session.

Media the repository may carry (``media/``: public-domain and CC BY files)
serve the default suite. Tests that need the other real media of
``../shared`` (or ``$INAFACE_SHARED``) carry the ``shared_media`` marker: they
form the extended suite, which fails loudly in CI when the media are
missing, and elsewhere is skipped with a line that says so at the end of the
run. Nothing else may look for ``shared/`` on its own.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("INAFACE_SHARED", REPO.parent / "shared"))
SHARED_IMAGES = SHARED / "media" / "images"
SHARED_VIDEOS = SHARED / "media" / "videos"
BUNDLED = REPO / "media"

SHARED_EVAL = SHARED / "eval"

# the same bytes as shared/media's face_recognition__short_hamilton_clip.mp4 and 800px-India_(236650352).jpg
HAMILTON = BUNDLED / "hamilton_clip.mp4"
INDIA = BUNDLED / "india.jpg"
FAMILY = SHARED_IMAGES / "1328360239_e56cc26d26_o.jpg"
KNUTH = SHARED_IMAGES / "dknuth.jpg"
KNUTH224 = SHARED_IMAGES / "knuth224.jpg"
DIALLO = SHARED_IMAGES / "Europa21_-_2.jpg"
DIALLO224 = SHARED_IMAGES / "diallo224.jpg"


def shared_available() -> bool:
    """Whether the real media and labelled sets of ``shared/`` are there."""
    return SHARED_IMAGES.is_dir() and SHARED_VIDEOS.is_dir() and SHARED_EVAL.is_dir()


_NOT_RUN: list[str] = []
_SLOW_NOT_RUN: list[str] = []


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="run the slow tests too (.ci/run does)")


def pytest_collection_modifyitems(config, items):
    """Slow tests run with ``--slow``; tests that need the shared media fail loudly in CI and skip elsewhere
    when it is absent. Both say so at the end of the run."""
    if not config.getoption("--slow"):
        skip_slow = pytest.mark.skip(reason="slow: run with --slow (as .ci/run does)")
        for item in items:
            if "slow" in item.keywords:
                item.add_marker(skip_slow)
                _SLOW_NOT_RUN.append(item.nodeid)
    if shared_available():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"shared media not found at {SHARED}: set INAFACE_SHARED")
    skip = pytest.mark.skip(reason=f"extended suite: shared media not found at {SHARED}")
    for item in items:
        if "shared_media" in item.keywords:
            item.add_marker(skip)
            _NOT_RUN.append(item.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say plainly when the extended suite or the slow tests were not run."""
    if _SLOW_NOT_RUN:
        terminalreporter.write_sep(
            "!", f"SLOW TESTS NOT RUN: {len(_SLOW_NOT_RUN)} ({', '.join(_SLOW_NOT_RUN)}); "
            "run them with --slow, as .ci/run does", yellow=True,
        )
    if _NOT_RUN:
        terminalreporter.write_sep(
            "!", f"EXTENDED SUITE NOT RUN: {len(_NOT_RUN)} tests need the media of {SHARED} "
            "(set INAFACE_SHARED to their folder); only the default suite ran", red=True,
        )


@pytest.fixture(scope="session")
def analyzer():
    """Default models, loaded once for the whole test session."""
    from inafaceanalyzer import AnalysisOptions, FaceAnalyzer

    return FaceAnalyzer(AnalysisOptions())


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation site, built once per session with the documented command's flags (warnings are errors).

    The build executes the tutorial notebooks (``docs/conf.py``); Sphinx and
    autodoc import every module and configure logging, so it runs in a subprocess.
    """
    out = tmp_path_factory.mktemp("docs") / "html"
    completed = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q", str(REPO / "docs"), str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if completed.returncode != 0:
        pytest.fail(
            f"the documentation build failed (exit {completed.returncode}):\n{completed.stderr[-6000:]}",
            pytrace=False,
        )
    return out


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "logs_errors: the test expects the toolbox to log errors (bad inputs it feeds on purpose)"
    )


@pytest.fixture(autouse=True)
def _no_unexpected_error_logs(request, caplog):
    """Fail any test during which the toolbox logged an ERROR it did not say it expects.

    A swallowed failure (a thread that died, a batch that recorded an error
    the test did not look at) then shows up where it happens. Tests that feed
    bad inputs on purpose carry ``@pytest.mark.logs_errors``.
    """
    yield
    if request.node.get_closest_marker("logs_errors") is not None:
        return
    errors = [record for when in ("setup", "call") for record in caplog.get_records(when)
              if record.levelno >= 40 and record.name.startswith("inafaceanalyzer")]
    if errors:
        pytest.fail("unexpected ERROR logs: " + "; ".join(f"{r.name}: {r.getMessage()}" for r in errors[:5]),
                    pytrace=False)

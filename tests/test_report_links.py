"""The batch report's links, for videos with hostile names, clicked in real headless Chromium.

A file may be named ``javascript:void(document.title='x').mp4``: its link
must open its report, never run as a script; ``#``, ``?``, ``%``, spaces,
quotes, ``<`` and non-ASCII letters must give links that work.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Iterator

import pytest

from inafaceanalyzer.cli import analyze
from inafaceanalyzer.report.html import relative_href

from .browser import Chromium, open_chromium
from .conftest import SHARED_VIDEOS

pytestmark = pytest.mark.shared_media

CLIP = SHARED_VIDEOS / "LivePortrait__d11.mp4"  # a child's face, 9 s
HOSTILE = [
    "javascript:void(document.title='x')",
    "a#b?c=d",
    "100% 50%41 done",
    "quote\"'<b>&amp;",
    "unicodé 東京",
]


@pytest.fixture
def chromium() -> Iterator[Chromium]:
    yield from open_chromium()


def _when(browser: Chromium, expression: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """The first truthy value of ``expression`` in the page (navigations in between are waited for)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = browser.evaluate(expression)
        except RuntimeError:  # the page is changing
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{expression} stayed false for {timeout} s")


def _local_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "file", url
    return urllib.parse.unquote(parts.path)


def test_relative_hrefs_are_encoded_paths_that_cannot_be_a_scheme(tmp_path):
    assert relative_href("javascript:alert(1).html") == "./javascript%3Aalert%281%29.html"
    assert relative_href("a#b?c%.html") == "./a%23b%3Fc%25.html"
    assert relative_href(tmp_path / "sub" / "x y.html", tmp_path) == "./sub/x%20y.html"
    assert relative_href(tmp_path / "x.html", tmp_path / "sub") == "../x.html"


def test_batch_report_links_of_hostile_names_open_their_reports_in_chromium(tmp_path, chromium):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in HOSTILE:
        (videos / f"{name}.mp4").symlink_to(CLIP)
    out = tmp_path / "out"
    assert analyze.main(["--no_progress", "-q", "--engine", "videokeyframes", "--html_report", "-i", str(videos),
                         "-o", str(out)]) == 0
    page = out / "batch_report.html"
    text = page.read_text(encoding="utf-8")
    table = text[text.index('<table id="videos">'):]
    table = table[:table.index("</table>")]
    hrefs = re.findall(r'<a href="([^"]*)"', table)
    assert len(hrefs) == len(HOSTILE)
    assert all(h.startswith("./") and ":" not in h and "#" not in h and "?" not in h for h in hrefs), hrefs
    assert "<b>" not in table and "&lt;b&gt;" in table  # names are escaped as text too

    batch_url = page.resolve().as_uri()
    chromium.navigate(batch_url)
    links = json.loads(_when(chromium, "document.readyState === 'complete' && document.title.startsWith('Faces') "
                                       "&& JSON.stringify([...document.querySelectorAll('#videos a')]"
                                       ".map(a => [a.textContent, a.href]))"))
    assert sorted(name for name, _ in links) == sorted(HOSTILE)
    for name, href in links:  # each resolves to the file of its report
        assert _local_path(href) == str((out / f"{name}.html").resolve()), (name, href)

    for index, (name, _) in enumerate(links):  # and clicking it opens that report, running nothing
        chromium.navigate(batch_url)
        _when(chromium, f"document.readyState === 'complete' && document.querySelectorAll('#videos a').length "
                        f"=== {len(HOSTILE)} && location.href === {json.dumps(batch_url)}")
        chromium.evaluate(f"document.querySelectorAll('#videos a')[{index}].click(), true")
        _when(chromium, f"document.readyState === 'complete' && location.href !== {json.dumps(batch_url)}")
        assert _local_path(chromium.evaluate("location.href")) == str((out / f"{name}.html").resolve())
        title = chromium.evaluate("document.title")
        assert title == f"Faces in {name}" and title != "x"

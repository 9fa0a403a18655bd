"""The report's gallery by person, opened in headless Chromium.

The clip is test_identity's: Katie Hill's talking head, then Bob Menendez's,
then Katie again from later in her clip (shared media, one person per clip;
provenance in ../shared/media/videos/README.md), analysed by the
videotracking engine with its report. The page must show one card per
person of ``<name>.people.csv`` with that table's screen time, gender and
number of tracks; a table without ``person_id`` gets the gallery of tracks.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from inafaceanalyzer import AnalysisOptions
from inafaceanalyzer.cli import render
from inafaceanalyzer.identity import people_path
from inafaceanalyzer.runs import analyze_video_to_files
from inafaceanalyzer.tracking import tracks_path

from .browser import Chromium, open_chromium
from .clips import clip_frames, write_clip
from .test_identity import BOB, KATIE

pytestmark = pytest.mark.shared_media

# each card's values as the page shows them, read by the browser from the DOM it built
CARDS = ("JSON.stringify([...document.querySelectorAll('#people figure.person')].map(f => ({"
         "person: +f.dataset.person, gender: f.dataset.gender, screen: +f.dataset.screenTime, "
         "tracks: +f.dataset.tracks, frame: +f.dataset.frame, start: +f.dataset.start, end: +f.dataset.end, "
         "image: (f.querySelector('img') || {}).src || '', text: f.querySelector('figcaption').textContent})))")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    yield from open_chromium()


@pytest.fixture(scope="module")
def katie_bob_katie(tmp_path_factory, analyzer) -> tuple[Path, Path]:
    """(clip, its table) analysed with the report, at 5 fps."""
    folder = tmp_path_factory.mktemp("people_report")
    frames = [*clip_frames(KATIE, 0, 2.5), *clip_frames(BOB, 0, 2.5), *clip_frames(KATIE, 5, 8)]
    clip = write_clip(folder / "aba.mp4", frames, options={"qscale": "3"})
    out = folder / "out"
    out.mkdir()
    table = out / "aba.csv"
    options = AnalysisOptions(engine="videotracking", fps=5, detect_period=3)
    analyze_video_to_files(str(clip), table, options, analyzer, report_path=out / "aba.html")
    return clip, table


def _page(browser: Chromium, page: Path, expression: str, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """``expression``'s value in ``page`` once it is loaded."""
    browser.navigate(page.resolve().as_uri())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ready = browser.evaluate(f"document.readyState === 'complete' && location.href === "
                                     f"{json.dumps(page.resolve().as_uri())}")
        except RuntimeError:  # the page is changing
            ready = False
        if ready:
            return browser.evaluate(expression)
        time.sleep(0.1)
    raise AssertionError(f"{page} did not load in {timeout} s")


def _light(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    thumbnails = sum(len(m) for m in re.findall(r'src="data:image/jpeg;base64,[^"]*"', text))
    assert len(text.encode("utf-8")) - thumbnails < 500_000, "a report page weighs under 500 KB plus thumbnails"


def test_the_report_shows_one_card_per_person_with_the_people_tables_values(katie_bob_katie, chromium):
    _, table = katie_bob_katie
    people = pd.read_csv(people_path(table)).set_index("person_id")
    tracks = pd.read_csv(tracks_path(table))
    assert len(people) == 2 and len(tracks) >= 3  # Katie in two tracks or more, Bob
    page = table.with_suffix(".html")
    _light(page)
    cards = json.loads(_page(chromium, page, CARDS))
    assert sorted(card["person"] for card in cards) == sorted(people.index)
    screens = [card["screen"] for card in cards]
    assert screens == sorted(screens, reverse=True)  # most screen time first
    for card in cards:
        person = people.loc[card["person"]]
        assert card["screen"] == pytest.approx(person.screen_time_s, abs=1e-4)
        assert card["gender"] == person.sex_label_avg
        assert card["tracks"] == person.n_tracks == (tracks.person_id == card["person"]).sum()
        assert card["start"] == pytest.approx(person.start_s, abs=1e-4)
        assert card["end"] == pytest.approx(person.end_s, abs=1e-4)
        assert card["image"].startswith("data:image/jpeg;base64,")
        assert card["frame"] == person.thumbnail_frame  # the person's best face, as the people table says
        assert f"person {card['person']}" in card["text"] and f"{person.screen_time_s:.1f} s on screen" in card["text"]
        for face_id in tracks[tracks.person_id == card["person"]].face_id:
            assert f"#{face_id}" in card["text"]  # the person's tracks are named
    # the shared clips: Katie (person 0) a woman, Bob (person 1) a man
    assert people.loc[0].sex_label_avg == "f" and people.loc[1].sex_label_avg == "m"
    link = _page(chromium, page, "document.querySelector('a[href$=\"people.csv\"]').href")
    assert link == people_path(table).resolve().as_uri()  # the page links the people table beside it


def test_corrections_show_on_the_persons_card(katie_bob_katie, chromium, tmp_path):
    clip, table = katie_bob_katie
    fix = tmp_path / "fix.csv"
    fix.write_text("person_id,gender,age\n1,f,33\n")  # Bob (person 1) called a woman of 33, to see it shown
    out = tmp_path / "out"
    assert render.main(["--no_progress", "--html_report", "-i", str(table), "--video", str(clip),
                        "--person_overrides", str(fix), "-o", str(out)]) == 0
    cards = {card["person"]: card for card in json.loads(_page(chromium, out / "aba.html", CARDS))}
    assert cards[1]["gender"] == "f" and "33 y" in cards[1]["text"] and "(corrected)" in cards[1]["text"]
    assert cards[0]["gender"] == "f" and "(corrected)" not in cards[0]["text"]


def test_a_table_without_person_ids_gets_the_gallery_of_tracks(katie_bob_katie, chromium, tmp_path):
    clip, table = katie_bob_katie
    bare = tmp_path / "bare"
    bare.mkdir()
    tracks = pd.read_csv(tracks_path(table)).drop(columns="person_id")
    pd.read_csv(table).drop(columns="person_id").to_csv(bare / table.name, index=False)
    tracks.to_csv(bare / tracks_path(table).name, index=False)
    sidecar = table.with_name(f"{table.stem}.meta.json")  # the same analysis: its frames
    (bare / sidecar.name).write_bytes(sidecar.read_bytes())
    out = tmp_path / "out"
    assert render.main(["--no_progress", "--html_report", "-i", str(bare / table.name), "--video", str(clip),
                        "-o", str(out)]) == 0
    page = out / "aba.html"
    _light(page)
    found = json.loads(_page(chromium, page, "JSON.stringify([document.querySelectorAll('figure.person').length, "
                                             "[...document.querySelectorAll('.gallery figure figcaption')]"
                                             ".map(c => c.textContent)])"))
    persons, captions = found
    assert persons == 0
    assert len(captions) == len(tracks)  # one thumbnail per track
    assert sorted(int(re.match(r"#(\d+) ", c).group(1)) for c in captions) == sorted(tracks.face_id)

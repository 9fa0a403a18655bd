"""HTML reports, opened in real headless Chromium (Debian's chromium package, installed by .ci/run).

Each page is rendered with the network blocked (it must work offline); the
test reads the page as Chromium built it (``--dump-dom``) to check that the
Plotly charts were drawn (their SVG) and that the totals it shows match the
results table. Screenshots are kept in the test's tmp_path and copied to
``test-artifacts/`` at the repository root for people to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inafaceanalyzer.io import VideoSource

from .conftest import HAMILTON, REPO, SHARED_VIDEOS
from .export_helpers import ANALYZER, RENDER, make_clip, run, table

ARTIFACTS = REPO / "test-artifacts"
SECOND = SHARED_VIDEOS / "SadTalker__WDA_KatieHill_000.mp4"  # a talking head, small and quick


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package")
    pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")


def open_in_chromium(chromium: str, page: Path, profile: Path, screenshot: Path | None = None) -> str:
    """The page's DOM after Chromium ran its scripts (network blocked); optionally a screenshot."""
    common = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}", "--hide-scrollbars",
        "--window-size=1280,2000", "--virtual-time-budget=10000",
    ]
    url = page.resolve().as_uri()
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    if screenshot is not None:
        shot = subprocess.run([*common, f"--screenshot={screenshot}", url], capture_output=True, text=True, timeout=120)
        assert shot.returncode == 0 and screenshot.stat().st_size > 10_000, shot.stderr[-2000:]
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(screenshot, ARTIFACTS / screenshot.name)
    return dom.stdout


def totals(dom: str) -> dict[str, float]:
    """The ``data-total`` cells of the page: key -> value, checking the shown text says the same."""
    found = {}
    for key, value, text in re.findall(r'<td data-total="([^"]+)" data-value="([^"]+)">([^<]*)</td>', dom):
        shown = float(text.replace(",", "").rstrip("%"))
        assert shown == pytest.approx(float(value), abs=0.051), (key, text)
        found[key] = float(value)
    return found


def chart(dom: str, div_id: str) -> str:
    """The markup Plotly drew in the chart ``div_id`` (up to the next chart)."""
    start = dom.index(f'id="{div_id}"')
    following = dom.find('class="plotly-graph-div', dom.index(">", start))
    return dom[start : following if following > 0 else len(dom)]


def assert_offline(page: Path) -> None:
    """Nothing from the network: the only script loaded is plotly.js, from the page's own folder."""
    text = page.read_text(encoding="utf-8")
    assert re.findall(r"<script src=\"([^\"]*)\"", text) == ["./plotly.min.js"]
    assert (page.parent / "plotly.min.js").stat().st_size > 1_000_000
    assert '<link rel="stylesheet" href="http' not in text and 'src="http' not in text


def hold_seconds(csv: pd.DataFrame, analysed: list[float], end: float) -> pd.Series:
    """Each row's display time, computed independently: to the next analysed frame, the last to the end."""
    following = {t: n for t, n in zip(analysed, analysed[1:] + [end], strict=True)}
    return csv.time_s.map(lambda t: following[t] - t)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    proc = run(ANALYZER, "--engine", "video", "--fps", "2", "--html_report", "--stats", "-i", HAMILTON, SECOND,
               "-o", out)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.mark.shared_media
def test_video_report_draws_charts_and_shows_the_table_totals(batch, chromium, tmp_path):
    page = batch / (HAMILTON.stem + ".html")
    assert_offline(page)
    dom = open_in_chromium(chromium, page, tmp_path / "profile", tmp_path / "report_video.png")

    for div in ("share", "ages", "presence"):
        drawn = chart(dom, div)
        assert 'class="main-svg"' in drawn, f"chart {div} was not drawn"
    assert len(re.findall(r'class="slice', chart(dom, "share"))) >= 4  # two donuts, women and men
    assert 'class="trace bars"' in chart(dom, "ages") and re.search(r'<path[^>]+d="M[\d.]+', chart(dom, "ages"))
    assert 'class="js-fill"' in chart(dom, "presence")

    csv = pd.read_csv(batch / (HAMILTON.stem + ".csv"))
    shown = totals(dom)
    for gender in ("f", "m"):
        assert shown[f"detections.{gender}"] == (csv.sex_label == gender).sum()
    assert shown["detections.total"] == len(csv)
    frames = list(VideoSource(HAMILTON))
    end = float(frames[-1].time + Fraction(100, 2997))
    holds = hold_seconds(csv, [f.time_s for f in VideoSource(HAMILTON, fps=2)], end)
    for gender in ("f", "m"):
        assert shown[f"face_seconds.{gender}"] == pytest.approx(holds[csv.sex_label == gender].sum(), abs=1e-3)
    share = 100 * holds[csv.sex_label == "f"].sum() / holds.sum()
    assert shown["face_seconds_share.f"] == pytest.approx(share, abs=1e-3)
    thumbnails = re.findall(r'<figure class="[fmu]"><img src="data:image/jpeg;base64,', dom)
    assert len(thumbnails) == min(len(csv), 48)


@pytest.mark.shared_media
def test_batch_report_sums_the_videos(batch, chromium, tmp_path):
    page = batch / "batch_report.html"
    assert_offline(page)
    dom = open_in_chromium(chromium, page, tmp_path / "profile", tmp_path / "report_batch.png")
    for div in ("share", "ages", "videos-chart"):
        assert 'class="main-svg"' in chart(dom, div), f"chart {div} was not drawn"
    tables = [pd.read_csv(batch / (video.stem + ".csv")) for video in (HAMILTON, SECOND)]
    shown = totals(dom)
    for gender in ("f", "m"):
        assert shown[f"detections.{gender}"] == sum((t.sex_label == gender).sum() for t in tables)
    assert f'href="./{HAMILTON.stem}.html"' in dom and f'href="./{SECOND.stem}.html"' in dom


def test_tracked_report_counts_tracks_and_their_screen_time(tmp_path, chromium):
    """A tracked table and its tracks file (as the videotracking engine writes them), re-rendered."""
    clip = make_clip(tmp_path / "tracked.mp4", 100, rate=Fraction(25), size=(160, 120))
    times = [f.time_s for f in VideoSource(clip, fps=5)]
    boxes, ids, genders, ages = [], [], [], []
    for t in times:  # track 1 (a woman) all along, track 2 (a man) in the first half, track 3 (a man) once
        faces = [((10, 40, 50, 80), 1, "f", 31.0)]
        if t < 2:
            faces.append(((90, 40, 130, 80), 2, "m", 45.0))
        if t == times[5]:
            faces.append(((60, 5, 90, 35), 3, "m", 8.0))
        boxes.append([f[0] for f in faces])
        ids.append([f[1] for f in faces])
        genders.append([f[2] for f in faces])
        ages.append([f[3] for f in faces])
    df = table(times, boxes, ids=ids, genders=genders, ages=ages)
    df.to_csv(tmp_path / "tracked.csv", index=False)
    tracks = pd.DataFrame({
        "face_id": [1, 2, 3], "start_s": [0.0, 0.0, times[5]], "end_s": [4.0, 2.0, times[6]],
        "duration_s": [4.0, 2.0, 0.2], "n_frames": [20, 10, 1], "n_detections": [20, 10, 1],
        "sex_label_avg": ["f", "m", "m"], "age_label_avg": [31.0, 45.0, 8.0], "median_face_size": [40, 40, 30],
    })
    tracks.to_csv(tmp_path / "tracked.tracks.csv", index=False)

    out = tmp_path / "out"
    proc = run(RENDER, "--html_report", "--ass_subtitle_export", "-i", tmp_path / "tracked.csv",
               tmp_path / "tracked.tracks.csv", "--video", clip, "--fps", "5", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert not (out / "tracked.tracks.html").exists()  # the tracks file is not a table to draw
    page = out / "tracked.html"
    dom = open_in_chromium(chromium, page, tmp_path / "profile", tmp_path / "report_tracked.png")
    shown = totals(dom)
    assert (shown["tracks.f"], shown["tracks.m"]) == (1, 2)
    assert (shown["face_seconds.f"], shown["face_seconds.m"]) == (4.0, pytest.approx(2.2))
    assert shown["detections.total"] == len(df)
    timeline = chart(dom, "tracks")
    assert 'class="main-svg"' in timeline and 'class="trace bars"' in timeline
    assert len(re.findall(r'<figure class="[fm]"><img', dom)) == 3  # one thumbnail per track
    assert np.isclose(shown["tracks_share.f"], 100 / 3)


def shown_stats(dom: str) -> dict[str, tuple[float, float | None, float | None]]:
    """The ``data-stat`` cells of the page: key -> (value, low, high), checking the shown text says the same."""
    found = {}
    pattern = r'<td data-stat="([^"]+)" data-value="([^"]+)"(?: data-low="([^"]+)" data-high="([^"]+)")?>([^<]*)'
    for key, value, low, high, text in re.findall(pattern, dom):
        assert float(text.strip().rstrip("%")) == pytest.approx(100 * float(value), abs=0.051), (key, text)
        found[key] = (float(value), float(low) if low else None, float(high) if high else None)
    return found


@pytest.mark.shared_media
def test_reports_show_the_statistics_table(batch, chromium, tmp_path):
    """The shares and intervals the pages show are the statistics CSV's; plotly.js is written once; pages are light."""
    for page, stats_file, group in ((batch / (HAMILTON.stem + ".html"), batch / (HAMILTON.stem + ".stats.csv"), None),
                                    (batch / "batch_report.html", batch / "batch.stats.csv", "(all)")):
        stats = pd.read_csv(stats_file)
        if group is not None:
            stats = stats[stats.group == group]
        dom = open_in_chromium(chromium, page, tmp_path / "profile")
        shown, cells = shown_stats(dom), totals(dom)
        assert (stats.resampling_unit == "time_block").all()  # --engine video: blocks of time, not frames
        women = stats[stats.gender == "f"].set_index("age_group")
        assert set(women.index) == {"all", "0-19", "20-34", "35-49", "50-64", "65+"}
        for band, row in women.iterrows():
            value, low, high = shown[f"{band}.share.f"] if row.share == row.share else (np.nan, None, None)
            if row.share == row.share:
                assert value == pytest.approx(row.share, abs=1e-5)
                if row.share_low == row.share_low:
                    assert (low, high) == (pytest.approx(row.share_low, abs=1e-5), pytest.approx(row.share_high, abs=1e-5))
                else:  # fewer than two units: no interval, none shown
                    assert (low, high) == (None, None)
            assert cells[f"stats.{band}.face_seconds.f"] == pytest.approx(row.face_seconds, abs=1e-3)
        assert cells["stats.all.unreliable_face_seconds"] == pytest.approx(
            stats[(stats.gender == "all") & (stats.age_group == "all")].unreliable_face_seconds.iloc[0], abs=1e-3)
        assert f'href="./{stats_file.name}"' in dom  # the page links its CSV
        assert 'class="trace bars"' in chart(dom, "ages")  # screen time by age band drawn
        text = page.read_text(encoding="utf-8")
        thumbnails = sum(len(m) for m in re.findall(r'src="data:image/jpeg;base64,[^"]*"', text))
        assert len(text.encode("utf-8")) - thumbnails < 500_000, "a report page weighs under 500 KB plus thumbnails"
    assert len(list(batch.glob("*.js"))) == 1  # one plotly.js for the folder
    unreliable = pd.read_csv(batch / (HAMILTON.stem + ".csv")).reliable.eq(False).any()
    assert unreliable, "the Hamilton clip has unreliable faces at --fps 2: the reliable-only figures differ"


def test_track_bars_run_to_the_end_of_their_last_period_and_donut_labels_never_overlap():
    from inafaceanalyzer.report import charts

    # as the tracking engine writes them: end_s is the last frame's time, duration_s runs to the next period
    tracks = pd.DataFrame({"face_id": [0, 1], "start_s": [0.0, 9.0], "end_s": [3.8, 9.8], "duration_s": [4.0, 1.0],
                           "gender": ["f", "m"], "age": [30.0, 40.0]})
    figure = charts.tracks_figure(tracks, duration_s=9.9)
    ends = {bar.y[i]: bar.base[i] + bar.x[i] for bar in figure.data for i in range(len(bar.y))}
    assert ends == {"#0": pytest.approx(4.0), "#1": pytest.approx(10.0)}
    assert figure.layout.xaxis.range[1] >= 10.0  # the last bar is not cut at the video's stated end
    donuts = charts.share_figure([("detections", {"f": 1, "m": 99}), ("screen time", {"f": 50.0, "m": 50.0})])
    assert donuts.layout.uniformtext.mode == "hide"  # a label that does not fit its slice is hidden, not overlapped
    assert all(pie.textposition == "inside" for pie in donuts.data)

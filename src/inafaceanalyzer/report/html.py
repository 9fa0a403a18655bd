"""HTML reports that work offline: one per video, one per batch.

Each page works from its folder with no network: plotly.js (from the plotly
package) is written once per output folder as :data:`PLOTLY_JS` and loaded
with ``<script src="./plotly.min.js">``, thumbnails are inlined JPEG; no
CDN, no server. Totals are also written as ``data-total``/``data-value``
attributes, and the statistics (:mod:`inafaceanalyzer.stats`: shares of the
reliable faces' screen time with their intervals) as ``data-stat``, so
scripts and tests can read them from the page.
"""

from __future__ import annotations

import datetime as _dt
import html
import logging
import os
import urllib.parse
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.offline

from .._version import __version__
from ..errors import MediaError
from ..export.atomic import atomic_path, current_content
from ..export.overlay import GENDER_NAMES, face_labels, parse_bboxes
from ..export.table import TABLE_FORMATS, read_table
from . import charts
from .summary import GENDERS, VideoData, VideoSummary
from .thumbnails import crop_thumbnail, grab_frames

__all__ = ["PLOTLY_JS", "relative_href", "write_batch_report", "write_plotly_js", "write_video_report"]

log = logging.getLogger(__name__)

#: Most thumbnails in a video's gallery.
MAX_THUMBNAILS = 48
#: The file of plotly.js beside the reports, written once per output folder.
PLOTLY_JS = "plotly.min.js"

_CSS = """
:root { --f: %(f)s; --m: %(m)s; --u: %(u)s; --ink: #1d232b; --muted: #5d6773; --line: #e2e6ea; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: #f6f7f9; }
main { max-width: 1200px; margin: 0 auto; padding: 20px 24px 40px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 0 0 10px; }
.meta, .note { color: var(--muted); margin: 0 0 6px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 18px; margin: 16px 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(430px, 1fr)); gap: 16px; }
.grid > section { margin: 0; min-width: 0; }
.js-plotly-plot, .plot-container { width: 100%%; }
table { border-collapse: collapse; width: 100%%; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { color: var(--muted); font-weight: 600; }
tr.total td, tr.total th { font-weight: 700; border-bottom: none; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(118px, 1fr)); gap: 10px; }
figure { margin: 0; text-align: center; font-size: 12px; }
figure img { height: 112px; max-width: 100%%; border-radius: 4px; border: 3px solid var(--u); object-fit: cover; }
figure.f img { border-color: var(--f); } figure.m img { border-color: var(--m); }
figcaption { color: var(--muted); margin-top: 2px; }
.gallery.people { grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); }
figure.person figcaption { color: var(--ink); }
figure.person .tracks { color: var(--muted); white-space: normal; overflow-wrap: anywhere; }
.ci { color: var(--muted); font-size: 12px; }
.scroll { overflow-x: auto; }
a { color: #1667c4; }
"""


# Charts are drawn as the page is parsed; once laid out, fit them to their boxes.
_RESIZE = (
    "window.addEventListener('load', function () {"
    " document.querySelectorAll('.js-plotly-plot').forEach(function (p) { Plotly.Plots.resize(p); }); });"
)


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    return plotly.offline.get_plotlyjs()


def _hex(gender: str) -> str:
    return charts.colour(gender)


def _figure(fig: go.Figure, div_id: str) -> str:
    return fig.to_html(
        full_html=False, include_plotlyjs=False, div_id=div_id,
        config={"responsive": True, "displaylogo": False},
    )


def _page(title: str, body: str) -> str:
    css = _CSS % {"f": _hex("f"), "m": _hex("m"), "u": _hex("")}
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<meta name=\"generator\" content=\"inafaceanalyzer {__version__}\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{css}</style>\n"
        f"<script src=\"./{PLOTLY_JS}\"></script>\n</head>\n<body>\n<main>\n{body}\n</main>\n"
        f"<script>{_RESIZE}</script>\n</body>\n</html>\n"
    )


def _write(path: str | os.PathLike[str], text: str) -> None:
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def write_plotly_js(folder: str | os.PathLike[str]) -> Path:
    """Write :data:`PLOTLY_JS` in ``folder`` unless the same file is there (one copy per output folder).

    Raises:
        OSError: a file of that name that is not plotly.js is there (it is not overwritten).
    """
    target = Path(folder) / PLOTLY_JS
    script = _plotly_js()
    if target.is_file():
        with open(target, encoding="utf-8", errors="replace") as handle:
            head = handle.read(200)
        if target.stat().st_size == len(script.encode("utf-8")) and script.startswith(head):
            return target
        if "plotly.js" not in head:
            raise OSError(f"{target} exists and is not plotly.js: not overwritten (move it away)")
    _write(target, script)
    return target


def _beside(page: Path, stem: str) -> str | None:
    """``<stem>.csv`` or ``.parquet`` beside ``page``, if it exists or is written with it (its name)."""
    for suffix in TABLE_FORMATS.values():
        if current_content(page.parent / f"{stem}{suffix}") is not None:
            return f"{stem}{suffix}"
    return None


def _percent(value: float) -> str:
    return "&ndash;" if value is None or value != value else f"{100 * value:.1f}%"


def _stat_cell(key: str, value: float, low: float | None = None, high: float | None = None) -> str:
    """A share with its interval: ``47.1% [40.2, 53.8]``, values in ``data-*`` attributes."""
    if value is None or value != value:
        return f"<td data-stat=\"{key}\">&ndash;</td>"
    attrs = f"data-stat=\"{key}\" data-value=\"{value:.6g}\""
    text = _percent(value)
    if low is not None and high is not None and low == low and high == high:
        attrs += f" data-low=\"{low:.6g}\" data-high=\"{high:.6g}\""
        text += f" <span class=\"ci\">[{100 * low:.1f}, {100 * high:.1f}]</span>"
    return f"<td {attrs}>{text}</td>"


def _stats_section(stats: pd.DataFrame | None, links: Sequence[tuple[str, str]] = (), group: str | None = None) -> str:
    """The statistics of one group: women's share of screen time by age band, with intervals."""
    if stats is None or not len(stats):
        return ""
    if group is not None:
        stats = stats[stats["group"] == group]
    rows = []
    for band in stats["age_group"].drop_duplicates():
        cells = {g: stats[(stats["gender"] == g) & (stats["age_group"] == band)].iloc[0] for g in ("f", "m", "all")}
        f, m, everyone = cells["f"], cells["m"], cells["all"]
        rows.append(
            f"<tr data-age=\"{html.escape(band)}\"><th scope=\"row\">{html.escape(band)}</th>"
            + _cell(f"stats.{band}.face_seconds.f", float(f["face_seconds"]), 1)
            + _cell(f"stats.{band}.face_seconds.m", float(m["face_seconds"]), 1)
            + _stat_cell(f"{band}.share.f", f["share"], f["share_low"], f["share_high"])
            + _stat_cell(f"{band}.share_adjusted.f", f["share_adjusted"], f["share_adjusted_low"],
                         f["share_adjusted_high"])
            + _stat_cell(f"{band}.expected_share.f", f["expected_share"], f["expected_share_low"],
                         f["expected_share_high"])
            + _cell(f"stats.{band}.unreliable_face_seconds", float(everyone["unreliable_face_seconds"]), 1)
            + "</tr>"
        )
    unit = str(stats["resampling_unit"].iloc[0])
    units = int(stats["n_units"].iloc[0])
    clipped = bool(stats["share_adjusted_clipped"].any())
    notes = [
        f"Reliable faces only: faces the classifier flags unreliable (too small, blurred or dark) are left out of "
        f"every share; their screen time is in the last column. Intervals: 95%, bootstrap over {units} "
        f"{unit.replace('_', ' ')}{'s' if units != 1 else ''} (never single frames).",
        "Corrected: the women's share corrected for the classifier's measured error rates by age band "
        "(Rogan-Gladen; see the documentation's Statistics page)" + (", clipped to [0, 100]%" if clipped else "")
        + ". Expected: the sum of each face's probability of being a woman times its screen time.",
    ]
    link = " ".join(f"<a href=\"{html.escape(relative_href(name))}\">{html.escape(text)}</a>" for text, name in links)
    return (
        "<section><h2>Screen time of women and men</h2><div class=\"scroll\"><table id=\"stats\"><thead><tr>"
        "<th>age (predicted)</th><th>women (s)</th><th>men (s)</th><th>women's share [95% interval]</th>"
        "<th>corrected</th><th>expected</th><th>unreliable, left out (s)</th></tr></thead><tbody>"
        + "".join(rows) + "</tbody></table></div>"
        + "".join(f"<p class=\"note\">{n}</p>" for n in notes)
        + (f"<p class=\"note\">Data: {link}</p>" if link else "") + "</section>"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _reliable_seconds(stats: pd.DataFrame | None, group: str | None = None) -> dict[str, float] | None:
    if stats is None or not len(stats):
        return None
    if group is not None:
        stats = stats[stats["group"] == group]
    rows = stats[stats["age_group"] == "all"].set_index("gender")["face_seconds"]
    return {"f": float(rows.get("f", 0.0)), "m": float(rows.get("m", 0.0))}


def _number(value: float, decimals: int = 0) -> str:
    return f"{value:,.{decimals}f}"


def _cell(key: str, value: float | None, decimals: int = 0, suffix: str = "") -> str:
    if value is None:
        return "<td>&ndash;</td>"
    return f"<td data-total=\"{key}\" data-value=\"{value:.6g}\">{_number(value, decimals)}{suffix}</td>"


def _share(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole > 0 else None


def _totals_table(
    detections: dict[str, int], tracks: dict[str, int] | None, seconds: dict[str, float], time_from: str
) -> str:
    """Rows: women, men, (unknown), all; columns: detections, tracks, face-seconds, shares."""
    all_seconds = sum(seconds.values())
    all_detections = sum(detections.values())
    genders = [g for g in GENDERS if g or detections.get(g) or seconds.get(g) or (tracks or {}).get(g)]
    head = ["", "detections", "% of detections"]
    if tracks is not None:
        head += ["tracks", "% of tracks"]
    head += ["face-seconds", "% of screen time"]
    rows = []
    for g in genders + ["total"]:
        key = g or "unknown"
        total = g == "total"
        n = all_detections if total else detections.get(g, 0)
        secs = all_seconds if total else seconds.get(g, 0.0)
        name = "all" if total else GENDER_NAMES[g]
        swatch = "" if total else f"<span class=\"swatch\" style=\"background:{_hex(g)}\"></span>"
        cells = [f"<th scope=\"row\">{swatch}{name}</th>", _cell(f"detections.{key}", n),
                 _cell(f"detections_share.{key}", _share(n, all_detections), 1, "%")]
        if tracks is not None:
            t = sum(tracks.values()) if total else tracks.get(g, 0)
            cells += [_cell(f"tracks.{key}", t), _cell(f"tracks_share.{key}", _share(t, sum(tracks.values())), 1, "%")]
        cells += [_cell(f"face_seconds.{key}", secs, 1), _cell(f"face_seconds_share.{key}", _share(secs, all_seconds), 1, "%")]
        rows.append(f"<tr class=\"{'total' if total else 'gender'}\" data-gender=\"{key}\">{''.join(cells)}</tr>")
    how = (
        "Face-seconds are the summed durations of the tracks."
        if time_from == "tracks"
        else "Face-seconds: each detected face counts from its frame to the next analysed frame."
    )
    return (
        "<div class=\"scroll\"><table id=\"totals\"><thead><tr>"
        + "".join(f"<th scope=\"col\">{h}</th>" for h in head)
        + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
        f"<p class=\"note\">{how} Genders are the ones smoothed along each track when the table has them.</p>"
    )


def _share_measures(detections: dict[str, int], tracks: dict[str, int] | None, seconds: dict[str, float],
                    reliable: dict[str, float] | None = None):
    measures: list[tuple[str, dict[str, float]]] = [("detections", {k: float(v) for k, v in detections.items()})]
    if tracks is not None:
        measures.append(("tracks", {k: float(v) for k, v in tracks.items()}))
    if reliable is not None:
        measures.append(("screen time, reliable faces", reliable))
    else:
        measures.append(("screen time", seconds))
    return measures


def _gallery(data: VideoData, people_table: str | None = None) -> str:
    """Thumbnails: one per person when the table has people, else one per track (longest first), or the
    largest faces of an untracked table."""
    table = data.table
    if not len(table):
        return "<p class=\"note\">No face was found.</p>"
    if data.people is not None and len(data.people):
        return _people_gallery(data, people_table)
    if data.source is None:
        return "<p class=\"note\">No thumbnails: the source video was not given.</p>"
    boxes = parse_bboxes(table["bbox"])
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    labels = face_labels(table)
    picks: list[tuple[int, str, str]] = []  # (row, caption, gender)
    if data.tracks is not None:
        by_id = pd.Series(area, index=table.index).groupby(table["face_id"]).idxmax()
        for _, track in data.tracks.sort_values("duration_s", ascending=False).head(MAX_THUMBNAILS).iterrows():
            if track["face_id"] not in by_id.index:
                continue
            row = int(by_id[track["face_id"]])
            age = f" &middot; {track['age']:.0f} y" if pd.notna(track["age"]) else ""
            caption = (f"#{int(track['face_id'])} {GENDER_NAMES[track['gender']]}{age}"
                       f"<br>{track['duration_s']:.1f} s, from {track['start_s']:.1f} s")
            picks.append((row, caption, track["gender"]))
    else:
        rows = np.argsort(-area, kind="stable")[:MAX_THUMBNAILS]
        for row in sorted(rows, key=lambda r: float(table["time_s"].iloc[r])):
            caption = f"{html.escape(labels[row])}<br>at {float(table['time_s'].iloc[row]):.2f} s"
            picks.append((int(row), caption, table["gender"].iloc[row]))
    thumbnails, problem = _thumbnails(data, [row for row, _, _ in picks], boxes)
    if problem is not None:
        return f"<p class=\"note\">No thumbnails: {html.escape(problem)}</p>"
    figures = [
        f"<figure class=\"{gender or 'u'}\"><img src=\"{thumbnails[row]}\" alt=\"face\" loading=\"lazy\">"
        f"<figcaption>{caption}</figcaption></figure>"
        for row, caption, gender in picks if row in thumbnails
    ]
    what = "one per track, longest first" if data.tracks is not None else "the largest faces, in time order"
    return f"<p class=\"note\">{_plural(len(figures), 'face')}: {what}.</p><div class=\"gallery\">{''.join(figures)}</div>"


def _thumbnails(data: VideoData, rows: Sequence[int], boxes: np.ndarray) -> tuple[dict[int, str], str | None]:
    """The JPEG ``data:`` URL of the face of each of ``rows`` that could be cut, or why none could."""
    table = data.table
    if data.source is None:
        return {}, "the source video was not given"
    try:
        frames = grab_frames(data.source, [float(table["time_s"].iloc[row]) for row in rows])
    except MediaError as error:
        log.warning("%s: no thumbnails: %s", data.source, error.reason)
        return {}, error.reason
    found = {}
    for row in rows:
        image = frames.get(float(table["time_s"].iloc[row]))
        if image is None:
            continue
        try:
            found[row] = crop_thumbnail(image, tuple(boxes[row]))
        except ValueError:
            continue
    return found, None


#: Most track ids named on a person's card (the others are counted).
MAX_TRACKS_LISTED = 8
_PERSON_GENDER = {"f": "woman", "m": "man", "": "gender unknown"}


def _people_gallery(data: VideoData, people_table: str | None) -> str:
    """One card per person, most screen time first: best face, gender and age over their tracks, times, tracks."""
    people = data.people
    assert people is not None
    shown = people.head(MAX_THUMBNAILS)
    boxes = parse_bboxes(data.table["bbox"])
    thumbnails, problem = _thumbnails(data, [int(r) for r in shown["thumbnail_row"]], boxes)
    cards = []
    for person in shown.itertuples(index=False):
        pid, gender = int(person.person_id), str(person.gender or "")
        age = f" &middot; {person.age:.0f} y" if person.age == person.age else ""
        corrected = " (corrected)" if person.corrected else ""
        ids = [f"#{int(f)}" for f in person.face_ids]
        listed = ", ".join(ids[:MAX_TRACKS_LISTED]) + (f" and {len(ids) - MAX_TRACKS_LISTED} more"
                                                       if len(ids) > MAX_TRACKS_LISTED else "")
        url = thumbnails.get(int(person.thumbnail_row))
        image = (f"<img src=\"{html.escape(url)}\" alt=\"person {pid}\" loading=\"lazy\">" if url
                 else "")
        attrs = (f"data-person=\"{pid}\" data-gender=\"{html.escape(gender)}\" "
                 f"data-screen-time=\"{person.screen_time_s:.6g}\" data-tracks=\"{int(person.n_tracks)}\" "
                 f"data-start=\"{person.start_s:.6g}\" data-end=\"{person.end_s:.6g}\"")
        if "frame" in data.table.columns:  # the frame of the face shown
            attrs += f" data-frame=\"{html.escape(str(data.table['frame'].iloc[int(person.thumbnail_row)]))}\""
        cards.append(
            f"<figure class=\"person {html.escape(gender or 'u')}\" {attrs}>{image}<figcaption>"
            f"<b>person {pid}</b> {html.escape(_PERSON_GENDER.get(gender, ''))}{age}{html.escape(corrected)}"
            f"<br>{person.screen_time_s:.1f} s on screen, {_plural(int(person.n_tracks), 'track')}"
            f"<br>{person.start_s:.1f} s to {person.end_s:.1f} s"
            f"<br><span class=\"tracks\">{html.escape(listed)}</span></figcaption></figure>"
        )
    notes = [
        f"{len(people):,} {'person' if len(people) == 1 else 'people'} ({_plural(len(data.tracks) if data.tracks is not None else 0, 'track')}"
        f" linked by their faces), most screen time first"
        + (f"; the {len(shown)} first shown" if len(shown) < len(people) else "")
        + ". A person's gender and age are smoothed over all their tracks; the face shown is their best one.",
    ]
    if problem is not None:
        notes.append(f"No thumbnails: {html.escape(problem)}")
    if people_table is not None:
        notes.append(f"Data: <a href=\"{html.escape(relative_href(people_table))}\">people table</a>")
    return ("".join(f"<p class=\"note\">{n}</p>" for n in notes)
            + f"<div class=\"gallery people\" id=\"people\">{''.join(cards)}</div>")


def _meta(summary: VideoSummary, source: str | None) -> str:
    parts = [
        f"source: <code>{html.escape(source)}</code>" if source else None,
        f"duration {summary.duration_s:,.1f} s",
        f"{summary.analysed_frames:,} analysed frames" if summary.analysed_frames is not None
        else "analysed frames inferred from the table",
        f"generated {_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} by inafaceanalyzer {__version__}",
    ]
    return "<p class=\"meta\">" + " &middot; ".join(p for p in parts if p) + "</p>"


def write_video_report(path: str | os.PathLike[str], data: VideoData, thumbnails: bool = True) -> VideoSummary:
    """Write a video's report (atomically), and plotly.js beside it once; returns its summary.

    Its :attr:`~VideoSummary.report` is set. The page links the video's
    table and statistics table when they are beside it.
    """
    s = data.summary
    page = Path(path)
    links = [(text, name) for text, name in (("statistics table", _beside(page, f"{s.name}.stats")),
                                             ("results table", _beside(page, s.name))) if name]
    written = _stats_beside(page, f"{s.name}.stats")  # the table the run wrote, when it is there
    stats = written if written is not None else s.stats
    reliable = _reliable_seconds(stats)
    age_chart = (charts.age_seconds_figure(stats) if stats is not None and len(stats)
                 else charts.age_figure(s.ages, s.age_unit))
    body = [
        f"<header><h1>Faces in <code>{html.escape(s.name)}</code></h1>{_meta(s, data.source)}</header>",
        _stats_section(stats, links),
        "<section><h2>Totals (every detected face)</h2>"
        + _totals_table(s.detections, s.tracks, s.face_seconds, s.face_seconds_from)
        + "".join(f"<p class=\"note\">{html.escape(n)}.</p>" for n in data.notes) + "</section>",
        "<div class=\"grid\">",
        "<section>" + _figure(charts.share_figure(_share_measures(s.detections, s.tracks, s.face_seconds, reliable)),
                              "share") + "</section>",
        "<section>" + _figure(age_chart, "ages") + "</section>",
        "</div>",
        "<section>" + _figure(charts.presence_figure(data.table, s.duration_s), "presence") + "</section>",
    ]
    if data.tracks is not None and len(data.tracks):
        body.append("<section>" + _figure(charts.tracks_figure(data.tracks, s.duration_s), "tracks") + "</section>")
    if thumbnails:
        people = data.people is not None and len(data.people) and len(data.table)
        body.append(f"<section><h2>{'People' if people else 'Faces'}</h2>"
                    + _gallery(data, _beside(page, f"{s.name}.people")) + "</section>")
    write_plotly_js(page.parent)
    _write(path, _page(f"Faces in {s.name}", "\n".join(body)))
    s.report = page.name
    return s


def relative_href(target: str | os.PathLike[str], base: str | os.PathLike[str] | None = None) -> str:
    """The ``href`` of a local file, relative to the directory ``base`` (the page's own; default: none).

    Every path segment is percent-encoded (``#``, ``?``, ``%``, ``:``, quotes,
    spaces, ``<``, non-ASCII...) and the result starts with ``./`` (or
    ``../``), so that it can only be read as a relative path: never as a
    scheme such as ``javascript:``, a fragment or a query. Escape it with
    :func:`html.escape` like any attribute value.
    """
    target = os.fspath(target)
    if base is not None and os.path.isabs(target):
        target = os.path.relpath(target, os.fspath(base))
    parts = [part for part in target.replace(os.sep, "/").split("/") if part not in ("", ".")]
    quoted = "/".join(urllib.parse.quote(part, safe="") for part in parts)
    return quoted if quoted.startswith("../") else "./" + quoted


def _stats_beside(page: Path, stem: str) -> pd.DataFrame | None:
    """``<stem>.csv`` (or ``.parquet``) beside the page, if the run wrote it (the numbers the page shows)."""
    name = _beside(page, stem)
    if name is None:
        return None
    try:
        return read_table(page.parent / name)
    except (OSError, ValueError) as error:
        log.warning("%s: not used in the batch report: %s", page.parent / name, error)
        return None


def write_batch_report(
    path: str | os.PathLike[str], summaries: Sequence[VideoSummary], title: str = "Batch",
    stats: pd.DataFrame | None = None,
) -> None:
    """Write the report of a batch of videos (atomically): totals, charts, one row per video.

    ``stats``: the batch's statistics table (default: ``batch.stats.csv``
    beside the page, when the run wrote it); its group ``(all)`` (or its
    only group) gives the headline shares and the age chart.
    """
    from ..stats import ALL_GROUP

    page = Path(path)
    from ..export.options import BATCH_STATS_STEM

    stats = stats if stats is not None else _stats_beside(page, BATCH_STATS_STEM)
    group = None
    if stats is not None and len(stats):
        group = ALL_GROUP if (stats["group"] == ALL_GROUP).any() else str(stats["group"].iloc[0])
    detections = {g: sum(s.detections.get(g, 0) for s in summaries) for g in GENDERS}
    tracked = [s for s in summaries if s.tracks is not None]
    tracks = {g: sum(s.tracks.get(g, 0) for s in tracked) for g in GENDERS} if tracked else None  # type: ignore[union-attr]
    seconds = {g: sum(s.face_seconds.get(g, 0.0) for s in summaries) for g in GENDERS}
    units = {s.age_unit for s in summaries}
    ages = {g: [sum(s.ages[g][i] for s in summaries) for i in range(len(next(iter(summaries)).ages[g]))]
            for g in GENDERS} if summaries else {g: [] for g in GENDERS}
    duration = sum(s.duration_s for s in summaries)
    rows = []
    for s in summaries:
        name = html.escape(s.name)
        href = relative_href(s.report, Path(path).resolve().parent) if s.report else None
        link = f"<a href=\"{html.escape(href)}\">{name}</a>" if href else name
        total_secs = sum(s.face_seconds.values())
        women = None
        if s.stats is not None and len(s.stats):
            women = s.stats[(s.stats["gender"] == "f") & (s.stats["age_group"] == "all")].iloc[0]
        rows.append(
            f"<tr data-video=\"{name}\"><td>{link}</td><td>{s.duration_s:,.1f}</td>"
            f"<td>{sum(s.detections.values()):,}</td>"
            f"<td>{sum(s.tracks.values()) if s.tracks is not None else '&ndash;'}</td>"
            f"<td>{s.face_seconds['f']:,.1f}</td><td>{s.face_seconds['m']:,.1f}</td>"
            f"<td>{_number(_share(s.face_seconds['f'], total_secs), 1) + '%' if total_secs else '&ndash;'}</td>"
            + (_stat_cell(f"video.{name}.share.f", women["share"], women["share_low"], women["share_high"])
               + _cell(f"video.{name}.unreliable_face_seconds", float(_unreliable_seconds(s)), 1)
               if women is not None else "<td>&ndash;</td><td>&ndash;</td>")
            + "</tr>"
        )
    videos = (
        "<div class=\"scroll\"><table id=\"videos\"><thead><tr><th>video</th><th>duration (s)</th><th>detections</th>"
        "<th>tracks</th><th>face-seconds, women</th><th>face-seconds, men</th><th>women's share, every face</th>"
        "<th>women's share, reliable faces [95% interval]</th><th>unreliable, left out (s)</th>"
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
    )
    meta = (f"<p class=\"meta\">{len(summaries)} videos &middot; {duration:,.1f} s of video &middot; generated "
            f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} by inafaceanalyzer {__version__}</p>")
    reliable = _reliable_seconds(stats, group)
    age_chart = (charts.age_seconds_figure(stats[stats["group"] == group]) if group is not None
                 else charts.age_figure(ages, " and ".join(sorted(units)) or "faces"))
    stats_name = _beside(page, BATCH_STATS_STEM)
    body = [
        f"<header><h1>Faces in {html.escape(title)}</h1>{meta}</header>",
        _stats_section(stats, [("statistics table", stats_name)] if stats_name else [], group),
        "<section><h2>Totals (every detected face)</h2>"
        + _totals_table(detections, tracks, seconds, "tracks" if tracked else "frames")
        + ("<p class=\"note\">Videos with tracks count their tracks' durations, the others their frames.</p>"
           if tracked and len(tracked) < len(summaries) else "") + "</section>",
        "<div class=\"grid\">",
        "<section>" + _figure(charts.share_figure(_share_measures(detections, tracks, seconds, reliable)), "share")
        + "</section>",
        "<section>" + _figure(age_chart, "ages") + "</section>",
        "</div>",
        "<section>" + _figure(charts.videos_figure(summaries), "videos-chart") + "</section>",
        "<section><h2>Videos</h2>" + videos + "</section>",
    ]
    write_plotly_js(page.parent)
    _write(path, _page(f"Faces in {title}", "\n".join(body)))


def _unreliable_seconds(summary: VideoSummary) -> float:
    """A video's unreliable faces' screen time (every gender), from its statistics."""
    rows = summary.stats
    if rows is None or not len(rows):
        return 0.0
    return float(rows[(rows["gender"] == "all") & (rows["age_group"] == "all")]["unreliable_face_seconds"].iloc[0])

"""The report's charts, as Plotly figures (drawn in the browser by the inlined plotly.js).

Colours are the gender colours of the subtitles and the annotated video.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..export.overlay import GENDER_COLOURS, GENDER_NAMES
from .summary import AGE_BUCKETS, GENDERS, VideoSummary

__all__ = [
    "age_figure",
    "age_seconds_figure",
    "presence_figure",
    "share_figure",
    "tracks_figure",
    "videos_figure",
]

#: Most tracks drawn on a timeline (the longest ones).
MAX_TIMELINE_TRACKS = 200
#: Time bins of the presence chart.
PRESENCE_BINS = 400


def colour(gender: str) -> str:
    r, g, b = GENDER_COLOURS.get(gender, GENDER_COLOURS[""])
    return f"#{r:02x}{g:02x}{b:02x}"


def _layout(fig: go.Figure, title: str, height: int = 340) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        template="plotly_white",
        height=height,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1, "traceorder": "normal"},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    )
    return fig


def _present(values: dict[str, float]) -> list[str]:
    """Genders to show: women and men always, unknown only when it has some."""
    return [g for g in GENDERS if g or values.get(g, 0)]


def share_figure(measures: Sequence[tuple[str, dict[str, float]]]) -> go.Figure:
    """One donut per measure (e.g. detections, tracks, face-seconds), split by gender.

    Each donut's name is written in its hole; percentages that do not fit
    inside their slice are hidden (they stay in the hover), so labels never overlap.
    """
    fig = make_subplots(rows=1, cols=len(measures), specs=[[{"type": "domain"}] * len(measures)])
    for column, (title, values) in enumerate(measures, start=1):
        genders = _present(values)
        fig.add_trace(
            go.Pie(
                labels=[GENDER_NAMES[g] for g in genders],
                values=[values.get(g, 0) for g in genders],
                marker={"colors": [colour(g) for g in genders]},
                hole=0.42,
                sort=False,
                direction="clockwise",
                textinfo="percent",
                textposition="inside",
                insidetextorientation="horizontal",
                title={"text": title.replace(", ", "<br>"), "font": {"size": 11}},
                name=title,
                hovertemplate="%{label}: %{value:,.4~f} (%{percent})<extra>" + title + "</extra>",
            ),
            row=1, col=column,
        )
    _layout(fig, "Share by gender", height=320)
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.02, "xanchor": "center", "x": 0.5},
                      uniformtext={"minsize": 9, "mode": "hide"})
    return fig


def age_seconds_figure(stats: pd.DataFrame) -> go.Figure:
    """Grouped bars: reliable faces' screen time (seconds) in each age band, women and men.

    From a statistics table (:mod:`inafaceanalyzer.stats`): the rows of one
    group, by ``age_group``; the unreliable faces' time is in the hover.
    """
    fig = go.Figure()
    bands = [band for band in stats["age_group"].drop_duplicates() if band != "all"]
    for g in ("f", "m"):
        rows = stats[stats["gender"] == g].set_index("age_group").reindex(bands)
        fig.add_bar(
            x=bands, y=rows["face_seconds"].fillna(0.0), name=GENDER_NAMES[g], marker_color=colour(g),
            customdata=rows[["unreliable_face_seconds"]].fillna(0.0).to_numpy(),
            hovertemplate="%{x} years: %{y:.1f} s (%{customdata[0]:.1f} s unreliable, left out)<extra>"
            + GENDER_NAMES[g] + "</extra>",
        )
    fig.update_layout(barmode="group", bargap=0.2)
    fig.update_xaxes(title_text="predicted age (years)")
    fig.update_yaxes(title_text="screen time (s)", rangemode="tozero")
    _layout(fig, "Screen time by age (reliable faces)")
    fig.update_layout(legend={"orientation": "h", "yanchor": "top", "y": -0.25, "xanchor": "center", "x": 0.5})
    return fig


def age_figure(ages: dict[str, list[int]], unit: str) -> go.Figure:
    """Grouped bars: how many faces fall in each age bucket, by gender."""
    fig = go.Figure()
    for g in _present({g: sum(v) for g, v in ages.items()}):
        fig.add_bar(
            x=[label for _, _, label in AGE_BUCKETS], y=ages.get(g, [0] * len(AGE_BUCKETS)),
            name=GENDER_NAMES[g], marker_color=colour(g),
            hovertemplate="%{x} years: %{y} " + unit + "<extra>" + GENDER_NAMES[g] + "</extra>",
        )
    fig.update_layout(barmode="group", bargap=0.2)
    fig.update_xaxes(title_text="predicted age (years)")
    fig.update_yaxes(title_text=unit)
    return _layout(fig, f"Age distribution by gender ({unit})")


def on_screen(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Average number of the intervals ``[starts, ends)`` that cover each bin between ``edges``.

    Exact: the integral of the step function "intervals covering t" over
    each bin, divided by the bin's width.
    """
    points = np.concatenate([starts, ends])
    steps = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.argsort(points, kind="stable")
    points, count = points[order], np.cumsum(steps[order])
    # integral of the count from the first point to each point: piecewise linear in t
    area = np.concatenate([[0.0], np.cumsum(count[:-1] * np.diff(points))]) if len(points) else np.zeros(0)
    if not len(points):
        return np.zeros(len(edges) - 1)
    at_edges = np.interp(edges, points, area, left=0.0, right=float(area[-1]))
    return np.diff(at_edges) / np.diff(edges)


def presence_figure(table: pd.DataFrame, duration_s: float) -> go.Figure:
    """Average number of faces on screen over time, by gender (stacked areas).

    Each row is on screen from its frame's time for ``hold_s`` seconds (to
    the next analysed frame); the chart shows the average count per time bin.
    """
    starts_all = table["time_s"].to_numpy(np.float64)
    ends_all = starts_all + table["hold_s"].to_numpy(np.float64)
    duration = max(float(duration_s), float(ends_all.max()) if len(table) else 0.0, 1e-3)
    edges = np.linspace(0.0, duration, PRESENCE_BINS + 1)
    fig = go.Figure()
    for g in _present({g: float((table["gender"] == g).sum()) for g in GENDERS}):
        keep = (table["gender"] == g).to_numpy()
        fig.add_scatter(
            x=edges[:-1], y=on_screen(starts_all[keep], ends_all[keep], edges), name=GENDER_NAMES[g],
            mode="lines", stackgroup="faces", line={"color": colour(g), "width": 0.5, "shape": "hv"},
            hovertemplate="%{x:.1f} s: %{y:.2f} faces<extra>" + GENDER_NAMES[g] + "</extra>",
        )
    fig.update_xaxes(title_text="time (s)", range=[0, duration])
    fig.update_yaxes(title_text="faces on screen", rangemode="tozero")
    return _layout(fig, "Who is on screen: faces over time by gender", height=300)


def tracks_figure(tracks: pd.DataFrame, duration_s: float) -> go.Figure:
    """One bar per track, from its start to its end, coloured by gender (the longest tracks)."""
    shown = tracks.sort_values("duration_s", ascending=False).head(MAX_TIMELINE_TRACKS)
    shown = shown.sort_values(["start_s", "face_id"], ascending=[False, False]).copy()
    # a track is on screen until its last frame's period ends: start + duration when that is later than end_s
    shown["end_s"] = np.fmax(shown["end_s"], shown["start_s"] + shown["duration_s"].fillna(0.0))
    fig = go.Figure()
    for g in _present({g: float((shown["gender"] == g).sum()) for g in GENDERS}):
        part = shown[shown["gender"] == g]
        ages = part["age"].map(lambda a: f"{a:.0f} y" if pd.notna(a) else "?")
        fig.add_bar(
            y=[f"#{int(i)}" for i in part["face_id"]], x=(part["end_s"] - part["start_s"]).clip(lower=0.05),
            base=part["start_s"], orientation="h", name=GENDER_NAMES[g], marker_color=colour(g),
            customdata=np.stack(
                [part["start_s"].to_numpy(), part["end_s"].to_numpy(), part["duration_s"].to_numpy(), ages.to_numpy()],
                axis=1,
            ),
            hovertemplate="%{y}: %{customdata[0]:.1f}-%{customdata[1]:.1f} s, on screen %{customdata[2]:.1f} s, "
            "%{customdata[3]}<extra>" + GENDER_NAMES[g] + "</extra>",
        )
    order = [f"#{int(i)}" for i in shown["face_id"]]
    fig.update_yaxes(categoryorder="array", categoryarray=order, title_text="track", showticklabels=len(order) <= 60)
    last = float(shown["end_s"].max()) if len(shown) else 0.0
    fig.update_xaxes(title_text="time (s)", range=[0, max(duration_s, last, 1e-3)])
    note = f" (the {MAX_TIMELINE_TRACKS} longest)" if len(tracks) > MAX_TIMELINE_TRACKS else ""
    height = int(min(900, max(260, 120 + 14 * len(shown))))
    fig.update_layout(barmode="overlay", bargap=0.25)
    return _layout(fig, f"Timeline of tracks{note}", height=height)


def videos_figure(summaries: Sequence[VideoSummary]) -> go.Figure:
    """Screen time by gender of each video of a batch (stacked horizontal bars)."""
    names = [s.name for s in summaries]
    fig = go.Figure()
    totals = {g: sum(s.face_seconds.get(g, 0.0) for s in summaries) for g in GENDERS}
    for g in _present(totals):
        fig.add_bar(
            y=names, x=[s.face_seconds.get(g, 0.0) for s in summaries], orientation="h",
            name=GENDER_NAMES[g], marker_color=colour(g),
            hovertemplate="%{y}: %{x:.1f} face-seconds<extra>" + GENDER_NAMES[g] + "</extra>",
        )
    fig.update_layout(barmode="stack")
    fig.update_yaxes(categoryorder="array", categoryarray=names[::-1], automargin=True)
    fig.update_xaxes(title_text="face-seconds")
    height = int(min(1200, max(260, 100 + 26 * len(names))))
    return _layout(fig, "Screen time by gender, per video", height=height)

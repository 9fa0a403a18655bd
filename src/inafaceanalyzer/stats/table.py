"""The statistics table: screen time by group, gender and age band, with intervals and bias correction.

Rows: one per group x ``gender`` (``f``, ``m``, ``all``) x ``age_group``
(``all``, then each band). Columns (:data:`STATS_COLUMNS`):

- ``face_seconds``: reliable faces' screen time (NaN for image tables, which
  count faces: ``measure`` says which);
- ``n_faces``, ``n_tracks`` (and ``n_people`` when identities exist):
  reliable faces, and distinct tracks (people) among them;
- ``share``: women's or men's part of the gendered (women's plus men's)
  screen time of that age band; for ``gender`` ``all``, the age band's part
  of the group's gendered screen time; ``share_low``/``share_high``: its
  bootstrap percentile interval (:mod:`.bootstrap`, over :mod:`.units`);
- ``share_adjusted`` (and its interval): corrected for the classifier's
  error rates (:mod:`.correction`), clipped to ``[0, 1]``
  (``share_adjusted_clipped`` says where);
- ``expected_share`` (and its interval): the probability-weighted share,
  sum of each face's calibrated p(woman) x its duration over the band's
  time; needs no threshold;
- ``unreliable_face_seconds``, ``unreliable_faces``: faces flagged
  ``reliable`` false, kept apart: never in the shares;
- ``n_units``, ``resampling_unit``: what the bootstrap resampled.

The table's ``attrs`` hold the same metadata (unit, resamples, seed,
confidence, age bands, error rates used and their pooling).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..export.timeline import AnalysedFrames
from .bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, resampled_sums
from .correction import ErrorRates, corrected_female, default_error_rates
from .faces import face_rows, is_video_table
from .units import BLOCK_S, resampling_unit, unit_keys

__all__ = [
    "ALL_GROUP",
    "DEFAULT_AGE_EDGES",
    "STATS_COLUMNS",
    "StatsInput",
    "age_labels",
    "batch_statistics",
    "face_statistics",
    "parse_age_groups",
]

log = logging.getLogger(__name__)

#: Upper bounds of the default age bands: 0-19, 20-34, 35-49, 50-64, 65+.
DEFAULT_AGE_EDGES: tuple[float, ...] = (20, 35, 50, 65)
#: The group of every input together, in batch tables.
ALL_GROUP = "(all)"

STATS_COLUMNS: tuple[str, ...] = (
    "group", "gender", "age_group", "measure", "face_seconds", "n_faces", "n_tracks",
    "share", "share_low", "share_high",
    "share_adjusted", "share_adjusted_low", "share_adjusted_high", "share_adjusted_clipped",
    "expected_share", "expected_share_low", "expected_share_high",
    "unreliable_face_seconds", "unreliable_faces", "n_units", "resampling_unit",
)


def parse_age_groups(text: str | Sequence[float]) -> tuple[float, ...]:
    """Age band edges from ``"20,35,50,65"`` (increasing, positive).

    Raises:
        ValueError: the edges are not increasing positive numbers.
    """
    if isinstance(text, str):
        try:
            edges = tuple(float(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise ValueError(f"age groups must be comma-separated numbers such as 20,35,50,65, not {text!r}") from None
    else:
        edges = tuple(float(v) for v in text)
    if not edges or any(e <= 0 for e in edges) or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"age groups must be increasing positive ages such as 20,35,50,65, not {text!r}")
    return edges


def age_labels(edges: Sequence[float]) -> list[str]:
    """``(20, 35)`` -> ``["0-19", "20-34", "35+"]`` (bands of whole years)."""
    bounds = [0.0, *edges]
    labels = [f"{low:g}-{high - 1:g}" for low, high in zip(bounds, bounds[1:], strict=False)]
    return labels + [f"{bounds[-1]:g}+"]


@dataclass(frozen=True)
class StatsInput:
    """One results table to count.

    Attributes:
        name: the video's (or image set's) name, as the groups file names it.
        frames: the results table.
        tracks: its table of tracks, if any.
        analysed: its analysed frames (video tables; inferred from the table when ``None``).
    """

    name: str
    frames: pd.DataFrame
    tracks: pd.DataFrame | None = None
    analysed: AnalysedFrames | None = None


def _faces(item: StatsInput) -> tuple[pd.DataFrame, str]:
    analysed = item.analysed
    if analysed is None and is_video_table(item.frames):
        from ..export.render import resolve_analysed_frames

        analysed = resolve_analysed_frames(item.frames, None)
    faces = face_rows(item.frames, analysed, item.tracks)
    unit = resampling_unit(faces) if len(faces) else ("time_block" if is_video_table(item.frames) else "image")
    faces["unit"] = unit_keys(faces, unit, item.name)
    faces["track_key"] = [f"{item.name}\0{int(t)}" if t == t else None for t in faces["track"]]
    faces["person_key"] = [f"{item.name}\0{int(p)}" if p == p else None for p in faces["person"]]
    return faces, unit


def _quantiles(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each column (bands without faces are all NaN: silently NaN)."""
    tail = 50.0 * (1.0 - confidence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(samples, [tail, 100.0 - tail], axis=0)
    return low, high


def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(whole > 0, part / np.where(whole > 0, whole, 1.0), np.nan)


def _group_rows(
    group: str, faces: pd.DataFrame, units: set[str], edges: tuple[float, ...], rates: ErrorRates | None,
    resamples: int, seed: int, confidence: float, measure: str,
) -> list[dict]:
    """The rows of one group."""
    bands = len(edges) + 1
    age = faces["age"].to_numpy(np.float64)
    band = np.where(np.isnan(age), bands, np.searchsorted(edges, age, side="right"))  # `bands`: unknown age
    cells = rates.cells(age, faces["face_size"].to_numpy(np.float64)) if rates is not None else np.zeros(len(faces), int)
    n_cells = int(np.prod(rates.shape)) if rates is not None else 1
    gender = faces["gender"].to_numpy()
    reliable = faces["reliable"].to_numpy(bool)
    weight = faces["weight"].to_numpy(np.float64)
    p_female = faces["p_female"].to_numpy(np.float64)
    if len(faces):
        unit_codes, unit_index = np.unique(faces["unit"].to_numpy(str), return_inverse=True)
    else:
        unit_codes, unit_index = np.zeros(0, str), np.zeros(0, np.int64)
    n_units = len(unit_codes)

    # per unit, sums of: women's and men's time per (band, cell); p(woman)-weighted time and time per band
    B1 = bands + 1
    women = np.zeros((n_units, B1, n_cells))
    men = np.zeros((n_units, B1, n_cells))
    expected = np.zeros((n_units, B1))
    timed = np.zeros((n_units, B1))
    keep = reliable & (gender == "f")
    np.add.at(women, (unit_index[keep], band[keep], cells[keep]), weight[keep])
    keep = reliable & (gender == "m")
    np.add.at(men, (unit_index[keep], band[keep], cells[keep]), weight[keep])
    keep = reliable & ~np.isnan(p_female)
    np.add.at(expected, (unit_index[keep], band[keep]), weight[keep] * p_female[keep])
    np.add.at(timed, (unit_index[keep], band[keep]), weight[keep])

    def statistics(w, m, e, t, se, sp):
        """Women's share, band share, adjusted and expected women's share; bands then "all" last."""
        w_band, m_band = w.sum(-1)[..., :bands], m.sum(-1)[..., :bands]  # known-age bands
        w_all, m_all = w.sum((-1, -2)), m.sum((-1, -2))
        gendered = np.concatenate([w_band + m_band, (w_all + m_all)[..., None]], -1)
        female = _ratio(np.concatenate([w_band, w_all[..., None]], -1), gendered)
        part = _ratio(gendered, (w_all + m_all)[..., None])
        if se is not None:
            total_cells = w + m
            cf_band = corrected_female(w[..., :bands, :], total_cells[..., :bands, :], se[..., None, :], sp[..., None, :])
            cf_all = corrected_female(w.sum(-2), total_cells.sum(-2), se, sp)
            raw = _ratio(np.concatenate([cf_band, cf_all[..., None]], -1), gendered)
            adjusted = np.clip(raw, 0.0, 1.0)
            clipped = (raw < 0) | (raw > 1)
        else:
            adjusted = np.full_like(female, np.nan)
            clipped = np.zeros(female.shape, bool)
        e_bands = np.concatenate([e[..., :bands], e.sum(-1)[..., None]], -1)
        t_bands = np.concatenate([t[..., :bands], t.sum(-1)[..., None]], -1)
        return female, part, adjusted, clipped, _ratio(e_bands, t_bands)

    se0 = sp0 = None
    if rates is not None:
        se0, sp0 = rates.point()
    point = statistics(women.sum(0), men.sum(0), expected.sum(0), timed.sum(0), se0, sp0)

    rng = np.random.default_rng(seed)
    samples: list[list[np.ndarray]] = [[], [], [], []]
    stacked = np.concatenate([women.reshape(n_units, B1 * n_cells), men.reshape(n_units, B1 * n_cells), expected, timed],
                             axis=1)
    sizes = [B1 * n_cells, B1 * n_cells, B1, B1]
    for sums in resampled_sums(stacked, resamples, rng):
        parts = np.split(sums, np.cumsum(sizes)[:-1], axis=1)
        w = parts[0].reshape(-1, B1, n_cells)
        m = parts[1].reshape(-1, B1, n_cells)
        se = sp = None
        if rates is not None:
            se, sp = rates.draw(len(sums), rng)
        female, part, adjusted, _, exp_share = statistics(w, m, parts[2], parts[3], se, sp)
        for store, value in zip(samples, (female, part, adjusted, exp_share), strict=True):
            store.append(value)
    intervals = []
    for store in samples:
        values = np.concatenate(store) if store else np.full((1, bands + 1), np.nan)
        low, high = _quantiles(values, confidence)
        if n_units < 2:  # one unit: a bootstrap says nothing
            low, high = np.full_like(low, np.nan), np.full_like(high, np.nan)
        intervals.append((low, high))

    # counts per (gender, band)
    unit_name = "+".join(sorted(units))
    rows = []
    order = list(range(bands)) + [bands]  # positions in the statistics: bands, then "all" (last)
    labels = age_labels(edges)
    for g in ("f", "m", "all"):
        is_g = np.ones(len(faces), bool) if g == "all" else gender == g
        for position in [bands] + order[:-1]:  # "all" first, then each band
            in_band = np.ones(len(faces), bool) if position == bands else band == position
            chosen = is_g & in_band
            good, bad = chosen & reliable, chosen & ~reliable
            female_share, part, adjusted, clipped, exp_share = (s[position] for s in point)
            (f_low, f_high), (p_low, p_high), (a_low, a_high), (e_low, e_high) = (
                (low[position], high[position]) for low, high in intervals)
            if g == "f":
                share, low, high = female_share, f_low, f_high
                adj, adj_low, adj_high = adjusted, a_low, a_high
                ex, ex_low, ex_high = exp_share, e_low, e_high
            elif g == "m":
                share, low, high = 1 - female_share, 1 - f_high, 1 - f_low
                adj, adj_low, adj_high = 1 - adjusted, 1 - a_high, 1 - a_low
                ex, ex_low, ex_high = 1 - exp_share, 1 - e_high, 1 - e_low
            else:
                share, low, high = part, p_low, p_high
                adj = adj_low = adj_high = ex = ex_low = ex_high = np.nan
            track_keys = faces["track_key"].to_numpy()[good]
            row = {
                "group": group, "gender": g, "age_group": "all" if position == bands else labels[position],
                "measure": measure,
                "face_seconds": float(weight[good].sum()) if measure == "seconds" else np.nan,
                "n_faces": int(good.sum()),
                "n_tracks": int(len({k for k in track_keys if k is not None})),
                "share": share, "share_low": low, "share_high": high,
                "share_adjusted": adj, "share_adjusted_low": adj_low, "share_adjusted_high": adj_high,
                "share_adjusted_clipped": bool(clipped) if g != "all" and rates is not None else False,
                "expected_share": ex, "expected_share_low": ex_low, "expected_share_high": ex_high,
                "unreliable_face_seconds": float(weight[bad].sum()) if measure == "seconds" else np.nan,
                "unreliable_faces": int(bad.sum()),
                "n_units": n_units, "resampling_unit": unit_name,
            }
            if faces["person_key"].notna().any():
                row["n_people"] = int(len({k for k in faces["person_key"].to_numpy()[good] if k is not None}))
            rows.append(row)
    return rows


def batch_statistics(
    inputs: Sequence[StatsInput],
    groups: Mapping[str, str] | None = None,
    *,
    age_groups: Sequence[float] | str = DEFAULT_AGE_EDGES,
    error_rates: ErrorRates | None | str = "default",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
    total: bool = True,
) -> pd.DataFrame:
    """The statistics table of several results tables (see the module doc).

    Args:
        inputs: the tables, each with its name.
        groups: the group of each input's name (e.g. its programme); default:
            each input is its own group.
        age_groups: upper bounds of the age bands (``"20,35,50,65"`` or a sequence).
        error_rates: the classifier's rates for ``share_adjusted``
            (``"default"``: the ones shipped for CydralGenderAge; ``None``: no correction).
        resamples, seed, confidence: the bootstrap's.
        total: add the group :data:`ALL_GROUP` of every input together
            (when there are several groups).

    Raises:
        ValueError: inputs mix video and image tables, an input has no group,
            or the age groups are malformed.
    """
    edges = parse_age_groups(age_groups)
    if isinstance(error_rates, str):
        if error_rates != "default":
            raise ValueError(f"error_rates must be an ErrorRates, None or 'default', not {error_rates!r}")
        error_rates = default_error_rates()
    kinds = {is_video_table(item.frames) for item in inputs}
    if len(kinds) > 1:
        raise ValueError("the inputs mix video tables (seconds) and image tables (faces): count them apart")
    measure = "faces" if kinds == {False} else "seconds"
    per_group: dict[str, list[pd.DataFrame]] = {}
    units: dict[str, set[str]] = {}
    for item in inputs:
        if groups is not None and item.name not in groups:
            raise ValueError(f"{item.name}: not in the groups file")
        group = groups[item.name] if groups is not None else item.name
        faces, unit = _faces(item)
        per_group.setdefault(group, []).append(faces)
        units.setdefault(group, set()).add(unit)
    names = list(per_group)
    if total and len(names) > 1:
        per_group[ALL_GROUP] = [f for name in names for f in per_group[name]]
        units[ALL_GROUP] = set().union(*units.values())
    rows = []
    for group, parts in per_group.items():
        faces = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        rows += _group_rows(group, faces, units[group], edges, error_rates, resamples, seed, confidence, measure)
    columns = list(STATS_COLUMNS) + (["n_people"] if any("n_people" in r for r in rows) else [])
    table = pd.DataFrame(rows).reindex(columns=columns)
    all_units = sorted(set().union(*units.values())) if units else []
    table.attrs.update({
        "resampling_unit": "+".join(all_units),
        "resampling_units": {group: sorted(u) for group, u in units.items()},
        "time_block_s": BLOCK_S,
        "resamples": int(resamples),
        "seed": int(seed),
        "confidence": float(confidence),
        "age_groups": list(edges),
        "measure": measure,
        "error_rates": None if error_rates is None else {
            "classifier": error_rates.classifier, "source": error_rates.source, "method": error_rates.method,
            "pooling": list(error_rates.notes),
        },
        "share_adjusted": "Rogan-Gladen per predicted age band and face-size band, clipped to [0, 1]",
        "unreliable": "faces flagged reliable=false are counted apart (unreliable_*), never in the shares",
    })
    return table


def face_statistics(
    frames: pd.DataFrame,
    tracks: pd.DataFrame | None = None,
    *,
    analysed: AnalysedFrames | None = None,
    name: str = "video",
    **options,
) -> pd.DataFrame:
    """The statistics table of one results table (see :func:`batch_statistics` for ``options``).

    Args:
        frames: the results table of a video (any video engine) or of images.
        tracks: its table of tracks (``videotracking``), if any.
        analysed: the video's analysed frames (default: inferred from the table).
        name: the value of the ``group`` column.

    Example:
        >>> import inafaceanalyzer as ifa                              # doctest: +SKIP
        >>> stats = ifa.face_statistics(ifa.analyze_video("clip.mp4"))  # doctest: +SKIP
        >>> stats.query("gender == 'f' and age_group == 'all'")[["share", "share_low", "share_high"]]  # doctest: +SKIP
    """
    return batch_statistics([StatsInput(name, frames, tracks, analysed)], None, total=False, **options)

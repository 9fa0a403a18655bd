"""Face tracks linked into people, within one video, as the tracks end.

:class:`PersonLinker` receives the identity embeddings of the classified faces
(:meth:`PersonLinker.add_faces`, with their quality weights) and, once a track
is complete, links it to a person (:meth:`PersonLinker.link`):

- a track's embedding is the quality-weighted mean of its faces' unit
  embeddings (weights: :func:`~inafaceanalyzer.tracking.smoothing.quality_weights`),
  normalised again; to bound the cost only up to :data:`EMBEDDED_PER_TRACK`
  faces are embedded, its first and then each clearly better one
  (:meth:`PersonLinker.add_frame`);
- the distance between two tracks is the cosine distance ``1 - a.b`` of
  their embeddings; between a track and a person, the mean distance to the
  person's tracks (average linkage);
- tracks are taken in order of first appearance; each joins the nearest
  person under :data:`LINK_THRESHOLD`, among the people none of whose tracks
  overlaps it in time (two faces on screen together are two people: a
  cannot-link), or starts a new person. Person ids are therefore
  0, 1, ... in order of first appearance.

This is agglomerative average linkage done sequentially, so that the frame
table can still be streamed: a track is linked when its rows are written,
and a later track never merges two people already formed.

A person's gender and age are the quality-weighted mixture of all the faces
of its tracks (as :class:`~inafaceanalyzer.tracking.smoothing.TrackStats`
does for one track). A *short* track (:data:`SHORT_TRACK_S` seconds or
:data:`SHORT_TRACK_FRAMES` analysed frames at most) takes its person's
values, over the person's tracks up to and including it, as its ``*_avg``
values; the people table (:meth:`PersonLinker.people`) gives the values over
all of each person's tracks.

Embeddings are kept in memory only (one vector per track); they are biometric
data and are written only on request (``--embeddings``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..detections import Detections
from .embedders import FaceEmbedder, normalise

#: ``averages(weight, weighted_p_male, weighted_age) -> {column: value}``: the smoothed columns of
#: faces (:func:`inafaceanalyzer.tracking.smoothing.averages_of`)
Averages = Callable[[float, float, float], dict[str, Any]]

__all__ = [
    "LINK_THRESHOLD",
    "PEOPLE_COLUMNS",
    "PersonLinker",
    "SHORT_TRACK_FRAMES",
    "SHORT_TRACK_S",
    "embeddings_path",
    "is_short",
    "people_path",
    "write_embeddings",
    "write_people",
]


class TrackWeights(Protocol):
    """What linking needs of a complete track: its id and quality-weighted predictions.

    :class:`~inafaceanalyzer.tracking.smoothing.TrackStats` is one; identity
    sits below tracking (docs/architecture.md), so it names the fields it
    reads rather than importing the class.
    """

    face_id: int
    weight: float
    weighted_p_male: float
    weighted_age: float


#: cosine distance under which a track joins a person (HSE embeddings), chosen on the pairs of
#: track means of benchmarks/identity_pairs.py (README.md, "People"): there every same-person
#: pair is under 0.26 and 2 of 146 different-person pairs under 0.30, both blurred faces seen
#: together in the crowd, which the cannot-link keeps apart anyway; one talking head cut in two
#: by another clip lies 0.27 from itself
LINK_THRESHOLD = 0.30
#: at most this many faces of a track are embedded ...
EMBEDDED_PER_TRACK = 4
#: ... the first one, then each one whose quality weight is this many times the best embedded so far
BETTER_FACE = 1.5
#: a track lasting less than this (seconds) ...
SHORT_TRACK_S = 1.0
#: ... or with fewer analysed frames than this is short: its ``*_avg`` values are its person's
SHORT_TRACK_FRAMES = 3

#: The columns of the people table (``<name>.people.csv``).
PEOPLE_COLUMNS: tuple[str, ...] = (
    "person_id",
    "n_tracks",
    "n_frames",
    "screen_time_s",
    "start_s",
    "end_s",
    "first_frame",
    "last_frame",
    "sex_decfunc_avg",
    "sex_label_avg",
    "age_decfunc_avg",
    "age_label_avg",
    "sex_prob_male_avg",
    "thumbnail_face_id",
    "thumbnail_frame",
)


@dataclass
class _Track:
    """Identity of one track being seen: sum of weighted embeddings, best face."""

    total: NDArray[np.float64]
    weight: float = 0.0
    best_weight: float = -1.0
    best_frame: int = -1
    embedded: int = 0
    best_embedded: float = 0.0


@dataclass
class _Person:
    person_id: int
    intervals: list[tuple[int, int]] = field(default_factory=list)
    tracks: list[dict[str, Any]] = field(default_factory=list)
    weight: float = 0.0
    weighted_p_male: float = 0.0
    weighted_age: float = 0.0
    best_weight: float = -1.0
    best_face_id: int = -1
    best_frame: int = -1

    def overlaps(self, first: int, last: int) -> bool:
        return any(first <= end and start <= last for start, end in self.intervals)


class PersonLinker:
    """Links the tracks of one video into people (see the module doc).

    Args:
        embedder: computes the faces' embeddings in :meth:`add_frame`.
        averages: the smoothed gender and age columns of weighted faces
            (:func:`~inafaceanalyzer.tracking.smoothing.averages_of`; passed in,
            as the tracking engine calls this module).
        threshold: cosine distance under which a track joins a person.
    """

    def __init__(self, embedder: FaceEmbedder, averages: Averages, threshold: float = LINK_THRESHOLD) -> None:
        self.embedder = embedder
        self.averages = averages
        self.dim = int(embedder.dim)
        self.threshold = float(threshold)
        self._tracks: dict[int, _Track] = {}
        self._people: list[_Person] = []
        # per person: sum of its tracks' unit embeddings, their number, its first and last frames,
        # so that the mean distance to all of a person's tracks is one product: 1 - sum.x / n
        self._sums = np.zeros((16, self.dim))
        self._counts = np.zeros(16)
        self._spans = np.zeros((16, 2), dtype=np.int64)
        #: faces embedded so far
        self.embedded_faces = 0
        #: face_id -> (person_id, unit track embedding or None)
        self.linked: dict[int, tuple[int, NDArray[np.float32] | None]] = {}

    def add_frame(self, index: int, chips: NDArray[np.uint8], faces: Detections, weights: NDArray[np.float64]) -> None:
        """Embed the classified faces of one frame (they carry ``face_id``) into their tracks.

        ``chips``: the embedder's :meth:`~.embedders.FaceEmbedder.chips` of
        these faces, cut from the frame when it was at hand.

        To bound the cost, a face is embedded only when its track has no
        embedded face yet, or fewer than :data:`EMBEDDED_PER_TRACK` and the
        face's quality weight is :data:`BETTER_FACE` times its track's best
        embedded one: a track's embedding is the weighted mean of at most
        that many of its best faces as they come.
        """
        if not len(faces):
            return
        ids = [int(i) for i in faces.data["face_id"]]
        chosen = []
        for k, (face_id, weight) in enumerate(zip(ids, weights, strict=True)):
            track = self._tracks.get(face_id)
            if track is None:
                track = self._tracks[face_id] = _Track(np.zeros(self.dim))
            if weight > track.best_weight:
                track.best_weight, track.best_frame = float(weight), int(index)
            if track.embedded == 0 or (
                track.embedded < EMBEDDED_PER_TRACK and weight > BETTER_FACE * track.best_embedded
            ):
                track.embedded += 1
                track.best_embedded = max(track.best_embedded, float(weight))
                chosen.append(k)
        if chosen:
            self.embedded_faces += len(chosen)
            embeddings = self.embedder.embed(chips[chosen])
            self.add_faces([ids[k] for k in chosen], embeddings, weights[chosen])

    def add_faces(self, face_ids, embeddings: NDArray[np.float32], weights: NDArray[np.float64]) -> None:
        """Add the unit embeddings of classified faces (their track ids, quality weights) to their tracks."""
        for face_id, embedding, weight in zip(face_ids, embeddings, weights, strict=True):
            track = self._tracks.get(int(face_id))
            if track is None:
                track = self._tracks[int(face_id)] = _Track(np.zeros(self.dim))
            track.total += float(weight) * np.asarray(embedding, dtype=np.float64)
            track.weight += float(weight)

    def _embedding(self, face_id: int) -> tuple[NDArray[np.float32] | None, _Track | None]:
        track = self._tracks.pop(face_id, None)
        if track is None or track.weight <= 0 or not np.any(track.total):
            return None, track
        return normalise(track.total / track.weight), track

    def link(self, stats: TrackWeights, summary: dict[str, Any]) -> dict[str, Any]:
        """Link a complete track (its statistics and table row) to a person.

        Returns the values its rows take: ``person_id`` and the ``*_avg``
        columns (the person's when the track is short, else the track's own).
        """
        face_id = int(stats.face_id)
        embedding, track = self._embedding(face_id)
        first, last = int(summary["first_frame"]), int(summary["last_frame"])
        person = self._nearest(embedding, first, last) if embedding is not None else None
        if person is None:
            person = self._new_person(first, last)
        k = person.person_id
        if embedding is not None:
            self._sums[k] += embedding
            self._counts[k] += 1
        self._spans[k] = (min(self._spans[k, 0], first), max(self._spans[k, 1], last))
        person.intervals.append((first, last))
        person.tracks.append(summary)
        person.weight += stats.weight
        person.weighted_p_male += stats.weighted_p_male
        person.weighted_age += stats.weighted_age
        if track is not None and track.best_weight > person.best_weight:
            person.best_weight, person.best_face_id, person.best_frame = track.best_weight, face_id, track.best_frame
        self.linked[face_id] = (person.person_id, embedding)
        values = {name: summary[name] for name in _AVERAGES}
        if is_short(summary) and len(person.tracks) > 1:
            values.update(self.averages(person.weight, person.weighted_p_male, person.weighted_age))
        return {"person_id": person.person_id, **values}

    def _new_person(self, first: int, last: int) -> _Person:
        k = len(self._people)
        if k == len(self._counts):
            self._sums = np.concatenate([self._sums, np.zeros_like(self._sums)])
            self._counts = np.concatenate([self._counts, np.zeros_like(self._counts)])
            self._spans = np.concatenate([self._spans, np.zeros_like(self._spans)])
        self._spans[k] = (first, last)
        person = _Person(k)
        self._people.append(person)
        return person

    def _nearest(self, embedding: NDArray[np.float32], first: int, last: int) -> _Person | None:
        """The person closest on average under the threshold, none of whose tracks overlaps ``first..last``."""
        n = len(self._people)
        if n == 0:
            return None
        counts = self._counts[:n]
        with np.errstate(divide="ignore", invalid="ignore"):
            distance = 1.0 - (self._sums[:n] @ embedding) / counts
        distance[counts == 0] = np.inf
        spans = self._spans[:n]
        maybe = (spans[:, 0] <= last) & (first <= spans[:, 1])
        for k in np.flatnonzero(maybe & (distance < self.threshold)):
            if self._people[k].overlaps(first, last):
                distance[k] = np.inf
        k = int(np.argmin(distance))
        return self._people[k] if distance[k] < self.threshold else None

    def people(self) -> pd.DataFrame:
        """One row per person (:data:`PEOPLE_COLUMNS`), by ``person_id``."""
        rows = []
        for person in self._people:
            tracks = person.tracks
            rows.append({
                "person_id": person.person_id,
                "n_tracks": len(tracks),
                "n_frames": int(sum(t["n_frames"] for t in tracks)),
                "screen_time_s": float(sum(t["duration_s"] for t in tracks)),
                "start_s": float(min(t["start_s"] for t in tracks)),
                "end_s": float(max(t["start_s"] + t["duration_s"] for t in tracks)),
                "first_frame": int(min(t["first_frame"] for t in tracks)),
                "last_frame": int(max(t["last_frame"] for t in tracks)),
                **self.averages(person.weight, person.weighted_p_male, person.weighted_age),
                "thumbnail_face_id": int(person.best_face_id if person.best_face_id >= 0 else tracks[0]["face_id"]),
                "thumbnail_frame": int(person.best_frame if person.best_frame >= 0 else tracks[0]["first_frame"]),
            })
        return pd.DataFrame(rows, columns=list(PEOPLE_COLUMNS))


_AVERAGES = ("sex_decfunc_avg", "age_decfunc_avg", "sex_label_avg", "age_label_avg", "sex_prob_male_avg")


def is_short(track: dict[str, Any]) -> bool:
    """Whether a track (a row of the table of tracks) is too short for its own ``*_avg`` values."""
    return float(track["duration_s"]) < SHORT_TRACK_S or int(track["n_frames"]) < SHORT_TRACK_FRAMES


def _sibling(table_path: str | os.PathLike[str], kind: str, suffix: str | None = None) -> Path:
    table_path = Path(table_path)
    if suffix is None:
        suffix = ".parquet" if table_path.suffix.lower() == ".parquet" else ".csv"
    stem = table_path.stem if table_path.suffix else table_path.name
    return table_path.with_name(f"{stem}.{kind}{suffix}")


def people_path(table_path: str | os.PathLike[str]) -> Path:
    """``out/clip.csv`` -> ``out/clip.people.csv`` (``.parquet`` beside a Parquet table)."""
    return _sibling(table_path, "people")


def embeddings_path(table_path: str | os.PathLike[str]) -> Path:
    """``out/clip.csv`` -> ``out/clip.embeddings.npz``."""
    return _sibling(table_path, "embeddings", ".npz")


def write_people(people: pd.DataFrame, destination: str | os.PathLike[str]) -> Path:
    """Write a people table atomically (complete or absent): Parquet for ``.parquet``, else CSV."""
    from ..export.table import CsvTableWriter, ParquetTableWriter

    destination = Path(destination)
    writer_class: type = ParquetTableWriter if destination.suffix.lower() == ".parquet" else CsvTableWriter
    with writer_class(destination, PEOPLE_COLUMNS) as writer:
        writer.write_rows(
            {column: (value.item() if hasattr(value, "item") else value) for column, value in row.items()}
            for row in people.to_dict("records")
        )
    return destination


def write_embeddings(linker: PersonLinker, destination: str | os.PathLike[str]) -> Path:
    """Write each track's embedding (``face_id``, ``person_id``, ``embedding``, ``embedder``) as ``.npz``.

    Written under a temporary name and renamed once complete (:func:`~inafaceanalyzer.export.atomic.atomic_path`). Tracks without
    an embedding are left out.
    """
    from ..export.atomic import atomic_path

    destination = Path(destination)
    items = sorted((face_id, pid, emb) for face_id, (pid, emb) in linker.linked.items() if emb is not None)
    embedding = np.stack([e for _, _, e in items]) if items else np.zeros((0, linker.dim), np.float32)
    with atomic_path(destination) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, face_id=np.array([f for f, _, _ in items], dtype=np.int64),
                 person_id=np.array([p for _, p, _ in items], dtype=np.int64), embedding=embedding,
                 embedder=np.array(linker.embedder.name))
    return destination

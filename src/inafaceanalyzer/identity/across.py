"""People linked across the videos of a batch (the same presenter over a season), from saved embeddings.

Each video's ``<name>.embeddings.npz`` (written with ``--embeddings``) holds
one embedding per track and the track's ``person_id``. A person's embedding
is the unit mean of its tracks'. People of all the videos are then clustered
by agglomerative average linkage on the cosine distance, under the same
threshold as within a video (:data:`~.people.LINK_THRESHOLD`), two people of
one video never being merged (the video has already told them apart).
Global ids are 0, 1, ... in the order of the videos given, then of their
``person_id``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import OptionsError
from .embedders import normalise
from .people import LINK_THRESHOLD

__all__ = ["GLOBAL_COLUMNS", "average_linkage", "link_videos", "read_person_embeddings"]

#: The columns of the table of global people.
GLOBAL_COLUMNS: tuple[str, ...] = ("video", "person_id", "global_id", "n_tracks")


def read_person_embeddings(path: str | os.PathLike[str]) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32]]:
    """Person ids, their track counts and unit embeddings from one ``<name>.embeddings.npz``.

    Raises:
        OptionsError: the file is missing or is not such a file.
    """
    path = Path(path)
    if not path.is_file():
        raise OptionsError(f"{path}: embeddings not found (analyse the video with --embeddings)")
    try:
        with np.load(path, allow_pickle=False) as data:
            person, embedding = np.asarray(data["person_id"], dtype=np.int64), np.asarray(data["embedding"])
    except (OSError, ValueError, KeyError) as error:
        raise OptionsError(f"{path}: not an embeddings file of inafaceanalyzer ({error})") from None
    if embedding.ndim != 2 or len(embedding) != len(person):
        raise OptionsError(f"{path}: embedding array of shape {embedding.shape} for {len(person)} tracks")
    ids, counts = np.unique(person, return_counts=True)
    means = normalise(np.stack([embedding[person == i].mean(axis=0) for i in ids])) if len(ids) else embedding[:0]
    return ids, counts, means


def average_linkage(embeddings: NDArray[np.float32], groups: Sequence[int], threshold: float) -> NDArray[np.int64]:
    """Cluster labels of unit ``embeddings`` by average linkage (cosine distance) under ``threshold``.

    Two items of the same ``group`` are never in one cluster. Labels are
    0, 1, ... in the order of each cluster's first item.
    """
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    distance = 1.0 - np.asarray(embeddings, dtype=np.float64) @ np.asarray(embeddings, dtype=np.float64).T
    groups_array = np.asarray(groups)
    conflict = groups_array[:, None] == groups_array[None, :]
    size = np.ones(n)
    alive = np.ones(n, dtype=bool)
    members = [[i] for i in range(n)]
    while True:
        masked = np.where(conflict | ~alive[:, None] | ~alive[None, :], np.inf, distance)
        np.fill_diagonal(masked, np.inf)
        flat = int(np.argmin(masked))
        i, j = divmod(flat, n)
        if not masked[i, j] < threshold:
            break
        i, j = min(i, j), max(i, j)
        # Lance-Williams update for average linkage: j merges into i
        distance[i, :] = (size[i] * distance[i, :] + size[j] * distance[j, :]) / (size[i] + size[j])
        distance[:, i] = distance[i, :]
        conflict[i, :] |= conflict[j, :]
        conflict[:, i] = conflict[i, :]
        size[i] += size[j]
        alive[j] = False
        members[i] += members[j]
    labels = np.empty(n, dtype=np.int64)
    clusters = sorted((min(members[i]), i) for i in np.flatnonzero(alive))
    for label, (_, root) in enumerate(clusters):
        labels[members[root]] = label
    return labels


def link_videos(sources: Sequence[tuple[str, str | os.PathLike[str]]], threshold: float = LINK_THRESHOLD) -> pd.DataFrame:
    """Global people of several videos: ``(video name, embeddings file)`` pairs in, :data:`GLOBAL_COLUMNS` out.

    Raises:
        OptionsError: an embeddings file is missing or unreadable.
    """
    videos, persons, counts, vectors, groups = [], [], [], [], []
    for index, (video, path) in enumerate(sources):
        ids, n_tracks, means = read_person_embeddings(path)
        videos += [video] * len(ids)
        persons.append(ids)
        counts.append(n_tracks)
        vectors.append(means)
        groups += [index] * len(ids)
    if not videos:
        return pd.DataFrame(columns=list(GLOBAL_COLUMNS))
    labels = average_linkage(np.concatenate(vectors), groups, threshold)
    return pd.DataFrame({"video": videos, "person_id": np.concatenate(persons), "global_id": labels,
                         "n_tracks": np.concatenate(counts)}, columns=list(GLOBAL_COLUMNS))

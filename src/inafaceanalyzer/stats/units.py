"""The independent units a bootstrap resamples, never single frames.

Consecutive frames of one face are one observation, not many: resampling
frames would give intervals far too narrow. The unit is, from the most to
the least independent available:

- ``person`` (a ``person_id`` column: identities linked across shots);
- ``track`` (``face_id``: the ``videotracking`` engine);
- ``time_block`` (other video engines: consecutive blocks of
  :data:`BLOCK_S` seconds, a block bootstrap: faces of one shot mostly fall
  in one or two blocks);
- ``image`` (image engines: each image).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["BLOCK_S", "UNITS", "resampling_unit", "unit_keys"]

#: Length of the time blocks resampled for untracked videos (seconds).
BLOCK_S = 10.0
#: The units, most independent first.
UNITS = ("person", "track", "time_block", "image")


def resampling_unit(faces: pd.DataFrame) -> str:
    """The unit for ``faces`` (:func:`~.faces.face_rows` of one video or image table)."""
    if faces["person"].notna().any():
        return "person"
    if faces["track"].notna().any():
        return "track"
    if faces["time_s"].notna().any():
        return "time_block"
    return "image"


def unit_keys(faces: pd.DataFrame, unit: str, video: str) -> np.ndarray:
    """A key per face naming its unit, unique across videos (``video`` prefixes it)."""
    if unit == "person":
        ids = faces["person"].to_numpy()
    elif unit == "track":
        ids = faces["track"].to_numpy()
    elif unit == "time_block":
        ids = np.floor(faces["time_s"].to_numpy(np.float64) / BLOCK_S)
    else:
        return np.array([f"{video}\0{name}" for name in faces["image"]], dtype=object)
    # faces without an id (e.g. rows outside any track) are each their own unit
    text = [f"{video}\0{int(i)}" if i == i else f"{video}\0row{n}" for n, i in enumerate(ids)]
    return np.array(text, dtype=object)

"""Bootstrap resampling of independent units, vectorised and reproducible.

Each resample draws the units with replacement (multinomial counts, as many
draws as units); a statistic that is a sum over units is then one matrix
product per chunk of resamples. The generator is seeded, so the same input
gives the same intervals.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_RESAMPLES", "DEFAULT_SEED", "resampled_sums"]

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20240416
#: Resamples drawn per chunk (bounds memory: chunk x units floats).
_CHUNK = 250


def resampled_sums(
    values: NDArray[np.float64], resamples: int, rng: np.random.Generator
) -> Iterator[NDArray[np.float64]]:
    """Per chunk of resamples, the sums over resampled units of ``values`` (units x k).

    Yields arrays of shape ``(chunk, k)``; all chunks together hold
    ``resamples`` rows. With no unit, every sum is 0.
    """
    units = values.shape[0]
    flat = values.reshape(units, int(np.prod(values.shape[1:])))
    done = 0
    while done < resamples:
        size = min(_CHUNK, resamples - done)
        if units:
            counts = rng.multinomial(units, np.full(units, 1.0 / units), size=size).astype(np.float64)
            yield counts @ flat
        else:
            yield np.zeros((size, flat.shape[1]))
        done += size

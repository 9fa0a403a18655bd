"""Representation statistics a study can publish: screen time by gender and age band.

:func:`face_statistics` (one table) and :func:`batch_statistics` (many,
grouped) return the table of :mod:`.table`: shares of women's and men's
screen time per age band, with bootstrap intervals over independent units
(:mod:`.units`, :mod:`.bootstrap`), corrected for the classifier's measured
error rates (:mod:`.correction`), unreliable faces kept apart. :mod:`.files`
reads results tables and writes the table with its metadata.
"""

from .correction import ErrorRates, default_error_rates, error_rates_path, load_error_rates
from .files import read_groups, stats_inputs, write_statistics
from .table import (
    ALL_GROUP,
    DEFAULT_AGE_EDGES,
    STATS_COLUMNS,
    StatsInput,
    age_labels,
    batch_statistics,
    face_statistics,
    parse_age_groups,
)

__all__ = [
    "ALL_GROUP",
    "DEFAULT_AGE_EDGES",
    "STATS_COLUMNS",
    "ErrorRates",
    "StatsInput",
    "age_labels",
    "batch_statistics",
    "default_error_rates",
    "error_rates_path",
    "face_statistics",
    "load_error_rates",
    "parse_age_groups",
    "read_groups",
    "stats_inputs",
    "write_statistics",
]

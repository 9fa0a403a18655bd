"""Face tracking: identities across frames, shot cuts, and one prediction per face track.

- :class:`FaceTracker`: ``update(frame, detections_or_None)`` per analysed
  frame, ``finish()`` at a cut or at the end of the stream.
- :data:`FOLLOWERS`: what follows faces between detections
  (:class:`MosseFollower`, the default; :class:`DlibFollower`).
- :class:`ShotCutDetector`: ``update(image) -> bool`` per analysed frame.
- :class:`TrackingStream`: the pure pipeline (cuts, detection every
  ``detect_period`` frames, tracking, batched classification, smoothing).
- :class:`TrackingAnalysis`: the ``videotracking`` engine (decoding, the
  table of tracks ``<name>.tracks.csv``).
"""

from .cuts import DEFAULT_CUT_THRESHOLD, ShotCutDetector
from .engine import TrackingAnalysis, tracks_path, write_tracks
from .followers import FOLLOWERS, DlibFollower, MosseFollower
from .smoothing import TRACK_COLUMNS, quality_weights
from .stream import TrackingStream
from .tracker import FaceTracker, TrackerSettings

__all__ = [
    "DEFAULT_CUT_THRESHOLD",
    "FOLLOWERS",
    "DlibFollower",
    "MosseFollower",
    "TRACK_COLUMNS",
    "FaceTracker",
    "ShotCutDetector",
    "TrackerSettings",
    "TrackingAnalysis",
    "TrackingStream",
    "quality_weights",
    "tracks_path",
    "write_tracks",
]

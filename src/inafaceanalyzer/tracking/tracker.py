"""Face tracks: faces followed between detections, with identities kept through short misses.

:class:`FaceTracker` has two verbs. :meth:`FaceTracker.update` takes each
analysed frame in order, with the detector's faces on detection frames or
``None`` in between, and returns the faces visible on that frame with a
``face_id``; :meth:`FaceTracker.finish` ends every track (end of stream, or a
shot cut: the same tracker then goes on with new identifiers).

How a track lives
    Every track is followed from frame to frame by a follower
    (:mod:`.followers`: ``mosse``, batched correlation filters, the default;
    or ``dlib``, the seed's correlation tracker), started on the detector's
    raw box and updated on every analysed frame without detection. Its
    peak-to-sidelobe ratio (PSR) is the tracking confidence, ``track_conf``:
    about 10 or more on a well-followed face, below
    :attr:`TrackerSettings.min_track_conf` (7, the seed's value) when the
    follower has lost it. On a detection frame the follower does not run
    (the detector gives the boxes), and a matched detection's ``track_conf``
    is its track's PSR on the previous frame.

    On a detection frame, each detection is matched to the track expected
    nearest to it: a track is expected at its tracked box or where it was
    last detected, whichever is closer; a pair matches when the centres are
    less than :attr:`TrackerSettings.max_shift` face sizes apart and the
    sizes within a factor :attr:`TrackerSettings.max_scale`, closest pairs
    first (:func:`proximity_matrix`, :func:`greedy_match`). A matched track
    takes the detection's box, confidence and landmarks exactly as the
    detector gave them (so with detection on every frame the rows are the
    detector's), and its follower restarts on that box. An
    unmatched detection starts a new track with the next identifier.

    Between detections a face is reported at its tracked box, without
    detection confidence, as long as the PSR stays at or above
    ``min_track_conf`` and at least half of the box is inside the frame.
    A track ends when its box leaves the frame (more than half outside,
    or its PSR drops while it is at the frame's border).

Short misses
    A track that a detection frame does not confirm, or whose PSR drops, is
    hidden (not reported) but kept: its follower goes on while the
    PSR is good, else its last box is frozen. A detection that matches it
    later gives it back its identifier. It ends once it has missed at least
    two detection frames in a row *and* more than
    :attr:`TrackerSettings.max_missed_s` seconds went by since its last
    detection.

Boxes
    Tracks follow the detector's raw boxes (``data["raw_xyxy"]``, on which
    the alignment's landmark predictor is fitted); a tracked face's
    reported box is its raw box made square and scaled as the detector does
    (:func:`~inafaceanalyzer.detection.base.shape_boxes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..detection.base import shape_boxes
from ..detections import Detections
from ..io import Frame
from .followers import Follower, make_follower

__all__ = ["FaceTracker", "TrackerSettings", "proximity_matrix", "greedy_match"]


@dataclass(frozen=True)
class TrackerSettings:
    """How tracks are followed, matched and ended.

    Attributes:
        max_shift: a detection matches a track when its centre is less than
            ``max_shift`` face sizes away from where the track is expected
            (see :func:`proximity_matrix`)...
        max_scale: ...and its size is within this factor of the track's.
        min_track_conf: least PSR of the follower for a face to be
            reported between detections (the seed's value, 7).
        max_missed_s: a track unconfirmed by detections for longer than this
            (and for at least two detection frames) ends.
        min_inside: least fraction of a tracked box inside the frame.
        squarify, bbox_scaling: how reported boxes are shaped from raw boxes,
            as the detector does (``options.squarify_bbox``, ``options.bbox_scaling``).
    """

    max_shift: float = 0.75
    max_scale: float = 1.5
    min_track_conf: float = 7.0
    max_missed_s: float = 1.0
    min_inside: float = 0.5
    squarify: bool = True
    bbox_scaling: float = 1.1


def proximity_matrix(
    a: NDArray[np.float64], b: NDArray[np.float64], max_shift: float, max_scale: float
) -> NDArray[np.float64]:
    """How well each box of ``a`` (M, 4) lines up with each box of ``b`` (N, 4), in ``(-inf, 1]``.

    ``1 - d / (max_shift * s)``, where ``d`` is the distance between the
    centres and ``s`` the mean of the two boxes' longer sides: 1 for the same
    centre, 0 at a shift of ``max_shift`` face sizes. Pairs whose sizes differ
    by more than a factor ``max_scale`` score ``-inf``.
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(1, -1, 4)
    size_a = np.maximum(a[..., 2] - a[..., 0], a[..., 3] - a[..., 1])
    size_b = np.maximum(b[..., 2] - b[..., 0], b[..., 3] - b[..., 1])
    dx = (a[..., 0] + a[..., 2] - b[..., 0] - b[..., 2]) / 2
    dy = (a[..., 1] + a[..., 3] - b[..., 1] - b[..., 3]) / 2
    scale = np.maximum(size_a, 1e-9) / np.maximum(size_b, 1e-9)
    score = 1.0 - np.hypot(dx, dy) / (max_shift * (size_a + size_b) / 2)
    return np.where((scale <= max_scale) & (scale >= 1 / max_scale), score, -np.inf)


def greedy_match(scores: NDArray[np.float64], minimum: float) -> list[tuple[int, int]]:
    """Pairs ``(row, column)`` taken by decreasing score, each row and column at most once.

    Only scores ``>= minimum`` pair. With the few faces of a frame, this
    gives the same pairs as an optimal assignment in all but contrived cases.
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    pairs: list[tuple[int, int]] = []
    while scores.size:
        row, column = np.unravel_index(int(np.argmax(scores)), scores.shape)
        if not scores[row, column] >= minimum:
            break
        pairs.append((int(row), int(column)))
        scores[row, :] = -np.inf
        scores[:, column] = -np.inf
    return pairs


def _fraction_inside(box: NDArray[np.float64], width: int, height: int) -> float:
    left, top, right, bottom = box
    area = (right - left) * (bottom - top)
    if area <= 0:
        return 0.0
    inside = max(0.0, min(right, width) - max(left, 0.0)) * max(0.0, min(bottom, height) - max(top, 0.0))
    return inside / area


def _at_edge(box: NDArray[np.float64], width: int, height: int, margin: float = 0.1) -> bool:
    """Whether the box comes within ``margin`` box sizes of the frame's border."""
    left, top, right, bottom = box
    pad = margin * max(right - left, bottom - top)
    return left < pad or top < pad or right > width - pad or bottom > height - pad


@dataclass
class _Track:
    """One face followed through the frames (internal, mutable)."""

    face_id: int
    box: NDArray[np.float64]  # raw box in frame pixels: where the follower has the face
    detection: NDArray[np.float64]  # raw box of the last matched detection
    detection_time: float
    visible: bool = True
    following: bool = True  # the follower still holds the face
    missed: int = 0  # consecutive detection frames without a match
    psr: float = math.nan


class FaceTracker:
    """Gives faces identifiers that last as long as each face stays on screen.

    Args:
        settings: tracking settings (defaults: :class:`TrackerSettings`).
        follower: what follows faces between detections: a name of
            :data:`~.followers.FOLLOWERS` (``mosse``, ``dlib``) or a follower.
    """

    def __init__(self, settings: TrackerSettings | None = None, follower: str | Follower = "mosse") -> None:
        self.settings = settings or TrackerSettings()
        self.follower: Follower = make_follower(follower) if isinstance(follower, str) else follower
        self._tracks: dict[int, _Track] = {}
        self._next_id = 0

    @property
    def following(self) -> int:
        """How many tracks the follower moves on the next frame without detection."""
        return sum(track.following for track in self._tracks.values())

    @property
    def active_ids(self) -> frozenset[int]:
        """Identifiers of the tracks that have not ended (reported or hidden)."""
        return frozenset(self._tracks)

    # -- the two verbs -----------------------------------------------------

    def update(self, frame: Frame, detections: Detections | None) -> Detections:
        """The faces of this analysed frame, with ``face_id`` and ``track_conf`` columns.

        Args:
            frame: the next analysed frame (RGB image, time).
            detections: the detector's faces of this frame, or ``None`` on a
                frame where faces are only tracked.

        Returns:
            On a detection frame, the detections in the detector's order with
            ``data["face_id"]`` and ``data["track_conf"]`` (NaN for a new
            track) added; on a tracked frame, the reported tracks in
            identifier order, with their tracked raw box in
            ``data["raw_xyxy"]``, the shaped box in ``xyxy``, NaN confidence
            and the PSR as ``track_conf``.
        """
        image = frame.image
        height, width = image.shape[:2]
        if detections is None:
            self._follow(image)
            return self._tracked_faces(width, height)
        return self._match(image, detections, float(frame.time), width, height)

    def finish(self) -> list[int]:
        """End every track (end of stream or shot cut); their identifiers, in order.

        Identifiers keep increasing afterwards, so they stay unique in a video.
        """
        ended = sorted(self._tracks)
        for face_id in ended:
            self._end(face_id)
        return ended

    # -- steps -------------------------------------------------------------

    def _follow(self, image: NDArray[np.uint8]) -> None:
        """Move every following track's box onto this frame."""
        height, width = image.shape[:2]
        for track in self._tracks.values():
            if not track.following:
                track.psr = math.nan
        followed = [face_id for face_id, track in self._tracks.items() if track.following]
        boxes, psrs = self.follower.update(image, followed)
        for face_id, box, psr in zip(followed, boxes, psrs, strict=True):
            track = self._tracks[face_id]
            track.psr = float(psr)
            if track.psr < self.settings.min_track_conf:
                if _at_edge(track.box, width, height):
                    self._end(face_id)  # lost at the edge: the face went out
                    continue
                # lost: keep the last good box, for matching only
                track.following = False
                track.visible = False
                continue
            track.box = np.array(box, dtype=np.float64)

    def _tracked_faces(self, width: int, height: int) -> Detections:
        """A frame without detection: the tracks still reported."""
        s = self.settings
        ids, boxes, confs = [], [], []
        for face_id in sorted(self._tracks):
            track = self._tracks[face_id]
            if _fraction_inside(track.box, width, height) < s.min_inside:
                self._end(face_id)  # left the frame
                continue
            if not track.visible:
                continue
            ids.append(face_id)
            boxes.append(track.box)
            confs.append(track.psr)
        raw = np.array(boxes, dtype=np.float64).reshape(-1, 4)
        return Detections(
            shape_boxes(raw, s.squarify, s.bbox_scaling),
            np.full(len(ids), np.nan),
            None,
            {
                "raw_xyxy": raw,
                "face_id": np.array(ids, dtype=np.int64),
                "track_conf": np.array(confs, dtype=np.float64),
            },
        )

    def _match(
        self, image: NDArray[np.uint8], detections: Detections, time: float, width: int, height: int
    ) -> Detections:
        """A detection frame: detections matched to tracks, new tracks, misses counted."""
        s = self.settings
        raw = np.asarray(detections.data.get("raw_xyxy", detections.xyxy), dtype=np.float64).reshape(-1, 4)
        ids = sorted(self._tracks)
        tracks = [self._tracks[i] for i in ids]
        # a track may be where its tracker says, or still where it was last detected
        followed = np.array([t.box for t in tracks]).reshape(-1, 4)
        detected = np.array([t.detection for t in tracks]).reshape(-1, 4)
        scores = np.maximum(
            proximity_matrix(followed, raw, s.max_shift, s.max_scale),
            proximity_matrix(detected, raw, s.max_shift, s.max_scale),
        )
        pairs = greedy_match(scores, 0.0)

        face_ids = np.empty(len(raw), dtype=np.int64)
        track_conf = np.full(len(raw), np.nan)
        matched = set()
        for row, column in pairs:
            track = tracks[row]
            track_conf[column] = track.psr
            self._restart(track, image, raw[column], time)
            face_ids[column] = track.face_id
            matched.add(column)
        for column in range(len(raw)):
            if column not in matched:
                face_ids[column] = self._start(image, raw[column], time)

        confirmed = {ids[row] for row, _ in pairs}
        for track in tracks:
            if track.face_id in confirmed:
                continue
            track.visible = False
            track.missed += 1
            gone = _fraction_inside(track.box, width, height) < s.min_inside
            stale = track.missed >= 2 and time - track.detection_time > s.max_missed_s
            if gone or stale:
                self._end(track.face_id)
        return detections.with_data(face_id=face_ids, track_conf=track_conf)

    def _start(self, image: NDArray[np.uint8], box: NDArray[np.float64], time: float) -> int:
        face_id = self._next_id
        self._next_id += 1
        box = np.asarray(box, dtype=np.float64).copy()
        track = _Track(face_id, box, box, time)
        self._restart(track, image, box, time)
        self._tracks[face_id] = track
        return face_id

    def _restart(self, track: _Track, image: NDArray[np.uint8], box: NDArray[np.float64], time: float) -> None:
        """The track's face was detected at ``box``: restart its follower there."""
        box = np.asarray(box, dtype=np.float64).copy()
        self.follower.start(track.face_id, image, box)
        track.box = track.detection = box
        track.detection_time = time
        track.visible = track.following = True
        track.missed = 0

    def _end(self, face_id: int) -> None:
        del self._tracks[face_id]
        self.follower.drop(face_id)

"""How well tracks agree with the detector run on every frame: boxes and identities.

Used to compare the trackers (``benchmarks/bench_tracking.py --accuracy``,
the tests). The reference is the detector's faces on every analysed frame:

- reference identities (:func:`reference_identities`): detections chained
  from frame to frame, each to the chain whose last box overlaps it most
  (IoU at least 0.3, one detection per chain, chains unseen for more than
  ``gap`` frames closed, none continuing across a shot cut);
- :class:`TrackAgreement` gives each reported face the identity of the
  detection it covers (IoU at least 0.5, one to one) and counts, per
  identity, the track identifiers it got (``fragments``: an identity split
  into several tracks; ``switches``: times its identifier changes from one
  of its frames to the next) and, per track, the identities it covered
  (``merges``: a track going from one face to another); on frames without
  detection, the IoU of each reported box with the best detection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from numpy.typing import NDArray

from ..detections import Detections
from ..io import Frame
from .followers import Follower
from .tracker import FaceTracker, TrackerSettings

__all__ = ["TrackAgreement", "best_pairs", "iou_matrix", "reference_identities", "replay"]


def iou_matrix(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """IoU of each box of ``a`` (M, 4) with each box of ``b`` (N, 4), ``xyxy``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(1, -1, 4)
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-9)


def best_pairs(iou: NDArray[np.float64], minimum: float) -> list[tuple[int, int]]:
    """One-to-one pairs ``(row, column)`` by decreasing IoU, each at least ``minimum``."""
    iou = np.array(iou, dtype=np.float64, copy=True)
    pairs = []
    while iou.size and iou.max() >= minimum:
        row, column = np.unravel_index(int(iou.argmax()), iou.shape)
        pairs.append((int(row), int(column)))
        iou[row, :] = -1
        iou[:, column] = -1
    return pairs


def reference_identities(
    boxes: Sequence[NDArray[np.float64]], cuts: Iterable[int] = (), gap: int = 5
) -> list[NDArray[np.int64]]:
    """For each frame, an identity per detection (``boxes[i]``: the detector's raw boxes of frame ``i``)."""
    cuts = set(cuts)
    last_seen: list[int] = []
    last_box: list[NDArray[np.float64]] = []
    identities = []
    for index, frame_boxes in enumerate(boxes):
        frame_boxes = np.asarray(frame_boxes, dtype=np.float64).reshape(-1, 4)
        if index in cuts:
            last_seen = [-(10**9)] * len(last_seen)  # nothing continues across a cut
        ids = np.full(len(frame_boxes), -1, dtype=np.int64)
        alive = [i for i, seen in enumerate(last_seen) if index - seen <= gap]
        if alive and len(frame_boxes):
            iou = iou_matrix(np.array([last_box[i] for i in alive]), frame_boxes)
            for row, column in best_pairs(iou, 0.3):
                ids[column] = alive[row]
        for column in range(len(frame_boxes)):
            if ids[column] < 0:
                ids[column] = len(last_seen)
                last_seen.append(index)
                last_box.append(frame_boxes[column])
            last_seen[ids[column]] = index
            last_box[ids[column]] = frame_boxes[column]
        identities.append(ids)
    return identities


@dataclass
class TrackAgreement:
    """Counts of how a tracker's faces agree with the reference, frame by frame (see the module doc)."""

    ious: list[float] = field(default_factory=list)
    followed: int = 0
    covered: int = 0
    reference_faces: int = 0
    _seen: dict[int, list[int]] = field(default_factory=dict)
    _owners: dict[int, set[int]] = field(default_factory=dict)
    _tracks: set[int] = field(default_factory=set)

    def add(
        self,
        face_ids: NDArray[np.int64],
        boxes: NDArray[np.float64],
        reference: NDArray[np.float64],
        identities: NDArray[np.int64],
        tracked: bool,
    ) -> None:
        """One frame: the reported faces (``face_ids``, raw ``boxes``), the detections and their identities.

        ``tracked``: a frame without detection, whose boxes count in :attr:`ious`.
        """
        iou = iou_matrix(boxes, reference)
        pairs = dict(best_pairs(iou, 0.5))
        if tracked:
            self.ious.extend(float(row.max()) if len(row) else 0.0 for row in iou)
            self.covered += len(pairs)
            self.reference_faces += len(reference)
        for row, face_id in enumerate(int(i) for i in face_ids):
            self._tracks.add(face_id)
            if row in pairs:
                identity = int(identities[pairs[row]])
                self._seen.setdefault(identity, []).append(face_id)
                self._owners.setdefault(face_id, set()).add(identity)

    @property
    def tracks(self) -> int:
        return len(self._tracks)

    @property
    def identities(self) -> int:
        return len(self._seen)

    @property
    def fragments(self) -> int:
        return sum(len(set(ids)) - 1 for ids in self._seen.values())

    @property
    def switches(self) -> int:
        return sum(sum(a != b for a, b in zip(ids, ids[1:], strict=False)) for ids in self._seen.values())

    @property
    def merges(self) -> int:
        return sum(len(identities) - 1 for identities in self._owners.values())

    @property
    def mean_iou(self) -> float:
        return float(np.mean(self.ious)) if self.ious else float("nan")

    @property
    def hit_rate(self) -> float:
        """Fraction of the tracked boxes with IoU at least 0.5 with a detection."""
        return float(np.mean(np.array(self.ious) >= 0.5)) if self.ious else float("nan")

    @property
    def recall(self) -> float:
        """Fraction of the detections on tracked frames covered by a reported face (IoU >= 0.5)."""
        return self.covered / self.reference_faces if self.reference_faces else float("nan")


def replay(
    frames: Sequence[Frame],
    detections: Sequence[Detections],
    period: int,
    follower: str | Follower = "mosse",
    cuts: Iterable[int] = (),
    settings: TrackerSettings | None = None,
    run: Callable[[Callable[[], Detections]], Detections] | None = None,
) -> TrackAgreement:
    """A tracker over ``frames`` given ``detections[i]`` on one frame in ``period`` only, as the engine does.

    ``detections`` are the detector's faces on every frame (the reference);
    ``cuts``: frames starting a shot (every track ends there, detection
    runs). ``run``, if given, calls each update of a frame without detection
    (e.g. to time it). :attr:`TrackAgreement.followed` counts the faces
    followed on those frames.
    """
    cuts = set(cuts)
    tracker = FaceTracker(settings or TrackerSettings(), follower=follower)
    raw = [np.asarray(d.data.get("raw_xyxy", d.xyxy), dtype=np.float64) for d in detections]
    identities = reference_identities(raw, cuts)
    result = TrackAgreement()
    countdown = 0
    for index, frame in enumerate(frames):
        if index in cuts:
            tracker.finish()
            countdown = 0
        detected = countdown == 0
        if detected:
            faces = tracker.update(frame, detections[index])
            countdown = period
        else:
            result.followed += tracker.following
            step = partial(tracker.update, frame, None)
            faces = run(step) if run is not None else step()
        countdown -= 1
        boxes = faces.data.get("raw_xyxy", faces.xyxy)
        result.add(faces.data["face_id"], boxes, raw[index], identities[index], tracked=not detected)
    tracker.finish()
    return result

"""The pure part of the ``videotracking`` engine: frames in, results with face tracks out.

For each analysed frame, in order:

1. shot cut detection (:class:`~.cuts.ShotCutDetector`): a cut ends every
   track and makes this frame a detection frame;
2. face detection, on one analysed frame in ``options.detect_period``
   (counting from the first frame and from each cut);
3. tracking (:class:`~.tracker.FaceTracker`): detections get identifiers,
   faces are followed in between; steps 1 to 3 run in a background thread,
   a few frames ahead of step 4;
4. gender and age, batched over frames as the ``video`` engine does
   (:meth:`FaceAnalyzer.classify_many`, about ``options.batch_size`` faces
   per call, the same flush rule), with each face's weight
   (:func:`~.smoothing.quality_weights`), on one frame in
   ``options.effective_classify_period`` of each track (its first, then
   every period-th: the chips are cut only for those). The track's other
   rows carry the per-frame values of its nearest classified frame (the
   earlier one on a tie), with ``classified`` false and ``avg_weight`` 0.

The smoothed columns (``*_avg``) need a track's every frame, so results are
held back until every track present in them has ended (at the latest at the
next cut or at the end of the stream), then yielded in frame order. Only the
faces are held, not the images (the background thread cuts the aligned chips
and measures the sharpness of each face before it lets a frame go): memory
grows with the length of the longest track, not with the length of the video
nor with the size of its frames.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..alignment.chips import FaceChips
from ..detections import Detections
from ..io import Frame
from ..options import AnalysisOptions
from ..pipeline.analyzer import FaceAnalyzer
from ..pipeline.prefetch import prefetch
from ..pipeline.results import FrameResult
from .cuts import ShotCutDetector
from .smoothing import (
    AVERAGE_COLUMNS,
    TRACK_COLUMNS,
    TrackStats,
    add_predictions,
    quality_weights,
    raw_sizes,
    sharpness,
)
from .tracker import FaceTracker, TrackerSettings

__all__ = ["TrackingStream"]


@dataclass
class _Entry:
    """An analysed frame waiting for classification, then for its tracks to end."""

    index: int
    time_s: float
    faces: Detections
    picked: NDArray[np.bool_]  # the faces to classify in this frame
    chips: FaceChips | None  # of the picked faces, until classified
    sharpness: NDArray[np.float64]  # of the picked faces
    identity_chips: NDArray[np.uint8] | None = None  # the identity embedder's, until classified
    measured: Detections | None = None  # the picked faces, once classified


@dataclass
class _Tracked:
    """A frame as the tracking thread hands it over: its faces, their chips, not its image."""

    index: int
    time: Fraction
    faces: Detections
    chips: FaceChips
    sharpness: NDArray[np.float64]
    cut: bool
    detected: bool
    active: frozenset[int]
    identity_chips: NDArray[np.uint8] | None
    picked: NDArray[np.bool_]


class TrackingStream:
    """Analyses a stream of frames with face tracking; one instance per video.

    Args:
        analyzer: the models.
        options: analysis settings (``detect_period``, ``batch_size``, box shaping).
        last_period: how long the last analysed frame stands for, in seconds
            (see :meth:`tracks`).
        end_time: when the video ends, if known: the last frame stands for
            no longer than that.
        tracker: the face tracker (default: one built from ``options``,
            ``options.tracker`` following the faces).
        cuts: the shot cut detector (default: a :class:`ShotCutDetector`).
        detect_cuts: whether shot cuts end tracks.
        people: links the tracks into people as they end
            (:class:`~inafaceanalyzer.identity.PersonLinker`: ``add_frame``
            per classified frame, ``link`` per complete track); ``None``: no
            ``person_id``.

    Attributes:
        cut_frames: indexes of the analysed frames found to start a new shot.
        frames_detected: number of analysed frames the detector ran on.
    """

    def __init__(
        self,
        analyzer: FaceAnalyzer,
        options: AnalysisOptions,
        last_period: Fraction = Fraction(0),
        end_time: Fraction | None = None,
        tracker: FaceTracker | None = None,
        cuts: ShotCutDetector | None = None,
        detect_cuts: bool = True,
        people: Any = None,
    ) -> None:
        self.analyzer = analyzer
        self.options = options
        self.last_period = Fraction(last_period)
        self.end_time = None if end_time is None else Fraction(end_time)
        self.tracker = tracker or FaceTracker(
            TrackerSettings(squarify=options.squarify_bbox, bbox_scaling=options.bbox_scaling),
            follower=options.tracker,
        )
        self.cuts: ShotCutDetector | None = (cuts or ShotCutDetector()) if detect_cuts else None
        self.cut_frames: list[int] = []
        self.frames_detected = 0
        self.people = people
        self._stats: dict[int, TrackStats] = {}
        self._unclassified: dict[int, int] = {}
        self._unemitted: dict[int, int] = {}
        self._summaries: list[dict[str, Any]] = []
        self._averages: dict[int, dict[str, Any]] = {}
        self._pending: list[_Entry] = []
        self._pending_faces = 0
        self._buffer: deque[_Entry] = deque()
        self._previous_ids: list[int] = []
        self._active: frozenset[int] = frozenset()
        self._period = options.effective_classify_period
        self._appearances: dict[int, int] = {}  # the tracking thread's: frames seen per open track
        self._measured: dict[int, tuple[list[int], list[tuple[Detections, int]]]] = {}

    # -- results -----------------------------------------------------------

    def tracks(self) -> pd.DataFrame:
        """One row per ended track (:data:`~.smoothing.TRACK_COLUMNS`), by ``face_id``.

        ``duration_s`` runs from the track's first analysed frame to the next
        analysed frame after its last one (the frame that no longer shows it,
        or the first frame of the next shot); for a track that lasts until
        the end of the video, to its last frame plus ``last_period`` (at
        most ``end_time``).
        """
        rows = sorted(self._summaries, key=lambda row: row["face_id"])
        return pd.DataFrame(rows, columns=list(TRACK_COLUMNS))

    # -- the stream --------------------------------------------------------

    def __call__(self, frames: Iterable[Frame]) -> Iterator[FrameResult]:
        """Results of ``frames``, one per frame, in order.

        Cut detection, face detection and tracking run in a background
        thread, a few frames ahead of alignment and classification.
        """
        last_time: Fraction | None = None
        tracked = prefetch(self._track(frames), maxsize=self.analyzer.detect_ahead, name="track")
        for step in tracked:
            faces = step.faces
            self._close_slots(step.time)
            if step.cut:
                self.cut_frames.append(step.index)
            if step.detected:
                self.frames_detected += 1
            self._active = step.active
            self._see(step.index, step.time, faces, step.picked)
            entry = _Entry(step.index, float(step.time), faces, step.picked, step.chips, step.sharpness,
                           step.identity_chips)
            self._pending.append(entry)
            self._buffer.append(entry)
            self._pending_faces += int(step.picked.sum())
            if self.analyzer.batch_is_full(len(self._pending), self._pending_faces):
                self._classify()
                yield from self._emit()
            last_time = step.time
        self._active = frozenset()
        if last_time is not None:
            end = last_time + self.last_period
            if self.end_time is not None and last_time < self.end_time < end:
                end = self.end_time
            self._close_slots(end)
        self._classify()
        yield from self._emit()

    # -- steps -------------------------------------------------------------

    def _track(self, frames: Iterable[Frame]) -> Iterator[_Tracked]:
        """Each frame with its faces: cuts found, faces detected or followed.

        The detector runs on one frame in ``detect_period``, counting from the
        first frame and from each cut; a cut ends every track. Each step
        carries the identifiers of the tracks still open after its frame, so
        that the consumer, a few frames behind, knows which tracks are over.
        """
        countdown = 0
        try:
            iterator = iter(frames)
            while (frame := next(iterator, None)) is not None:
                cut = self.cuts is not None and self.cuts.update(frame.image)
                if cut:
                    self.tracker.finish()
                    countdown = 0
                detections = None
                if countdown == 0:
                    detections = self.analyzer.detect(frame.image, frame.reduced)
                    countdown = self.options.detect_period
                countdown -= 1
                faces = self.tracker.update(frame, detections)
                picked = self._pick(faces, self.tracker.active_ids)
                chosen = faces[picked]
                chips = self.analyzer.align(frame.image, chosen)
                sharp = sharpness(frame.image, chosen.data.get("raw_xyxy", chosen.xyxy))
                identity = None if self.people is None else self.people.embedder.chips(frame.image, chips.landmarks)
                step = _Tracked(frame.index, frame.time, faces, chips, sharp, cut, detections is not None,
                                self.tracker.active_ids, identity, picked)
                del frame, detections  # the image is let go before the next frame is asked for
                yield step
                del step
        finally:
            self.tracker.finish()
            if self.cuts is not None:
                self.cuts.finish()

    def _pick(self, faces: Detections, active: frozenset[int]) -> NDArray[np.bool_]:
        """The faces of this frame to classify: each track's first frame, then one in the period."""
        picked = np.zeros(len(faces), dtype=bool)
        for i, face_id in enumerate(int(each) for each in faces.data["face_id"]):
            seen = self._appearances.get(face_id, 0)
            picked[i] = seen % self._period == 0
            self._appearances[face_id] = seen + 1
        if len(self._appearances) > 2 * len(active) + 64:  # forget the tracks that ended
            self._appearances = {face_id: n for face_id, n in self._appearances.items() if face_id in active}
        return picked

    def _close_slots(self, time: Fraction) -> None:
        """The faces of the previous analysed frame stand until ``time``."""
        for face_id in self._previous_ids:
            self._stats[face_id].slot_end = time
        self._previous_ids = []

    def _see(self, index: int, time: Fraction, faces: Detections, picked: NDArray[np.bool_]) -> None:
        ids = [int(i) for i in faces.data["face_id"]]
        sizes = raw_sizes(faces)
        for face_id, size, conf, pick in zip(ids, sizes, faces.confidence, picked, strict=True):
            stats = self._stats.get(face_id)
            if stats is None:
                stats = self._stats[face_id] = TrackStats(face_id)
            stats.see(index, time, detected=not math.isnan(conf), size=float(size))
            self._unclassified[face_id] = self._unclassified.get(face_id, 0) + int(pick)
            self._unemitted[face_id] = self._unemitted.get(face_id, 0) + 1
        self._previous_ids = ids

    def _classify(self) -> None:
        """Classify the pending frames in shared network calls; add them to their tracks."""
        if not self._pending:
            return
        results = self.analyzer.classify_aligned([(entry.faces[entry.picked], entry.chips) for entry in self._pending])
        for entry, faces in zip(self._pending, results, strict=True):
            weights = quality_weights(faces, entry.sharpness)
            add_predictions(self._stats, faces, weights)
            if self.people is not None:
                self.people.add_frame(entry.index, entry.identity_chips, faces, weights)
            entry.measured = faces.with_data(avg_weight=weights, classified=np.ones(len(faces), dtype=bool))
            for row, face_id in enumerate(int(each) for each in faces.data["face_id"]):
                self._unclassified[face_id] -= 1
                indexes, rows = self._measured.setdefault(face_id, ([], []))
                indexes.append(entry.index)
                rows.append((entry.measured, row))
            entry.chips = entry.identity_chips = None
        self._pending = []
        self._pending_faces = 0

    def _complete(self, face_id: int, active: frozenset[int]) -> bool:
        return face_id not in active and self._unclassified[face_id] == 0

    def _emit(self) -> Iterator[FrameResult]:
        """Yield the leading buffered frames whose tracks have all ended and been classified."""
        active = self._active
        while self._buffer and self._buffer[0].measured is not None:
            entry = self._buffer[0]
            ids = [int(i) for i in entry.faces.data["face_id"]]
            if not all(self._complete(face_id, active) for face_id in ids):
                return
            self._buffer.popleft()
            yield FrameResult(entry.index, entry.time_s, self._with_averages(self._filled(entry), ids))
            for face_id in ids:
                self._unemitted[face_id] -= 1
                if self._unemitted[face_id] == 0:
                    self._retire(face_id)

    def _filled(self, entry: _Entry) -> Detections:
        """The frame's faces with their per-frame values: measured, or carried from the track's nearest."""
        measured = entry.measured
        assert measured is not None
        if entry.picked.all():
            return measured
        faces = entry.faces
        sources: list[tuple[Detections, int]] = []
        measured_rows = iter(range(len(measured)))
        for face_id, pick in zip(faces.data["face_id"], entry.picked, strict=True):
            sources.append((measured, next(measured_rows)) if pick else self._nearest(int(face_id), entry.index))
        names = [name for name in measured.data if name not in faces.data]
        columns = {name: np.asarray([source.data[name][row] for source, row in sources]) for name in names}
        columns["avg_weight"] = np.where(entry.picked, columns["avg_weight"], 0.0)
        columns["classified"] = entry.picked.copy()
        points = np.full((len(faces), 5, 2), np.nan)
        if measured.alignment_points is not None:
            points[entry.picked] = measured.alignment_points
        return faces.with_alignment_points(points).with_data(**columns)

    def _nearest(self, face_id: int, index: int) -> tuple[Detections, int]:
        """The classified row of track ``face_id`` nearest frame ``index`` (the earlier on a tie)."""
        indexes, rows = self._measured[face_id]
        after = bisect.bisect_left(indexes, index)
        if after == len(indexes) or (after > 0 and index - indexes[after - 1] <= indexes[after] - index):
            return rows[after - 1]
        return rows[after]

    def _with_averages(self, faces: Detections, ids: list[int]) -> Detections:
        rows = []
        for face_id in ids:
            if face_id not in self._averages:
                stats = self._stats[face_id]
                self._averages[face_id] = stats.averages()
                if self.people is not None:
                    self._averages[face_id].update(self.people.link(stats, stats.summary()))
            rows.append(self._averages[face_id])
        names = AVERAGE_COLUMNS + (("person_id",) if self.people is not None else ())
        columns = {name: np.array([row[name] for row in rows]) for name in names}
        if not rows:
            columns = {
                name: np.zeros(0, dtype=str if name.startswith("sex_label") else
                               np.int64 if name == "person_id" else np.float64)
                for name in names
            }
        return faces.with_data(**columns)

    def _retire(self, face_id: int) -> None:
        """Every row of the track is out: record its summary and forget it."""
        summary = self._stats.pop(face_id).summary()
        summary.update(self._averages.pop(face_id, {}))
        self._summaries.append(summary)
        del self._unclassified[face_id], self._unemitted[face_id]
        self._measured.pop(face_id, None)

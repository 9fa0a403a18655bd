"""Benchmark: the ``videotracking`` engine against the ``video`` engine, and the trackers against each other.

Engines (default): for each clip and each sampling rate, runs, ``--repeat``
times in turn (the minimum is reported, as the machine may be shared):

- ``video``: detection and classification on every analysed frame;
- ``videotracking --detect_period N --tracker T`` (``--periods``, default 5;
  ``--trackers``, default ``mosse dlib``): detection on one analysed frame in
  N, faces followed in between by tracker T, shot cuts, smoothing.

Both engines share one set of models (loaded before timing) and read the
same file, decoding included. Printed per run: wall time, process CPU time,
analysed frames per second, face rows, and for tracking the number of tracks.

Trackers (``--accuracy``): for each clip, the detector runs on every analysed
frame once; then each tracker replays the clip with those detections given on
one frame in N only (cuts handled as the engine does). Printed per tracker:

- ``ms/face``: CPU time (this thread) of :meth:`FaceTracker.update` on the
  frames without detection, per face followed;
- ``gil ms/face``: how long a second Python thread was kept from running
  meanwhile, per face followed (it counts how often it gets to run, against
  its rate alone: see :func:`gil_held`);
- ``iou``: mean IoU of the reported tracked boxes (raw) with the detector's
  box of the same face on that frame (the best match, 0 if none), and
  ``hit``: the fraction with IoU >= 0.5;
- ``recall``: the fraction of the detector's faces on tracked frames that a
  reported face covers with IoU >= 0.5;
- identities: the detector's faces are chained frame to frame into
  reference identities (IoU >= 0.3 with the chain's last box, gaps of up to
  5 frames); each reported face takes the identity of the detection it
  covers (IoU >= 0.5). ``tracks``: the tracker's tracks; ``ids``: reference
  identities seen; ``frag``: over the identities, distinct track ids minus
  one (an identity split into several tracks); ``switch``: times an
  identity's track id changes from one of its frames to the next;
  ``merge``: over the tracks, distinct identities minus one (one track
  jumping between faces).

Usage::

    python benchmarks/bench_tracking.py                                   # talking head and crowd, 5 fps and native
    python benchmarks/bench_tracking.py --clips face_recognition__short_hamilton_clip.mp4 --fps 5 --repeat 3
    python benchmarks/bench_tracking.py --threads 2 --periods 3 5 10 --trackers mosse
    python benchmarks/bench_tracking.py --accuracy --fps native --clips SadTalker__WDA_KatieHill_000.mp4 \\
        facenet-pytorch__video.mp4 face_recognition__short_hamilton_clip.mp4

The clips come from ``../shared/media/videos`` (see its README.md).
"""

from __future__ import annotations

import argparse
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from inafaceanalyzer import AnalysisOptions, FaceAnalyzer
from inafaceanalyzer.io import VideoSource
from inafaceanalyzer.options import TRACKERS
from inafaceanalyzer.pipeline.engines import VideoAnalysis
from inafaceanalyzer.tracking import FaceTracker, ShotCutDetector, TrackerSettings, TrackingAnalysis
from inafaceanalyzer.tracking.followers import Follower

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
DEFAULT_CLIPS = ["SadTalker__WDA_KatieHill_000.mp4", "facenet-pytorch__video.mp4"]


def cpu_seconds() -> float:
    """CPU time of this process (user and system), all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_once(path: Path, options: AnalysisOptions, analyzer: FaceAnalyzer) -> tuple[float, float, int, int, int | None]:
    """Wall time, CPU time, analysed frames, face rows and tracks of one full analysis."""
    engine = TrackingAnalysis if options.engine == "videotracking" else VideoAnalysis
    started, cpu = time.perf_counter(), cpu_seconds()
    analysis = engine(str(path), options, analyzer)
    frames = rows = 0
    for result in analysis:
        frames += 1
        rows += len(result.faces)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    tracks = len(analysis.tracks) if isinstance(analysis, TrackingAnalysis) else None
    return seconds, cpu, frames, rows, tracks


def engines(args: argparse.Namespace) -> None:
    analyzer = FaceAnalyzer(AnalysisOptions(threads=args.threads))
    print(f"{'clip':38s} {'fps':>6s} {'engine':32s} {'wall s':>7s} {'cpu s':>7s} {'frames/s':>9s} {'frames':>6s} "
          f"{'rows':>5s} {'tracks':>6s} {'speed-up':>8s}")
    for clip in args.clips:
        path = Path(clip) if Path(clip).is_file() else args.videos / clip
        for fps_text in args.fps:
            fps = None if fps_text == "native" else float(fps_text)
            configurations = [("video", AnalysisOptions(fps=fps, threads=args.threads))] + [
                (f"videotracking/{tracker} period {period}",
                 AnalysisOptions(engine="videotracking", fps=fps, detect_period=period, threads=args.threads,
                                 tracker=tracker))
                for period in args.periods
                for tracker in args.trackers
            ]
            best: dict[str, tuple[float, float, int, int, int | None]] = {}
            run_once(path, configurations[0][1], analyzer)  # warm up caches and sessions
            for _ in range(args.repeat):  # interleaved, so that a busy moment hurts both alike
                for name, options in configurations:
                    result = run_once(path, options, analyzer)
                    if name not in best or result[0] < best[name][0]:
                        best[name] = result
            baseline = best["video"][0]
            for name, _ in configurations:
                seconds, cpu, frames, rows, tracks = best[name]
                print(f"{path.name[:38]:38s} {fps_text:>6s} {name:32s} {seconds:7.2f} {cpu:7.2f} "
                      f"{frames / seconds:9.1f} {frames:6d} {rows:5d} {'' if tracks is None else tracks:>6} "
                      f"{baseline / seconds:7.2f}x")


# -- the trackers compared ------------------------------------------------------------------


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of each box of ``a`` (M, 4) with each box of ``b`` (N, 4)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(1, -1, 4)
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = width * height
    area = lambda boxes: (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def best_pairs(iou: np.ndarray, minimum: float) -> list[tuple[int, int]]:
    """Greedy one-to-one pairs by decreasing IoU, each at least ``minimum``."""
    iou = iou.copy()
    pairs = []
    while iou.size and iou.max() >= minimum:
        row, column = np.unravel_index(int(iou.argmax()), iou.shape)
        pairs.append((int(row), int(column)))
        iou[row, :] = -1
        iou[:, column] = -1
    return pairs


def reference_identities(raw: list[np.ndarray], cuts: set[int], gap: int = 5) -> list[np.ndarray]:
    """Per frame, an identity for each detection: detections chained by IoU (see the module doc)."""
    chains: list[tuple[int, np.ndarray]] = []  # per identity: last frame seen, last box
    identities = []
    for index, boxes in enumerate(raw):
        if index in cuts:
            chains = [(-(10**9), box) for _, box in chains]  # nothing continues across a cut
        ids = np.full(len(boxes), -1)
        alive = [i for i, (last, _) in enumerate(chains) if index - last <= gap]
        if alive and len(boxes):
            iou = iou_matrix(np.array([chains[i][1] for i in alive]), boxes)
            for row, column in best_pairs(iou, 0.3):
                ids[column] = alive[row]
        for column in range(len(boxes)):
            if ids[column] < 0:
                ids[column] = len(chains)
                chains.append((index, boxes[column]))
            chains[ids[column]] = (index, boxes[column])
        identities.append(ids)
    return identities


def spin_rate(seconds: float = 0.2) -> float:
    """Turns per second of the spinning loop of :func:`gil_held`, alone."""
    done = threading.Event()
    timer = threading.Timer(seconds, done.set)
    turns, start = 0, time.perf_counter()
    timer.start()
    while not done.is_set():
        turns += 1
    return turns / (time.perf_counter() - start)


def gil_held(action: Callable[[], None], alone: float) -> tuple[float, float]:
    """Run ``action`` in a thread; how long this thread was kept from running meanwhile, and the action's duration.

    This thread spins, counting its turns; the time it lost is the action's
    duration times one minus its rate of turns against its rate ``alone``
    (:func:`spin_rate`). With the GIL held by the action throughout, it
    loses about the whole duration; with the GIL released, nearly nothing
    (when a core is free).
    """
    done = threading.Event()
    timing = {}

    def run() -> None:
        started = time.perf_counter()
        action()
        timing["duration"] = time.perf_counter() - started
        done.set()

    thread = threading.Thread(target=run)
    turns, start = 0, time.perf_counter()
    thread.start()
    while not done.is_set():
        turns += 1
    elapsed = time.perf_counter() - start
    thread.join()
    rate = turns / elapsed
    return timing["duration"] * max(0.0, 1.0 - rate / alone), timing["duration"]


def replay(frames, detections, cuts: set[int], period: int, follower: str | Follower) -> dict[str, float]:
    """One tracker over the clip, detections on one frame in ``period``: its metrics (see the module doc)."""
    tracker = FaceTracker(TrackerSettings(), follower=follower)
    raw = [d.data.get("raw_xyxy", d.xyxy) for d in detections]
    identity = reference_identities(raw, cuts)
    alone = spin_rate()
    countdown = 0
    cpu = gil = 0.0
    followed = 0
    ious: list[float] = []
    covered = total = 0
    seen: dict[int, list[int]] = {}  # reference identity -> track ids, in frame order
    owners: dict[int, set[int]] = {}  # track id -> reference identities
    all_ids: set[int] = set()
    for index, frame in enumerate(frames):
        if index in cuts:
            tracker.finish()
            countdown = 0
        given = None
        if countdown == 0:
            given = detections[index]
            countdown = period
        countdown -= 1
        if given is None:
            followed += sum(1 for track in tracker._tracks.values() if track.following)
            out = {}

            def step(frame=frame, out=out) -> None:
                started = time.thread_time()
                out["faces"] = tracker.update(frame, None)
                out["cpu"] = time.thread_time() - started

            held, _ = gil_held(step, alone)
            faces, cpu, gil = out["faces"], cpu + out["cpu"], gil + held
        else:
            faces = tracker.update(frame, given)
        boxes = faces.data["raw_xyxy"]
        iou = iou_matrix(boxes, raw[index])
        pairs = dict(best_pairs(iou, 0.5))
        if given is None:
            ious.extend(float(iou[i].max()) if iou.shape[1] else 0.0 for i in range(len(boxes)))
            covered += len(pairs)
            total += len(raw[index])
        for row, face_id in enumerate(int(i) for i in faces.data["face_id"]):
            all_ids.add(face_id)
            if row in pairs:
                ref = int(identity[index][pairs[row]])
                seen.setdefault(ref, []).append(face_id)
                owners.setdefault(face_id, set()).add(ref)
    tracker.finish()
    ious_array = np.array(ious)
    return {
        "ms/face": 1000 * cpu / max(followed, 1),
        "gil ms/face": 1000 * gil / max(followed, 1),
        "iou": float(ious_array.mean()) if len(ious) else float("nan"),
        "hit": float((ious_array >= 0.5).mean()) if len(ious) else float("nan"),
        "recall": covered / max(total, 1),
        "tracks": len(all_ids),
        "ids": len(seen),
        "frag": sum(len(set(ids)) - 1 for ids in seen.values()),
        "switch": sum(sum(a != b for a, b in zip(ids, ids[1:], strict=False)) for ids in seen.values()),
        "merge": sum(len(refs) - 1 for refs in owners.values()),
        "followed": followed,
    }


def accuracy(args: argparse.Namespace) -> None:
    analyzer = FaceAnalyzer(AnalysisOptions(threads=args.threads))
    columns = ["ms/face", "gil ms/face", "iou", "hit", "recall", "tracks", "ids", "frag", "switch", "merge", "followed"]
    print(f"{'clip':38s} {'fps':>6s} {'period':>6s} {'tracker':8s} " + " ".join(f"{c:>11s}" for c in columns))
    for clip in args.clips:
        path = Path(clip) if Path(clip).is_file() else args.videos / clip
        for fps_text in args.fps:
            fps = None if fps_text == "native" else float(fps_text)
            frames = list(VideoSource(path, fps=fps))
            cutter = ShotCutDetector()
            cuts = {i for i, frame in enumerate(frames) if cutter.update(frame.image)}
            detections = [analyzer.detect(frame.image) for frame in frames]
            for period in args.periods:
                for name in args.trackers:
                    metrics = replay(frames, detections, cuts, period, name)
                    print(f"{path.name[:38]:38s} {fps_text:>6s} {period:6d} {name:8s} "
                          + " ".join(f"{metrics[c]:11.3f}" if isinstance(metrics[c], float) else f"{metrics[c]:11d}"
                                     for c in columns), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", default=DEFAULT_CLIPS, help="file names in --videos, or paths")
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of the shared clips")
    parser.add_argument("--fps", nargs="+", default=["5", "native"], help="sampling rates ('native': every frame)")
    parser.add_argument("--periods", nargs="+", type=int, default=[5], help="detect periods of videotracking")
    parser.add_argument("--trackers", nargs="+", choices=TRACKERS, default=list(TRACKERS), help="trackers compared")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each configuration (the fastest counts)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: all cores)")
    parser.add_argument("--accuracy", action="store_true",
                        help="compare the trackers' boxes, identities and cost on replayed detections")
    args = parser.parse_args()
    (accuracy if args.accuracy else engines)(args)


if __name__ == "__main__":
    main()

"""Measure how well face embeddings separate identities, and what they cost per face.

Builds same-person and different-person pairs of faces from the shared media
(``../shared/media/videos``, ``../shared/eval/fairface540``) and compares
dlib's 128-d face-recognition ResNet
(``--dlib`` path of the ``.dat`` file) with the HSE network's 1024-d embedding
(:class:`~inafaceanalyzer.identity.HseEmbedder`, at several chip paddings),
each on aligned dlib chips fitted with the project's five-point landmarks.

Faces and labels:

- talking heads (one person per clip; ``--fps`` sampling, the largest face
  of each frame): the clip is the identity;
- the crowd and Hamilton clips, tracked by the ``videotracking`` engine at
  ``--track_fps``: faces of one track at least 0.4 s apart are one person;
  faces of two tracks seen in the same frame are two people;
- fairface540: the face nearest the image centre; every image is a
  different person (and none of them is in the clips).

Pairs: ``same`` = talking-head frames of one clip + one crowd/Hamilton track;
``different`` = two clips, clip vs FairFace, FairFace vs FairFace, and two
tracks on screen together. Printed per embedder: ROC AUC, equal error rate
and its threshold, the cosine distance at 1% and 0.1% false matches, the same
figures on track means (half a track against the other half, and two
co-occurring tracks), and CPU time per face (chip + network).

Usage::

    python benchmarks/identity_pairs.py --dlib /path/to/dlib_face_recognition_resnet_model_v1.dat
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd

from inafaceanalyzer import AnalysisOptions, FaceAnalyzer
from inafaceanalyzer.identity.embedders import FaceEmbedder, HseEmbedder, face_chips, normalise
from inafaceanalyzer.identity.people import LINK_THRESHOLD
from inafaceanalyzer.io import VideoSource, load_image
from inafaceanalyzer.tracking import TrackingStream

SHARED = Path(__file__).resolve().parents[2] / "shared"
HEADS = [
    "SadTalker__WDA_KatieHill_000.mp4",
    "SadTalker__WDA_BobMenendez_000.mp4",
    "video-retalking__face_1.mp4",
    "LivePortrait__d11.mp4",
    "LivePortrait__s13.mp4",
]
CROWDS = ["facenet-pytorch__video.mp4", "face_recognition__short_hamilton_clip.mp4"]


class DlibEmbedder(FaceEmbedder):
    """dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) on its 150x150 chip."""

    name = "dlib_resnet_v1"
    dim = 128

    def __init__(self, path: str) -> None:
        import dlib

        self._net = dlib.face_recognition_model_v1(path)

    def __call__(self, image, landmarks):  # noqa: ANN001, ANN204
        chips = list(face_chips(image, landmarks, 150, 0.25))
        if not chips:
            return np.zeros((0, self.dim), np.float32)
        return normalise(np.array([np.asarray(d) for d in self._net.compute_face_descriptor(chips)]))


class PaddedHse(HseEmbedder):
    """:class:`HseEmbedder` at another chip padding, on one thread."""

    def __init__(self, padding: float) -> None:
        super().__init__(threads=1, device="cpu")
        self.chip_padding = padding
        self.label = f"hse(pad {padding})"


def largest(faces):  # noqa: ANN001, ANN201
    raw = faces.data.get("raw_xyxy", faces.xyxy)
    return int(np.argmax((raw[:, 2] - raw[:, 0]) * (raw[:, 3] - raw[:, 1])))


def collect(analyzer: FaceAnalyzer, fps: float, track_fps: float) -> tuple[list[dict], list]:
    """Face records (group, kind, frame, time) and (image, landmarks) items, in the same order."""
    records, items = [], []
    for name in HEADS:
        for frame in VideoSource(SHARED / "media" / "videos" / name, fps=fps):
            faces = analyzer.detect(frame.image)
            if not len(faces):
                continue
            i = largest(faces)
            lm = analyzer.chips(frame.image, faces.data.get("raw_xyxy", faces.xyxy)[i : i + 1]).landmarks
            records.append({"group": name, "kind": "head", "frame": frame.index, "time": frame.time_s})
            items.append((frame.image, lm))
    for name in CROWDS:
        source = VideoSource(SHARED / "media" / "videos" / name, fps=track_fps)
        images: dict[int, np.ndarray] = {}

        def keep(frames, images=images):  # noqa: ANN001, ANN202
            for frame in frames:
                images[frame.index] = frame.image
                yield frame

        options = AnalysisOptions(engine="videotracking", fps=track_fps)
        for result in TrackingStream(analyzer, options)(keep(source)):
            image = images.pop(result.frame)
            for k, face_id in enumerate(result.faces.data["face_id"]):
                records.append({"group": f"{name}:{int(face_id)}", "kind": "track", "frame": result.frame,
                                "time": result.time_s, "clip": name})
                items.append((image, result.faces.alignment_points[k : k + 1]))
    labels = pd.read_csv(SHARED / "eval" / "fairface540" / "labels.csv")
    for path in labels["path"]:
        image = load_image(SHARED / "eval" / "fairface540" / path)
        faces = analyzer.detect(image)
        if not len(faces):
            continue
        centre = np.array(image.shape[1::-1]) / 2
        raw = faces.data.get("raw_xyxy", faces.xyxy)
        i = int(np.argmin(np.linalg.norm((raw[:, :2] + raw[:, 2:]) / 2 - centre, axis=1)))
        records.append({"group": path, "kind": "fairface", "frame": -1, "time": 0.0})
        items.append((image, analyzer.chips(image, raw[i : i + 1]).landmarks))
    return records, items


def pairs(records: pd.DataFrame, rng: np.random.Generator, limit: int = 20000) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (a, b) and labels (1 same person, 0 different)."""
    same, diff = [], []
    for _, group in records[records.kind == "head"].groupby("group"):
        same += list(itertools.combinations(group.index, 2))
    for _, group in records[records.kind == "track"].groupby("group"):
        for a, b in itertools.combinations(group.index, 2):
            if abs(records.time[a] - records.time[b]) >= 0.4:
                same.append((a, b))
    heads = records[records.kind == "head"]
    for (_, g1), (_, g2) in itertools.combinations(heads.groupby("group"), 2):
        diff += list(itertools.product(g1.index, g2.index))
    fair = records[records.kind == "fairface"].index
    diff += [(a, b) for a in heads.index for b in fair[::6]]
    diff += list(itertools.combinations(fair, 2))
    tracks = records[records.kind == "track"]
    for (_, frame_rows) in tracks.groupby(["clip", "frame"]):
        for a, b in itertools.combinations(frame_rows.index, 2):
            diff.append((a, b))
    out = []
    for label, chosen in ((1, same), (0, diff)):
        chosen = np.array(chosen)
        if len(chosen) > limit:
            chosen = chosen[rng.choice(len(chosen), limit, replace=False)]
        out.append((chosen, np.full(len(chosen), label)))
    return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])


def roc_figures(distance: np.ndarray, same: np.ndarray) -> dict[str, float]:
    """AUC (a same pair closer than a different one), EER and its threshold, distances at FAR 1% / 0.1%."""
    d_same, d_diff = np.sort(distance[same == 1]), np.sort(distance[same == 0])
    # AUC by ranks
    ranks = np.searchsorted(d_diff, d_same, side="left") + np.searchsorted(d_diff, d_same, side="right")
    auc = 1 - float(np.mean(ranks / 2) / len(d_diff))
    grid = np.unique(np.concatenate([d_same, d_diff]))
    far = np.searchsorted(d_diff, grid, side="right") / len(d_diff)
    frr = 1 - np.searchsorted(d_same, grid, side="right") / len(d_same)
    k = int(np.argmin(np.abs(far - frr)))
    return {
        "pairs_same": len(d_same), "pairs_diff": len(d_diff), "auc": 1 - auc if auc < 0.5 else auc,
        "eer": float((far[k] + frr[k]) / 2), "eer_threshold": float(grid[k]),
        "thr_far1%": float(np.quantile(d_diff, 0.01)), "thr_far0.1%": float(np.quantile(d_diff, 0.001)),
        "same_median": float(np.median(d_same)), "same_p95": float(np.quantile(d_same, 0.95)),
        "diff_median": float(np.median(d_diff)),
    }


def track_pairs(records: pd.DataFrame, emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distances between track means: first half vs second half (same), co-occurring tracks (different)."""
    distances, labels = [], []
    tracks = records[records.kind.isin(["track", "head"])]
    means = {}
    for group, rows in tracks.groupby("group"):
        idx = rows.sort_values("time").index.to_numpy()
        means[group] = normalise(emb[idx].mean(axis=0))
        if len(idx) >= 4:
            a, b = normalise(emb[idx[: len(idx) // 2]].mean(0)), normalise(emb[idx[len(idx) // 2 :]].mean(0))
            distances.append(1 - float(a @ b))
            labels.append(1)
    track_rows = records[records.kind == "track"]
    seen = set()
    for _, frame_rows in track_rows.groupby(["clip", "frame"]):
        for a, b in itertools.combinations(sorted(set(frame_rows.group)), 2):
            if (a, b) not in seen:
                seen.add((a, b))
                distances.append(1 - float(means[a] @ means[b]))
                labels.append(0)
    heads = sorted(set(records[records.kind == "head"].group))
    for a, b in itertools.combinations(heads, 2):
        distances.append(1 - float(means[a] @ means[b]))
        labels.append(0)
    return np.array(distances), np.array(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dlib", help="path of dlib_face_recognition_resnet_model_v1.dat (face_recognition_models "
                        "0.3.0 on PyPI); omitted: HSE only")
    parser.add_argument("--hse_padding", type=float, nargs="+", default=[0.25, 0.4])
    parser.add_argument("--fps", type=float, default=2.0, help="sampling of the talking heads")
    parser.add_argument("--track_fps", type=float, default=10.0, help="sampling of the tracked clips")
    parser.add_argument("--csv", type=Path, help="write the pair distances here")
    args = parser.parse_args()
    analyzer = FaceAnalyzer(AnalysisOptions(threads=1))
    records, items = collect(analyzer, args.fps, args.track_fps)
    frame = pd.DataFrame(records)
    print(f"faces: {len(frame)} ({frame.kind.value_counts().to_dict()}); "
          f"groups: {frame.group.nunique()}")
    embedders: list[FaceEmbedder] = [PaddedHse(p) for p in args.hse_padding]
    if args.dlib:
        embedders.append(DlibEmbedder(args.dlib))
    index, same = pairs(frame, np.random.default_rng(0))
    rows = []
    for embedder in embedders:
        started = time.process_time()
        emb = np.concatenate([embedder(image, lm) for image, lm in items])
        cpu_ms = 1000 * (time.process_time() - started) / len(items)
        distance = 1 - np.sum(emb[index[:, 0]] * emb[index[:, 1]], axis=1)
        figures = roc_figures(distance, same)
        crowd = np.array([frame.kind[a] == "track" for a, _ in index])
        harder = roc_figures(distance[crowd], same[crowd])
        tdist, tlabel = track_pairs(frame, emb)
        tfig = roc_figures(tdist, tlabel)
        rows.append({"embedder": getattr(embedder, "label", embedder.name), "cpu_ms_per_face": cpu_ms,
                     **{f"all_{k}": v for k, v in figures.items()},
                     **{f"crowd_{k}": v for k, v in harder.items()},
                     **{f"track_{k}": v for k, v in tfig.items()},
                     "track_same_max": float(tdist[tlabel == 1].max()),
                     "track_diff_min": float(tdist[tlabel == 0].min()),
                     f"track_same_under_{LINK_THRESHOLD:g}": float(np.mean(tdist[tlabel == 1] < LINK_THRESHOLD)),
                     f"track_diff_under_{LINK_THRESHOLD:g}": float(np.mean(tdist[tlabel == 0] < LINK_THRESHOLD))})
    table = pd.DataFrame(rows).set_index("embedder").T
    with pd.option_context("display.float_format", "{:.4f}".format, "display.max_rows", 200):
        print(table)


if __name__ == "__main__":
    main()

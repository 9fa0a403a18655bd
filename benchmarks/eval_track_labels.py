"""Gender accuracy per track, per person and women's screen time against hand-labelled tracks.

The labels (``benchmarks/track_labels.csv``, made as ``track_labels.md`` says)
are keyed by time span and position, not by ``face_id``: each produced track
is given the label whose span it overlaps and whose centre is nearest (within
one median face size); a labelled track may be covered by several produced
tracks. Labels with ``gender == "?"`` are matched but not scored.

    python benchmarks/eval_track_labels.py --classifier FusedGenderAge
    python benchmarks/eval_track_labels.py --classifier CydralGenderAge
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

from inafaceanalyzer.cli.analyze import main as analyze

HERE = Path(__file__).resolve().parent
CLIPS = {
    "facenet-pytorch__video.mp4": HERE.parents[1] / "shared" / "media" / "videos" / "facenet-pytorch__video.mp4",
    "hamilton_clip.mp4": HERE.parent / "media" / "hamilton_clip.mp4",
}


def match(labels: pd.DataFrame, faces: pd.DataFrame, tracks: pd.DataFrame) -> pd.DataFrame:
    """``tracks`` with the index (``label``) of the labelled track each one covers, or -1."""
    faces = faces.assign(cx=(faces.left + faces.right) / 2, cy=(faces.top + faces.bottom) / 2)
    chosen = []
    for track in tracks.itertuples(index=False):
        rows = faces[faces.face_id == track.face_id]
        best, best_distance = -1, float("inf")
        for index, label in labels.iterrows():
            inside = rows[(rows.frame >= label.first_frame) & (rows.frame <= label.last_frame)]
            if inside.empty:
                continue
            distance = ((inside.cx.mean() - label.center_x) ** 2 + (inside.cy.mean() - label.center_y) ** 2) ** 0.5
            if distance <= track.median_face_size and distance < best_distance:
                best, best_distance = index, distance
        chosen.append(best)
    return tracks.assign(label=chosen)


def evaluate(clip: str, labels: pd.DataFrame, tables: Path) -> dict[str, pd.DataFrame]:
    stem = Path(clip).stem
    faces = pd.read_csv(tables / f"{stem}.csv")
    tracks = match(labels, faces, pd.read_csv(tables / f"{stem}.tracks.csv"))
    tracks["gender"] = [labels.loc[i, "gender"] if i >= 0 else "" for i in tracks.label]
    people = pd.read_csv(tables / f"{stem}.people.csv")
    return {"tracks": tracks.assign(clip=clip), "people": people.assign(clip=clip)}


def summary(tracks: pd.DataFrame, people: pd.DataFrame, labels: pd.DataFrame) -> dict[str, object]:
    scored = tracks[tracks.gender.isin(["f", "m"])]
    right = scored.sex_label_avg == scored.gender
    covered = {(c, i) for c, i in zip(tracks["clip"], tracks.label, strict=True) if i >= 0}
    # a person's label: the label of most of its labelled frames
    person_rows = []
    for (clip, pid), group in scored.groupby(["clip", "person_id"]):
        truth = group.groupby("gender").n_frames.sum().idxmax()
        predicted = people[(people["clip"] == clip) & (people.person_id == pid)].sex_label_avg.iloc[0]
        person_rows.append(predicted == truth)
    time = scored.duration_s.where(scored.duration_s > 0, 0.2)
    return {
        "labels": len(labels),
        "labels_covered": len(covered),
        "tracks_scored": len(scored),
        "track_accuracy_%": round(100.0 * float(right.mean()), 1),
        "people_scored": len(person_rows),
        "person_accuracy_%": round(100.0 * float(sum(person_rows) / max(len(person_rows), 1)), 1),
        "women_time_labelled_%": round(100.0 * float(time[scored.gender == "f"].sum() / time.sum()), 1),
        "women_time_predicted_%": round(100.0 * float(time[scored.sex_label_avg == "f"].sum() / time.sum()), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier", default="FusedGenderAge")
    parser.add_argument("--labels", type=Path, default=HERE / "track_labels.csv")
    parser.add_argument("--clips", nargs="*", default=list(CLIPS))
    args = parser.parse_args(argv)
    labels = pd.read_csv(args.labels, dtype={"gender": str, "age_band": str})
    all_tracks, all_people, used = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in args.clips:
            inputs = ["--engine", "videotracking", "--fps", "5", "--classifier", args.classifier]
            if analyze([*inputs, "-i", str(CLIPS[clip]), "-o", tmp]) != 0:
                print(f"analysis of {clip} failed", file=sys.stderr)
                return 1
            mine = labels[labels["clip"] == clip]
            result = evaluate(clip, mine, Path(tmp))
            all_tracks.append(result["tracks"])
            all_people.append(result["people"])
            used.append(mine)
            print(clip, summary(result["tracks"], result["people"], mine))
    print("all", summary(pd.concat(all_tracks), pd.concat(all_people), pd.concat(used)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

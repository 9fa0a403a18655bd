"""CPU time of the statistics table on a synthetic hour of tracked video (prints numbers; not a test).

``python benchmarks/bench_stats.py [--tracks 3000] [--resamples 1000]``: an hour at 5 fps with
``--tracks`` tracks of 1 to 60 s, so about 300,000 face rows; the table with 1,000 resamples,
the error rates drawn inside each.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd

from inafaceanalyzer import face_statistics
from inafaceanalyzer.export.timeline import AnalysedFrames


def synthetic_hour(tracks: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    period = 0.2
    starts = rng.integers(0, int(3600 / period), tracks)
    lengths = rng.integers(5, 300, tracks)
    track = np.repeat(np.arange(tracks), lengths)
    frame = np.repeat(starts, lengths) + np.concatenate([np.arange(n) for n in lengths])
    keep = frame < int(3600 / period)
    track, frame = track[keep], frame[keep]
    woman = rng.random(tracks) < 0.4
    return pd.DataFrame({
        "frame": frame, "bbox": "(0, 0, 100, 100)", "face_id": track, "time_s": np.round(frame * period, 6),
        "sex_label_avg": np.where(woman[track], "f", "m"), "sex_decfunc_avg": np.where(woman[track], -2.0, 2.0),
        "age_label_avg": rng.uniform(5, 85, tracks)[track], "face_size": rng.uniform(20, 300, len(track)),
        "reliable": rng.random(len(track)) > 0.1,
    })


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracks", type=int, default=3000)
    parser.add_argument("--resamples", type=int, default=1000)
    args = parser.parse_args()
    table = synthetic_hour(args.tracks)
    analysed = AnalysedFrames.from_times(np.round(np.arange(0, 3600, 0.2), 6), 3600.0)
    cpu, wall = time.process_time(), time.perf_counter()
    stats = face_statistics(table, analysed=analysed, resamples=args.resamples)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    women = stats[(stats.gender == "f") & (stats.age_group == "all")].iloc[0]
    print(f"{len(table):,} faces, {args.tracks:,} tracks, {args.resamples} resamples: "
          f"CPU {cpu:.2f} s, wall {wall:.2f} s, peak RSS {peak:.0f} MB; "
          f"women {women.share:.3f} [{women.share_low:.3f}, {women.share_high:.3f}]")


if __name__ == "__main__":
    main()

"""Representation statistics (inafaceanalyzer.stats, ina_face_stats, --stats) on real media and simulations."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from inafaceanalyzer import AnalysisOptions, face_statistics, run_batch
from inafaceanalyzer.cli import stats as stats_cli
from inafaceanalyzer.export.options import ExportOptions

from .clips import write_clip
from .conftest import BUNDLED, SHARED_VIDEOS

pytestmark = pytest.mark.shared_media

KATIE = SHARED_VIDEOS / "SadTalker__WDA_KatieHill_000.mp4"  # woman
BOB = SHARED_VIDEOS / "SadTalker__WDA_BobMenendez_000.mp4"  # man
RETALK = SHARED_VIDEOS / "video-retalking__face_1.mp4"  # young man
#: (source, first second, gender): pieces of known gender joined back to back, 60 frames (2.4 s) each at 25 fps
PIECES = ((KATIE, 0.0, "f"), (BOB, 0.0, "m"), (KATIE, 4.0, "f"), (RETALK, 0.0, "m"), (BOB, 4.0, "m"))
PEOPLE = len({source for source, _, _ in PIECES})  # 3: the tracking engine links the tracks of one person
PIECE_FRAMES, RATE, SIDE = 60, 25, 512


def _frames(source: Path, start: float, count: int):
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is None or frame.time < start - 1e-6:
                continue
            yield frame.to_image().resize((SIDE, SIDE))
            count -= 1
            if count == 0:
                return


def build_talking_heads(path: Path) -> dict[str, float]:
    """The clip of :data:`PIECES` (H.264 by PyAV, 25 fps); returns the seconds of each gender on screen."""
    truth = {"f": 0.0, "m": 0.0}

    def frames():
        for source, start, gender in PIECES:
            yield from _frames(source, start, PIECE_FRAMES)
            truth[gender] += PIECE_FRAMES / RATE

    write_clip(path, frames(), rate=RATE, codec="libx264", time_base=Fraction(1, RATE))
    return truth


@pytest.fixture(scope="module")
def talking_heads(tmp_path_factory):
    """The clip analysed with tracking at 5 fps and --stats: (output folder, truth)."""
    folder = tmp_path_factory.mktemp("heads")
    clip = folder / "heads.mp4"
    truth = build_talking_heads(clip)
    out = folder / "out"
    report = run_batch([str(clip)], out, AnalysisOptions(engine="videotracking", fps=5),
                       exports=ExportOptions(stats=True))
    assert report.ok, report.failures
    return out, truth


def _row(stats: pd.DataFrame, gender: str, age_group: str = "all", group: str | None = None) -> pd.Series:
    rows = stats[(stats["gender"] == gender) & (stats["age_group"] == age_group)]
    if group is not None:
        rows = rows[rows["group"] == group]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_talking_heads_share_of_women_matches_the_truth(talking_heads):
    out, truth = talking_heads
    stats = pd.read_csv(out / "heads.stats.csv")
    women = _row(stats, "f")
    expected = truth["f"] / (truth["f"] + truth["m"])
    assert abs(women["share"] - expected) <= 0.02, (women["share"], expected)
    assert women["share_low"] <= expected <= women["share_high"]
    men = _row(stats, "m")
    assert men["share"] == pytest.approx(1 - women["share"])
    # one face on screen at all times: the face-seconds are the clip's length, within one period per track
    everyone = _row(stats, "all")
    assert everyone["n_tracks"] == len(PIECES)
    assert abs(everyone["face_seconds"] - sum(truth.values())) <= everyone["n_tracks"] * 0.2
    # people are resampled, not tracks: the two pieces of Katie (and of Bob) are one person each
    assert everyone["resampling_unit"] == "person" and everyone["n_units"] == everyone["n_people"] == PEOPLE
    # every row sums up: age bands add to "all", women and men to everyone
    bands = stats[(stats["gender"] == "f") & (stats["age_group"] != "all")]
    assert bands["face_seconds"].sum() == pytest.approx(women["face_seconds"])
    assert women["face_seconds"] + men["face_seconds"] == pytest.approx(everyone["face_seconds"])
    meta = json.loads((out / "heads.stats.meta.json").read_text())
    assert meta["resampling_unit"] == "person" and meta["resamples"] == 1000
    assert "cross-validation" in meta["error_rates"]["method"]
    assert (out / "batch.stats.csv").is_file()


def test_ina_face_stats_recomputes_the_table_from_the_files(talking_heads, tmp_path):
    out, _ = talking_heads
    target = tmp_path / "again.csv"
    assert stats_cli.main(["-i", *map(str, out.glob("*.csv")), "-o", str(target), "-q"]) == 0
    again, first = pd.read_csv(target), pd.read_csv(out / "heads.stats.csv")
    assert set(again["group"]) == {"heads"}  # the tracks and stats tables beside it are skipped
    for gender in ("f", "m"):  # the sampling inferred from the table: the run's numbers, but the last frame's hold
        assert _row(again, gender)["share"] == pytest.approx(_row(first, gender)["share"], abs=0.01)
        assert _row(again, gender)["face_seconds"] == pytest.approx(_row(first, gender)["face_seconds"], abs=0.5)
    # reproducible: the same inputs give the same intervals
    assert stats_cli.main(["-i", str(out / "heads.csv"), "-o", str(tmp_path / "b.csv"), "-q"]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "b.csv"), again)


@pytest.mark.logs_errors
def test_ina_face_stats_usage_errors(tmp_path, talking_heads, capsys):
    out, _ = talking_heads
    table = str(out / "heads.csv")
    for argv in (["-o", str(tmp_path / "s.txt")], ["--age_groups", "35,20"], ["--error_rates", str(tmp_path / "no.json")],
                 ["--groups", str(tmp_path / "missing.csv")]):
        with pytest.raises(SystemExit) as stop:
            stats_cli.main(["-i", table, "-q", *(["-o", str(tmp_path / "s.csv")] if argv[0] != "-o" else []), *argv])
        assert stop.value.code == 2
    assert "--age_groups" in capsys.readouterr().err
    broken = tmp_path / "broken.csv"
    broken.write_text("not,a\nresults,table\n")
    assert stats_cli.main(["-i", table, str(broken), "-o", str(tmp_path / "s.csv"), "-q"]) == 1
    assert (tmp_path / "s.csv").is_file()  # the good table is counted all the same


@pytest.fixture(scope="module")
def hamilton(tmp_path_factory):
    """The bundled Hamilton clip (dark shots: unreliable faces) analysed with tracking at 5 fps, with --stats."""
    out = tmp_path_factory.mktemp("hamilton")
    report = run_batch([str(BUNDLED / "hamilton_clip.mp4")], out, AnalysisOptions(engine="videotracking", fps=5),
                       exports=ExportOptions(stats=True))
    assert report.ok, report.failures
    return out


def test_unreliable_faces_are_kept_apart(hamilton):
    stats = pd.read_csv(hamilton / "hamilton_clip.stats.csv")
    frames = pd.read_csv(hamilton / "hamilton_clip.csv")
    tracks = pd.read_csv(hamilton / "hamilton_clip.tracks.csv")
    unreliable = ~frames["reliable"].astype(bool)
    assert unreliable.any(), "the dark shots give unreliable faces"
    women = _row(stats, "f")
    assert _row(stats, "all")["unreliable_face_seconds"] > 0
    assert _row(stats, "all")["unreliable_faces"] == unreliable.sum()
    # counting every face moves the share; the reported one is the share of the reliable faces alone
    every = frames.assign(reliable=True)
    all_faces = _row(face_statistics(every, tracks, name="x", resamples=10), "f")["share"]
    assert abs(all_faces - women["share"]) > 0.005, (all_faces, women["share"])
    # dropping the unreliable rows leaves the reported share as it is (their time is not anyone's)
    from inafaceanalyzer.export.render import resolve_analysed_frames

    analysed = resolve_analysed_frames(frames, None)  # the analysed frames of the whole table
    reliable_only = face_statistics(frames[~unreliable], tracks, analysed=analysed, name="x", resamples=10)
    assert _row(reliable_only, "f")["share"] == pytest.approx(women["share"], abs=0.01)


def test_groups_over_several_videos(talking_heads, hamilton, tmp_path):
    heads, _ = talking_heads
    folder = tmp_path / "tables"
    folder.mkdir()
    for name, (source, stem) in {"ep1": (heads, "heads"), "ep2": (heads, "heads"),
                                 "ep3": (hamilton, "hamilton_clip")}.items():
        for kind in ("", ".tracks"):
            (folder / f"{name}{kind}.csv").write_bytes((source / f"{stem}{kind}.csv").read_bytes())
    groups = tmp_path / "programmes.csv"
    groups.write_text("video,channel,programme\nep1.mp4,x,A\nep2,x,A\nep3,y,B\n")
    target = tmp_path / "stats.parquet"
    argv = ["-i", *map(str, sorted(folder.glob("*.csv"))), "--groups", str(groups), "--group_by", "programme",
            "--age_groups", "30,60", "-o", str(target), "-q"]
    assert stats_cli.main(argv) == 0
    stats = pd.read_parquet(target)
    assert set(stats["group"]) == {"A", "B", "(all)"}
    assert set(stats["age_group"]) == {"all", "0-29", "30-59", "60+"}
    one = pd.read_csv(heads / "heads.stats.csv")
    ham = pd.read_csv(hamilton / "hamilton_clip.stats.csv")
    for gender in ("f", "m", "all"):
        a, b, total = (_row(stats, gender, group=g) for g in ("A", "B", "(all)"))
        assert a["face_seconds"] == pytest.approx(2 * _row(one, gender)["face_seconds"], abs=1.0)
        assert b["face_seconds"] == pytest.approx(_row(ham, gender)["face_seconds"], abs=0.5)
        assert total["face_seconds"] == pytest.approx(a["face_seconds"] + b["face_seconds"])
    assert _row(stats, "f", group="A")["n_units"] == 2 * PEOPLE  # the people of both episodes (ids are per video)
    assert json.loads((tmp_path / "stats.meta.json").read_text())["group_by"] == "programme"
    # a video the groups file does not name is a usage error
    groups.write_text("video,programme\nep1,A\n")
    with pytest.raises(SystemExit) as stop:
        stats_cli.main(argv[:-3] + ["-o", str(tmp_path / "other.csv"), "-q"])
    assert stop.value.code == 2


def test_bias_correction_recovers_a_simulated_truth(tmp_path):
    """Tracks of known gender, labels drawn with known error rates per age band: the corrected share
    finds the truth within its interval, the raw share does not."""
    rng = np.random.default_rng(7)
    se = {10.0: 0.70, 40.0: 0.95}  # P(called a woman | woman), for children and adults
    sp = {10.0: 0.90, 40.0: 0.85}  # P(called a man | man)
    rows, true_female, total = [], 0.0, 0.0
    for track in range(600):
        age = 10.0 if track % 3 == 0 else 40.0
        woman = rng.random() < 0.35
        called_f = rng.random() < (se[age] if woman else 1 - sp[age])
        frames = int(rng.integers(3, 15))
        for k in range(frames):
            rows.append({"frame": 0, "bbox": "(0, 0, 150, 150)", "face_id": track, "time_s": round(track * 4 + k * 0.2, 1),
                         "sex_label_avg": "f" if called_f else "m", "age_label_avg": age, "face_size": 150.0,
                         "sex_decfunc_avg": -2.0 if called_f else 2.0, "reliable": True})
        true_female += frames * 0.2 * woman
        total += frames * 0.2
    truth = true_female / total
    cells = []
    for band, age in enumerate((10.0, 40.0)):
        n = 400
        cells.append({"age_band": band, "size_band": 0, "n_female": n, "female_as_female": int(rng.binomial(n, se[age])),
                      "n_male": n, "male_as_male": int(rng.binomial(n, sp[age]))})
    rates_file = tmp_path / "Sim.error_rates.json"
    rates_file.write_text(json.dumps({"classifier": "Sim", "dataset": "simulated", "method": "simulated",
                                      "age_bands": [0, 20], "size_bands": [0], "cells": cells}))
    from inafaceanalyzer.stats import load_error_rates

    frames = pd.DataFrame(rows)
    analysed = np.round(np.arange(0, 600 * 4, 0.2), 1)
    from inafaceanalyzer.export.timeline import AnalysedFrames

    stats = face_statistics(frames, analysed=AnalysedFrames.from_times(analysed, 600 * 4),
                            error_rates=load_error_rates(rates_file))
    women = _row(stats, "f")
    assert not women["share_low"] <= truth <= women["share_high"], (truth, women["share"])  # the raw share is biased
    assert women["share_adjusted_low"] <= truth <= women["share_adjusted_high"], (truth, women.to_dict())
    assert abs(women["share_adjusted"] - truth) < abs(women["share"] - truth)
    assert stats.attrs["resampling_unit"] == "track"


def test_image_engine_counts_faces(tmp_path):
    from .conftest import FAMILY, INDIA

    table = tmp_path / "faces.parquet"
    report = run_batch([str(INDIA), str(FAMILY)], table, AnalysisOptions(engine="image"),
                       exports=ExportOptions(stats=True, table_format="parquet"))
    assert report.ok, report.failures
    faces = pd.read_parquet(table)
    stats = pd.read_parquet(tmp_path / "faces.stats.parquet")
    everyone = _row(stats, "all")
    assert (stats["measure"] == "faces").all() and stats["face_seconds"].isna().all()
    assert everyone["n_faces"] == faces["reliable"].sum() and everyone["unreliable_faces"] == (~faces["reliable"]).sum()
    assert everyone["resampling_unit"] == "image" and everyone["n_units"] == 2
    women = _row(stats, "f")
    reliable = faces[faces["reliable"]]
    assert women["share"] == pytest.approx((reliable["sex_label"] == "f").mean())
    assert json.loads((tmp_path / "faces.stats.meta.json").read_text())["measure"] == "faces"


def test_a_video_without_faces_gives_zeros_and_no_shares():
    from inafaceanalyzer import COLUMNS
    from inafaceanalyzer.export.timeline import AnalysedFrames

    empty = pd.DataFrame(columns=list(COLUMNS["video"]))
    stats = face_statistics(empty, analysed=AnalysedFrames.from_times([0.0, 0.5, 1.0], 1.5), name="empty")
    assert len(stats) == 3 * 6 and (stats["face_seconds"] == 0).all() and stats["share"].isna().all()
    assert (stats["resampling_unit"] == "time_block").all() and (stats["n_units"] == 0).all()


def test_people_are_resampled_when_identities_exist():
    """With a person_id column (people linked across shots), the unit is the person and people are counted."""
    from inafaceanalyzer.export.timeline import AnalysedFrames

    rows = []
    for track, person, gender in ((0, 0, "f"), (1, 1, "m"), (2, 0, "f"), (3, 2, "m"), (4, 0, "f")):
        for k in range(10):
            rows.append({"frame": 0, "bbox": "(0, 0, 120, 120)", "face_id": track, "person_id": person,
                         "time_s": round(track * 2 + k * 0.2, 1), "sex_label_avg": gender, "age_label_avg": 40.0,
                         "sex_decfunc_avg": -3.0 if gender == "f" else 3.0, "face_size": 120.0, "reliable": True})
    analysed = AnalysedFrames.from_times(np.round(np.arange(0, 10, 0.2), 1), 10.0)
    stats = face_statistics(pd.DataFrame(rows), analysed=analysed)
    women = _row(stats, "f")
    assert (women["resampling_unit"], women["n_units"], women["n_people"], women["n_tracks"]) == ("person", 3, 1, 3)
    assert women["share"] == pytest.approx(0.6)
    assert stats.attrs["resampling_unit"] == "person"

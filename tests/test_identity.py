"""People: tracks linked into persons by their face embeddings (``inafaceanalyzer.identity``).

Clips built here from the shared talking heads (provenance in
../shared/media/videos/README.md: SadTalker__WDA_KatieHill_000.mp4, a woman,
and SadTalker__WDA_BobMenendez_000.mp4, a man, 512x512 each, one person per
clip): Katie, then Bob, then Katie again from later in her clip; and the two
side by side, then each alone. The crowd clip (facenet-pytorch__video.mp4)
is used as it is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inafaceanalyzer import AnalysisOptions
from inafaceanalyzer.errors import OptionsError
from inafaceanalyzer.identity import (
    PEOPLE_COLUMNS,
    PersonLinker,
    apply_person_overrides,
    people_path,
    read_person_overrides,
)
from inafaceanalyzer.identity.embedders import hse_embedder
from inafaceanalyzer.identity.people import embeddings_path
from inafaceanalyzer.pipeline.results import COLUMNS
from inafaceanalyzer.runs import analyze_video_to_files
from inafaceanalyzer.tracking import TRACK_COLUMNS, tracks_path
from inafaceanalyzer.tracking.smoothing import TrackStats, averages_of

from . import clips
from .clips import clip_frames
from .conftest import SHARED_VIDEOS

KATIE = SHARED_VIDEOS / "SadTalker__WDA_KatieHill_000.mp4"
BOB = SHARED_VIDEOS / "SadTalker__WDA_BobMenendez_000.mp4"
CROWD = SHARED_VIDEOS / "facenet-pytorch__video.mp4"
RATE = 25


def write_clip(destination: Path, images) -> Path:
    """RGB images re-encoded as an MPEG-4 clip at 25 fps."""
    return clips.write_clip(destination, images, rate=RATE, options={"qscale": "3"})


def _alone(image: np.ndarray, right: bool) -> np.ndarray:
    canvas = np.full((image.shape[0], 2 * image.shape[1], 3), 40, dtype=np.uint8)
    x = image.shape[1] if right else 0
    canvas[:, x : x + image.shape[1]] = image
    return canvas


@pytest.fixture(scope="module")
def analysed(tmp_path_factory, analyzer):
    """``analysed(name) -> (frames, tracks, people, table path)`` of the clips built here, at 5 fps, cached."""
    folder = tmp_path_factory.mktemp("people")
    builders = {
        # Katie's first 2.5 s, Bob's first 2.5 s, Katie again from 5 s to 8 s
        "aba": lambda: [*clip_frames(KATIE, 0, 2.5), *clip_frames(BOB, 0, 2.5), *clip_frames(KATIE, 5, 8)],
        # both side by side for 3 s, then Bob alone on the left, then Katie alone on the right
        "together": lambda: [
            *(np.concatenate([a, b], axis=1) for a, b in zip(clip_frames(KATIE, 0, 3), clip_frames(BOB, 0, 3), strict=False)),
            *(_alone(b, right=False) for b in clip_frames(BOB, 5, 7)),
            *(_alone(a, right=True) for a in clip_frames(KATIE, 5, 7)),
        ],
    }
    cache: dict[str, tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Path]] = {}

    def run(name: str):
        if name not in cache:
            clip = write_clip(folder / f"{name}.mp4", builders[name]()) if name in builders else CROWD
            table = folder / f"{Path(clip).stem}.csv"
            options = AnalysisOptions(engine="videotracking", fps=5, detect_period=3, embeddings=True)
            analyze_video_to_files(str(clip), table, options, analyzer)
            cache[name] = (pd.read_csv(table), pd.read_csv(tracks_path(table)), pd.read_csv(people_path(table)), table)
        return cache[name]

    return run


def _person_of_rows(frames: pd.DataFrame, time_from: float, time_to: float) -> set[int]:
    rows = frames[(frames.time_s >= time_from) & (frames.time_s < time_to)]
    return set(rows.person_id.astype(int))


@pytest.mark.shared_media
def test_a_person_seen_again_after_another_keeps_their_person_id(analysed):
    frames, tracks, people, _ = analysed("aba")
    assert list(frames.columns) == list(COLUMNS["videotracking"])
    assert list(tracks.columns) == list(TRACK_COLUMNS)
    assert list(people.columns) == list(PEOPLE_COLUMNS)
    # the clip: Katie until 2.52 s (63 frames at 25 fps), Bob until 5.04 s, Katie again
    first, bob, again = _person_of_rows(frames, 0, 2.5), _person_of_rows(frames, 2.6, 5), _person_of_rows(frames, 5.2, 9)
    assert first == again == {0}, (first, bob, again)
    assert bob == {1}
    assert len(tracks) >= 3  # the cuts end the tracks: one person, several tracks
    assert list(people.person_id) == [0, 1]
    katie = people.set_index("person_id").loc[0]
    assert katie.n_tracks == (tracks.person_id == 0).sum() >= 2
    assert katie.sex_label_avg == "f" and people.set_index("person_id").loc[1].sex_label_avg == "m"
    # screen time: the person's tracks, about 2.5 s + 3 s
    assert katie.screen_time_s == pytest.approx(tracks[tracks.person_id == 0].duration_s.sum())
    assert 5.0 <= katie.screen_time_s <= 5.8
    assert katie.thumbnail_face_id in set(tracks[tracks.person_id == 0].face_id)
    # the frame table and the table of tracks agree
    merged = frames.merge(tracks[["face_id", "person_id"]], on="face_id", suffixes=("", "_track"))
    assert (merged.person_id == merged.person_id_track).all()


@pytest.mark.shared_media
def test_two_people_on_screen_together_are_two_people_found_again_alone(analysed):
    frames, tracks, people, _ = analysed("together")
    together = frames[frames.time_s < 3]
    assert (together.groupby("frame").person_id.nunique() == together.groupby("frame").size()).all()
    left = set(together[together.left < 512].person_id)
    right = set(together[together.left >= 512].person_id)
    assert len(left) == len(right) == 1 and left != right
    assert _person_of_rows(frames, 3.2, 5) == right  # Bob, now alone on the left
    assert _person_of_rows(frames, 5.2, 7.2) == left  # Katie, now alone on the right
    assert len(people) == 2


@pytest.mark.shared_media
def test_the_crowd_gives_fewer_people_than_tracks_and_never_one_person_twice_in_a_frame(analysed):
    frames, tracks, people, _ = analysed("crowd")
    assert len(people) < len(tracks)
    assert people.n_tracks.sum() == len(tracks)
    assert (frames.groupby("frame").person_id.nunique() == frames.groupby("frame").size()).all()
    # ids in order of first appearance
    firsts = frames.groupby("person_id").frame.min().sort_index()
    assert firsts.is_monotonic_increasing
    assert sorted(people.person_id) == list(range(len(people)))


@pytest.mark.shared_media
def test_embeddings_are_written_only_when_asked(tmp_path, analyzer):
    clip = write_clip(tmp_path / "katie.mp4", clip_frames(KATIE, 0, 1.6))
    plain = tmp_path / "plain" / "katie.csv"
    plain.parent.mkdir()
    analyze_video_to_files(str(clip), plain, AnalysisOptions(engine="videotracking", fps=5), analyzer)
    assert people_path(plain).is_file() and not embeddings_path(plain).exists()
    saved = tmp_path / "saved" / "katie.csv"
    saved.parent.mkdir()
    options = AnalysisOptions(engine="videotracking", fps=5, embeddings=True)
    analyze_video_to_files(str(clip), saved, options, analyzer)
    with np.load(embeddings_path(saved)) as data:
        tracks = pd.read_csv(tracks_path(saved))
        assert list(data["face_id"]) == list(tracks.face_id)
        assert list(data["person_id"]) == list(tracks.person_id)
        assert data["embedding"].shape == (len(tracks), 1024)
        assert np.allclose(np.linalg.norm(data["embedding"], axis=1), 1, atol=1e-5)
    with pytest.raises(OptionsError, match="videotracking"):  # the other engines need an embedding classifier
        AnalysisOptions(engine="video", classifier="CydralGenderAge", embeddings=True)


@pytest.mark.shared_media
def test_render_applies_person_overrides_and_says_so(analysed, tmp_path):
    from inafaceanalyzer.cli.render import main

    _, _, people, table = analysed("aba")
    fix = _write(tmp_path, "1,f,33\n")  # Bob (person 1) called a woman of 33, to see it applied
    out = tmp_path / "out"
    assert main(["--no_progress", "--html_report", "-i", str(table), "--person_overrides", str(fix), "-o", str(out)]) == 0
    page = (out / f"{table.stem}.html").read_text(encoding="utf-8")
    assert "corrected by the user (overrides.csv)" in page
    plain = tmp_path / "plain"
    assert main(["--no_progress", "--html_report", "-i", str(table), "-o", str(plain)]) == 0
    assert "corrected by the user" not in (plain / f"{table.stem}.html").read_text(encoding="utf-8")
    with pytest.raises(SystemExit) as stop:
        main(["--html_report", "-i", str(table), "--person_overrides", str(tmp_path / "none.csv"), "-o", str(out)])
    assert stop.value.code == 2


@pytest.mark.shared_media
def test_stats_apply_person_overrides_and_say_so(analysed, tmp_path):
    import json

    from inafaceanalyzer.cli.stats import main

    _, _, _, table = analysed("aba")
    fix = _write(tmp_path, "1,f,33\n")  # Bob (person 1) called a woman: then every face is a woman's
    plain, fixed = tmp_path / "plain.csv", tmp_path / "fixed.csv"
    assert main(["-q", "-i", str(table), "-o", str(plain)]) == 0
    assert main(["-q", "-i", str(table), "--person_overrides", str(fix), "-o", str(fixed)]) == 0
    women = {name: pd.read_csv(path).query("gender == 'f' and age_group == 'all'").iloc[0]
             for name, path in (("plain", plain), ("fixed", fixed))}
    assert women["plain"].share < 0.9 and women["fixed"].share == pytest.approx(1.0)
    assert women["fixed"].face_seconds > women["plain"].face_seconds
    assert json.loads(fixed.with_name("fixed.meta.json").read_text())["person_overrides"] == str(fix)
    with pytest.raises(SystemExit) as stop:  # overrides are one video's: one table
        main(["-q", "-i", str(table), str(table), "--person_overrides", str(fix), "-o", str(fixed)])
    assert stop.value.code == 2


@pytest.mark.shared_media
def test_people_are_linked_across_videos_from_their_embeddings(analysed, tmp_path, capsys):
    from inafaceanalyzer.cli.people import main

    aba_frames, _, _, aba = analysed("aba")
    together_frames, _, _, together = analysed("together")
    out = tmp_path / "global.csv"
    tracks_table = tracks_path(aba)  # side tables among the inputs are skipped
    assert main(["-q", "-i", str(aba), str(together), str(tracks_table), "-o", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == ["video", "person_id", "global_id", "n_tracks"]
    ids = {(row.video, row.person_id): row.global_id for row in table.itertuples()}
    katie_there = int(together_frames[together_frames.left < 512].person_id.iloc[0])
    assert ids[(aba.stem, 0)] == ids[(together.stem, katie_there)] == 0
    assert ids[(aba.stem, 1)] == ids[(together.stem, 1 - katie_there)] == 1
    # a table without embeddings fails, named; the others are still linked
    bare = tmp_path / "bare.csv"
    bare.write_text("frame\n")
    assert main(["-q", "-i", str(aba), str(bare), "-o", str(out)]) == 1
    assert "bare.csv" in capsys.readouterr().err and len(pd.read_csv(out)) == 2
    with pytest.raises(SystemExit) as stop:  # never overwrite what is not ours
        main(["-q", "-i", str(aba), "-o", str(bare)])
    assert stop.value.code == 2 and bare.read_text() == "frame\n"


def _stats(face_id: int, p_male: float, age: float, weight: float) -> TrackStats:
    stats = TrackStats(face_id)
    stats.add_predictions(np.array([weight]), np.array([p_male]), np.array([age]))
    return stats


def _summary(stats: TrackStats, first: int, last: int, n_frames: int, start: float, duration: float) -> dict:
    return {"face_id": stats.face_id, "first_frame": first, "last_frame": last, "n_frames": n_frames,
            "start_s": start, "duration_s": duration, **stats.averages()}


def test_linking_respects_time_overlap_and_gives_short_tracks_their_persons_values():
    linker = PersonLinker(hse_embedder(), averages_of)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=1024), rng.normal(size=1024)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    # tracks 0 and 1 overlap in time and look alike: two people all the same
    for face_id, vector in ((0, a), (1, a), (2, a + 0.05 * b), (3, b)):
        linker.add_faces([face_id], vector[None].astype(np.float32), np.array([1.0]))
    long_a = _stats(0, 0.1, 30.0, 10.0)
    assert linker.link(long_a, _summary(long_a, 0, 50, 20, 0.0, 10.0))["person_id"] == 0
    twin = _stats(1, 0.9, 60.0, 1.0)
    assert linker.link(twin, _summary(twin, 10, 20, 5, 2.0, 2.0))["person_id"] == 1
    short = _stats(2, 0.9, 60.0, 1.0)  # one frame, later: person 0, and takes person 0's values
    values = linker.link(short, _summary(short, 60, 60, 1, 12.0, 0.2))
    assert values["person_id"] == 0
    assert values["sex_label_avg"] == "f" and values["sex_prob_male_avg"] == pytest.approx((1 + 0.9) / 11)
    other = _stats(3, 0.9, 60.0, 1.0)
    assert linker.link(other, _summary(other, 70, 80, 5, 14.0, 2.0))["person_id"] == 2
    people = linker.people()
    assert list(people.n_tracks) == [2, 1, 1]
    assert people.screen_time_s[0] == pytest.approx(10.2)


def test_overrides_are_read_checked_and_applied(tmp_path):
    path = tmp_path / "fix.csv"
    path.write_text("person_id,gender,age\n1,f,\n0,,70\n")
    overrides = read_person_overrides(path)
    frames = pd.DataFrame({"frame": [0, 0, 5], "person_id": [0, 1, 1], "sex_label": ["m", "m", "m"],
                           "sex_label_avg": ["m", "m", "m"], "sex_decfunc_avg": [2.0, 1.0, 1.0],
                           "age_label_avg": [30.0, 40.0, 40.0], "age_decfunc_avg": [2.5, 3.5, 3.5]})
    people = pd.DataFrame({"person_id": [0, 1], "sex_label_avg": ["m", "m"], "sex_prob_male_avg": [0.9, 0.8],
                           "sex_decfunc_avg": [2.0, 1.0], "age_label_avg": [30.0, 40.0],
                           "age_decfunc_avg": [2.5, 3.5]})
    fixed_frames, tracks, fixed_people = apply_person_overrides(frames, None, people, overrides)
    assert tracks is None
    assert list(fixed_frames.sex_label_avg) == ["m", "f", "f"] and list(fixed_frames.sex_label) == ["m"] * 3
    assert list(fixed_frames.age_label_avg) == [70.0, 40.0, 40.0]
    assert list(fixed_frames.person_override) == [True, True, True]
    assert list(fixed_people.sex_prob_male_avg) == [0.9, 0.0] and fixed_people.sex_decfunc_avg[1] == -30.0
    assert frames.sex_label_avg[1] == "m"  # inputs unchanged
    with pytest.raises(OptionsError, match="person.s. 7"):
        apply_person_overrides(frames, None, people, read_person_overrides(_write(tmp_path, "7,m,\n")))


def _write(folder: Path, body: str, header: str = "person_id,gender,age\n") -> Path:
    path = folder / "overrides.csv"
    path.write_text(header + body)
    return path


@pytest.mark.parametrize(
    ("header", "body", "message"),
    [
        ("id,gender,age\n", "1,m,\n", "header is id,gender,age"),
        ("person_id,gender,age\n", "x,m,\n", "line 2: person_id 'x'"),
        ("person_id,gender,age\n", "1,m,\n2,woman,\n", "line 3: gender 'woman'"),
        ("person_id,gender,age\n", "1,,old\n", "line 2: age 'old'"),
        ("person_id,gender,age\n", "1,,300\n", "not within"),
        ("person_id,gender,age\n", "1,,\n", "neither gender nor age"),
        ("person_id,gender,age\n", "1,m,\n1,f,\n", "corrected twice"),
    ],
)
def test_bad_overrides_are_named_with_their_line(tmp_path, header, body, message):
    with pytest.raises(OptionsError, match=message):
        read_person_overrides(_write(tmp_path, body, header))


def test_a_missing_overrides_file_is_named(tmp_path):
    with pytest.raises(OptionsError, match="not found"):
        read_person_overrides(tmp_path / "none.csv")


def test_average_linkage_never_joins_items_of_one_group():
    from inafaceanalyzer.identity.across import average_linkage

    rng = np.random.default_rng(1)
    a, b = rng.normal(size=16), rng.normal(size=16)
    vectors = np.stack([a, a + 0.01 * b, b, a + 0.02 * b, b + 0.01 * a])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # items 0 and 1 are one video's two people, however alike
    labels = average_linkage(vectors.astype(np.float32), [0, 0, 1, 2, 2], threshold=0.3)
    assert labels[0] != labels[1]
    assert labels[2] == labels[4] != labels[3]
    assert labels[3] in (labels[0], labels[1])
    assert list(labels[:3]) == [0, 1, 2]

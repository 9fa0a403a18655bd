"""Face tracking (the ``videotracking`` engine), on synthetic frames and on the real shared clips.

Real clips come from ../shared/media/videos (provenance in its README.md):
single-face talking heads (SadTalker__WDA_KatieHill_000.mp4: a woman;
SadTalker__WDA_BobMenendez_000.mp4 and video-retalking__face_1.mp4: men),
the walking crowd (facenet-pytorch__video.mp4) and the Hamilton clip, whose
hard cuts fall at frames 24, 84 and 216 of its 5 fps sampling (checked by
eye). The clip with a join is built here: the first 3 seconds of the two
SadTalker clips, re-encoded back to back.
"""

from __future__ import annotations

import itertools
import math
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inafaceanalyzer import AnalysisOptions, Detections
from inafaceanalyzer.io import Frame, VideoSource
from inafaceanalyzer.options import TRACKERS
from inafaceanalyzer.pipeline.engines import VideoAnalysis
from inafaceanalyzer.pipeline.results import COLUMNS
from inafaceanalyzer.runs import analyze_video_to_files
from inafaceanalyzer.tracking import (
    FOLLOWERS,
    TRACK_COLUMNS,
    FaceTracker,
    ShotCutDetector,
    TrackerSettings,
    TrackingAnalysis,
    tracks_path,
)
from inafaceanalyzer.tracking.metrics import reference_identities, replay
from inafaceanalyzer.tracking.smoothing import TrackStats, frontality
from inafaceanalyzer.tracking.tracker import greedy_match, proximity_matrix

from .clips import clip_frames, write_clip
from .conftest import HAMILTON, SHARED_VIDEOS
from .test_detection_libfacedetection import _longest_stall

KATIE = SHARED_VIDEOS / "SadTalker__WDA_KatieHill_000.mp4"
BOB = SHARED_VIDEOS / "SadTalker__WDA_BobMenendez_000.mp4"
RETALKING = SHARED_VIDEOS / "video-retalking__face_1.mp4"
CROWD = SHARED_VIDEOS / "facenet-pytorch__video.mp4"
SINGLE_SHOT = [
    KATIE,
    BOB,
    RETALKING,
    CROWD,
    SHARED_VIDEOS / "LivePortrait__d11.mp4",
    SHARED_VIDEOS / "LivePortrait__s13.mp4",
]

ISSUE_HEADER = (
    "frame,bbox,face_id,detect_conf,track_conf,sex_decfunc,age_decfunc,sex_label,age_label,"
    "sex_decfunc_avg,age_decfunc_avg,sex_label_avg,age_label_avg"
)
SHARED_COLUMNS = [c for c in COLUMNS["video"] if c in COLUMNS["videotracking"]]
AVG_COLUMNS = ["sex_decfunc_avg", "age_decfunc_avg", "sex_label_avg", "age_label_avg"]


# -- synthetic frames ------------------------------------------------------------------


def textured_scene(shape: tuple[int, int], box: tuple[int, int, int, int], seed: int = 0) -> np.ndarray:
    """A smooth gray background with a high-contrast random patch (a 'face') at ``box``."""
    height, width = shape
    y, x = np.mgrid[0:height, 0:width]
    image = np.repeat((60 + 40 * np.sin(x / 37.0) * np.cos(y / 23.0))[..., None], 3, axis=2)
    patch = np.random.default_rng(seed).integers(0, 256, (8, 8, 3))
    left, top, right, bottom = box
    h, w = bottom - top, right - left
    big = np.kron(patch, np.ones((math.ceil(h / 8), math.ceil(w / 8), 1)))[:h, :w]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(bottom, height), min(right, width)
    if y1 > y0 and x1 > x0:
        image[y0:y1, x0:x1] = big[y0 - top : y1 - top, x0 - left : x1 - left]
    return image.astype(np.uint8)


def detection(*boxes: tuple[float, float, float, float]) -> Detections:
    raw = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    return Detections(raw, np.full(len(raw), 0.9), None, {"raw_xyxy": raw})


def frame(index: int, image: np.ndarray, fps: int = 5) -> Frame:
    return Frame(index, Fraction(index, fps), image)


@pytest.mark.parametrize("follower", TRACKERS)
def test_tracker_follows_a_moving_face_between_detections(follower):
    tracker = FaceTracker(follower=follower)
    boxes = [(100 + 6 * i, 80 + 3 * i, 180 + 6 * i, 160 + 3 * i) for i in range(8)]
    ids, confs = [], []
    for i, box in enumerate(boxes):
        faces = tracker.update(frame(i, textured_scene((320, 480), box)), detection(box) if i % 4 == 0 else None)
        assert len(faces) == 1
        ids.append(int(faces.data["face_id"][0]))
        confs.append(float(faces.data["track_conf"][0]))
        assert np.abs(faces.data["raw_xyxy"][0] - np.array(box)).max() < 8, (i, faces.data["raw_xyxy"][0], box)
        if i % 4:  # tracked: no detection confidence, a box shaped like the detector's
            assert math.isnan(faces.confidence[0])
            side = 1.1 * (faces.data["raw_xyxy"][0][2] - faces.data["raw_xyxy"][0][0])
            assert faces.xyxy[0][2] - faces.xyxy[0][0] == pytest.approx(side)
    assert ids == [0] * 8
    assert math.isnan(confs[0]) and min(confs[1:]) >= TrackerSettings().min_track_conf
    assert tracker.active_ids == {0}
    assert tracker.finish() == [0] and tracker.active_ids == frozenset()
    image = textured_scene((320, 480), boxes[0])
    assert list(tracker.update(frame(8, image), detection(boxes[0])).data["face_id"]) == [1]  # ids go on


@pytest.mark.parametrize("follower", TRACKERS)
def test_a_face_keeps_its_identifier_through_a_missed_detection(follower):
    tracker = FaceTracker(follower=follower)
    box = (100, 80, 180, 160)
    image = textured_scene((320, 480), box)
    first = tracker.update(frame(0, image), detection(box))
    missed = tracker.update(frame(1, image), Detections.empty().with_data(raw_xyxy=np.zeros((0, 4))))
    assert len(missed) == 0  # not detected: not reported, but remembered
    assert tracker.active_ids == {0}
    again = tracker.update(frame(2, image), detection(box))
    assert list(first.data["face_id"]) == list(again.data["face_id"]) == [0]
    # missed long enough (two detection frames and over a second): the track ends
    for i in range(3, 10):
        tracker.update(frame(i, image), detection())
    assert tracker.active_ids == frozenset()


@pytest.mark.parametrize("follower", TRACKERS)
def test_a_face_that_leaves_the_frame_ends_its_track(follower):
    tracker = FaceTracker(follower=follower)
    boxes = [(300 + 20 * i, 100, 380 + 20 * i, 180) for i in range(10)]  # exits on the right
    tracker.update(frame(0, textured_scene((320, 480), boxes[0])), detection(boxes[0]))
    reported = [
        len(tracker.update(frame(i, textured_scene((320, 480), box)), None)) for i, box in enumerate(boxes[1:], 1)
    ]
    assert reported[:5] == [1] * 5 and reported[-1] == 0
    assert tracker.active_ids == frozenset()  # ended at once, not kept hidden


def test_the_trackers_are_named_once_and_checked():
    assert tuple(FOLLOWERS) == TRACKERS and AnalysisOptions().tracker == TRACKERS[0] == "mosse"
    with pytest.raises(ValueError, match="tracker must be one of mosse, dlib, not 'kcf'"):
        AnalysisOptions(tracker="kcf")
    with pytest.raises(ValueError, match="tracker must be one of"):
        FaceTracker(follower="kcf")


def test_reference_identities_chain_detections_and_stop_at_cuts():
    boxes = [np.array([[0, 0, 10, 10], [50, 0, 60, 10]]), np.array([[52, 1, 62, 11]]), np.array([[1, 0, 11, 10]]),
             np.array([[1, 0, 11, 10]])]
    ids = reference_identities(boxes, cuts={3})
    assert [list(i) for i in ids] == [[0, 1], [1], [0], [2]]


def test_matching_takes_the_closest_pairs_of_similar_size():
    tracks = np.array([[0, 0, 100, 100], [200, 0, 300, 100]], dtype=float)
    dets = np.array([[210, 10, 310, 110], [20, 0, 120, 100], [0, 0, 20, 20]], dtype=float)
    scores = proximity_matrix(tracks, dets, max_shift=0.75, max_scale=1.5)
    assert scores[0, 2] == -np.inf  # five times smaller: never the same face
    assert sorted(greedy_match(scores, 0.0)) == [(0, 1), (1, 0)]


def test_smoothing_averages_probabilities_with_weights():
    stats = TrackStats(face_id=3)
    for i in range(3):
        stats.see(i, Fraction(i, 5), detected=i == 0, size=100.0)
    # two good frames say male, one poor frame is confidently female
    stats.add_predictions(np.array([1.0, 1.0, 0.1]), np.array([0.9, 0.8, 1e-9]), np.array([30.0, 40.0, 80.0]))
    averages = stats.averages()
    p = (0.9 + 0.8) / 2.1
    assert averages["sex_prob_male_avg"] == pytest.approx(p)
    assert averages["sex_decfunc_avg"] == pytest.approx(math.log(p / (1 - p)))
    assert averages["sex_label_avg"] == "m"
    assert averages["age_label_avg"] == pytest.approx(78 / 2.1)
    stats.slot_end = Fraction(3, 5)
    summary = stats.summary()
    assert (summary["n_frames"], summary["n_detections"], summary["duration_s"]) == (3, 1, pytest.approx(0.6))


def test_frontality_prefers_symmetric_faces():
    frontal = np.array([[[40, 50], [30, 50], [60, 50], [70, 50], [50, 70]]], dtype=float)
    turned = frontal.copy()
    turned[0, 4] = [38, 70]  # the nose near one eye: the head is turned
    assert frontality(frontal, 1)[0] == pytest.approx(1.0)
    assert frontality(turned, 1)[0] < 0.3


# -- real media --------------------------------------------------------------------------


def join_clips(destination: Path, *sources: Path, seconds: float = 3.0, rate: int = 25) -> Path:
    """The first ``seconds`` of each source (same frame size), re-encoded back to back."""
    frames = itertools.chain.from_iterable(clip_frames(source, 0, seconds) for source in sources)
    return write_clip(destination, frames, rate=rate, options={"qscale": "3"})


@pytest.fixture(scope="module")
def joined(tmp_path_factory):
    return join_clips(tmp_path_factory.mktemp("joined") / "katie_then_bob.mp4", KATIE, BOB)


@pytest.fixture(scope="module")
def tracked(analyzer):
    """``tracked(path, fps, detect_period, classify_period) -> (frame table, tracks table, analysis)``, cached."""
    cache: dict[tuple[str, float | None, int, int | None], tuple[pd.DataFrame, pd.DataFrame, TrackingAnalysis]] = {}

    def run(path: Path, fps: float | None = 5, detect_period: int = 3, classify_period: int | None = None):
        key = (str(path), fps, detect_period, classify_period)
        if key not in cache:
            options = AnalysisOptions(engine="videotracking", fps=fps, detect_period=detect_period,
                                      classify_period=classify_period)
            analysis = TrackingAnalysis(str(path), options, analyzer)
            table = analysis.dataframe()
            cache[key] = (table, analysis.tracks, analysis)
        return cache[key]

    return run


def analysed_frames(path: Path, fps: float | None = 5) -> list[int]:
    return [item.index for item in VideoSource(path, fps=fps)]


@pytest.mark.shared_media
@pytest.mark.parametrize(("path", "sex"), [(KATIE, "f"), (BOB, "m"), (RETALKING, "m")], ids=lambda v: getattr(v, "stem", v))
def test_a_talking_head_is_one_track_with_the_right_gender(tracked, path, sex):
    table, tracks, _ = tracked(path)
    frames = analysed_frames(path)
    assert list(table.frame) == frames  # one face on every analysed frame, in order
    assert list(table.columns) == list(COLUMNS["videotracking"])
    assert set(table.face_id) == {0}
    assert len(tracks) == 1
    track = tracks.iloc[0]
    assert track.sex_label_avg == sex
    assert (track.first_frame, track.last_frame, track.n_frames) == (frames[0], frames[-1], len(frames))
    assert track.n_detections == len(frames[::3])
    # detection on one analysed frame in 3: detect_conf empty elsewhere; track_conf empty on the first frame
    detected = table.detect_conf.notna().to_numpy()
    assert list(detected) == [i % 3 == 0 for i in range(len(frames))]
    assert table.track_conf.isna().tolist() == [True] + [False] * (len(frames) - 1)
    # the track covers the whole clip
    duration = float(VideoSource(path).info.duration)
    assert track.start_s == 0 and track.duration_s == pytest.approx(duration, abs=0.25)
    assert (table[AVG_COLUMNS].nunique() == 1).all()


@pytest.mark.shared_media
def test_the_crowd_gives_several_tracks_with_distinct_ids_and_smooth_boxes(tracked):
    table, tracks, _ = tracked(CROWD)
    assert len(tracks) >= 4
    assert not table.duplicated(["frame", "face_id"]).any()  # no id on two faces of one frame
    assert sorted(tracks.face_id) == sorted(set(table.face_id))
    assert (tracks.n_frames >= 1).all() and tracks.n_frames.sum() == len(table)
    assert tracks.n_frames.max() >= 8  # some faces are followed through most of the clip
    assert (table.groupby("face_id")[AVG_COLUMNS].nunique() == 1).all().all()
    frames = analysed_frames(CROWD)
    step = {a: b for a, b in zip(frames, frames[1:], strict=False)}
    boxes = table.bbox.str.strip("()").str.split(", ", expand=True).astype(float).to_numpy()
    table = table.assign(cx=(boxes[:, 0] + boxes[:, 2]) / 2, cy=(boxes[:, 1] + boxes[:, 3]) / 2, side=boxes[:, 2] - boxes[:, 0])
    moves = 0
    for _, rows in table.groupby("face_id"):
        rows = rows.sort_values("frame")
        for (_, a), (_, b) in zip(rows.iterrows(), rows.iloc[1:].iterrows(), strict=False):
            if step.get(a.frame) != b.frame:
                continue  # a short miss in between
            moves += 1
            shift = math.hypot(b.cx - a.cx, b.cy - a.cy)
            assert shift < 0.8 * (a.side + b.side) / 2, (a.face_id, a.frame, b.frame, shift)
            assert 1 / 1.5 <= b.side / a.side <= 1.5
    assert moves >= 20


@pytest.mark.shared_media
def test_detection_on_every_frame_gives_the_video_engine_rows(tracked, analyzer):
    table, _, _ = tracked(CROWD, fps=5, detect_period=1)
    video = VideoAnalysis(str(CROWD), AnalysisOptions(fps=5), analyzer).dataframe()
    assert len(table) == len(video) > 50
    for column in SHARED_COLUMNS:
        if table[column].dtype.kind == "f":
            np.testing.assert_allclose(table[column], video[column], rtol=0, atol=1e-9, err_msg=column)
        else:
            assert list(table[column]) == list(video[column]), column
    assert table.detect_conf.notna().all()


def test_each_track_is_classified_on_one_frame_in_the_period_and_its_other_rows_carry_the_nearest(tracked):
    table, tracks, _ = tracked(HAMILTON, fps=10, detect_period=3)  # classified where detected: one frame in 3
    full, full_tracks, _ = tracked(HAMILTON, fps=10, detect_period=3, classify_period=1)
    assert full.classified.all() and (full.avg_weight > 0).all()
    assert list(table.frame) == list(full.frame) and list(table.face_id) == list(full.face_id)  # the same tracks
    assert 0.3 < table.classified.mean() < 0.5
    for _, rows in table.groupby("face_id", sort=False):
        assert list(rows.classified) == [i % 3 == 0 for i in range(len(rows))]  # its first frame, then 1 in 3
        assert (rows.avg_weight[~rows.classified] == 0).all() and (rows.avg_weight[rows.classified] > 0).all()
        measured = np.flatnonzero(rows.classified.to_numpy())
        frames = rows.frame.to_numpy()
        for i in range(len(rows)):  # each row has the values of its track's nearest classified frame
            distance = np.abs(frames[measured] - frames[i])
            nearest = measured[np.argmax(distance == distance.min())]  # the earlier on a tie
            for column in ("sex_decfunc", "age_decfunc", "sex_label", "age_label", "sex_prob_male", "reliable"):
                assert rows[column].iloc[i] == rows[column].iloc[nearest], (column, frames[i])
        # where it was classified, the values of the run that classifies every frame
        where = rows.index[rows.classified]
        np.testing.assert_allclose(rows.loc[where, "sex_decfunc"], full.loc[where, "sex_decfunc"], atol=1e-4)
    clear = full_tracks.sex_decfunc_avg.abs() > 0.5  # tracks whose gender is not a toss-up
    assert clear.sum() >= 5
    assert list(tracks.sex_label_avg[clear]) == list(full_tracks.sex_label_avg[clear])
    assert (tracks.age_label_avg - full_tracks.age_label_avg).abs().max() < 3


def test_the_classify_period_is_checked():
    from inafaceanalyzer.errors import OptionsError

    assert AnalysisOptions(engine="videotracking", detect_period=5).effective_classify_period == 5
    assert AnalysisOptions(engine="videotracking", detect_period=5, classify_period=1).effective_classify_period == 1
    with pytest.raises(OptionsError, match="classify_period must be >= 1"):
        AnalysisOptions(engine="videotracking", classify_period=0)
    with pytest.raises(OptionsError, match="classify_period only applies to the videotracking engine"):
        AnalysisOptions(engine="video", classify_period=2)


@pytest.mark.shared_media
def test_tracks_end_at_the_join_of_two_clips(tracked, joined):
    cuts = ShotCutDetector()
    found = [item.index for item in VideoSource(joined, fps=5) if cuts.update(item.image)]
    assert found == [75]  # 3 s at 25 fps
    table, tracks, analysis = tracked(joined)
    assert analysis.cut_frames == [75]
    before = set(table.face_id[table.frame < 75])
    after = set(table.face_id[table.frame >= 75])
    assert before and after and not before & after
    assert (tracks.last_frame < 75).sum() == len(before) and (tracks.first_frame >= 75).sum() == len(after)
    main = tracks.sort_values("n_frames", ascending=False).groupby(tracks.first_frame >= 75).head(1)
    assert list(main.sort_values("first_frame").sex_label_avg) == ["f", "m"]
    first = tracks[tracks.last_frame < 75]
    assert first.duration_s.max() == pytest.approx(3.0)  # the track runs until the first frame of the next shot


@pytest.mark.shared_media
@pytest.mark.parametrize("fps", [5, None], ids=["fps5", "native"])
def test_no_cut_is_found_inside_the_single_shot_clips(fps):
    for path in SINGLE_SHOT:
        if fps is None and path in (CROWD, SINGLE_SHOT[-1]):
            continue  # the large frames: 5 fps is enough to decode here
        cuts = ShotCutDetector()
        found = [item.index for item in VideoSource(path, fps=fps) if cuts.update(item.image)]
        assert found == [], (path.name, found)


@pytest.mark.shared_media
def test_the_hard_cuts_of_the_hamilton_clip_are_found():
    cuts = ShotCutDetector()
    found = [item.index for item in VideoSource(HAMILTON, fps=5) if cuts.update(item.image)]
    assert found == [24, 84, 216]


@pytest.mark.shared_media
def test_files_frame_table_and_table_of_tracks(tmp_path, analyzer):
    options = AnalysisOptions(engine="videotracking", fps=5, detect_period=3)
    destination = tmp_path / (RETALKING.stem + ".csv")
    rows = analyze_video_to_files(str(RETALKING), destination, options, analyzer)
    lines = destination.read_text().splitlines()
    assert lines[0].startswith(ISSUE_HEADER + ",left,top,right,bottom,time_s,timecode")
    assert rows == len(lines) - 1 > 0
    second = lines[1].split('"')  # 0,"(l, t, r, b)",0,conf,,...
    assert second[0] == "0," and second[2].startswith(",0,0.9") and second[2].split(",")[3] == ""
    tracks_file = tracks_path(destination)
    assert tracks_file == tmp_path / (RETALKING.stem + ".tracks.csv")
    tracks = pd.read_csv(tracks_file)
    assert list(tracks.columns) == list(TRACK_COLUMNS)
    assert len(tracks) == 1 and tracks.sex_label_avg[0] == "m"
    assert not list(tmp_path.glob(".*partial"))


@pytest.mark.shared_media
@pytest.mark.parametrize("tracker", TRACKERS)
def test_the_command_writes_both_tables(tmp_path, tracker):
    command = shutil.which("ina_face_analyzer.py") or "ina_face_analyzer.py"
    proc = subprocess.run(
        [command, "--no_progress", "--engine", "videotracking", "--fps", "2", "--detect_period", "3",
         "--tracker", tracker, "-i", str(BOB), "-o", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / (BOB.stem + ".csv")).read_text().splitlines()[0].startswith(ISSUE_HEADER + ",")
    tracks = pd.read_csv(tmp_path / (BOB.stem + ".tracks.csv"))
    assert len(tracks) == 1 and tracks.sex_label_avg[0] == "m"


# -- the trackers compared on real clips ---------------------------------------------------


@pytest.fixture(scope="module")
def crowd_native(analyzer):
    """The crowd at its native rate (105 frames): the frames and the detector's faces on each."""
    frames = list(VideoSource(CROWD))
    return frames, [analyzer.detect(item.image) for item in frames]


@pytest.mark.shared_media
def test_the_mosse_tracker_keeps_the_crowd_identities_as_well_as_dlib(crowd_native):
    frames, detections = crowd_native
    results = {name: replay(frames, detections, 5, name) for name in TRACKERS}
    mosse, dlib = results["mosse"], results["dlib"]
    counts = {name: (r.tracks, r.identities, r.fragments, r.switches, r.merges) for name, r in results.items()}
    # no more identity switches, split identities or merged tracks than dlib's tracker
    assert mosse.switches <= dlib.switches and mosse.fragments <= dlib.fragments, counts
    assert mosse.merges <= dlib.merges and mosse.tracks <= dlib.tracks, counts
    assert mosse.identities >= 10 and mosse.switches <= 2, counts
    # boxes as close to the detector's as dlib's, and as many faces kept between detections
    assert mosse.mean_iou >= dlib.mean_iou - 0.02 and mosse.hit_rate >= 0.9, (mosse.mean_iou, dlib.mean_iou)
    assert mosse.recall >= dlib.recall - 0.05, (mosse.recall, dlib.recall)
    assert mosse.followed >= 400


@pytest.mark.shared_media
@pytest.mark.parametrize("path", [KATIE, BOB, RETALKING], ids=lambda p: p.stem)
def test_the_mosse_tracker_follows_a_talking_head_at_the_native_rate_as_one_track(analyzer, path):
    frames = list(VideoSource(path))[::2]  # 12.5 frames per second: a face moves twice as far between frames
    detections = [analyzer.detect(item.image) for item in frames]
    result = replay(frames, detections, 5, "mosse")
    assert result.tracks == result.identities == 1
    assert result.followed == len(frames) - len(frames[::5])  # followed on every frame without detection
    assert result.hit_rate == 1.0 and result.mean_iou > 0.85 and result.recall == 1.0


@pytest.mark.shared_media
def test_the_mosse_tracker_lets_another_thread_run_while_it_follows_many_faces(crowd_native):
    frames, detections = crowd_native
    raw = detections[0].data["raw_xyxy"]
    images = [item.image for item in frames[:2]]
    ids = list(range(4 * len(raw)))  # every face of the first frame, followed four times over
    assert len(ids) >= 30
    followers = {name: FOLLOWERS[name]() for name in TRACKERS}
    for follower in followers.values():
        for face_id in ids:
            follower.start(face_id, images[0], raw[face_id % len(raw)])
        follower.update(images[1], ids)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # a thread waiting for the GIL gets it back within 0.1 ms, between C calls
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in TRACKERS}
    try:
        for _ in range(5):  # interleaved, so that a busy machine slows both alike
            for name, follower in followers.items():
                runs[name].append(_longest_stall(lambda follower=follower: follower.update(images[1], ids)))
    finally:
        sys.setswitchinterval(interval)
    (stall, duration), (dlib_stall, _) = min(runs["mosse"]), min(runs["dlib"])
    # the other thread keeps running while the faces are followed (the least of the runs: the
    # system's own pauses make the others longer), and waits far less than with dlib, whose
    # update of each face is one call that keeps the GIL
    assert stall < 0.5 * duration, runs
    assert stall < 0.5 * dlib_stall, runs


def test_an_unknown_tracker_is_a_usage_error(tmp_path):
    command = shutil.which("ina_face_analyzer.py") or "ina_face_analyzer.py"
    proc = subprocess.run([command, "--engine", "videotracking", "--tracker", "kcf", "-i", str(BOB), "-o", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--tracker" in proc.stderr and "mosse" in proc.stderr, proc.stderr
    assert not list(tmp_path.iterdir())

"""The runs layer: the sampling travels with the results, ``--skip_existing``, a resumed batch.

Real models on a real clip: the first 3 s of SadTalker__WDA_KatieHill_000.mp4
(shared media; 512x512, 25 fps, a keyframe every 12 frames, one face in
every frame), copied without re-encoding into the test's folder. One
analysis per sampling is shared by the tests of that sampling.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from inafaceanalyzer import AnalysisOptions, run_batch
from inafaceanalyzer.export.options import ExportOptions, VideoOutputs
from inafaceanalyzer.export.sidecar import PARQUET_KEY, meta_path, read_meta
from inafaceanalyzer.export.timeline import analysed_frames
from inafaceanalyzer.io.packets import read_timing
from inafaceanalyzer.runs import analyze_to_outputs, render_to_outputs

from .conftest import SHARED_VIDEOS
from .export_helpers import ANALYZER

pytestmark = pytest.mark.shared_media

KATIE = SHARED_VIDEOS / "SadTalker__WDA_KatieHill_000.mp4"

#: name -> (options of the analysis, flags of ina_face_render that say the same sampling)
SAMPLINGS = {
    "fps1": (AnalysisOptions(fps=1), ["--fps", "1"]),
    "fps2": (AnalysisOptions(fps=2), ["--fps", "2"]),
    "fps3": (AnalysisOptions(fps=3), ["--fps", "3"]),
    "fps5": (AnalysisOptions(fps=5), ["--fps", "5"]),
    "every_frame": (AnalysisOptions(), ["--every_frame"]),
    "keyframes": (AnalysisOptions(engine="videokeyframes"), ["--keyframes"]),
}


def cut(source: Path, destination: Path, seconds: Fraction) -> Path:
    """The video stream of ``source`` up to ``seconds``, copied packet by packet (no re-encoding)."""
    with av.open(str(source)) as inp, av.open(str(destination), "w") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        for packet in inp.demux(stream):
            if packet.dts is None:
                continue
            if packet.pts * stream.time_base >= seconds:
                break
            packet.stream = copy
            out.mux(packet)
    return destination


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cut(KATIE, tmp_path_factory.mktemp("clip") / "katie.mp4", Fraction(3))


@pytest.fixture(scope="module")
def analysed(clip, analyzer, tmp_path_factory):
    """``name -> (outcome, directory)``: each sampling analysed once, with its report."""
    done = {}

    def get(name: str):
        if name not in done:
            out = tmp_path_factory.mktemp(name)
            outputs = VideoOutputs(table=out / "katie.csv", report=out / "katie.html")
            done[name] = analyze_to_outputs(str(clip), outputs, SAMPLINGS[name][0], analyzer=analyzer), out
        return done[name]

    return get


def _totals(page: Path) -> dict[str, str]:
    """The numbers a report page states (its ``data-total`` / ``data-value`` attributes)."""
    return dict(re.findall(r'data-total="([^"]+)" data-value="([^"]*)"', page.read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", list(SAMPLINGS))
def test_a_rerendered_report_gives_the_face_seconds_of_the_run(name, analysed, clip, tmp_path):
    from inafaceanalyzer.cli.render import main as render

    outcome, out = analysed(name)
    run = outcome.summary
    assert sum(run.face_seconds.values()) > 0.5  # a face in every frame of a 3 s clip

    assert render(["--no_progress", "--html_report", "-i", str(out / "katie.csv"), "-o", str(tmp_path)]) == 0
    again = render_to_outputs(out / "katie.csv", VideoOutputs(table=tmp_path / "x" / "katie", report=tmp_path /
                                                                "x" / "katie.html")).summary

    assert again.face_seconds == run.face_seconds
    assert again.analysed_frames == run.analysed_frames == len(outcome.meta.analysed.times)
    totals = _totals(out / "katie.html")
    assert totals and _totals(tmp_path / "katie.html") == totals


@pytest.mark.parametrize("name", list(SAMPLINGS))
def test_the_sidecar_holds_the_sampling_and_the_frames_the_sampler_kept(name, analysed, clip):
    from inafaceanalyzer.stats import stats_inputs

    outcome, out = analysed(name)
    options = SAMPLINGS[name][0]
    meta = read_meta(out / "katie.csv")
    assert meta.to_dict() == outcome.meta.to_dict()
    assert meta.sampling.rate == (Fraction(options.fps) if options.fps else None)
    assert meta.sampling.keyframes == (name == "keyframes")
    assert (meta.frame_count, meta.frame_rate) == (75, Fraction(25))
    # the frames the decoder kept are the ones the sampler keeps over the packets' timestamps
    rebuilt = analysed_frames(read_timing(clip), fps=meta.sampling.rate, keyframes=meta.sampling.keyframes)
    np.testing.assert_array_equal(meta.analysed.times, rebuilt.times)
    expected = {"fps1": 3, "fps2": 6, "fps3": 9, "fps5": 15, "every_frame": 75, "keyframes": 7}[name]
    assert len(meta.analysed.times) == expected
    table_times = pd.read_csv(out / "katie.csv").time_s.unique()
    assert set(np.round(table_times, 9)) <= set(np.round(meta.analysed.times, 9))
    assert meta.outputs == ("katie.meta.json", "katie.csv", "katie.html")
    # ina_face_stats counts the same frames
    np.testing.assert_array_equal(stats_inputs([out / "katie.csv"])[0].analysed.times, meta.analysed.times)


@pytest.mark.parametrize("name", list(SAMPLINGS))
@pytest.mark.logs_errors
def test_a_table_without_its_sidecar_is_rendered_only_with_the_sampling_flags(name, analysed, clip, tmp_path,
                                                                               capsys):
    from inafaceanalyzer.cli.render import main as render

    outcome, out = analysed(name)
    table = shutil.copy(out / "katie.csv", tmp_path / "katie.csv")
    assert render(["--no_progress", "--html_report", "-i", str(table), "-o", str(tmp_path / "a")]) == 1
    error = capsys.readouterr().err
    assert "no katie.meta.json beside it" in error and "--fps F, --keyframes or --every_frame" in error, error
    assert not (tmp_path / "a" / "katie.html").exists()

    flags = SAMPLINGS[name][1]
    assert render(["--no_progress", "--html_report", "-i", str(table), "--video", str(clip), *flags,
                   "-o", str(tmp_path / "b")]) == 0
    assert _totals(tmp_path / "b" / "katie.html") == _totals(out / "katie.html")


def test_a_sampling_flag_that_contradicts_the_sidecar_is_refused(analysed, capsys):
    from inafaceanalyzer.cli.render import main as render

    _, out = analysed("fps2")
    assert render(["--no_progress", "--html_report", "-i", str(out / "katie.csv"), "--fps", "3", "-o",
                   str(out / "again")]) == 1
    assert "sidecar says the analysis sampled" in capsys.readouterr().err


def test_a_parquet_table_carries_the_sampling_in_its_schema(clip, analyzer, tmp_path):
    import pyarrow.parquet as pq

    outputs = VideoOutputs(table=tmp_path / "katie.parquet")
    analyze_to_outputs(str(clip), outputs, AnalysisOptions(fps=2), analyzer=analyzer)
    header = json.loads(pq.read_schema(tmp_path / "katie.parquet").metadata[PARQUET_KEY.encode()])
    assert header["sampling"] == {"rate": "2", "keyframes": False, "detect_period": 1}
    assert header == {k: v for k, v in json.loads(meta_path(tmp_path / "katie.parquet").read_text()).items()
                      if k in header}


# -- --skip_existing --------------------------------------------------------------------------------


def _state(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


@pytest.mark.logs_errors
def test_skip_existing_skips_finished_inputs_and_runs_again_what_changed(clip, tmp_path):
    inputs = [str(shutil.copy(clip, tmp_path / f"{name}.mp4")) for name in "ab"]
    out = tmp_path / "out"
    exports = ExportOptions(ass=True, skip_existing=True)
    first = run_batch(inputs, out, AnalysisOptions(fps=1), exports=exports)
    assert first.ok and first.skipped == []
    before = _state(out)
    assert set(before) == {"a.csv", "a.ass", "a.meta.json", "b.csv", "b.ass", "b.meta.json"}

    # finished: nothing is analysed or written again
    again = run_batch(inputs, out, AnalysisOptions(fps=1), exports=exports)
    assert again.ok and again.skipped == inputs and again.written == []
    assert _state(out) == before

    # a missing output: that input runs again, the other is left
    (out / "b.ass").unlink()
    third = run_batch(inputs, out, AnalysisOptions(fps=1), exports=exports)
    assert third.skipped == [inputs[0]]
    assert (out / "b.ass").read_bytes() == before["b.ass"][0]
    assert _state(out)["a.csv"] == before["a.csv"]

    # changed options: both run again, and the sidecars say so
    fourth = run_batch(inputs, out, AnalysisOptions(fps=2), exports=exports)
    assert fourth.ok and fourth.skipped == []
    assert read_meta(out / "a.csv").sampling.rate == 2
    assert len(read_meta(out / "a.csv").analysed.times) == 6

    # a file in the way that is not ours is never overwritten: that input fails, the other goes on
    foreign = tmp_path / "c.mp4"
    shutil.copy(clip, foreign)
    (out / "c.csv").write_text("my own table\n")
    (out / "a.mp4").write_bytes(b"my own video")  # not named by a.meta.json
    fifth = run_batch([inputs[0], str(foreign)], out, AnalysisOptions(fps=2),
                      exports=ExportOptions(mp4=True, skip_existing=True))
    assert [f.source for f in fifth.failures] == [inputs[0], str(foreign)]
    assert "a.mp4: exists and is not an output of ours" in fifth.failures[0].reason
    assert "c.csv: exists and is not an output of ours" in fifth.failures[1].reason
    assert (out / "c.csv").read_text() == "my own table\n"
    assert (out / "a.mp4").read_bytes() == b"my own video"
    assert not (out / "c.meta.json").exists()


def test_a_batch_killed_mid_run_then_resumed_gives_the_outputs_of_an_uninterrupted_one(clip, tmp_path):
    inputs = [shutil.copy(clip, tmp_path / f"{name}.mp4") for name in "abc"]

    def command(out: Path, *extra: str) -> list[str]:
        return [ANALYZER, "--no_progress", "--fps", "3", "--ass_subtitle_export", "-i", *map(str, inputs),
                "-o", str(out), *extra]

    reference = subprocess.run(command(tmp_path / "reference"), capture_output=True, text=True, timeout=600)
    assert reference.returncode == 0, reference.stderr

    out = tmp_path / "out"
    proc = subprocess.Popen(command(out, "--skip_existing"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not (out / "a.meta.json").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    killed = _state(out)
    assert {"a.csv", "a.ass", "a.meta.json"} <= set(killed) and "c.csv" not in killed, sorted(killed)

    resumed = subprocess.run(command(out, "--skip_existing"), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "finished already" in resumed.stderr
    final = _state(out)
    assert final["a.csv"] == killed["a.csv"] and final["a.meta.json"] == killed["a.meta.json"]  # a: not rewritten
    # the sidecar holds no wall-clock time: every file, sidecars included, is byte for byte the reference's
    expected = {p.name: p.read_bytes() for p in sorted((tmp_path / "reference").iterdir())}
    assert {name: data for name, (data, _) in final.items()} == expected


def test_read_results_reads_a_tracked_run_s_folder_back(clip, tmp_path):
    from inafaceanalyzer import read_results

    inputs = [str(shutil.copy(clip, tmp_path / f"{name}.mp4")) for name in "ab"]
    out = tmp_path / "out"
    report = run_batch(inputs, out, AnalysisOptions(engine="videotracking", fps=5), exports=ExportOptions(stats=True))
    assert report.ok

    results = read_results(out)

    assert results.videos == ["a", "b"]
    frames = pd.concat([pd.read_csv(out / "a.csv").assign(video="a"), pd.read_csv(out / "b.csv").assign(video="b")])
    assert len(results.frames) == len(frames) > 0
    assert list(results.frames.columns) == ["video", *pd.read_csv(out / "a.csv").columns]
    assert set(results.tracks.video) == {"a", "b"} and len(results.tracks) == 2 * len(pd.read_csv(out / "a.tracks.csv"))
    assert set(results.people.video) == {"a", "b"}
    pd.testing.assert_frame_equal(results.stats, pd.read_csv(out / "batch.stats.csv"))
    assert set(results.meta) == {"a", "b"}
    assert results.meta["a"].sampling.rate == 5 and results.meta["a"].engine == "videotracking"
    assert len(results.meta["a"].analysed.times) == 15


def test_a_distributed_job_writes_the_report_stats_and_sidecar_and_follows_the_skip_rule(clip, tmp_path):
    from inafaceanalyzer.distributed import Job
    from inafaceanalyzer.distributed.task import run_job

    out = tmp_path / "out"
    job = Job(str(clip), str(out / "k.csv"), dest_html=str(out / "k.html"), dest_stats=str(out / "k.stats.csv"))
    record = run_job(job, AnalysisOptions(fps=2).to_dict(), retries=0)
    assert record.status == "done" and record.warnings == ()
    assert sorted(p.name for p in out.iterdir()) == ["k.csv", "k.html", "k.meta.json", "k.stats.csv",
                                                     "k.stats.meta.json", "plotly.min.js"]
    assert read_meta(out / "k.csv").sampling.rate == 2
    assert run_job(job, AnalysisOptions(fps=2).to_dict(), retries=0).status == "skipped"
    assert run_job(job, AnalysisOptions(fps=3).to_dict(), retries=0).status == "done"  # other options: run again
    assert len(read_meta(out / "k.csv").analysed.times) == 9


def test_outputs_of_the_same_analysis_are_kept_and_those_of_another_are_removed(clip, tmp_path):
    source = [str(shutil.copy(clip, tmp_path / "a.mp4"))]
    out = tmp_path / "out"
    assert run_batch(source, out, AnalysisOptions(fps=1), exports=ExportOptions(ass=True)).ok
    subtitles = (out / "a.ass").read_bytes()

    assert run_batch(source, out, AnalysisOptions(fps=1)).ok  # the same analysis, without subtitles
    assert (out / "a.ass").read_bytes() == subtitles
    assert read_meta(out / "a.csv").outputs == ("a.meta.json", "a.csv", "a.ass")

    assert run_batch(source, out, AnalysisOptions(fps=2)).ok  # another analysis: its subtitles would lie
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "a.meta.json"]
    assert read_meta(out / "a.csv").outputs == ("a.meta.json", "a.csv")

"""What a distributed campaign may touch: job lists never write over inputs; workers and pages are not open doors.

The cluster tests start the real server and worker commands on 127.0.0.1
and look at the sockets their processes listen on (psutil).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from inafaceanalyzer import AnalysisOptions
from inafaceanalyzer.distributed import JobListError, analyze_many, read_jobs
from inafaceanalyzer.distributed.jobs import Job
from inafaceanalyzer.distributed.task import run_job

from .conftest import SHARED_VIDEOS

SERVER = shutil.which("ina_face_analyzer_distributed_server.py") or "ina_face_analyzer_distributed_server.py"
D11 = SHARED_VIDEOS / "LivePortrait__d11.mp4"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def videos(tmp_path: Path) -> dict[str, Path]:
    """Two 'videos' (the bytes matter, not the content), a symbolic and a hard link to the first."""
    media = tmp_path / "media"
    media.mkdir()
    a, b = media / "a.mp4", media / "b.mp4"
    a.write_bytes(b"\x00\x00\x00\x18ftypmp42 first video" * 100)
    b.write_bytes(b"\x00\x00\x00\x18ftypmp42 second video" * 100)
    (media / "link.mp4").symlink_to(a)
    os.link(a, media / "hard.mp4")
    return {"a": a, "b": b, "link": media / "link.mp4", "hard": media / "hard.mp4", "out": tmp_path / "out"}


CASES = {
    # name: (rows of source_path,dest_csv,dest_ass,dest_mp4 with {a} {b} {link} {hard} {out}; the line named)
    "dest_ass is its own source": (["{a},{out}/a.csv,{a},"], 2),
    "dest_csv is its own source": (["{a},{a},,"], 2),
    "dest_mp4 is another job's source": (["{a},{out}/a.csv,,", "{b},{out}/b.csv,,{a}"], 3),
    "dest_csv is a source through a symbolic link": (["{a},{out}/a.csv,,", "{b},{link},,"], 3),
    "dest_ass is a hard link of a source": (["{a},{out}/a.csv,,", "{b},{out}/b.csv,{hard},"], 3),
    "a source is spelt another way": (["{a},{out}/a.csv,,", "{b},{out}/../media/a.mp4,,"], 3),
    "two jobs share a dest spelt two ways": (["{a},{out}/x.csv,,", "{b},{out}/sub/../x.csv,,"], 3),
    "one job writes two outputs to one file": (["{a},{out}/a.csv,{out}/a.csv,"], 2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_job_list_that_would_write_over_an_input_or_an_output_is_refused(tmp_path, videos, case):
    rows, line = CASES[case]
    jobs_csv = tmp_path / "jobs.csv"
    names = {k: str(v) for k, v in videos.items()}
    jobs_csv.write_text("source_path,dest_csv,dest_ass,dest_mp4\n" + "".join(r.format(**names) + "\n" for r in rows))
    before = {name: _digest(videos[name]) for name in ("a", "b")}
    with pytest.raises(JobListError, match=f"line {line} "):
        read_jobs(jobs_csv)

    proc = subprocess.run([SERVER, "127.0.0.1", "0", str(jobs_csv)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert f"line {line} " in proc.stderr and "overwrite" in proc.stderr
    assert proc.stdout == ""  # no scheduler was started, no job ran
    assert {name: _digest(videos[name]) for name in ("a", "b")} == before
    assert not videos["out"].exists()


def test_the_python_api_refuses_the_same_before_submitting(videos):
    with pytest.raises(JobListError, match="its own source_path"):
        analyze_many([(str(videos["a"]), str(videos["out"] / "a.csv"), str(videos["a"]))], client=object())
    # the tracking engine's tracks table (b.tracks.csv beside b.csv) is an output too
    tracks_victim = videos["out"] / "b.tracks.csv"
    tracks_victim.parent.mkdir()
    tracks_victim.write_bytes(videos["b"].read_bytes())
    jobs = [(str(tracks_victim), str(videos["out"] / "t.csv")), (str(videos["b"]), str(videos["out"] / "b.csv"))]
    with pytest.raises(JobListError, match="tracks table of dest_csv"):
        analyze_many(jobs, AnalysisOptions(engine="videotracking"), client=object())


@pytest.mark.shared_media
def test_a_worker_refuses_a_job_whose_output_is_its_source_on_its_own_file_system(tmp_path):
    source = tmp_path / "clip.mp4"
    shutil.copy(D11, source)
    before = _digest(source)
    link = tmp_path / "subtitles.ass"
    link.symlink_to(source)  # what a worker sees may differ from what the server checked
    record = run_job(Job(str(source), str(tmp_path / "clip.csv"), str(link)), AnalysisOptions(fps=1).to_dict())
    assert record.status == "failed"
    assert "source_path" in record.error and str(link) in record.error
    assert _digest(source) == before
    assert not (tmp_path / "clip.csv").exists()

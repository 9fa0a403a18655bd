"""All-or-nothing outputs of a batch: a full disk, SIGTERM and SIGINT, stale temporaries of a killed run."""

from __future__ import annotations

import contextlib
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from .conftest import HAMILTON
from .export_helpers import ANALYZER, make_clip, table

pytestmark = pytest.mark.shared_media


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@contextlib.contextmanager
def _small_tmpfs(path: Path, size: str):
    """A tmpfs of ``size`` mounted at ``path``, or ``None`` when this machine does not allow it."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True).returncode == 0
    try:
        yield path if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=True)


def _limit_file_size(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_on_the_report_leaves_no_output_of_that_input_and_names_the_report(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", 25)
    with _small_tmpfs(tmp_path / "disk", "1m") as disk:
        # The table, subtitles and video of this clip take a few kB; its report's plotly.js (written once
        # per folder, beside the page) about 4.6 MB. Where no tmpfs can be mounted, each file is limited
        # to 1 MB instead (RLIMIT_FSIZE).
        out = (disk or tmp_path) / "out"
        proc = subprocess.run(
            [ANALYZER, "--no_progress", "-i", str(clip), "-o", str(out), "--ass_subtitle_export", "--mp4_export",
             "--html_report"],
            capture_output=True, text=True, timeout=600, preexec_fn=None if disk else _limit_file_size(2**20),
        )
        left = _files(out)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    failures = proc.stderr[proc.stderr.index("1 of 1 input(s) failed:"):]
    # the report step's file that did not fit is named: the page's script
    assert f"{clip}: cannot write {out / 'plotly.min.js'}: " in failures, proc.stderr
    assert "clip.csv" not in failures, proc.stderr
    assert left == [], f"outputs (or temporaries) of the failed input remain: {left}"


def test_outputs_of_a_set_appear_together_or_not_at_all(tmp_path):
    from inafaceanalyzer.export.atomic import OutputSet, atomic_path

    with OutputSet() as outputs:
        with atomic_path(tmp_path / "a.csv") as temporary:
            temporary.write_text("a")
        assert _files(tmp_path)[0].startswith(".a.csv.")  # written, not yet renamed
        assert outputs.pending(tmp_path / "a.csv").read_text() == "a"
        with atomic_path(tmp_path / "a.ass") as temporary:
            temporary.write_text("b")
    assert _files(tmp_path) == ["a.ass", "a.csv"]

    with pytest.raises(OSError, match=r"cannot write .*b\.html: No space left on device"):
        with OutputSet():
            with atomic_path(tmp_path / "b.csv") as temporary:
                temporary.write_text("a")
            with atomic_path(tmp_path / "b.html") as temporary:
                temporary.write_text("<html>")
                raise OSError(28, "No space left on device")
    assert _files(tmp_path) == ["a.ass", "a.csv"]


def test_stale_temporaries_of_our_outputs_are_removed_and_no_other_file(tmp_path):
    from inafaceanalyzer.export.atomic import remove_stale_temporaries

    ours = [tmp_path / ".a.csv.0123abcd.partial", tmp_path / ".a.html.deadbeef.partial"]
    others = [tmp_path / ".b.csv.0123abcd.partial", tmp_path / ".a.csv.notahexx.partial", tmp_path / "a.csv.partial",
              tmp_path / ".a.csv.0123abcd.partial.bak", tmp_path / "a.csv"]
    for path in ours + others:
        path.write_bytes(b"")
    removed = remove_stale_temporaries([tmp_path / "a.csv", tmp_path / "a.html", None, tmp_path / "missing" / "x"])
    assert sorted(removed) == sorted(ours)
    assert all(path.exists() for path in others)


def _batch(tmp_path: Path, count: int = 3) -> tuple[list[Path], Path]:
    inputs = []
    for name in "abc"[:count]:
        inputs.append(tmp_path / f"{name}.mp4")
        shutil.copy(HAMILTON, inputs[-1])
    return inputs, tmp_path / "out"


def _command(inputs: list[Path], out: Path) -> list[str]:
    return [ANALYZER, "--no_progress", "--fps", "3", "--ass_subtitle_export", "-i", *map(str, inputs), "-o", str(out)]


def _interrupt(command: list[str], first: list[Path], number: int) -> subprocess.CompletedProcess[str]:
    """Run ``command``, send it ``number`` once the ``first`` files exist, and wait for it to end."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not all(p.exists() for p in first) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(number)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


@pytest.mark.parametrize(("number", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_batch_keeps_what_was_finished_and_leaves_nothing_else(tmp_path, number, code):
    inputs, out = _batch(tmp_path)
    proc = _interrupt(_command(inputs, out), [out / "a.csv", out / "a.ass"], number)

    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert f"interrupted by {signal.Signals(number).name}" in proc.stderr, proc.stderr
    assert f"  {out / 'a.csv'}" in proc.stderr and f"  {out / 'a.ass'}" in proc.stderr, proc.stderr
    left = _files(out)
    assert not [name for name in left if name.endswith(".partial")], left
    assert left[:3] == ["a.ass", "a.csv", "a.meta.json"], left
    stems = {name.split(".")[0] for name in left}
    assert len(left) == 3 * len(stems), f"an input has part of its outputs: {left}"
    assert f"in progress, left no output: {tmp_path / 'b.mp4'}" in proc.stderr, proc.stderr
    assert pd.read_csv(out / "a.csv").frame.nunique() >= 25  # a whole 10 s clip at 3 frames per second


def test_a_signal_that_lands_in_a_finaliser_still_stops_the_batch(tmp_path, capsys):
    # CPython swallows an exception raised in __del__: CI once saw a SIGTERM lost in tqdm.__del__ (exit 0)
    from inafaceanalyzer import AnalysisOptions, run_batch
    from inafaceanalyzer.errors import Interrupted
    from inafaceanalyzer.interrupts import interruptible, pending

    class SignalsWhenCollected:
        def __del__(self) -> None:
            signal.raise_signal(signal.SIGTERM)  # the handler runs here, inside the finaliser

    inputs, out = _batch(tmp_path, 2)
    with pytest.raises(Interrupted) as stopped, interruptible():
        SignalsWhenCollected()  # collected at once; the Interrupted its finaliser raised goes nowhere
        run_batch([str(p) for p in inputs], str(out), AnalysisOptions(fps=3))

    assert stopped.value.signal == signal.SIGTERM
    assert _files(out) == [] if out.exists() else True, _files(out)
    assert "Exception ignored" not in capsys.readouterr().err
    assert pending() is None and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_rerun_after_sigterm_removes_stale_temporaries_and_gives_the_same_outputs(tmp_path):
    inputs, out = _batch(tmp_path, 2)
    proc = _interrupt(_command(inputs, out), [out / "a.csv", out / "a.ass"], signal.SIGTERM)
    assert proc.returncode == 143, proc.stderr
    first = {name: (out / name).read_bytes() for name in _files(out)}
    assert set(first) == {"a.ass", "a.csv", "a.meta.json"}
    stale = out / ".b.csv.0123abcd.partial"  # as a run killed by SIGKILL leaves it
    stale.write_bytes(b"")
    not_ours = out / ".b.csv.backup.partial"
    not_ours.write_bytes(b"mine")

    rerun = subprocess.run(_command(inputs, out), capture_output=True, text=True, timeout=600)

    assert rerun.returncode == 0, rerun.stderr
    assert f"removed {stale}" in rerun.stderr
    assert _files(out) == [not_ours.name, "a.ass", "a.csv", "a.meta.json", "b.ass", "b.csv", "b.meta.json"]
    for name, data in first.items():
        assert (out / name).read_bytes() == data, f"{name} differs after the rerun"
    assert (out / "b.csv").read_bytes() == first["a.csv"]  # the same video under another name



@pytest.mark.logs_errors
def test_a_distributed_job_whose_subtitles_cannot_be_written_leaves_no_table(tmp_path):
    from inafaceanalyzer import AnalysisOptions
    from inafaceanalyzer.distributed import Job
    from inafaceanalyzer.distributed.task import JobError, run_job

    (tmp_path / "a_file").write_text("x")
    out = tmp_path / "out"
    job = Job(str(HAMILTON), str(out / "clip.csv"), dest_ass=str(tmp_path / "a_file" / "clip.ass"))
    with pytest.raises(JobError) as error:
        run_job(job, AnalysisOptions(engine="videokeyframes").to_dict(), retries=0)
    assert f"cannot write {tmp_path / 'a_file' / 'clip.ass'}" in error.value.reason
    assert _files(out) == []  # the table was complete, but its subtitles were not: neither appears


def test_a_full_disk_on_a_rerendered_report_leaves_no_subtitles_and_names_the_report(tmp_path, capsys):
    from inafaceanalyzer.cli.render import main as render

    clip = make_clip(tmp_path / "clip.mp4", 25)
    table([i / 25 for i in range(25)], [[(10, 10, 40, 40)]] * 25).to_csv(tmp_path / "clip.csv", index=False)
    with _small_tmpfs(tmp_path / "disk", "1m") as disk:
        if disk is None:
            pytest.skip("cannot mount a tmpfs on this machine (not root, or no CAP_SYS_ADMIN)")
        code = render(["--no_progress", "-i", str(tmp_path / "clip.csv"), "--video", str(clip), "--fps", "25",
                       "--ass_subtitle_export", "--html_report", "-o", str(disk / "out")])
        left = _files(disk / "out")
    assert code == 1
    assert f"{tmp_path / 'clip.csv'}: cannot write {disk / 'out' / 'plotly.min.js'}: " in capsys.readouterr().err
    assert left == [], f"outputs (or temporaries) of the failed table remain: {left}"

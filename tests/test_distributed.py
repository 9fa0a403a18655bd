"""Distributed analysis on Dask: job lists, the Python API, and the server and worker commands.

The end-to-end tests run the real console scripts on 127.0.0.1 only: a
scheduler started by the server command, worker processes (one of which is
killed mid-job), a local HTTP server for a URL input, and mutual TLS with
certificates made here by the ``openssl`` command. Media: the clips of
../shared/media/videos (provenance in its README.md).
"""

from __future__ import annotations

import csv
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inafaceanalyzer import AnalysisOptions
from inafaceanalyzer.distributed import Job, JobListError, analyze_many, read_jobs, record_path_for
from inafaceanalyzer.distributed.security import make_security
from inafaceanalyzer.distributed.task import remove_partials
from inafaceanalyzer.errors import OptionsError

from .conftest import HAMILTON, SHARED_VIDEOS
from .http_helpers import serve_directory

SERVER = shutil.which("ina_face_analyzer_distributed_server.py") or "ina_face_analyzer_distributed_server.py"
WORKER = shutil.which("ina_face_analyzer_distributed_worker.py") or "ina_face_analyzer_distributed_worker.py"
ANALYZER = shutil.which("ina_face_analyzer.py") or "ina_face_analyzer.py"

D11 = SHARED_VIDEOS / "LivePortrait__d11.mp4"
S13 = SHARED_VIDEOS / "LivePortrait__s13.mp4"
KATIE = SHARED_VIDEOS / "SadTalker__WDA_KatieHill_000.mp4"
CROWD = SHARED_VIDEOS / "facenet-pytorch__video.mp4"
RETALKING = SHARED_VIDEOS / "video-retalking__face_1.mp4"


def read_record(path: Path) -> dict[str, dict[str, str]]:
    """The rows of a run's record, by dest_csv."""
    with path.open(newline="") as handle:
        return {row["dest_csv"]: row for row in csv.DictReader(handle)}


def partials(root: Path) -> list[Path]:
    return sorted(root.rglob("*.partial"))


# -- job lists ----------------------------------------------------------------


def test_job_list_keeps_the_seed_columns_and_resolves_paths_from_its_directory(tmp_path):
    jobs_csv = tmp_path / "lists" / "jobs.csv"
    jobs_csv.parent.mkdir()
    jobs_csv.write_text(
        "source_path,dest_csv,dest_ass,dest_mp4\n"
        "/data/a.mp4,/results/csv/a.csv,/results/ass/a.ass,/results/mp4/a.mp4\n"
        " https://host/b.mp4 , csv/b.csv ,,\n"
        "\n"
        "https://host/b.mp4,csv/b.csv,,\n"  # repeated word for word: kept once
    )
    jobs = read_jobs(jobs_csv)
    assert jobs == [
        Job("/data/a.mp4", "/results/csv/a.csv", "/results/ass/a.ass", "/results/mp4/a.mp4"),
        Job("https://host/b.mp4", str(tmp_path / "lists" / "csv" / "b.csv")),
    ]
    assert [p.name for p in jobs[0].outputs] == ["a.csv", "a.ass", "a.mp4"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source_path,dest\na.mp4,a.csv\n", "missing column(s) dest_csv"),
        ("source_path,dest_csv,priority\na.mp4,a.csv,1\n", "unknown column(s) priority"),
        ("source_path,dest_csv\na.mp4,\n", "line 2: empty dest_csv"),
        ("source_path,dest_csv\na.mp4,out.csv\nb.mp4,out.csv\n", "output of two jobs"),
    ],
)
def test_job_list_errors_are_named(tmp_path, text, message):
    jobs_csv = tmp_path / "jobs.csv"
    jobs_csv.write_text(text)
    with pytest.raises(JobListError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_jobs(jobs_csv)


def test_server_rejects_an_unknown_column_with_a_usage_error(tmp_path):
    jobs_csv = tmp_path / "jobs.csv"
    jobs_csv.write_text("source_path,dest_csv,dest_srt\na.mp4,a.csv,a.srt\n")
    proc = subprocess.run([SERVER, "127.0.0.1", "0", str(jobs_csv)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown column(s) dest_srt" in proc.stderr
    assert proc.stdout == ""  # no scheduler was started


def test_record_is_named_after_the_job_list(tmp_path):
    import datetime

    when = datetime.datetime(2026, 1, 31, 23, 59, 58)
    assert record_path_for(tmp_path / "jobs.csv", when) == tmp_path / "jobs.run-20260131-235958.csv"


def test_stale_partials_of_a_job_are_removed_and_no_others(tmp_path):
    job = Job("a.mp4", str(tmp_path / "a.csv"))
    stale = tmp_path / ".a.csv.0123abcd.partial"
    other = tmp_path / ".b.csv.0123abcd.partial"
    stale.write_text("half")
    other.write_text("half")
    assert remove_partials(job) == [stale]
    assert other.exists()


def test_failures_reach_the_server_with_their_worker_and_traceback():
    import pickle
    from types import SimpleNamespace

    from distributed import KilledWorker

    from inafaceanalyzer.distributed.runner import _outcome
    from inafaceanalyzer.distributed.task import JobError

    job = Job("a.mp4", "a.csv")
    error = pickle.loads(pickle.dumps(JobError("a.mp4", "OSError: disk full", "w1", 2.5, "Traceback ...")))
    failed = SimpleNamespace(status="error", exception=lambda: error, traceback=lambda: None)
    record = _outcome(failed, job)
    assert (record.status, record.worker, record.duration_s, record.error, record.traceback) == (
        "failed", "w1", 2.5, "OSError: disk full", "Traceback ...")

    died = KilledWorker("key", SimpleNamespace(address="tcp://127.0.0.1:1234"), 3)
    record = _outcome(SimpleNamespace(status="error", exception=lambda: died, traceback=lambda: None), job)
    assert (record.status, record.worker) == ("failed", "tcp://127.0.0.1:1234")
    assert "died 4 times" in record.error


def test_tls_needs_the_ca_and_a_certificate(tmp_path):
    assert not make_security(None, None, None, "worker").require_encryption
    with pytest.raises(OptionsError, match="--tls-cert"):
        make_security(tmp_path / "ca.pem", None, None, "worker")


# -- Python API (in-process LocalCluster) ------------------------------------


@pytest.mark.logs_errors
@pytest.mark.shared_media
def test_analyze_many_on_a_local_cluster(tmp_path, analyzer):
    from distributed import Client, LocalCluster

    from inafaceanalyzer.runs import analyze_video_to_files

    options = AnalysisOptions(fps=1)
    reference = tmp_path / "reference.csv"
    analyze_video_to_files(str(S13), reference, options, analyzer, ass_path=tmp_path / "reference.ass")
    blocked = tmp_path / "file"
    blocked.write_text("a file where a directory should be\n")
    exports = tmp_path / "out" / "exports"
    jobs = [
        (str(S13), str(tmp_path / "out" / "deep" / "s13.csv"), str(exports / "s13.ass"), str(exports / "s13.mp4")),
        {"source_path": str(tmp_path / "missing.mp4"), "dest_csv": str(tmp_path / "out" / "missing.csv")},
        Job(str(S13), str(blocked / "s13.csv")),  # cannot be written: an unexpected error, retried by Dask
    ]
    record = tmp_path / "run.csv"
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        report = analyze_many(jobs, options, client, retries=1, retry_delay=0.0, record=record)
        assert [r.status for r in report.records] == ["done", "failed", "failed"]
        assert (tmp_path / "out" / "deep" / "s13.csv").read_bytes() == reference.read_bytes()
        assert (exports / "s13.ass").read_bytes() == (tmp_path / "reference.ass").read_bytes()
        assert (exports / "s13.mp4").stat().st_size > 10_000
        assert report.records[0].faces > 0
        assert report.records[1].error == "file not found"
        assert "MediaError" in report.records[1].traceback
        assert f"cannot write {tmp_path / 'file' / 's13.csv'}" in report.records[2].error
        assert f"{tmp_path / 'file'} is a file, not a directory" in report.records[2].error
        assert "Traceback" in report.records[2].traceback
        assert report.records[2].worker  # reported by the worker that failed
        rows = read_record(record)
        assert [row["status"] for row in rows.values()] == ["done", "failed", "failed"]
        assert rows[str(tmp_path / "out" / "missing.csv")]["error"] == "file not found"

        again = analyze_many(jobs[:2], options, client, retries=0)  # a restart: done jobs are skipped
        assert [r.status for r in again.records] == ["skipped", "failed"]
    assert not partials(tmp_path)


@pytest.mark.shared_media
def test_server_submits_to_an_existing_cluster_and_leaves_it_running(tmp_path):
    from distributed import Client, LocalCluster

    jobs_csv = tmp_path / "jobs.csv"
    jobs_csv.write_text(f"source_path,dest_csv\n{S13},out/s13.csv\n")
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=False, host="127.0.0.1", protocol="tcp://",
                     dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        proc = subprocess.run([SERVER, "--no_progress", "--scheduler", cluster.scheduler_address, str(jobs_csv),
                               "--fps", "0.5"], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == cluster.scheduler_address
        assert len(client.scheduler_info()["workers"]) == 1  # the cluster's workers are not the server's to stop
    assert (tmp_path / "out" / "s13.csv").exists()


def test_exports_are_passed_only_when_a_job_asks_for_them(tmp_path):
    from inafaceanalyzer.distributed.runner import check_jobs
    from inafaceanalyzer.export.options import VideoOutputs

    csv_only = Job("a.mp4", str(tmp_path / "a.csv"))
    with_exports = Job("b.mp4", str(tmp_path / "b.csv"), str(tmp_path / "b.ass"), str(tmp_path / "b.mp4"),
                       str(tmp_path / "b.html"), str(tmp_path / "b.stats.csv"))
    assert csv_only.video_outputs() == VideoOutputs(tmp_path / "a.csv")
    assert with_exports.video_outputs() == VideoOutputs(tmp_path / "b.csv", tmp_path / "b.ass", tmp_path / "b.mp4",
                                                        tmp_path / "b.html", tmp_path / "b.stats.csv")
    check_jobs([csv_only], AnalysisOptions())
    check_jobs([with_exports], AnalysisOptions())
    with pytest.raises(OptionsError, match="videos"):
        check_jobs([csv_only], AnalysisOptions(engine="image"))


def test_analyze_many_refuses_image_engines_before_submitting(tmp_path):
    with pytest.raises(OptionsError, match="videos"):
        analyze_many([("a.jpg", str(tmp_path / "a.csv"))], AnalysisOptions(engine="image"), client=object())


# -- the commands, end to end --------------------------------------------------


def _environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DASK_TEMPORARY_DIRECTORY"] = str(tmp_path / "dask-scratch")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _start_server(args: list[str], tmp_path: Path, name: str = "server") -> tuple[subprocess.Popen, str]:
    """Start the server command; returns it and the address it printed."""
    log = (tmp_path / f"{name}.log").open("w")
    proc = subprocess.Popen([SERVER, "--no_progress", *args], stdout=subprocess.PIPE, stderr=log, text=True,
                            env=_environment(tmp_path))
    ready, _, _ = select.select([proc.stdout], [], [], 90)
    address = proc.stdout.readline().strip() if ready else ""
    if not address:
        proc.kill()
        pytest.fail(f"the server printed no address:\n{(tmp_path / f'{name}.log').read_text()}")
    return proc, address


def _start_worker(address: str, name: str, tmp_path: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen([WORKER, address, "--name", name, *extra], stdout=log, stderr=subprocess.STDOUT,
                            env=env or _environment(tmp_path))


def _stop(*procs: subprocess.Popen) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def _job_process(worker: subprocess.Popen):  # type: ignore[no-untyped-def]
    """``(process, partial file)`` of the worker process that is writing a table now, if any."""
    import psutil

    try:
        command = psutil.Process(worker.pid)
        for process in [command, *command.children(recursive=True)]:
            for handle in process.open_files():
                if handle.path.endswith(".partial"):
                    return process, Path(handle.path)
    except psutil.NoSuchProcess:
        pass
    return None, None


@pytest.mark.shared_media
def test_server_and_two_workers_survive_a_killed_worker_and_match_a_single_machine(tmp_path):
    import psutil

    served = tmp_path / "served"
    served.mkdir()
    shutil.copy(RETALKING, served / "remote.mp4")
    broken = tmp_path / "media" / "broken.mp4"
    broken.parent.mkdir()
    broken.write_text("this is not a video\n" * 50)
    local = [HAMILTON, D11, KATIE, CROWD]
    flags = ["--engine", "video", "--fps", "2"]
    out = tmp_path / "results"

    with serve_directory(served) as base:
        url = f"{base}/remote.mp4"
        jobs_csv = tmp_path / "jobs.csv"
        rows = [(str(path), str(out / "csv" / f"{path.stem}.csv"), "") for path in local]
        rows[1] = (*rows[1][:2], str(out / "ass" / f"{D11.stem}.ass"))  # with subtitles
        rows += [(url, str(out / "csv" / "remote.csv"), ""), (str(broken), str(out / "csv" / "broken.csv"), "")]
        jobs_csv.write_text("source_path,dest_csv,dest_ass,dest_mp4\n" + "".join(f"{s},{d},{a},\n" for s, d, a in rows))

        server, address = _start_server(["127.0.0.1", "0", str(jobs_csv), *flags, "--retry_delay", "0.1"], tmp_path)
        workers = {name: _start_worker(address, name, tmp_path) for name in ("worker-a", "worker-b")}
        try:
            assert address.startswith("tcp://127.0.0.1:")
            listening = [c.laddr.ip for c in psutil.Process(server.pid).net_connections("inet")
                         if c.status == psutil.CONN_LISTEN]
            assert listening and set(listening) == {"127.0.0.1"}, listening

            # kill a worker while it writes a table: the nanny and its worker process, like a machine dying
            victim = interrupted = None
            deadline = time.monotonic() + 120
            while victim is None and time.monotonic() < deadline and server.poll() is None:
                for name, worker in workers.items():
                    process, partial = _job_process(worker)
                    if process is not None:
                        victim, interrupted = name, partial
                        for pid in {worker.pid, process.pid}:
                            os.kill(pid, signal.SIGKILL)
                        break
                time.sleep(0.05)
            assert victim is not None, "no worker was caught writing a table"
            assert interrupted.exists()  # the dead worker's half-written table, until its job runs again
            workers[victim].wait(timeout=30)

            assert server.wait(timeout=240) == 1  # one job failed
        finally:
            _stop(server, *workers.values())

    server_log = (tmp_path / "server.log").read_text()
    assert f"{broken}: not a media file" in server_log
    survivor = next(name for name in workers if name != victim)
    assert "try 2 of 3" in (tmp_path / f"{survivor}.log").read_text() + (tmp_path / f"{victim}.log").read_text()

    # every good output is whole and byte for byte a single-machine run's
    reference = tmp_path / "reference"
    proc = subprocess.run([ANALYZER, "--no_progress", "-q", *flags, "-i", *map(str, local), str(RETALKING),
                           "-o", str(reference)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for path in [*local, RETALKING]:
        name = "remote" if path == RETALKING else path.stem
        assert (out / "csv" / f"{name}.csv").read_bytes() == (reference / f"{path.stem}.csv").read_bytes(), name
    assert not (out / "csv" / "broken.csv").exists()
    assert (out / "ass" / f"{D11.stem}.ass").read_text(encoding="utf-8-sig").startswith("[Script Info]")
    assert not partials(out)

    records = list(tmp_path.glob("jobs.run-*.csv"))
    assert len(records) == 1
    record = read_record(records[0])
    failed = record.pop(str(out / "csv" / "broken.csv"))
    assert failed["status"] == "failed"
    assert failed["error"].startswith("not a media file")
    assert "MediaError" in failed["traceback"]
    assert {row["status"] for row in record.values()} == {"done"}
    assert {row["worker"] for row in record.values()} <= set(workers)
    # the interrupted job (".<name>.<random>.partial") was finished by the surviving worker
    interrupted_csv = str(interrupted.parent / interrupted.name[1:].rsplit(".", 2)[0])
    assert record[interrupted_csv]["worker"] == survivor

    # a second run of the good jobs skips them all: no scheduler, no worker needed
    good_csv = tmp_path / "good.csv"
    good_csv.write_text("".join(line for line in jobs_csv.read_text().splitlines(True) if "broken" not in line))
    started = time.monotonic()
    again = subprocess.run([SERVER, "--no_progress", "127.0.0.1", "0", str(good_csv), *flags],
                           capture_output=True, text=True, timeout=120, env=_environment(tmp_path))
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""
    assert "5 job(s): 0 done, 5 skipped, 0 failed" in again.stderr
    assert time.monotonic() - started < 60
    (second,) = tmp_path.glob("good.run-*.csv")
    assert {row["status"] for row in read_record(second).values()} == {"skipped"}


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _make_authority(directory: Path, name: str) -> None:
    """``<name>-ca.pem`` and a member certificate ``<name>.pem``/``<name>.key`` signed by it."""
    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *curve, "-keyout", f"{name}-ca.key", "-out", f"{name}-ca.pem", "-days", "2",
             "-subj", f"/CN={name} test CA", cwd=directory)
    _openssl("req", *curve, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=directory)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{name}-ca.pem", "-CAkey", f"{name}-ca.key",
             "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", cwd=directory)


@pytest.mark.shared_media
@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command makes the test certificates")
def test_mutual_tls_refuses_workers_and_clients_without_a_certificate_of_the_ca(tmp_path):
    from distributed import Client
    from distributed.security import Security

    pki = tmp_path / "pki"
    pki.mkdir()
    _make_authority(pki, "campaign")
    _make_authority(pki, "intruder")
    tls = ["--tls-ca-file", str(pki / "campaign-ca.pem"), "--tls-cert", str(pki / "campaign.pem"),
           "--tls-key", str(pki / "campaign.key")]
    jobs_csv = tmp_path / "jobs.csv"
    output = tmp_path / "out" / "s13.csv"
    jobs_csv.write_text(f"source_path,dest_csv\n{S13},{output}\n")

    server, address = _start_server(["127.0.0.1", "0", str(jobs_csv), "--fps", "0.5", *tls], tmp_path)
    env = _environment(tmp_path) | {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"}
    refused = []
    try:
        assert address.startswith("tls://127.0.0.1:")
        # the job waits for a worker: none of these may take it
        intruders = {
            "no-certificate": _start_worker(address, "no-certificate", tmp_path, "--death_timeout", "8", env=env),
            "plain-tcp": _start_worker(address.replace("tls://", "tcp://"), "plain-tcp", tmp_path,
                                       "--death_timeout", "8", env=env),
            # trusts the campaign's CA (a public file) but shows a certificate it did not sign
            "other-ca": _start_worker(address, "other-ca", tmp_path, "--death_timeout", "8",
                                      "--tls-ca-file", str(pki / "campaign-ca.pem"), "--tls-cert",
                                      str(pki / "intruder.pem"), "--tls-key", str(pki / "intruder.key"), env=env),
        }
        refused = list(intruders.values())
        for name, proc in intruders.items():
            assert proc.wait(timeout=30) == 1, name
            assert "could not join the scheduler" in (tmp_path / f"{name}.log").read_text(), name
        with pytest.raises(Exception):  # noqa: B017 (refused: timeout, handshake or configuration error)
            Client(address, security=Security(), timeout=3)
        assert server.poll() is None and not output.exists()

        member = _start_worker(address, "member", tmp_path, *tls, env=env)
        refused.append(member)
        assert server.wait(timeout=120) == 0, (tmp_path / "server.log").read_text()
        assert member.wait(timeout=60) == 0
    finally:
        _stop(server, *refused)
    assert output.exists()
    (record,) = tmp_path.glob("jobs.run-*.csv")
    assert read_record(record)[str(output)]["worker"] == "member"
    assert "TLS handshake failed" in (tmp_path / "server.log").read_text()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))

"""What a distributed campaign may touch: job lists never write over inputs; workers and pages are not open doors.

The cluster tests start the real server and worker commands on 127.0.0.1
and look at the sockets their processes listen on (psutil).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
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


@pytest.mark.logs_errors
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


# -- who can connect: listening sockets of the real commands on 127.0.0.1 --------------------


def _listening(pid: int) -> dict[int, set[tuple[str, int]]]:
    """The listening TCP sockets of a process and of its children: pid -> {(ip, port)}."""
    import psutil

    root = psutil.Process(pid)
    found = {}
    for process in [root, *root.children(recursive=True)]:
        try:
            found[process.pid] = {(c.laddr.ip, c.laddr.port) for c in process.net_connections("inet")
                                  if c.status == psutil.CONN_LISTEN}
        except psutil.NoSuchProcess:
            continue
    return found


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _http_get(port: int, path: str = "/health", context=None) -> bytes:  # type: ignore[no-untyped-def]
    """The raw answer of ``GET path`` on 127.0.0.1:port (TLS with ``context``)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        conn = context.wrap_socket(raw, server_hostname="127.0.0.1") if context else raw
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        try:
            while chunk := conn.recv(1 << 16):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return data


@pytest.mark.shared_media
def test_server_and_worker_listen_on_loopback_only_and_serve_no_http_by_default(tmp_path):
    from .test_distributed import _start_server, _start_worker, _stop

    jobs_csv = tmp_path / "jobs.csv"
    output = tmp_path / "out" / "d11.csv"
    jobs_csv.write_text(f"source_path,dest_csv\n{D11},{output}\n")
    server, address = _start_server(["127.0.0.1", "0", str(jobs_csv), "--fps", "5"], tmp_path)
    workers = []
    try:
        assert address.startswith("tcp://127.0.0.1:")
        # the scheduler: its own port only, no HTTP server (/info, /metrics, /eventstream)
        assert set().union(*_listening(server.pid).values()) == {("127.0.0.1", _port(address))}

        worker = _start_worker(address, "worker", tmp_path)  # no --listen_address: the scheduler's side
        workers.append(worker)
        deadline = time.monotonic() + 90
        sockets = {}
        while time.monotonic() < deadline and worker.poll() is None:  # until the nanny and its worker listen
            sockets = _listening(worker.pid)
            if sum(bool(s) for s in sockets.values()) >= 2:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        sockets = _listening(worker.pid) if worker.poll() is None else sockets
        everything = set().union(*sockets.values())
        assert everything and {ip for ip, _ in everything} == {"127.0.0.1"}, sockets
        # one port for the nanny, one for its worker: no HTTP port, nothing on 0.0.0.0 or [::]
        assert sorted(len(s) for s in sockets.values() if s) == [1, 1], sockets
        for _, port in everything:
            assert b"HTTP/1.1 200" not in _http_get(port)
        assert server.wait(timeout=180) == 0, (tmp_path / "server.log").read_text()[-3000:]
        worker.wait(timeout=60)
    finally:
        _stop(server, *workers)
    assert output.exists()


def test_worker_serves_its_http_pages_only_when_asked_on_its_listen_address(tmp_path):
    from distributed import Client

    from inafaceanalyzer.distributed import start_scheduler

    from .test_distributed import _start_worker, _stop

    with start_scheduler("127.0.0.1", 0) as address:
        worker = _start_worker(address, "worker", tmp_path, "--listen_address", "127.0.0.1", "--http_port", "0")
        try:
            with Client(address) as client:
                client.wait_for_workers(1, timeout=60)
                (dask_address,) = client.scheduler_info()["workers"]
            time.sleep(1)
            everything = set().union(*_listening(worker.pid).values())
            assert {ip for ip, _ in everything} == {"127.0.0.1"}
            http_ports = [port for _, port in everything if b"HTTP/1.1 200" in _http_get(port)]
            assert len(http_ports) == 1 and http_ports[0] != _port(dask_address)
            assert _http_get(http_ports[0]).endswith(b"ok")
        finally:
            _stop(worker)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command makes the test certificates")
def test_under_tls_the_scheduler_pages_are_https_with_a_client_certificate_never_plain(tmp_path):
    import ssl

    from .test_distributed import _make_authority, _start_server, _stop

    pki = tmp_path / "pki"
    pki.mkdir()
    _make_authority(pki, "campaign")
    tls = ["--tls-ca-file", str(pki / "campaign-ca.pem"), "--tls-cert", str(pki / "campaign.pem"),
           "--tls-key", str(pki / "campaign.key")]
    jobs_csv = tmp_path / "jobs.csv"
    jobs_csv.write_text(f"source_path,dest_csv\n{D11},{tmp_path / 'out' / 'd11.csv'}\n")
    server, address = _start_server(["127.0.0.1", "0", str(jobs_csv), "--dashboard_port", "0", *tls], tmp_path)
    try:
        assert address.startswith("tls://")
        (http_port,) = {port for _, port in set().union(*_listening(server.pid).values())} - {_port(address)}
        assert b"HTTP/1.1" not in _http_get(http_port)  # no plain HTTP
        anonymous = ssl.create_default_context(cafile=str(pki / "campaign-ca.pem"))
        anonymous.check_hostname = False
        with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
            answer = _http_get(http_port, context=anonymous)
            if not answer:  # TLS 1.3: the refusal comes with the first read
                raise ssl.SSLError("refused")
        member = ssl.create_default_context(cafile=str(pki / "campaign-ca.pem"))
        member.check_hostname = False
        member.load_cert_chain(str(pki / "campaign.pem"), str(pki / "campaign.key"))
        assert _http_get(http_port, context=member).startswith(b"HTTP/1.1 200")
    finally:
        _stop(server)


def test_the_listen_address_is_the_local_end_towards_the_scheduler():
    from inafaceanalyzer.distributed.network import local_address_towards

    assert local_address_towards("tcp://127.0.0.1:8786") == "127.0.0.1"
    assert local_address_towards("tls://localhost:8786") in {"127.0.0.1", "::1"}
    assert local_address_towards("127.0.0.1") == "127.0.0.1"

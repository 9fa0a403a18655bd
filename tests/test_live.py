"""Tests of inafaceanalyzer.live and ina_face_analyzer_webcam_demo.py.

The parts are tested alone on synthetic data: a 2-second clip encoded with
PyAV into tmp_path (frames numbered by a grey ramp), detections built from
plain lists, and a stub analyser where the models are not the point. No
camera exists here: cameras are only tested for their failure and their
FFmpeg settings; live sources are HTTP streams made by
:class:`~inafaceanalyzer.live.StreamServer` (MPEG-TS and HLS).

The end-to-end test serves two shared clips (SadTalker talking heads: a
woman, then a man; see ../shared/media/README.md) as a live MPEG-TS stream
on 127.0.0.1, runs the command against it with the real models, opens the
page in headless Chromium (Debian's ``chromium`` package) driven through the
DevTools protocol over a pipe, checks that annotated frames arrive and the
statistics change, stops the stream, checks the reconnection message, starts
it again and checks that the analysis resumes, then stops the command with
Ctrl-C (SIGINT) and checks the CSV. Without Chromium it is skipped, except
under CI=true where it fails.
"""

from __future__ import annotations

import csv
import http.server
import io
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inafaceanalyzer import AnalysisOptions
from inafaceanalyzer.detections import Detections
from inafaceanalyzer.errors import MediaError, OptionsError
from inafaceanalyzer.export.overlay import GENDER_COLOURS
from inafaceanalyzer.live import (
    LIVE_COLUMNS,
    LatestSlot,
    LiveOptions,
    LiveServer,
    LiveSession,
    LiveSource,
    LiveStats,
    RollingCsv,
    StreamServer,
    View,
    parse_source,
)
from inafaceanalyzer.live.source import PlayoutClock, redact
from inafaceanalyzer.live.view import render_view
from inafaceanalyzer.pipeline.results import FrameResult

from .browser import Chromium, open_chromium
from .clips import write_clip
from .conftest import SHARED_VIDEOS

KATIE = SHARED_VIDEOS / "SadTalker__WDA_KatieHill_000.mp4"
BOB = SHARED_VIDEOS / "SadTalker__WDA_BobMenendez_000.mp4"
CLIP_SECONDS, CLIP_RATE = 2, 25


# -- synthetic media and stubs ------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s, 25 fps, 160x120 MPEG-4 clip, one keyframe per second; frame i has grey level 5 * i."""
    path = tmp_path_factory.mktemp("live") / "ramp.mp4"
    frames = (np.full((120, 160, 3), 5 * index, np.uint8) for index in range(CLIP_SECONDS * CLIP_RATE))
    return write_clip(path, frames, rate=CLIP_RATE, options={"g": str(CLIP_RATE)})


def faces(*people: tuple[str, float]) -> Detections:
    """Detections of ``(sex, age)`` people, side by side, with prediction columns."""
    n = len(people)
    boxes = [[10 + 60 * i, 10, 60 + 60 * i, 60] for i in range(n)]
    return Detections(
        np.array(boxes, dtype=np.float64).reshape(-1, 4), np.full(n, 0.9),
        data={
            "sex_label": np.array([sex for sex, _ in people], dtype=str),
            "age_label": np.array([age for _, age in people], dtype=np.float64),
            "sex_prob_male": np.array([0.9 if sex == "m" else 0.1 for sex, _ in people]),
            "sex_decfunc": np.zeros(n), "age_decfunc": np.zeros(n), "age_std": np.ones(n),
        },
    )


class StubAnalyzer:
    """Finds one woman of 30 in every frame, in ``seconds``."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.calls = 0

    def __call__(self, image: np.ndarray) -> Detections:
        self.calls += 1
        time.sleep(self.seconds)
        return faces(("f", 30.0))


def wait_until(condition: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """Poll ``condition`` until it returns something true; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def get(url: str, headers: dict[str, str] | None = None, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# -- the parts ------------------------------------------------------------------------


def test_latest_slot_keeps_the_newest_and_counts_what_was_missed() -> None:
    slot: LatestSlot[str] = LatestSlot()
    assert slot.latest() is None and slot.wait_newer(0, timeout=0.01) is None
    for item in "abc":
        slot.put(item)
    assert slot.wait_newer(0, timeout=0) == (3, "c")  # a and b were dropped: 3 - 0 - 1 missed
    assert slot.wait_newer(3, timeout=0.01) is None
    threading.Timer(0.05, slot.put, args=("d",)).start()
    assert slot.wait_newer(3, timeout=5) == (4, "d")
    threading.Timer(0.05, slot.close).start()
    started = time.monotonic()
    assert slot.wait_newer(4, timeout=5) is None
    assert time.monotonic() - started < 2 and slot.closed
    slot.put("e")  # an item put before the waiter looks is still delivered after close
    assert slot.wait_newer(4) == (5, "e")


def test_playout_clock_paces_files_and_follows_real_time_streams() -> None:
    paced = PlayoutClock(paced=True, max_early=10)
    assert paced.due(0.0, now=100.0) == 100.0
    assert paced.due(1.0, now=100.2) == 101.0  # early: wait until due
    assert paced.due(2.0, now=103.5) == 102.0  # late by 1.5 s: the caller decides
    assert paced.due(60.0, now=104.0) == 104.0  # a jump ahead restarts the clock
    live = PlayoutClock(paced=False)
    assert live.due(0.0, now=100.0) == 100.0  # the first frame came late (probing)...
    assert live.due(1.0, now=100.1) == 100.1  # ...the next one early: the clock moves back
    assert live.due(2.0, now=101.3) == 101.1  # a late frame keeps the clock
    live.restart()
    assert live.due(5.0, now=200.0) == 200.0


def test_parse_source_tells_cameras_streams_and_files(clip: Path) -> None:
    if sys.platform.startswith("linux"):
        camera = parse_source(LiveOptions(source="0"))
        assert (camera.kind, camera.url, camera.format) == ("camera", "/dev/video0", "v4l2")
        assert parse_source(LiveOptions(source="/dev/video2", input_format="video4linux2")).format == "video4linux2"
    rtsp = parse_source(LiveOptions(source="rtsp://user:secret@cam:554/s", stall_timeout=5))
    assert rtsp.kind == "stream" and rtsp.options == {"rtsp_transport": "tcp", "timeout": "5000000"}
    assert rtsp.display == "rtsp://user:***@cam:554/s" and "secret" not in rtsp.display
    udp = parse_source(LiveOptions(source="udp://@:1234", input_options=(("fifo_size", "100000"),)))
    assert udp.options["overrun_nonfatal"] == "1" and udp.options["fifo_size"] == "100000"
    hls = parse_source(LiveOptions(source="https://host/live.m3u8", input_options=(("timeout", "1"),)))
    assert hls.kind == "stream" and hls.options["timeout"] == "1"  # the user's option wins
    assert parse_source(LiveOptions(source=str(clip))).kind == "file"
    assert parse_source(LiveOptions(source=clip.as_uri())).url == str(clip)
    with pytest.raises(MediaError, match="file not found"):
        parse_source(LiveOptions(source=str(clip.with_name("missing.mp4"))))
    assert redact("http://host/a?b=c") == "http://host/a?b=c"


def test_live_options_are_checked() -> None:
    for bad in ({"source": " "}, {"stall_timeout": 0}, {"reconnect_min": 5, "reconnect_max": 1}, {"port": 70000},
                {"jpeg_quality": 0}, {"duration": -1}, {"input_options": (("a",),)}):
        with pytest.raises(OptionsError):
            LiveOptions(**bad)


def test_stats_share_histogram_rates_and_window() -> None:
    stats = LiveStats(window_s=10, rate_window_s=5)
    empty = stats.snapshot(now=0)
    assert empty["faces_now"] == 0 and empty["women_share"] is None and empty["analysed_fps"] == 0
    stats.add(faces(("f", 25.0), ("m", 71.0)), delay=0.2, seconds=0.1, now=1.0)
    stats.add(faces(("f", 35.0)), delay=0.4, seconds=0.1, dropped=3, now=2.0)
    snap = stats.snapshot(now=2.0)
    assert (snap["women"], snap["men"], snap["women_share"]) == (2, 1, round(2 / 3, 4))
    assert snap["faces_now"] == 1 and snap["faces"] == [{"sex": "f", "age": 35.0}]
    assert snap["age_women"][snap["age_bins"].index("20-29")] == 1
    assert snap["age_women"][snap["age_bins"].index("30-39")] == 1
    assert snap["age_men"][snap["age_bins"].index("70+")] == 1
    assert snap["analysed_fps"] == 1.0 and snap["delay_s"] == 0.4 and snap["delay_mean_s"] == 0.3
    assert snap["frames_analysed"] == 2 and snap["frames_dropped"] == 3
    later = stats.snapshot(now=11.5)  # the first frame left the 10 s window
    assert (later["women"], later["men"], later["window_frames"]) == (1, 0, 1)
    assert later["frames_analysed"] == 2  # totals are not windowed


def test_rolling_csv_flushes_while_open_appends_and_refuses_other_columns(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "live.csv"
    log = RollingCsv(path, flush_s=0.05)
    log.write(FrameResult(7, 1.5, faces(("f", 30.0), ("m", 40.0))), capture_time=1_700_000_000.25)
    time.sleep(0.06)
    log.write(FrameResult(9, 1.6, Detections.empty()), capture_time=1_700_000_000.35)  # no face, no row
    rows = list(csv.DictReader(path.open()))  # readable while the log is still open
    assert [r["frame"] for r in rows] == ["7", "7"] and [r["sex_label"] for r in rows] == ["f", "m"]
    assert rows[0]["capture_time"] == "2023-11-14T22:13:20.250Z" and rows[0]["time_s"] == "1.5"
    log.close()
    log.close()
    with path.open("a") as handle:
        handle.write("7,cut by a cra")  # a crash in the middle of a row
    with RollingCsv(path) as again:
        again.write(FrameResult(12, 2.0, faces(("m", 50.0))), capture_time=1_700_000_001.0)
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(LIVE_COLUMNS) and lines.count(lines[0]) == 1
    assert lines[-2] == "7,cut by a cra" and lines[-1].startswith("12,")
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(OptionsError, match="other columns"):
        RollingCsv(other)


def test_view_is_downscaled_and_faces_drawn_in_their_colours() -> None:
    image = np.full((200, 400, 3), 30, np.uint8)
    jpeg, width, height = render_view(image, faces(("f", 30.0), ("m", 60.0)), max_width=200)
    assert (width, height) == (200, 100)
    drawn = np.asarray(Image.open(io.BytesIO(jpeg))).astype(int)
    assert drawn.shape == (100, 200, 3)
    for sex in ("f", "m"):
        close = np.abs(drawn - np.array(GENDER_COLOURS[sex])).max(axis=2) < 40
        assert close.sum() > 50, f"no {sex} box drawn"
    plain, *_ = render_view(image, Detections.empty(), max_width=960)
    assert np.asarray(Image.open(io.BytesIO(plain))).shape == (200, 400, 3)


def test_server_serves_page_frames_mjpeg_stats_and_events() -> None:
    views: LatestSlot[View] = LatestSlot()
    server = LiveServer(views, lambda: {"source": {"state": "live"}, "stats": {"faces_now": 1}}, port=0).start()
    try:
        base = server.url
        status, headers, body = get(base)
        assert status == 200 and b"liveState" in body and "text/html" in headers["Content-Type"]
        assert b"http://" not in body.replace(b"http://www.w3.org", b"")  # self-contained: no CDN
        assert get(base + "frame.jpg?after=0&timeout=0.1")[0] == 204
        views.put(View(b"\xff\xd8jpeg\xff\xd9", 2, 2, number=41, capture_time=10.0, published_time=10.25, faces=1))
        status, headers, body = get(base + "frame.jpg?after=0")
        assert status == 200 and body == b"\xff\xd8jpeg\xff\xd9"
        assert (headers["X-Frame-Seq"], headers["X-Frame-Number"], headers["X-Delay"]) == ("1", "41", "0.250")
        assert get(base + "frame.jpg?after=99&timeout=0.1")[0] == 200  # a client of an earlier run starts again
        assert json.loads(get(base + "stats.json")[2])["stats"]["faces_now"] == 1
        with urllib.request.urlopen(base + "events", timeout=10) as events:
            assert events.headers["Content-Type"] == "text/event-stream"
            lines = [events.readline() for _ in range(4)]
        assert lines[0] == b"retry: 1000\n" and json.loads(lines[2].removeprefix(b"data: "))["source"]["state"] == "live"
        with urllib.request.urlopen(base + "stream.mjpg", timeout=10) as mjpeg:
            assert mjpeg.headers["Content-Type"].startswith("multipart/x-mixed-replace")
            assert mjpeg.read(60).startswith(b"--inafaceanalyzerframe\r\nContent-Type: image/jpeg")
        assert get(base + "nothing")[0] == 404
        assert get(base, headers={"Host": "attacker.example:8765"})[0] == 403  # DNS rebinding
        assert get(base, headers={"Host": "localhost:9999"})[0] == 200  # SSH port forwarding
    finally:
        views.close()
        server.close()


def test_server_threads_stay_bounded_under_idle_and_slow_clients() -> None:
    import socket

    views: LatestSlot[View] = LatestSlot()
    server = LiveServer(views, lambda: {"source": {"state": "live"}, "stats": {}}, port=0, max_connections=8,
                        idle_timeout=1.5).start()
    address = ("127.0.0.1", server.port)
    sockets: list[socket.socket] = []
    try:
        before = threading.active_count()
        # 150 clients that connect and say nothing cost no thread, and a new client is served at once
        idle = [socket.create_connection(address, timeout=5) for _ in range(150)]
        sockets += idle
        time.sleep(0.3)
        assert threading.active_count() <= before + 1
        started = time.monotonic()
        status, _, body = get(server.url, timeout=5)
        assert status == 200 and b"liveState" in body and time.monotonic() - started < 2

        # 20 clients that start a request and never finish it hold at most max_connections threads;
        # the next client is told 503 at once instead of waiting
        slow = [socket.create_connection(address, timeout=5) for _ in range(20)]
        sockets += slow
        for client in slow:
            client.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(0.5)
        assert threading.active_count() <= before + 8 + 1
        status, headers, _ = get(server.url, timeout=5)
        assert status == 503 and headers.get("Retry-After")

        # the silent and the slow are cut after idle_timeout; then the page serves again
        assert all(_read_to_end(client) == b"" for client in idle)
        answers = [_read_to_end(client) for client in slow]
        assert answers.count(b"") == 8  # served, then timed out
        assert all(a.startswith(b"HTTP/1.1 503 ") for a in answers if a)  # refused at once
        wait_until(lambda: threading.active_count() <= before + 1, 10, "the slow clients' threads to end")
        assert get(server.url, timeout=5)[0] == 200
    finally:
        for client in sockets:
            client.close()
        views.close()
        server.close()


def _read_to_end(client) -> bytes:  # type: ignore[no-untyped-def]
    """What the server sent ``client`` before closing it (a TimeoutError if it keeps it open 5 s)."""
    client.settimeout(5)
    data = b""
    try:
        while chunk := client.recv(1 << 16):
            data += chunk
    except ConnectionResetError:
        pass
    return data


# -- sources ------------------------------------------------------------------------------


def test_file_is_played_at_its_real_speed_then_ends(clip: Path) -> None:
    source = LiveSource(LiveOptions(source=str(clip))).start()
    seq, times = 0, []
    started = time.monotonic()
    while got := source.slot.wait_newer(seq, timeout=10):
        seq, frame = got
        times.append((time.monotonic() - started, frame.stream_time))
    assert source.stop(timeout=5) and source.error is None
    elapsed = time.monotonic() - started
    assert source.status()["state"] == "ended" and seq == CLIP_SECONDS * CLIP_RATE
    assert CLIP_SECONDS - 0.2 < elapsed < CLIP_SECONDS + 1.5
    early = [(wall, t) for wall, t in times if wall < t - 0.02 + times[0][0]]
    assert not early, f"frames delivered before they were due: {early[:3]}"
    assert source.slot.latest()[1].to_rgb().shape == (120, 160, 3)


def test_slow_consumer_gets_the_latest_frame_never_a_backlog(clip: Path) -> None:
    source = LiveSource(LiveOptions(source=str(clip), loop=True)).start()
    try:
        seq, taken, ages = 0, 0, []
        while taken < 8:
            got = source.slot.wait_newer(seq, timeout=10)
            assert got is not None
            seq, frame = got
            ages.append(time.monotonic() - frame.capture_monotonic)
            taken += 1
            time.sleep(0.2)  # an analysis five times slower than the source
        assert seq > 3 * taken  # most frames were dropped...
        assert max(ages) < 0.15  # ...and what was taken was fresh
    finally:
        assert source.stop(timeout=5)
    assert source.status()["state"] == "stopped"


def test_a_reader_slower_than_the_file_skips_to_keyframes_and_keeps_time(clip: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    publish = LiveSource._publish

    def slow_publish(self: LiveSource, *args: Any) -> None:
        time.sleep(0.1)  # decoding at 10 frames/s a 25 frames/s file
        publish(self, *args)

    monkeypatch.setattr(LiveSource, "_publish", slow_publish)
    source = LiveSource(LiveOptions(source=str(clip), max_delay=0.3)).start()
    started = time.monotonic()
    assert source.finished.wait(15)
    elapsed = time.monotonic() - started
    status = source.status()
    assert status["state"] == "ended" and status["packets_skipped"] > 5
    assert status["frames_read"] < CLIP_SECONDS * CLIP_RATE
    assert elapsed < CLIP_SECONDS + 1.0, "the file kept its real speed"
    assert any("skipping to the next keyframe" in e["message"] for e in status["events"])


@pytest.mark.logs_errors
def test_a_missing_camera_fails_at_once() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("Video4Linux2 cameras are Linux only")
    source = LiveSource(LiveOptions(source="/dev/video99")).start()
    assert source.finished.wait(10)
    assert isinstance(source.error, MediaError) and "/dev/video99" in str(source.error)
    assert source.status()["state"] == "failed"


def test_hls_stream_is_paced_and_reconnected_after_it_drops(clip: Path) -> None:
    streamer = StreamServer([clip], protocol="hls").start()
    source = LiveSource(LiveOptions(source=streamer.url, reconnect_min=0.2, reconnect_max=0.5, stall_timeout=4))
    try:
        wait_until(lambda: Path(streamer._hls_dir.name, "live2.ts").exists(), 15, "three HLS segments")
        source.start()
        wait_until(lambda: source.status()["frames_read"] >= 10, 20, "frames from the HLS stream")
        first = source.status()["frames_read"]
        time.sleep(1.0)
        status = source.status()
        assert status["state"] == "live" and status["format"] == "hls"
        assert 15 <= status["frames_read"] - first <= 35, "HLS segments are played at 25 fps, not in bursts"
        streamer.stop()
        wait_until(lambda: source.status()["state"] == "reconnecting", 15, "the reconnection state")
        assert "reconnecting in" in source.status()["message"]
        streamer.start()
        wait_until(lambda: any("reconnected after" in e["message"] for e in source.status()["events"]), 30,
                   "the reconnection")
        read = source.status()["frames_read"]
        wait_until(lambda: source.status()["frames_read"] > read + 5, 20, "frames after the reconnection")
    finally:
        assert source.stop(timeout=10)
        streamer.stop()


class StallingProxy:
    """Relays a stream for ``seconds`` on each connection, then keeps the connection open and silent."""

    def __init__(self, upstream: str, seconds: float) -> None:
        self.release = threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (stdlib name)
                with urllib.request.urlopen(upstream, timeout=10) as source:
                    self.send_response(200)
                    self.send_header("Content-Type", "video/mp2t")
                    self.end_headers()
                    until = time.monotonic() + seconds
                    while time.monotonic() < until and not proxy.release.is_set():
                        self.wfile.write(source.read1(1 << 16))
                    proxy.release.wait(30)  # stalled: nothing more, connection kept open

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/live.ts"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_stalled_stream_is_reconnected(clip: Path) -> None:
    streamer = StreamServer([clip]).start()
    proxy = StallingProxy(streamer.url, seconds=1.5)
    source = LiveSource(LiveOptions(source=proxy.url, stall_timeout=1.0, reconnect_min=0.2, reconnect_max=0.5))
    try:
        source.start()
        lost = wait_until(lambda: next((e["message"] for e in source.status()["events"]
                                        if "stream lost" in e["message"]), None), 20, "the stall to be seen")
        assert "timed out" in lost or "no video frame" in lost or "Operation timed out" in lost, lost
        read = source.status()["frames_read"]
        wait_until(lambda: source.status()["frames_read"] > read + 5, 20, "frames after the reconnection")
        assert any("reconnected after" in e["message"] for e in source.status()["events"])
    finally:
        assert source.stop(timeout=10)
        proxy.close()
        streamer.stop()


# -- the session and the command -------------------------------------------------------------


def test_session_analyses_the_latest_frames_and_logs_them(clip: Path, tmp_path: Path) -> None:
    stub = StubAnalyzer(seconds=0.05)
    live = LiveOptions(source=str(clip), port=0, csv=str(tmp_path / "live.csv"), view_width=80)
    session = LiveSession(live, AnalysisOptions(fps=5), analyzer=stub)  # type: ignore[arg-type]
    seen: list[View] = []
    session.on_view = lambda view, frame, found: seen.append(view)
    assert session.url and session.url.startswith("http://127.0.0.1:")
    session.run()  # until the end of the 2 s file
    snapshot = session.snapshot()
    stats = snapshot["stats"]
    assert 6 <= stub.calls <= 12, "--fps 5 caps the analysis of a 2 s file at about 10 frames"
    assert stats["frames_analysed"] == stub.calls == len(seen) and stats["frames_dropped"] > 20
    assert stats["women"] == stub.calls and stats["women_share"] == 1.0
    assert snapshot["source"]["state"] == "ended"
    assert all(view.width == 80 and 0 <= view.delay < 1.0 for view in seen)
    rows = list(csv.DictReader((tmp_path / "live.csv").open()))
    assert len(rows) == stub.calls and [int(r["frame"]) for r in rows] == sorted({int(r["frame"]) for r in rows})
    with pytest.raises(OSError):  # the port was released
        urllib.request.urlopen(session.url, timeout=2)


def test_session_refuses_other_engines(clip: Path) -> None:
    with pytest.raises(OptionsError, match="video engine"):
        LiveSession(LiveOptions(source=str(clip)), AnalysisOptions(engine="image"), analyzer=StubAnalyzer())  # type: ignore[arg-type]


def demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "inafaceanalyzer.cli.webcam_demo", *args]


@pytest.mark.logs_errors
def test_command_usage_errors_and_missing_source(clip: Path, capsys: pytest.CaptureFixture[str],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    from inafaceanalyzer.cli import webcam_demo

    for args, message in (
        (["--engine", "image"], "invalid choice: 'image' (choose from 'video')"),
        (["--input_option", "novalue"], "NAME=VALUE"),
        (["--stall_timeout", "0"], "stall_timeout"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            webcam_demo.main(args)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert webcam_demo.main(["--source", str(clip.with_name("missing.mp4")), "--port", "0"]) == 1
    assert "file not found" in caplog.text


def test_command_stops_cleanly_on_sigterm(clip: Path, tmp_path: Path) -> None:
    log_path = tmp_path / "demo.log"
    with log_path.open("w") as log_file:
        demo = subprocess.Popen(demo_command("--source", str(clip), "--loop", "--port", "0", "--csv",
                                             str(tmp_path / "live.csv")), stderr=log_file)
        try:
            wait_until(lambda: "connected to" in log_path.read_text(), 120, "the command to start")
            demo.send_signal(signal.SIGTERM)
            assert demo.wait(timeout=30) == 0, log_path.read_text()
        finally:
            if demo.poll() is None:
                demo.kill()
    assert "SIGTERM: stopping" in log_path.read_text()
    assert (tmp_path / "live.csv").read_text().splitlines()[0] == ",".join(LIVE_COLUMNS)


# -- end to end, in a real browser ---------------------------------------------------------------


@pytest.fixture
def chromium() -> Iterator[Chromium]:
    yield from open_chromium()


#: What the page shows, read from its DOM and ``window.liveState``. ``orange`` counts the
#: pixels of the shown frame in the colour of women's boxes, which the raw clips do not have.
PAGE_STATE = """(() => {
  const $ = (id) => document.getElementById(id);
  const img = $("view");
  if (!img || !window.liveState) return null;  // not loaded yet
  let orange = 0;
  if (img.naturalWidth) {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - R) < 40 && Math.abs(data[i + 1] - G) < 40 && Math.abs(data[i + 2] - B) < 40) orange++;
    }
  }
  const s = window.liveState;
  return { shown: s.framesShown, width: img.naturalWidth, orange: orange, status: $("status").textContent,
           message: $("status-message").textContent, events: $("events").textContent,
           facesNow: $("faces-now").textContent, women: $("women-share").textContent, men: $("men-share").textContent,
           analysed: Number($("frames-analysed").textContent), fps: $("analysed-fps").textContent,
           delay: $("delay").textContent };
})()""".replace("- R)", f"- {GENDER_COLOURS['f'][0]})").replace("- G)", f"- {GENDER_COLOURS['f'][1]})").replace(
    "- B)", f"- {GENDER_COLOURS['f'][2]})")


@pytest.mark.shared_media
def test_webcam_demo_in_a_browser_survives_a_stream_drop(chromium: Chromium, tmp_path: Path) -> None:
    streamer = StreamServer([KATIE, BOB], seconds_per_clip=2, size=(320, 320)).start()
    log_path, csv_path = tmp_path / "demo.log", tmp_path / "live.csv"
    log_file = log_path.open("w")
    demo = subprocess.Popen(
        demo_command("--source", streamer.url, "--port", "0", "--csv", str(csv_path), "--reconnect_max", "1",
                     "--stats_minutes", "1"),
        stderr=log_file,
    )
    try:
        url = wait_until(lambda: next((line.split()[2] for line in log_path.read_text().splitlines()
                                       if line.startswith("live view: ")), None), 120, "the page's URL")
        chromium.navigate(url)
        not_loaded = {"shown": 0, "width": 0, "orange": 0, "status": "", "message": "", "events": "", "facesNow": "",
                      "women": "", "men": "", "analysed": 0, "fps": "", "delay": ""}
        page = lambda: chromium.evaluate(PAGE_STATE) or not_loaded  # noqa: E731

        # annotated frames arrive and the statistics change: a woman, then a man
        # (the image may be between two MJPEG parts, with no size, when the page is read)
        first = wait_until(lambda: (state := page())["shown"] >= 2 and state["status"] == "live" and state["width"]
                           and state, 60, "the first frames")
        assert first["width"] == 320
        wait_until(lambda: page()["orange"] > 300, 60, "a frame with a woman's box drawn")
        both = wait_until(lambda: (state := page())["men"].endswith(")") and not state["men"].endswith("(0)")
                          and not state["women"].endswith("(0)") and state["facesNow"] == "1" and state, 60,
                          "both women and men counted")
        assert both["analysed"] > first["analysed"] and both["shown"] > first["shown"]
        assert both["delay"].endswith("ms") or both["delay"].endswith(" s")
        assert both["women"] != first["women"] or both["men"] != first["men"]

        # the stream drops: the page says it is reconnecting
        streamer.stop()
        lost = wait_until(lambda: (state := page())["status"] == "reconnecting" and state, 30, "the reconnection state")
        assert "reconnecting in" in lost["message"] and "stream lost" in lost["events"]

        # it comes back: the analysis resumes
        streamer.start()
        back = wait_until(lambda: (state := page())["status"] == "live" and "reconnected after" in state["events"]
                          and state, 60, "the stream to come back")
        wait_until(lambda: page()["shown"] > back["shown"] + 3 and page()["analysed"] > back["analysed"] + 3, 60,
                   "frames after the reconnection")

        demo.send_signal(signal.SIGINT)  # Ctrl-C
        assert demo.wait(timeout=30) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        log_file.close()
        streamer.stop()
    log = log_path.read_text()
    assert "stream lost" in log and "reconnecting in" in log and "reconnected after" in log, log
    assert "SIGINT: stopping" in log and "Traceback" not in log
    text = csv_path.read_text()
    assert text.endswith("\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and list(rows[0]) == list(LIVE_COLUMNS)
    assert {row["sex_label"] for row in rows} == {"f", "m"}
    assert [int(r["frame"]) for r in rows] == sorted(int(r["frame"]) for r in rows)

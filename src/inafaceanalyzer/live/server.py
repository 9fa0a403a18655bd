"""The live view's web server: the standard library's threading HTTP server, on 127.0.0.1 by default.

Endpoints:

- ``/``: the page (:mod:`.page`).
- ``/frame.jpg?after=N&timeout=S``: the first annotated frame whose number
  (``X-Frame-Seq``) is above ``N``, waiting up to ``S`` seconds (204 when
  none came). Also ``X-Frame-Number``, ``X-Capture-Time`` and ``X-Delay``.
- ``/stream.mjpg``: the annotated frames as an MJPEG stream
  (``multipart/x-mixed-replace``), for players and ``<img>`` tags; a slow
  client gets the latest frame each time, never a backlog.
- ``/stats.json``: the statistics and the source's status.
- ``/events``: the same as Server-Sent Events, on every new frame and at
  least every second.

The page needs no login: keep the default host (127.0.0.1) and reach it
from elsewhere through SSH port forwarding (``ssh -L 8765:127.0.0.1:8765
server``). Requests whose ``Host`` is not this machine's loopback name or
the bound host are refused, which defeats DNS rebinding.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from .page import PAGE_HTML
from .slot import LatestSlot
from .view import View

__all__ = ["LiveServer"]

log = logging.getLogger(__name__)

_BOUNDARY = "inafaceanalyzerframe"
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
#: Longest wait of a ``frame.jpg`` long poll, in seconds.
_MAX_POLL_S = 30.0
#: Most statistics events per second.
_MAX_EVENTS_PER_S = 5.0


class LiveServer:
    """Serve the live view of ``views`` and ``stats`` on ``host:port`` from a background thread.

    Args:
        views: the published annotated frames.
        stats: returns the JSON-ready ``{"source": ..., "stats": ...}`` dict.
        host, port: where to listen (``port=0``: any free port).

    Raises:
        OSError: the address cannot be bound (port in use...).
    """

    def __init__(self, views: LatestSlot[View], stats: Callable[[], dict[str, Any]],
                 host: str = "127.0.0.1", port: int = 8765) -> None:
        self.views = views
        self.stats = stats
        self.closing = threading.Event()
        handler = type("_BoundHandler", (_Handler,), {"live": self})
        self._server = http.server.ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = int(self._server.server_address[1])
        self._allowed_hosts = set(_LOOPBACK_NAMES) | {host.lower()}
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's URL."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/"

    def start(self) -> LiveServer:
        """Serve from a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.2,), name="live-http",
                                            daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """End the streams, stop serving and release the port (idempotent)."""
        if self.closing.is_set():
            return
        self.closing.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def host_allowed(self, header: str | None) -> bool:
        """Whether a request's ``Host`` header names this server."""
        if self.host in ("", "0.0.0.0", "::"):
            return True
        if not header:
            return False
        name = urllib.parse.urlsplit("//" + header).hostname or ""
        return name.lower() in self._allowed_hosts


class _Handler(http.server.BaseHTTPRequestHandler):
    live: LiveServer
    protocol_version = "HTTP/1.1"
    server_version = "inafaceanalyzer-live"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        if not self.live.host_allowed(self.headers.get("Host")):
            self._send(403, b"forbidden host\n", "text/plain; charset=utf-8")
            return
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        routes = {
            "/": self._page,
            "/index.html": self._page,
            "/frame.jpg": lambda: self._frame(query),
            "/stream.mjpg": self._mjpeg,
            "/stats.json": self._stats,
            "/events": self._events,
        }
        route = routes.get(url.path)
        try:
            if route is None:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")
            else:
                route()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            log.debug("client %s left", self.address_string())
            self.close_connection = True

    # -- routes ----------------------------------------------------------------

    def _page(self) -> None:
        self._send(200, PAGE_HTML.encode("utf-8"), "text/html; charset=utf-8")

    def _stats(self) -> None:
        self._send(200, json.dumps(self.live.stats()).encode("utf-8"), "application/json")

    def _frame(self, query: dict[str, list[str]]) -> None:
        after = _number(query, "after", 0.0)
        timeout = min(_number(query, "timeout", 10.0), _MAX_POLL_S)
        views = self.live.views
        if after > views.seq:  # the client saw an earlier run of the server: start again
            after = 0
        got = views.wait_newer(int(after), timeout=timeout)
        if got is None:
            self._send(204, b"", None)
            return
        seq, view = got
        self._send(200, view.jpeg, "image/jpeg", {
            "X-Frame-Seq": str(seq),
            "X-Frame-Number": str(view.number),
            "X-Capture-Time": f"{view.capture_time:.3f}",
            "X-Delay": f"{view.delay:.3f}",
        })

    def _mjpeg(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={_BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        seq = 0
        while not self.live.closing.is_set():
            got = self.live.views.wait_newer(seq, timeout=1.0)
            if got is None:
                if self.live.views.closed:
                    return
                continue
            seq, view = got
            head = (f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(view.jpeg)}\r\n"
                    f"X-Frame-Seq: {seq}\r\n\r\n").encode("ascii")
            self.wfile.write(head + view.jpeg + b"\r\n")
            self.wfile.flush()

    def _events(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.write(b"retry: 1000\n\n")
        seq = -1
        while not self.live.closing.is_set():
            sent = time.monotonic()
            body = json.dumps(self.live.stats(), separators=(",", ":"))
            self.wfile.write(f"data: {body}\n\n".encode())
            self.wfile.flush()
            got = self.live.views.wait_newer(max(seq, self.live.views.seq), timeout=1.0)
            if got is not None:
                seq = got[0]
            rest = 1.0 / _MAX_EVENTS_PER_S - (time.monotonic() - sent)
            if rest > 0:
                self.live.closing.wait(rest)

    # -- helpers ---------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str | None, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)


def _number(query: dict[str, list[str]], name: str, default: float) -> float:
    try:
        value = float(query.get(name, [default])[0])
    except ValueError:
        return default
    return value if value >= 0 else default

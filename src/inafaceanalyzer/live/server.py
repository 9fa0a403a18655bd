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

Connections are bounded, so that idle or slow clients cannot exhaust the
process: a connection costs no thread until its first byte arrives (at
most ``max_pending`` such connections are kept, the oldest closed first,
each for ``idle_timeout`` seconds); then one thread serves it, at most
``max_connections`` at once (the next get ``503 Service Unavailable``), and
every socket read or write that waits longer than ``idle_timeout`` ends it.
"""

from __future__ import annotations

import http.server
import json
import logging
import selectors
import socket
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
#: Connections served at once (each a thread: the page, its event stream, frame polls; a browser opens up to 6).
MAX_CONNECTIONS = 32
#: Connections accepted that have sent nothing yet (they cost no thread).
MAX_PENDING = 256
#: Seconds a client may stay silent (before its request, between requests) or leave a write blocked.
IDLE_TIMEOUT_S = 10.0

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 22\r\n"
         b"Retry-After: 2\r\nConnection: close\r\n\r\ntoo many connections\r\n")


class _BoundedServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server with a bound on threads and on connections that have not spoken yet."""

    daemon_threads = True
    request_queue_size = 128  # the listen() backlog: bursts of connections wait there, not in SYN retries

    def __init__(self, address: tuple[str, int], handler: type, max_connections: int, max_pending: int,
                 idle_timeout: float) -> None:
        self.max_pending = max_pending
        self.idle_timeout = idle_timeout
        self._slots = threading.BoundedSemaphore(max_connections)
        self._stop = threading.Event()
        self._stopped = threading.Event()
        super().__init__(address, handler)

    def serve(self, poll_interval: float = 0.2) -> None:
        """Accept connections and hand each to a thread once it has sent something, until :meth:`stop`."""
        pending: dict[socket.socket, tuple[float, object]] = {}  # oldest first
        selector = selectors.DefaultSelector()
        selector.register(self.socket, selectors.EVENT_READ)

        def drop(conn: socket.socket) -> None:
            selector.unregister(conn)
            del pending[conn]
            self.shutdown_request(conn)

        try:
            while not self._stop.is_set():
                for key, _ in selector.select(poll_interval):
                    if key.fileobj is self.socket:
                        for conn, address in self._accept_all():
                            if len(pending) >= self.max_pending:
                                drop(next(iter(pending)))
                            pending[conn] = (time.monotonic(), address)
                            selector.register(conn, selectors.EVENT_READ)
                    else:
                        conn = key.fileobj  # type: ignore[assignment]
                        address = pending[conn][1]
                        selector.unregister(conn)
                        del pending[conn]
                        self._dispatch(conn, address)
                deadline = time.monotonic() - self.idle_timeout
                for conn in [c for c, (since, _) in pending.items() if since < deadline]:
                    drop(conn)
        finally:
            for conn in list(pending):
                drop(conn)
            selector.close()
            self._stopped.set()

    def _accept_all(self) -> list[tuple[socket.socket, object]]:
        """Every connection waiting in the backlog."""
        accepted = []
        self.socket.setblocking(False)
        try:
            while True:
                try:
                    conn, address = self.socket.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as error:  # out of file descriptors...: try again at the next select
                    log.debug("accept failed: %s", error)
                    break
                conn.setblocking(True)
                accepted.append((conn, address))
        finally:
            self.socket.setblocking(True)
        return accepted

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._stopped.wait(timeout)

    def _dispatch(self, conn: socket.socket, address: object) -> None:
        if not self._slots.acquire(blocking=False):
            log.debug("%s refused: %s", address, "too many connections")
            try:
                conn.settimeout(1.0)
                conn.sendall(_BUSY)
            except OSError:
                pass
            self.shutdown_request(conn)
            return
        try:
            self.process_request(conn, address)
        except BaseException:
            self._slots.release()
            self.shutdown_request(conn)
            raise

    def process_request_thread(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class LiveServer:
    """Serve the live view of ``views`` and ``stats`` on ``host:port`` from a background thread.

    Args:
        views: the published annotated frames.
        stats: returns the JSON-ready ``{"source": ..., "stats": ...}`` dict.
        host, port: where to listen (``port=0``: any free port).
        max_connections: connections served at once; more get 503.
        max_pending: connections kept that have sent nothing yet.
        idle_timeout: seconds a client may stay silent or leave a write blocked.

    Raises:
        OSError: the address cannot be bound (port in use...).
    """

    def __init__(self, views: LatestSlot[View], stats: Callable[[], dict[str, Any]],
                 host: str = "127.0.0.1", port: int = 8765, *, max_connections: int = MAX_CONNECTIONS,
                 max_pending: int = MAX_PENDING, idle_timeout: float = IDLE_TIMEOUT_S) -> None:
        self.views = views
        self.stats = stats
        self.closing = threading.Event()
        handler = type("_BoundHandler", (_Handler,), {"live": self, "timeout": idle_timeout})
        self._server = _BoundedServer((host, port), handler, max_connections, max_pending, idle_timeout)
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
            self._thread = threading.Thread(target=self._server.serve, args=(0.2,), name="live-http",
                                            daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """End the streams, stop serving and release the port (idempotent)."""
        if self.closing.is_set():
            return
        self.closing.set()
        if self._thread is not None:
            self._server.stop()
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

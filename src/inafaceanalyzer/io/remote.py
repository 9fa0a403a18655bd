"""Reaching a source: local paths checked, ``http(s)://`` URLs downloaded or opened.

:func:`check_local_file` turns the usual file-system problems (missing,
empty, directory, no permission) into :class:`~inafaceanalyzer.errors.MediaError`
before any decoder sees the file, so that every decoder reports them alike.

Images are small: they are downloaded into memory with :mod:`urllib` (with a
timeout per read, an overall deadline and a size cap) and decoded from there.
Videos are streamed by FFmpeg itself, which needs its own network options
(:func:`ffmpeg_options`: a bounded number of reconnections, with back-off).

Limits, and why: a read may wait :data:`DEFAULT_TIMEOUT_S`; a whole image
download may take ``deadline`` seconds (``--url_timeout``,
:data:`DEFAULT_URL_TIMEOUT_S`), so that a server dripping a byte at a time
is abandoned; a video is analysed while it streams, so that deadline bounds
its opening and each of its reads (a stalled or dripping server), not its
whole length, which may be hours of programme.
"""

from __future__ import annotations

import http
import http.client
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from .._version import __version__
from ..errors import MediaError

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_URL_TIMEOUT_S",
    "MAX_DOWNLOAD_BYTES",
    "RECONNECT_MAX_RETRIES",
    "is_url",
    "check_local_file",
    "fetch_bytes",
    "ffmpeg_options",
]

logger = logging.getLogger(__name__)

#: Network timeout, in seconds, for connecting and for each read.
DEFAULT_TIMEOUT_S: float = 30.0

#: Overall deadline, in seconds, of a URL (``AnalysisOptions.url_timeout``).
DEFAULT_URL_TIMEOUT_S: float = 600.0

#: Largest download accepted by :func:`fetch_bytes` (an image is far smaller).
MAX_DOWNLOAD_BYTES: int = 256 * 1024 * 1024

#: Times FFmpeg may reconnect to a video URL whose connection dropped (each
#: after a growing delay), before the read fails.
RECONNECT_MAX_RETRIES: int = 3

_USER_AGENT = f"inafaceanalyzer/{__version__} (+https://github.com/ina-foss/inaFaceAnalyzer)"
_CHUNK = 1 << 16


def is_url(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` is an ``http://`` or ``https://`` URL (case-insensitive).

    Path objects are never URLs, even if their text looks like one.
    """
    if not isinstance(source, str):
        return False
    return source[:8].lower().startswith(("http://", "https://"))


def check_local_file(source: str | os.PathLike[str]) -> Path:
    """Check that ``source`` is a readable, non-empty file.

    Returns:
        ``source`` as a :class:`~pathlib.Path`.

    Raises:
        MediaError: ``"file not found"``, ``"empty file (0 bytes)"``,
            ``"is a directory, not a file"``, ``"permission denied"``.
    """
    path = Path(source)
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise MediaError(source, "file not found") from exc
    except PermissionError as exc:
        raise MediaError(source, "permission denied") from exc
    except OSError as exc:
        raise MediaError(source, f"cannot access file: {exc.strerror or exc}") from exc
    if path.is_dir():
        raise MediaError(source, "is a directory, not a file")
    if size == 0:
        raise MediaError(source, "empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise MediaError(source, "permission denied")
    return path


def fetch_bytes(
    url: str,
    timeout: float = DEFAULT_TIMEOUT_S,
    max_bytes: int = MAX_DOWNLOAD_BYTES,
    deadline: float = DEFAULT_URL_TIMEOUT_S,
) -> bytes:
    """Download ``url`` into memory.

    Args:
        url: an ``http(s)://`` URL.
        timeout: seconds allowed to connect and for each read.
        max_bytes: the download is refused beyond this size.
        deadline: seconds the whole download may take (redirects, headers
            and body), however the server paces its bytes.

    Returns:
        The body of the response.

    Raises:
        MediaError: with a reason such as ``"HTTP 404 Not Found"``,
            ``"cannot connect: ..."``, ``"timed out after 30 s"``,
            ``"download not finished after 600 s ..."``,
            ``"download larger than ... bytes"``, ``"truncated download:
            ..."``, ``"redirect loop ..."``.
    """
    watchdog = _Watchdog(deadline)
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    received = 0
    try:
        with watchdog, watchdog.opener.open(request, timeout=min(timeout, deadline)) as response:
            length = response.headers.get("Content-Length")
            announced = int(length) if length is not None and length.isdigit() else None
            if announced is not None and announced > max_bytes:
                raise MediaError(url, f"download larger than {max_bytes} bytes ({length} announced)")
            chunks: list[bytes] = []
            while chunk := response.read1(_CHUNK):  # returns what one read gives: the deadline is checked often
                received += len(chunk)
                if received > max_bytes:
                    raise MediaError(url, f"download larger than {max_bytes} bytes")
                chunks.append(chunk)
                watchdog.check(url, received)
            watchdog.check(url, received)
            if announced is not None and received < announced:
                raise MediaError(
                    url,
                    f"truncated download: the server closed the connection after {received} of the "
                    f"{announced} bytes it announced",
                )
    except MediaError:
        raise
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise MediaError(url, f"redirect loop or too many redirects (last answer: HTTP {exc.code} "
                             f"{_status_phrase(exc.code, exc.reason)})") from exc
        raise MediaError(url, f"HTTP {exc.code} {_status_phrase(exc.code, exc.reason)}") from exc
    except urllib.error.URLError as exc:
        watchdog.check(url, received)
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise MediaError(url, f"timed out after {min(timeout, deadline):g} s") from exc
        raise MediaError(url, f"cannot connect: {exc.reason}") from exc
    except TimeoutError as exc:
        watchdog.check(url, received)
        raise MediaError(url, f"timed out after {min(timeout, deadline):g} s") from exc
    except http.client.IncompleteRead as exc:
        watchdog.check(url, received)
        raise MediaError(url, f"truncated download: the server closed the connection early ({exc})") from exc
    except (http.client.HTTPException, OSError) as exc:
        watchdog.check(url, received)
        raise MediaError(url, f"download failed: {exc}") from exc
    except ValueError as exc:
        raise MediaError(url, f"invalid URL: {exc}") from exc
    logger.debug("downloaded %d bytes from %s", received, url)
    return b"".join(chunks)


class _Watchdog:
    """An overall deadline for one download: at expiry, the sockets of its connections are shut down.

    A per-read timeout cannot stop a server that sends a byte every few
    seconds; shutting the socket down from a timer thread ends any read in
    progress (headers or body), and :meth:`check` turns that into a clear error.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.started = time.monotonic()
        self.expired = False
        self._connections: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        watchdog = self

        def tracked(connection_class: type[http.client.HTTPConnection]):
            def make(*args, **kwargs):  # type: ignore[no-untyped-def]
                connection = connection_class(*args, **kwargs)
                with watchdog._lock:
                    watchdog._connections.append(connection)
                return connection

            return make

        class _Http(urllib.request.HTTPHandler):
            def http_open(self, req):  # type: ignore[no-untyped-def]
                return self.do_open(tracked(http.client.HTTPConnection), req)

        class _Https(urllib.request.HTTPSHandler):
            def https_open(self, req):  # type: ignore[no-untyped-def]
                return self.do_open(tracked(http.client.HTTPSConnection), req, context=self._context)

        self.opener = urllib.request.build_opener(_Http(), _Https())

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        self.expired = True
        with self._lock:
            for connection in self._connections:
                sock = connection.sock
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    def check(self, url: str, received: int) -> None:
        """Raise :class:`MediaError` once the deadline has passed."""
        if self.expired or time.monotonic() - self.started > self.seconds:
            self.expired = True
            raise MediaError(
                url,
                f"download not finished after {self.seconds:g} s (url_timeout): {received} bytes received, "
                "the server is too slow",
            )


def _status_phrase(code: int, reason: object) -> str:
    """The standard phrase of an HTTP status ("Not Found"), else the server's own."""
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return str(reason)


def ffmpeg_options(timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, str]:
    """FFmpeg protocol options for reading a video over HTTP(S).

    ``timeout`` (microseconds) bounds each socket operation of FFmpeg's http
    protocol; ``reconnect`` lets it resume a dropped connection with a Range
    request, at most :data:`RECONNECT_MAX_RETRIES` times in a row, after
    delays of 1, 2, 4 s (``reconnect_delay_max``, ``reconnect_delay_total_max``);
    a timed-out or refused connection is not retried. A server without Range support is not
    reconnected to (no ``reconnect_streamed``): it would send the file from
    its start again, which FFmpeg read as the continuation (garbage frames),
    and a server that closes each connection half-way got tens of thousands
    of requests a minute (measured: 46,699 GETs in 60 s); such a download
    ends where the connection closed, a truncated tail.
    """
    return {
        "timeout": str(int(timeout * 1_000_000)),
        "reconnect": "1",
        "reconnect_max_retries": str(RECONNECT_MAX_RETRIES),
        "reconnect_delay_max": "4",
        "reconnect_delay_total_max": "15",
        "user_agent": _USER_AGENT,
    }

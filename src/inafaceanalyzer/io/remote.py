"""Reaching a source: local paths checked, ``http(s)://`` URLs downloaded or opened.

:func:`check_local_file` turns the usual file-system problems (missing,
empty, directory, no permission) into :class:`~inafaceanalyzer.errors.MediaError`
before any decoder sees the file, so that every decoder reports them alike.

Images are small: they are downloaded into memory with :mod:`urllib` (with a
timeout and a size cap) and decoded from there. Videos are streamed by FFmpeg
itself, which needs its own network options (:func:`ffmpeg_options`).
"""

from __future__ import annotations

import http
import http.client
import logging
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path

from .._version import __version__
from ..errors import MediaError

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MAX_DOWNLOAD_BYTES",
    "is_url",
    "check_local_file",
    "fetch_bytes",
    "ffmpeg_options",
]

logger = logging.getLogger(__name__)

#: Network timeout, in seconds, for connecting and for each read.
DEFAULT_TIMEOUT_S: float = 30.0

#: Largest download accepted by :func:`fetch_bytes` (an image is far smaller).
MAX_DOWNLOAD_BYTES: int = 256 * 1024 * 1024

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
) -> bytes:
    """Download ``url`` into memory.

    Args:
        url: an ``http(s)://`` URL.
        timeout: seconds allowed to connect and for each read.
        max_bytes: the download is refused beyond this size.

    Returns:
        The body of the response.

    Raises:
        MediaError: with a reason such as ``"HTTP 404 Not Found"``,
            ``"cannot connect: ..."``, ``"timed out after 30 s"``,
            ``"download larger than ... bytes"``.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked by callers)
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise MediaError(url, f"download larger than {max_bytes} bytes ({length} announced)")
            chunks: list[bytes] = []
            received = 0
            while chunk := response.read(_CHUNK):
                received += len(chunk)
                if received > max_bytes:
                    raise MediaError(url, f"download larger than {max_bytes} bytes")
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        raise MediaError(url, f"HTTP {exc.code} {_status_phrase(exc.code, exc.reason)}") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise MediaError(url, f"timed out after {timeout:g} s") from exc
        raise MediaError(url, f"cannot connect: {exc.reason}") from exc
    except TimeoutError as exc:
        raise MediaError(url, f"timed out after {timeout:g} s") from exc
    except (http.client.HTTPException, OSError) as exc:
        raise MediaError(url, f"download failed: {exc}") from exc
    except ValueError as exc:
        raise MediaError(url, f"invalid URL: {exc}") from exc
    logger.debug("downloaded %d bytes from %s", received, url)
    return b"".join(chunks)


def _status_phrase(code: int, reason: object) -> str:
    """The standard phrase of an HTTP status ("Not Found"), else the server's own."""
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return str(reason)


def ffmpeg_options(timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, str]:
    """FFmpeg protocol options for reading a video over HTTP(S).

    ``timeout`` (microseconds) bounds each socket operation of FFmpeg's http
    protocol; ``reconnect`` and ``reconnect_streamed`` let it resume a dropped
    connection (with a Range request where the server supports it).
    """
    return {
        "timeout": str(int(timeout * 1_000_000)),
        "reconnect": "1",
        "reconnect_streamed": "1",
        "reconnect_delay_max": "5",
        "user_agent": _USER_AGENT,
    }

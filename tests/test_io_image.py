"""Tests of inafaceanalyzer.io.image and the URL helpers of inafaceanalyzer.io.remote.

Test images are built in tmp_path with Pillow (or by hand for 16-bit-per-channel
RGB, which Pillow cannot write). Real photos come from /work/shared/media (see
its README.md for their provenance); tests that need them are skipped when it
is missing.
"""

from __future__ import annotations

import functools
import http.server
import logging
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inafaceanalyzer.errors import MediaError
from inafaceanalyzer.io import is_url, load_image
from inafaceanalyzer.io.image import to_rgb_array
from inafaceanalyzer.io.remote import fetch_bytes

from .conftest import KNUTH

needs_media = pytest.mark.shared_media


def check_rgb(arr: np.ndarray, height: int, width: int) -> None:
    assert arr.shape == (height, width, 3)
    assert arr.dtype == np.uint8
    assert arr.flags.c_contiguous


def gradient_rgb(height: int = 20, width: int = 30) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 8, y * 12, (x + y) * 4], axis=2).astype(np.uint8)


# -- 16 bits per channel, written by hand --------------------------------------------


def png48(path: Path, rgb16: np.ndarray) -> Path:
    """A 16-bit-per-channel RGB PNG (colour type 2, bit depth 16)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    height, width, _ = rgb16.shape
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in rgb16)
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    return path


def tiff48(path: Path, rgb16: np.ndarray) -> Path:
    """An uncompressed little-endian 16-bit-per-channel RGB TIFF, one strip."""
    height, width, _ = rgb16.shape
    pixels = rgb16.astype("<u2").tobytes()
    n_entries = 10
    ifd_size = 2 + n_entries * 12 + 4
    bits_offset = 8 + ifd_size
    data_offset = bits_offset + 6
    entries = [  # tag, type (3 SHORT, 4 LONG), count, value
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 3, bits_offset),
        (259, 3, 1, 1),  # no compression
        (262, 3, 1, 2),  # RGB
        (273, 4, 1, data_offset),
        (277, 3, 1, 3),
        (278, 4, 1, height),
        (279, 4, 1, len(pixels)),
        (284, 3, 1, 1),  # chunky
    ]
    ifd = struct.pack("<H", n_entries)
    for tag, kind, count, value in entries:
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 and count == 1 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    ifd += struct.pack("<I", 0)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<HHH", 16, 16, 16) + pixels)
    return path


SAMPLES16 = np.array([0, 0x00FF, 0x0100, 0x1234, 0x7FFF, 0x8000, 0xC0DE, 0xFFFF], dtype=np.uint16)


@pytest.mark.parametrize("writer", [png48, tiff48])
def test_48_bit_rgb_is_scaled_not_clipped(tmp_path: Path, writer) -> None:  # type: ignore[no-untyped-def]
    rgb16 = np.stack([SAMPLES16, SAMPLES16[::-1], np.full_like(SAMPLES16, 0x8000)], axis=1)[None]  # 1x8
    arr = load_image(writer(tmp_path / f"rgb48.{writer.__name__[:3]}", rgb16))
    check_rgb(arr, 1, 8)
    # Pillow keeps the high byte of each sample: v >> 8 (a scaling: 0x8000 -> 128, not 255)
    np.testing.assert_array_equal(arr[0], (rgb16[0] >> 8).astype(np.uint8))
    assert arr[0, :, 2].tolist() == [128] * 8
    assert arr[0, 0, 0] == 0 and arr[0, -1, 0] == 255


# -- modes and formats ------------------------------------------------------------------


def test_16_bit_grayscale_png_and_tiff(tmp_path: Path) -> None:
    values = SAMPLES16.reshape(2, 4)
    expected = np.rint(values.astype(np.float64) * 255 / 65535).astype(np.uint8)
    for suffix in ("png", "tiff"):
        path = tmp_path / f"gray16.{suffix}"
        Image.fromarray(values).save(path)
        assert Image.open(path).mode.startswith("I;16")
        arr = load_image(path)
        check_rgb(arr, 2, 4)
        for channel in range(3):
            np.testing.assert_array_equal(arr[:, :, channel], expected)
    assert expected.ravel().tolist() == [0, 1, 1, 18, 127, 128, 192, 255]


def test_32_bit_integer_and_float_modes() -> None:
    sixteen = Image.fromarray(np.array([[0, 257, 65535]], dtype=np.int32))
    assert sixteen.mode == "I"
    assert to_rgb_array(sixteen)[0, :, 0].tolist() == [0, 1, 255]
    wide = Image.fromarray(np.array([[-100, 0, 100]], dtype=np.int32))  # out of 16-bit range: min-max
    assert to_rgb_array(wide)[0, :, 1].tolist() == [0, 128, 255]
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    assert unit.mode == "F"
    assert to_rgb_array(unit)[0, :, 2].tolist() == [0, 128, 255]
    depth = Image.fromarray(np.array([[10.0, 20.0, 30.0]], dtype=np.float32))
    assert to_rgb_array(depth)[0, :, 0].tolist() == [0, 128, 255]


@pytest.mark.parametrize("mode", sorted(Image.MODES))
def test_every_pillow_mode_converts(mode: str) -> None:
    img = Image.new(mode, (5, 3))
    arr = to_rgb_array(img)
    check_rgb(arr, 3, 5)
    assert len(np.unique(arr.reshape(-1, 3), axis=0)) == 1  # a plain image stays plain


def test_lossless_formats_round_trip(tmp_path: Path) -> None:
    rgb = gradient_rgb()
    for name, options in (("a.png", {}), ("a.tiff", {}), ("a.bmp", {}), ("a.webp", {"lossless": True})):
        path = tmp_path / name
        Image.fromarray(rgb).save(path, **options)
        arr = load_image(path)
        check_rgb(arr, 20, 30)
        np.testing.assert_array_equal(arr, rgb, err_msg=name)


def test_jpeg(tmp_path: Path) -> None:
    rgb = np.zeros((16, 24, 3), np.uint8)
    rgb[:, :12] = (200, 30, 40)
    path = tmp_path / "a.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    arr = load_image(path)
    check_rgb(arr, 16, 24)
    assert np.abs(arr.astype(int) - rgb).mean() < 6


def test_grayscale_and_palette(tmp_path: Path) -> None:
    gray = np.arange(0, 240, 10, dtype=np.uint8).reshape(4, 6)
    Image.fromarray(gray).save(tmp_path / "l.png")
    arr = load_image(tmp_path / "l.png")
    check_rgb(arr, 4, 6)
    assert all(np.array_equal(arr[:, :, c], gray) for c in range(3))

    palette = Image.fromarray(gradient_rgb()).quantize(colors=16)
    assert palette.mode == "P"
    palette.save(tmp_path / "p.png")
    np.testing.assert_array_equal(load_image(tmp_path / "p.png"), np.asarray(palette.convert("RGB")))

    Image.new("1", (5, 3), 1).save(tmp_path / "bilevel.png")
    assert load_image(tmp_path / "bilevel.png").tolist() == np.full((3, 5, 3), 255).tolist()


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    red, blue = (0, 255, 255, 0), (255, 255, 0, 0)
    img = Image.new("CMYK", (16, 8), red)
    img.paste(blue, (8, 0, 16, 8))
    img.save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    arr = load_image(path)
    check_rgb(arr, 8, 16)
    assert arr[4, 2].tolist()[0] > 230 and max(arr[4, 2].tolist()[1:]) < 30
    assert arr[4, 13].tolist()[2] > 230 and max(arr[4, 13].tolist()[:2]) < 30


def test_alpha_is_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0] = [(255, 0, 0, 255), (0, 0, 0, 0), (0, 0, 0, 128)]
    rgba[1] = [(0, 0, 255, 255), (10, 20, 30, 0), (100, 100, 100, 255)]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    arr = load_image(tmp_path / "rgba.png")
    check_rgb(arr, 2, 3)
    assert arr[0].tolist() == [[255, 0, 0], [255, 255, 255], [127, 127, 127]]
    assert arr[1].tolist() == [[0, 0, 255], [255, 255, 255], [100, 100, 100]]

    la = Image.fromarray(np.array([[[0, 255], [0, 0]]], np.uint8), "LA")
    la.save(tmp_path / "la.png")
    assert load_image(tmp_path / "la.png").tolist() == [[[0, 0, 0], [255, 255, 255]]]

    palette = Image.new("P", (2, 1))
    palette.putpalette([0, 0, 0, 0, 255, 0])
    palette.putpixel((1, 0), 1)
    palette.save(tmp_path / "pt.png", transparency=0)
    assert load_image(tmp_path / "pt.png").tolist() == [[[255, 255, 255], [0, 255, 0]]]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    """Orientation 6: the stored image must be turned 90 degrees clockwise to be upright."""
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = (255, 0, 0)  # left half red, right half black
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    arr = load_image(path)
    check_rgb(arr, 40, 20)
    assert arr[:18, :, 0].min() > 200  # the left side is now on top
    assert arr[22:, :, 0].max() < 50


def test_multi_frame_gif_reads_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (4, 4), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    arr = load_image(tmp_path / "anim.gif")
    assert arr[0, 0].tolist() == [255, 0, 0]


@needs_media
def test_shared_photo() -> None:
    arr = load_image(KNUTH)
    with Image.open(KNUTH) as img:
        width, height = img.size
        reference = np.asarray(img.convert("RGB"))
    check_rgb(arr, height, width)
    np.testing.assert_array_equal(arr, reference)


# -- errors ----------------------------------------------------------------------------


def reason_of(source: object) -> str:
    with pytest.raises(MediaError) as caught:
        load_image(source)  # type: ignore[arg-type]
    assert caught.value.source == str(source)
    return caught.value.reason


def test_file_errors(tmp_path: Path) -> None:
    assert reason_of(tmp_path / "missing.png") == "file not found"
    (tmp_path / "empty.jpg").write_bytes(b"")
    assert reason_of(tmp_path / "empty.jpg") == "empty file (0 bytes)"
    (tmp_path / "notes.jpg").write_text("not an image at all\n")
    assert reason_of(tmp_path / "notes.jpg") == "not an image (cannot identify image format)"
    assert reason_of(tmp_path) == "is a directory, not a file"


@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_truncated_image(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(0)
    full = tmp_path / f"full.{suffix}"
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(full)
    cut = tmp_path / f"cut.{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert reason_of(cut).startswith("truncated or corrupt image: ")


# -- URLs ------------------------------------------------------------------------------


def test_is_url() -> None:
    assert is_url("http://example.org/a.jpg") and is_url("HTTPS://example.org/a.jpg")
    assert not is_url("/data/http://a.jpg") and not is_url("ftp://example.org/a.jpg")
    assert not is_url(Path("http://example.org/a.jpg")) and not is_url("a.jpg")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib signature)
        logging.getLogger("test.http").debug(format, *args)


@pytest.fixture(scope="module")
def http_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("www")
    Image.fromarray(gradient_rgb()).save(root / "img.png")
    (root / "empty.png").write_bytes(b"")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_http_image(http_root: tuple[str, Path]) -> None:
    base, root = http_root
    arr = load_image(f"{base}/img.png")
    np.testing.assert_array_equal(arr, load_image(root / "img.png"))
    np.testing.assert_array_equal(arr, gradient_rgb())


def test_http_errors(http_root: tuple[str, Path]) -> None:
    base, _ = http_root
    assert reason_of(f"{base}/missing.png") == "HTTP 404 Not Found"
    assert reason_of(f"{base}/empty.png") == "empty response (0 bytes)"
    with socket.socket() as sock:  # a port that was just free: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert reason_of(f"http://127.0.0.1:{port}/a.png").startswith("cannot connect: ")


def test_http_timeout() -> None:
    """A server that accepts the connection and never answers: a MediaError after the timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/a.png"
        started = time.monotonic()
        with pytest.raises(MediaError) as caught:
            load_image(url, timeout=0.5)
        assert caught.value.reason == "timed out after 0.5 s"
        assert time.monotonic() - started < 5


def test_download_size_cap(http_root: tuple[str, Path]) -> None:
    base, root = http_root
    with pytest.raises(MediaError, match="download larger than 50 bytes"):
        fetch_bytes(f"{base}/img.png", max_bytes=50)
    assert fetch_bytes(f"{base}/img.png") == (root / "img.png").read_bytes()


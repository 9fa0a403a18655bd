"""Still images: decode a file or URL into an upright 8-bit RGB array.

Whatever the file holds, :func:`load_image` returns ``(H, W, 3)`` uint8 RGB,
C-contiguous, with the EXIF orientation applied. Conversions:

* grayscale, bilevel, palette, CMYK, YCbCr, LAB, HSV: converted to RGB by Pillow
  (Adobe's inverted CMYK JPEGs are handled by Pillow's JPEG decoder);
* transparency (RGBA, LA, PA, palette with a transparent colour): **composited
  on white**, as an image viewer shows a transparent document, so that a
  transparent background does not become black;
* 16-bit grayscale (``I;16*`` modes, e.g. 16-bit PNG and TIFF): scaled with
  ``round(v * 255 / 65535)``;
* 32-bit integer (``I``): same scaling when the values fit in 16 bits, else
  min-max normalised to ``[0, 255]``;
* 32-bit float (``F``): multiplied by 255 when the values lie in ``[0, 1]``,
  else min-max normalised;
* 48-bit RGB (16 bits per channel, PNG or TIFF): Pillow has no 16-bit RGB mode
  and reduces the samples to 8 bits itself, keeping the high byte
  (``v >> 8``): a scaling, not a clipping, at most one level below rounding.

Only the first frame of animated or multi-page files is read.

Large images are decoded at full size (boxes stay in the file's pixels)
up to :data:`MAX_IMAGE_PIXELS` (Pillow's own decompression-bomb limit, about
179 megapixels: a 12000x12000 photo is read, with no Pillow warning); larger
ones, and files whose header announces more, are refused before decoding
with a :class:`~inafaceanalyzer.errors.MediaError` that gives their size.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import warnings
import zlib
from pathlib import Path
from typing import IO

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import MediaError
from .remote import DEFAULT_TIMEOUT_S, DEFAULT_URL_TIMEOUT_S, check_local_file, fetch_bytes, is_url

__all__ = ["MAX_IMAGE_PIXELS", "load_image", "to_rgb_array"]

logger = logging.getLogger(__name__)

_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_UINT16_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
#: Largest image decoded, in pixels: Pillow's error threshold (twice its
#: ``Image.MAX_IMAGE_PIXELS``, the size above which it warns).
MAX_IMAGE_PIXELS: int = 2 * (Image.MAX_IMAGE_PIXELS or 89_478_485)

# Modes converted to RGB per pixel by Pillow, a band at a time (see _banded).
_BANDED_MODES = frozenset({"1", "L", "P", "CMYK", "YCbCr", "LAB", "HSV", "RGBX"})
_BAND_BYTES = 16 << 20

# What Pillow may raise while decoding a damaged file.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


def load_image(
    source: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT_S, deadline: float = DEFAULT_URL_TIMEOUT_S
) -> NDArray[np.uint8]:
    """Read an image file or ``http(s)://`` URL as upright 8-bit RGB.

    Args:
        source: a path, or an ``http://`` / ``https://`` URL (downloaded into
            memory, see :func:`~inafaceanalyzer.io.remote.fetch_bytes`).
        timeout: network timeout in seconds for each read, for URLs.
        deadline: seconds a URL's whole download may take.

    Returns:
        ``(H, W, 3)`` uint8 RGB array, C-contiguous, EXIF orientation applied
        (conversions are listed in the module documentation).

    Raises:
        MediaError: missing, empty, unreadable, truncated or corrupt file, not
            an image, or a failed download.
    """
    stream: IO[bytes] | Path
    if is_url(source):
        data = fetch_bytes(str(source), timeout=timeout, deadline=deadline)
        if not data:
            raise MediaError(source, "empty response (0 bytes)")
        stream = io.BytesIO(data)
    else:
        stream = check_local_file(source)

    with _open_decoded(stream, source) as img:
        return to_rgb_array(_upright(img, source))


def to_rgb_array(img: Image.Image) -> NDArray[np.uint8]:
    """Convert a loaded Pillow image of any mode to ``(H, W, 3)`` uint8 RGB.

    The conversion rules are listed in the module documentation.
    """
    mode = img.mode
    if mode == "RGB":
        return _banded(img, convert=False)
    if mode in _BANDED_MODES and "transparency" not in img.info:
        return _banded(img, convert=True)
    if mode in _UINT16_MODES:
        rgb = _gray_to_rgb(_scale_uint16(np.asarray(img)))
    elif mode == "I":
        rgb = _gray_to_rgb(_scale_int32(np.asarray(img)))
    elif mode == "F":
        rgb = _gray_to_rgb(_scale_float(np.asarray(img)))
    elif mode in _ALPHA_MODES or (mode in ("P", "L", "RGB") and "transparency" in img.info):
        straight = img.convert("LA") if mode == "La" else img  # Pillow has no La -> RGBA
        rgb = _composite_on_white(np.asarray(straight.convert("RGBA"), dtype=np.uint8))
    else:  # 1, L, P, CMYK, YCbCr, LAB, HSV, RGBX
        rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def _banded(img: Image.Image, convert: bool) -> NDArray[np.uint8]:
    """``img`` as RGB, converted a band of rows at a time into one array.

    The same pixels as converting it whole (the conversions are per pixel),
    without a second full-size Pillow image or a full-size ``bytes`` copy
    beside the result: a 12000x12000 photo costs its array, not three times it.
    """
    width, height = img.size
    out = np.empty((height, width, 3), dtype=np.uint8)
    rows = max(1, _BAND_BYTES // max(1, 4 * width))
    for top in range(0, height, rows):
        band = img.crop((0, top, width, min(height, top + rows)))
        out[top : top + band.height] = np.asarray(band.convert("RGB") if convert else band, dtype=np.uint8)
    return out


def _open_decoded(stream: IO[bytes] | Path, source: object) -> Image.Image:
    """Open and fully decode an image (so that truncated files fail here), or raise :class:`MediaError`."""
    img: Image.Image | None = None
    try:
        with warnings.catch_warnings():  # the size is checked here, against MAX_IMAGE_PIXELS
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(stream)
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise MediaError(source, _too_large(width, height))
            img.load()
    except MediaError:
        if img is not None:
            img.close()
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, *_DECODE_ERRORS) as exc:
        if img is not None:
            img.close()
        reason = _decode_error_reason(exc)
        if isinstance(exc, UnidentifiedImageError) and _looks_like_video(stream, source):
            reason += ": this is a video; analyse it with a video engine (--engine video)"
        raise MediaError(source, reason) from exc
    return img


#: File name extensions of videos, to say so when one is given as an image.
_VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts",
                               ".m2ts", ".flv", ".wmv", ".3gp", ".ogv", ".mxf", ".vob"})


def _looks_like_video(stream: IO[bytes] | Path, source: object) -> bool:
    """Whether a source that is not an image is a video: by its name, or an ISO/Matroska/AVI header."""
    name = str(source).split("?", 1)[0].split("#", 1)[0]
    if os.path.splitext(name)[1].lower() in _VIDEO_EXTENSIONS:
        return True
    try:
        if isinstance(stream, Path):
            with open(stream, "rb") as handle:
                head = handle.read(12)
        else:
            stream.seek(0)
            head = stream.read(12)
    except (OSError, ValueError):
        return False
    return head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3" or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")


def _too_large(width: int, height: int) -> str:
    return (
        f"image too large: {width}x{height} pixels ({width * height / 1e6:.0f} megapixels), over the limit of "
        f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels (a possible decompression bomb); shrink it first"
    )


def _decode_error_reason(exc: BaseException) -> str:
    """Words for a failure of Pillow."""
    if isinstance(exc, UnidentifiedImageError):
        return "not an image (cannot identify image format)"
    if isinstance(exc, Image.DecompressionBombError):
        return f"image too large: {exc}"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"truncated or corrupt image: {exc}"


def _upright(img: Image.Image, source: object) -> Image.Image:
    """Apply the EXIF orientation tag; a malformed EXIF block is logged and ignored."""
    try:
        if img.getexif().get(0x0112, 1) in (None, 1):  # upright already: no copy (Pillow copies the image)
            return img
        transposed = ImageOps.exif_transpose(img)
    except _DECODE_ERRORS + (KeyError, TypeError) as exc:
        logger.warning("%s: ignoring unreadable EXIF orientation (%s)", source, exc)
        return img
    return img if transposed is None else transposed


def _gray_to_rgb(gray: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return np.repeat(gray[:, :, np.newaxis], 3, axis=2)


def _scale_uint16(values: NDArray[np.integer]) -> NDArray[np.uint8]:
    """Map ``[0, 65535]`` onto ``[0, 255]`` with rounding."""
    wide = values.astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)


def _scale_int32(values: NDArray[np.integer]) -> NDArray[np.uint8]:
    """16-bit scaling when the values fit in ``[0, 65535]``, else min-max normalisation."""
    if values.size == 0 or (values.min() >= 0 and values.max() <= 65535):
        return _scale_uint16(values)
    return _normalise(values.astype(np.float64))


def _scale_float(values: NDArray[np.floating]) -> NDArray[np.uint8]:
    """``[0, 1]`` times 255, else min-max normalisation; NaN becomes 0."""
    finite = np.nan_to_num(values.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if finite.size == 0 or (finite.min() >= 0.0 and finite.max() <= 1.0):
        return np.rint(finite * 255.0).astype(np.uint8)
    return _normalise(finite)


def _normalise(values: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Stretch ``[min, max]`` onto ``[0, 255]`` (a constant image becomes 0)."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - low) * 255.0 / (high - low)).astype(np.uint8)


def _composite_on_white(rgba: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Blend an RGBA array over a white background."""
    alpha = rgba[:, :, 3:4].astype(np.uint32)
    rgb = rgba[:, :, :3].astype(np.uint32)
    blended = (rgb * alpha + 255 * (255 - alpha) + 127) // 255
    return blended.astype(np.uint8)

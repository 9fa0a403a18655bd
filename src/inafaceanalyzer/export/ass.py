"""ASS subtitles that draw each face's box and label over the video (VLC, mpv, ELAN...).

The script's resolution (``PlayResX``/``PlayResY``) is the size of the
upright video, so coordinates are the table's pixels. A box is an ASS vector
drawing (``\\p1``) of a hollow rectangle, coloured by gender; its label sits
above it, in a font about 4% of the frame height.

Timing: each analysed frame's events start at its presentation time and end
at the next analysed frame. ASS counts centiseconds; a start and the end
before it are the same number rounded the same way, so consecutive events
never overlap nor leave a gap. Players count time from the start of the
container (its earliest stream), which can be before the first video frame
(``time_s = 0``): that offset is added to every event, so boxes land on the
faces (it is zero for most files, and written in the header).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable

from .._version import __version__
from .atomic import atomic_path
from .overlay import GENDER_COLOURS, FaceMark, OverlayFrame

__all__ = ["ass_time", "font_size", "line_width", "write_ass"]

#: Label font size as a fraction of the frame height.
FONT_FRACTION = 0.04


def font_size(height: int) -> int:
    """Label font size for a frame ``height`` pixels high (about 4% of it)."""
    return max(8, round(height * FONT_FRACTION))


def line_width(height: int) -> int:
    """Box line width for a frame ``height`` pixels high."""
    return max(2, round(height / 200))


def centiseconds(seconds: float) -> int:
    """Seconds rounded to the nearest centisecond (half up), the one rounding used for every time."""
    return math.floor(seconds * 100 + 0.5)


def ass_time(seconds: float) -> str:
    """``H:MM:SS.cc``, ASS's time format."""
    return _time_text(centiseconds(seconds))


def _time_text(cs: int) -> str:
    cs = max(0, cs)
    hours, cs = divmod(cs, 360_000)
    minutes, cs = divmod(cs, 6_000)
    secs, cs = divmod(cs, 100)
    return f"{hours}:{minutes:02d}:{secs:02d}.{cs:02d}"


def _colour(rgb: tuple[int, int, int]) -> str:
    """An override colour, ``&HBBGGRR&``."""
    r, g, b = rgb
    return f"&H{b:02X}{g:02X}{r:02X}&"


def _style_colour(rgb: tuple[int, int, int], alpha: int = 0) -> str:
    """A style colour, ``&HAABBGGRR``."""
    r, g, b = rgb
    return f"&H{alpha:02X}{b:02X}{g:02X}{r:02X}"


def _header(width: int, height: int, title: str, offset: float) -> str:
    size = font_size(height)
    white, black = (255, 255, 255), (0, 0, 0)
    fields = "Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, " \
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, " \
        "MarginL, MarginR, MarginV, Encoding"
    box = f"Box,Arial,{size},{_style_colour(white)},{_style_colour(white)},{_style_colour(black, 0x60)}," \
        f"{_style_colour(black, 0xFF)},0,0,0,0,100,100,0,0,1,1,0,7,0,0,0,1"
    label = f"Label,Arial,{size},{_style_colour(white)},{_style_colour(white)},{_style_colour(black)}," \
        f"{_style_colour(black, 0x80)},-1,0,0,0,100,100,0,0,1,{max(1, size // 10)},0,1,0,0,0,1"
    return "\n".join([
        "[Script Info]",
        f"; Faces found by inafaceanalyzer {__version__}: a box and a label per face.",
        f"; Event times are the frames' time_s plus {offset:.6f} s, the first video frame's time on a player's clock.",
        f"Title: {title}",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "ScaledBorderAndShadow: yes",
        "WrapStyle: 2",
        "YCbCr Matrix: None",
        "",
        "[V4+ Styles]",
        f"Format: {fields}",
        f"Style: {box}",
        f"Style: {label}",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
        "",
    ])


def _box_drawing(mark: FaceMark, line: int) -> str:
    """A hollow rectangle: the outer contour clockwise, the inner one counter-clockwise."""
    left, top, right, bottom = (round(v) for v in mark.box)
    w, h = max(right - left, 1), max(bottom - top, 1)
    t = min(line, max(1, min(w, h) // 3))
    colour = _colour(GENDER_COLOURS.get(mark.gender, GENDER_COLOURS[""]))
    return (
        f"{{\\pos({left},{top})\\1c{colour}\\p1}}"
        f"m 0 0 l {w} 0 {w} {h} 0 {h} m {t} {t} l {t} {h - t} {w - t} {h - t} {w - t} {t}{{\\p0}}"
    )


def _label(mark: FaceMark, frame_width: int, size: int, line: int) -> str:
    left, top, _, _ = (round(v) for v in mark.box)
    colour = _colour(GENDER_COLOURS.get(mark.gender, GENDER_COLOURS[""]))
    approx_width = round(0.6 * size * len(mark.label))
    x = max(0, min(left, frame_width - approx_width))
    if top - line - size * 1.2 >= 0:  # above the box
        return f"{{\\an1\\pos({x},{top - line})\\1c{colour}}}{mark.label}"
    return f"{{\\an7\\pos({max(0, left) + line + 2},{max(0, top) + line + 2})\\1c{colour}}}{mark.label}"


def write_ass(
    path: str | os.PathLike[str],
    overlay: Iterable[OverlayFrame],
    width: int,
    height: int,
    *,
    offset: float = 0.0,
    title: str = "",
) -> int:
    """Write the overlay as ASS subtitles for a ``width`` x ``height`` video (atomically).

    Args:
        path: the ``.ass`` file to write.
        overlay: the faces of each analysed frame (:func:`~.overlay.build_overlay`).
        width, height: size of the upright video (the script's resolution).
        offset: seconds added to every time: the first video frame's time on
            a player's clock (:attr:`~inafaceanalyzer.io.packets.VideoTiming.player_offset`).
        title: the script's title (e.g. the video's name).

    Returns:
        the number of faces written (each is a box and a label event).
    """
    size, line = font_size(height), line_width(height)
    faces = 0
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(_header(width, height, title.replace("\n", " "), offset))
        for frame in overlay:
            start = centiseconds(frame.start + offset)
            end = centiseconds(frame.end + offset)
            if end <= start:  # shorter than a centisecond: ASS cannot show it
                continue
            start_text, end_text = _time_text(start), _time_text(end)
            for mark in frame.faces:
                handle.write(
                    f"Dialogue: 0,{start_text},{end_text},Box,{mark.gender},0,0,0,,{_box_drawing(mark, line)}\n"
                )
                if mark.label:
                    handle.write(
                        f"Dialogue: 1,{start_text},{end_text},Label,{mark.gender},0,0,0,,"
                        f"{_label(mark, width, size, line)}\n"
                    )
                faces += 1
        handle.flush()
        os.fsync(handle.fileno())
    return faces


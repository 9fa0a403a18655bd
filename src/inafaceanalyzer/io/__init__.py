"""Decoding layer: images and videos, local or ``http(s)://``, into upright RGB arrays.

* :func:`load_image` reads a still image as ``(H, W, 3)`` uint8 RGB.
* :class:`VideoSource` decodes a video lazily into :class:`Frame` objects with
  exact times, optionally sampled at a given rate or reduced to keyframes;
  :class:`VideoInfo` describes it up front; with ``strict=False`` it decodes
  past damaged data and lists the stretches lost as :class:`DecodingGap`.
* :func:`is_url` tells URLs from paths.

Every PyAV read of a video, here and in the other folders (exports, report
thumbnails, the live source), goes through :mod:`inafaceanalyzer.io.container`
(opening, stream choice, rotation, time zero, error wording);
:mod:`inafaceanalyzer.io.packets` reads a video's packet timestamps without
decoding (:func:`~inafaceanalyzer.io.packets.read_timing`).

Every failure to read a source raises :class:`~inafaceanalyzer.errors.MediaError`.
"""

from .frame import DecodingGap, Frame, VideoInfo
from .image import load_image
from .remote import is_url
from .video import VideoSource

__all__ = ["DecodingGap", "Frame", "VideoInfo", "VideoSource", "is_url", "load_image"]

"""HTML reports of results: one self-contained page per video, and one per batch.

- :func:`load_video_data` computes a video's numbers from its table (and
  tracks, and source video for thumbnails); :func:`write_video_report` writes
  its page and returns its :class:`VideoSummary`;
- :func:`write_batch_report` writes the page of many videos from their summaries.

Charts are Plotly figures (:mod:`.charts`); plotly.js is inlined, so pages
work offline.
"""

from .html import write_batch_report, write_video_report
from .summary import VideoData, VideoSummary, find_tracks_file, load_video_data, video_data

__all__ = [
    "VideoData",
    "VideoSummary",
    "find_tracks_file",
    "load_video_data",
    "video_data",
    "write_batch_report",
    "write_video_report",
]

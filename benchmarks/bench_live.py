"""Benchmark: end-to-end delay and analysed frame rate of the live analysis.

A clip is served as a live MPEG-TS stream over HTTP on 127.0.0.1, at its real
speed, looped (:class:`~inafaceanalyzer.live.StreamServer`, in a process of
its own, so that the analysis cannot delay it); a
:class:`~inafaceanalyzer.live.LiveSession` with the real models analyses it
and serves the view, in this process, for ``--seconds`` (the first
``--warmup`` seconds are not counted). Printed:

- end-to-end delay: from the moment the stream server wrote a frame to its
  socket to the moment that frame's annotated JPEG was ready for the page
  (network, demuxing, decoding, waiting for the analysis, analysis, drawing,
  JPEG encoding); median, 95th percentile and maximum;
- the delay the page shows: from the frame's capture (its arrival, on the
  stream's clock) to the JPEG;
- the analysed frame rate, the input rate, and the share of frames dropped;
- the analysis time per frame.

Usage::

    python benchmarks/bench_live.py                               # hamilton clip, 640x360
    python benchmarks/bench_live.py --clip facenet-pytorch__video.mp4 --seconds 30
    python benchmarks/bench_live.py --face_detector CenterFace --device cuda

The clips come from ``../shared/media/videos`` (see its README.md).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import queue
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from inafaceanalyzer import AnalysisOptions, FaceAnalyzer
from inafaceanalyzer.detections import Detections
from inafaceanalyzer.live import LiveFrame, LiveOptions, LiveSession, StreamServer, View

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def serve(clip: Path, rate: float | None, out: Any, stop: Any) -> None:
    """In a child process: stream ``clip``; report its URL, then each frame's send time."""
    streamer = StreamServer([clip], rate=rate).start()
    out.put(("url", streamer.url, streamer.width, streamer.height, float(streamer.rate)))
    forwarded: dict[int, int] = {}
    try:
        while not stop.wait(0.1):
            for connection, sent in list(streamer.sent.items()):
                times = dict(sent)
                for number in range(forwarded.get(connection, 0), len(times)):
                    out.put(("sent", connection, number, times[number]))
                forwarded[connection] = len(times)
    finally:
        streamer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default="face_recognition__short_hamilton_clip.mp4",
                        help="a file of ../shared/media/videos, or a path")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=None, help="frame rate of the stream (default: the clip's)")
    parser.add_argument("--fps", type=float, default=None, help="cap on analysed frames per second")
    parser.add_argument("--face_detector", default="LibFaceDetection")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    clip = Path(args.clip) if Path(args.clip).is_file() else CLIPS / args.clip
    options = AnalysisOptions(fps=args.fps, face_detector=args.face_detector, device=args.device, threads=args.threads)
    analyzer = FaceAnalyzer(options)
    context = multiprocessing.get_context("spawn")
    messages, stop = context.Queue(), context.Event()
    child = context.Process(target=serve, args=(clip, args.rate, messages, stop), daemon=True)
    child.start()
    _, url, width, height, rate = messages.get(timeout=120)
    sent: dict[tuple[int, int], float] = {}

    def collect() -> None:
        while True:
            try:
                message = messages.get(timeout=0.5)
            except queue.Empty:
                if stop.is_set():
                    return
                continue
            sent[message[1], message[2]] = message[3]

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    session = LiveSession(LiveOptions(source=url, port=0), options, analyzer=analyzer)
    views: list[tuple[View, LiveFrame]] = []
    started = time.monotonic()

    def on_view(view: View, frame: LiveFrame, faces: Detections) -> None:
        if time.monotonic() - started >= args.warmup:
            views.append((view, frame))

    session.on_view = on_view
    stopper = threading.Timer(args.warmup + args.seconds, session.stop)
    stopper.start()
    try:
        session.run()
    finally:
        stopper.cancel()
        time.sleep(0.5)  # the last send times
        stop.set()
        child.join(timeout=10)
        collector.join(timeout=5)
    samples = [(view.published_time, view.published_time - sent[key], view.delay) for view, frame in views
               if (key := (frame.connection, round(frame.stream_time * rate))) in sent]
    snapshot = session.snapshot()
    stats, source = snapshot["stats"], snapshot["source"]
    if len(samples) < 2:
        raise SystemExit("too few frames analysed to measure anything")
    end_to_end = [s[1] for s in samples]
    shown = [s[2] for s in samples]
    span = samples[-1][0] - samples[0][0]
    read = stats["frames_analysed"] + stats["frames_dropped"]
    print(f"clip: {clip.name}, {width}x{height} at {rate:.4g} fps, "
          f"detector {args.face_detector}, device {args.device}, fps cap {args.fps}")
    print(f"analysed: {(len(samples) - 1) / span:.2f} frames/s over {span:.1f} s "
          f"(input {source['input_fps']:.1f} frames/s, {stats['frames_dropped'] / max(read, 1):.0%} dropped)")
    print(f"analysis: {stats['analysis_ms']} ms per frame (mean of the last 5 s, drawing and JPEG included)")
    print(f"end-to-end delay (frame sent -> annotated JPEG ready): median {statistics.median(end_to_end) * 1000:.0f} ms, "
          f"p95 {percentile(end_to_end, 0.95) * 1000:.0f} ms, max {max(end_to_end) * 1000:.0f} ms")
    print(f"delay shown on the page (capture -> JPEG): median {statistics.median(shown) * 1000:.0f} ms, "
          f"p95 {percentile(shown, 0.95) * 1000:.0f} ms")


if __name__ == "__main__":
    main()

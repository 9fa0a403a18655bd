"""Run an iterator in a background thread, so decoding overlaps computation.

The producer thread forwards its exception to the consumer, and is always
stopped and joined, even when the consumer stops early.

What is in flight is bounded by count and, when ``size`` is given, by bytes:
an item is in flight from the moment the producer makes it until the
consumer asks for the next one (the item the consumer works on counts). The
producer makes the next item only when it fits beside those in flight, the
last item's size standing for the next one's; a single item always may be
in flight, however large, so that large video frames are decoded one at a
time instead of many ahead.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(
    items: Iterable[T],
    maxsize: int = 8,
    name: str = "prefetch",
    *,
    max_bytes: int | None = None,
    size: Callable[[T], int] | None = None,
) -> Iterator[T]:
    """Yield the items of ``items``, produced in a thread, at most ``maxsize`` in flight.

    Args:
        maxsize: most items in flight (the consumer's current one included).
        max_bytes: most bytes in flight, as ``size`` measures items (one item
            is always allowed, whatever its size).
        size: bytes of an item (default: items count 0 bytes).
    """
    maxsize = max(1, int(maxsize))
    ready: deque[tuple[object, int]] = deque()
    lock = threading.Condition()
    stop = threading.Event()
    flight = {"count": 0, "bytes": 0}

    def room(estimate: int) -> bool:
        if flight["count"] == 0:
            return True
        if flight["count"] >= maxsize:
            return False
        return max_bytes is None or flight["bytes"] + estimate <= max_bytes

    def push(item: object, nbytes: int) -> None:
        with lock:
            ready.append((item, nbytes))
            flight["count"] += 1
            flight["bytes"] += nbytes
            lock.notify_all()

    def produce() -> None:
        estimate = 0
        try:
            iterator = iter(items)
            while True:
                with lock:
                    while not stop.is_set() and not room(estimate):
                        lock.wait(0.1)
                if stop.is_set():
                    return
                item = next(iterator, _DONE)
                if item is _DONE:
                    push(_DONE, 0)
                    return
                estimate = int(size(item)) if size is not None else 0  # type: ignore[arg-type]
                push(item, estimate)
                del item  # not held while waiting for room
        except BaseException as error:  # forwarded to the consumer, re-raised there
            push(_Failure(error), 0)

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    held = -1  # bytes of the item the consumer holds; -1: none
    try:
        while True:
            with lock:
                if held >= 0:  # the consumer is done with its previous item
                    flight["count"] -= 1
                    flight["bytes"] -= held
                    held = -1
                    lock.notify_all()
                while not ready:
                    lock.wait(0.1)
                item, held = ready.popleft()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
            del item
    finally:
        stop.set()
        with lock:
            lock.notify_all()
        thread.join()
        ready.clear()
        close = getattr(items, "close", None)
        if close is not None:
            close()

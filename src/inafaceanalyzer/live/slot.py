"""A single-slot holder of the latest item: producers overwrite, consumers wait for newer.

Live analysis must never queue: when the consumer is slower than the
producer, the items it had no time for are dropped, and what it takes is
always the freshest. :class:`LatestSlot` holds one item and a sequence
number that grows with every :meth:`~LatestSlot.put`; any number of
consumers wait for an item newer than the one they had. The gaps in the
sequence numbers a consumer sees are the items it missed.
"""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

__all__ = ["LatestSlot"]

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """The latest item and its sequence number (0 before the first item)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: T | None = None
        self._seq = 0
        self._closed = False

    @property
    def seq(self) -> int:
        """Sequence number of the item held: how many items were put."""
        return self._seq

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def put(self, item: T) -> int:
        """Replace the item held; returns its sequence number."""
        with self._condition:
            self._seq += 1
            self._item = item
            self._condition.notify_all()
            return self._seq

    def latest(self) -> tuple[int, T] | None:
        """The item held and its number, without waiting; ``None`` before the first."""
        with self._condition:
            return None if self._item is None else (self._seq, self._item)

    def wait_newer(self, seq: int, timeout: float | None = None) -> tuple[int, T] | None:
        """Wait for an item numbered above ``seq``.

        Returns:
            ``(number, item)``, or ``None`` when ``timeout`` seconds passed or
            the slot was closed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while self._seq <= seq or self._item is None:
                if self._closed:
                    return None
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._condition.wait(left)
            return self._seq, self._item

    def close(self) -> None:
        """Wake every waiter; later waits return ``None`` unless a newer item is there."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

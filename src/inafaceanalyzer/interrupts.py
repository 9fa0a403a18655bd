"""SIGINT and SIGTERM stop a run where it is, so that its cleanups run, and a stop is never lost.

:func:`interruptible` installs handlers that raise
:class:`~.errors.Interrupted` where the program is. CPython cannot raise out
of a finaliser, though: when the signal lands while a ``__del__`` (of a
progress bar, a decoder...) or a garbage collection runs, the exception is
swallowed and the program goes on as if nothing happened (seen in CI: a
SIGTERM lost in ``tqdm.__del__``, and the batch finished with status 0). The
handler therefore also records the signal, and the loops over inputs and
frames call :func:`check` at each step, which raises again while a stop is
pending, as does the commit of an input's outputs
(:meth:`~inafaceanalyzer.export.atomic.OutputSet.commit`): a swallowed
signal stops the run one frame later, and never lets its outputs appear.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator

from .errors import Interrupted

__all__ = ["check", "interruptible", "pending"]

_pending: int | None = None


def pending() -> int | None:
    """The signal that asked the run to stop, or ``None``."""
    return _pending


def check() -> None:
    """Raise :class:`~.errors.Interrupted` when a signal asked the run to stop."""
    if _pending is not None:
        raise Interrupted(_pending)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`~.errors.Interrupted` inside this block (main thread only).

    The first signal is raised and recorded (:func:`check` raises it again).
    Later ones are ignored while the program cleans up. A signal swallowed by
    a finaliser prints no "Exception ignored" trace. The previous handlers
    come back on leaving, and the record is cleared. A signal ignored when
    the program started (SIGINT of a background job) stays ignored.
    """
    global _pending
    signals = tuple(each for each in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(each) is not signal.SIG_IGN)

    def handler(number: int, frame: object) -> None:
        global _pending
        for each in signals:
            signal.signal(each, signal.SIG_IGN)
        _pending = number
        raise Interrupted(number)

    hook = sys.unraisablehook

    def quiet(unraisable: sys.UnraisableHookArgs) -> None:
        if not isinstance(unraisable.exc_value, Interrupted):
            hook(unraisable)

    previous = {each: signal.signal(each, handler) for each in signals}
    sys.unraisablehook = quiet
    try:
        yield
    finally:
        for each, old in previous.items():
            signal.signal(each, old)
        sys.unraisablehook = hook
        _pending = None

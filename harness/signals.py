"""SIGTERM/SIGINT during a run: stop at a safe point and leave true state (the run marked interrupted, the journal
whole), instead of dying mid-write with state.json still saying "running".

`stopping()` turns SIGTERM into `Terminated` (a KeyboardInterrupt, so every handler of Ctrl-C applies to both);
inside `critical()` (a journal append) the signal is held and raised when the block ends, so no line is torn.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (a scheduler's or `kill`'s request to stop)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


_held: list[int] = []  # signals received inside a critical block, raised when it ends
_depth = 0


def _handler(signum: int, _frame) -> None:
    if _depth:
        _held.append(signum)
        return
    raise Terminated(signum) if signum != signal.SIGINT else KeyboardInterrupt()


@contextmanager
def stopping() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise at the next safe point (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def critical() -> Iterator[None]:
    """A block a signal must not cut in half; a signal received inside is raised once the block is done."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if not _depth and _held:
            signum = _held[0]
            _held.clear()
            _handler(signum, None)

"""Media preparation ahead of the GPU on a few threads, results in input order (the fast decoder's input pipeline).

`Prefetch(keys, work, workers, ahead, state)` runs `work(key, state)` for each key on `workers` threads, each with
its own `state()` (the adapter gives each thread its own processor: a Rust tokenizer must not be used by two threads
at once), keeps at most `ahead` results waiting, and iterates `(key, result)` in the order of `keys`; an exception
raised by `work` is the result, so one bad sample fails alone, and a result for which `drop(result)` holds is skipped.
`ready()` says whether the next item is there without waiting: the scheduler admits only ready samples while rows
are decoding, so the GPU never waits for media it could decode without. At the real FutureBench size one sample's
media (decoding 32 frames of a 720p clip, resizing, the processor's normalisation and patching) take about as long as
its prefill on an H200, so one thread would hold the GPU back.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Prefetch:
    def __init__(self, keys: Iterable[Any], work: Callable[[Any, Any], Any], workers: int = 1, ahead: int = 2,
                 state: Callable[[], Any] | None = None, drop: Callable[[Any], bool] | None = None) -> None:  # fmt: skip
        self._keys = iter(keys)
        self._work, self._state, self._drop = work, state, drop
        self._ahead = max(1, int(ahead))
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=max(1, int(workers)), thread_name_prefix="future_l1_media")
        self._pending: deque[tuple[Any, Future]] = deque()
        self._exhausted = False
        self._fill()

    def _run(self, key):
        if not hasattr(self._local, "state"):
            self._local.state = self._state() if self._state is not None else None
        try:
            return self._work(key, self._local.state)
        except Exception as exc:  # the result: the caller decides what a failed sample becomes
            return exc

    def _fill(self) -> None:
        while not self._exhausted and len(self._pending) < self._ahead:
            try:
                key = next(self._keys)
            except StopIteration:
                self._exhausted = True
                break
            self._pending.append((key, self._pool.submit(self._run, key)))

    def _skip_dropped(self, wait: bool) -> None:
        while self._pending and self._drop is not None:
            _, future = self._pending[0]
            if not wait and not future.done():
                return
            if not self._drop(future.result()):
                return
            self._pending.popleft()
            self._fill()

    def ready(self) -> bool:
        """True when the next item (or the end) is there: `next()` would not wait."""
        self._skip_dropped(wait=False)
        return not self._pending or self._pending[0][1].done()

    def __iter__(self) -> Prefetch:
        return self

    def __next__(self) -> tuple[Any, Any]:
        self._skip_dropped(wait=True)
        if not self._pending:
            self.close()
            raise StopIteration
        key, future = self._pending.popleft()
        self._fill()
        return key, future.result()

    def close(self) -> None:
        """Cancel what has not started and let the threads go (also when the consumer stops early)."""
        for _, future in self._pending:
            future.cancel()
        self._pending.clear()
        self._exhausted = True
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

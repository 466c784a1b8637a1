"""Media preparation ahead of the GPU on a few threads, results in input order (the fast decoder's input pipeline).

`prefetch(keys, work, workers, ahead, state)` runs `work(key, state)` for each key on `workers` threads, each with its
own `state()` (the adapter gives each thread its own processor: a Rust tokenizer must not be used by two threads at
once), keeps at most `ahead` results waiting, and yields `(key, result)` in the order of `keys`; an exception raised
by `work` is yielded as the result, so one bad sample fails alone. At the real FutureBench size one sample's media
(decoding 32 frames of a 720p clip, resizing, the processor's normalisation and patching) take about as long as its
prefill on an H200, so one thread would hold the GPU back.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


def prefetch(keys: Iterable[Any], work: Callable[[Any, Any], Any], workers: int = 1, ahead: int = 2,
             state: Callable[[], Any] | None = None) -> Iterator[tuple[Any, Any]]:  # fmt: skip
    local = threading.local()

    def run(key):
        if not hasattr(local, "state"):
            local.state = state() if state is not None else None
        try:
            return work(key, local.state)
        except Exception as exc:  # yielded as the result: the caller decides what a failed sample becomes
            return exc

    pending: deque[tuple[Any, Future]] = deque()
    stream = iter(keys)
    with ThreadPoolExecutor(max_workers=max(1, int(workers)), thread_name_prefix="future_l1_media") as pool:
        try:
            for key in stream:
                pending.append((key, pool.submit(run, key)))
                if len(pending) >= max(1, int(ahead)):
                    done_key, future = pending.popleft()
                    yield done_key, future.result()
            while pending:
                done_key, future = pending.popleft()
                yield done_key, future.result()
        finally:  # the consumer stopped early: do not start what is still queued
            for _, future in pending:
                future.cancel()

"""Continuous batching over `FastLatentDecoder` sessions: a finished row's slot is refilled by the next request.

`continuous_decode(decoder, items, collate, settings, slots)` consumes `(key, sample)` pairs lazily (the caller may
prepare media in a background thread), keeps up to `slots` rows decoding, and yields one `SessionResult` per item as
it finishes (not in input order). New rows are prefilled in chunks of at most `prefill_rows` prompts, admitted only
at polling points, so the running rows wait for one chunk's prefill at a time, never for a whole batch's.

The cache is sized from the first chunk's longest prompt plus `max_new_tokens` (rounded up to the decoder's
`kv_bucket`) and grows when a longer prompt arrives. A chunk whose prefill fails is retried row by row; a row that
still fails is yielded as a `SessionResult` with `output=None` and the exception in `extra["error"]`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence

from future_l1.model.decoder import GenerationSettings, LogitsProcessor
from future_l1.model.static_decoder import DecodeSession, FastLatentDecoder, SessionResult


def continuous_decode(
    decoder: FastLatentDecoder,
    items: Iterable[tuple[object, object]],
    collate: Callable[[Sequence[object]], dict],
    settings: GenerationSettings,
    slots: int,
    logits_processor: LogitsProcessor | None = None,
    prefill_rows: int | None = None,
) -> Iterator[SessionResult]:
    stream = iter(items)
    chunk_rows = max(1, int(prefill_rows or decoder.prefill_rows))
    session: DecodeSession | None = None
    exhausted = False

    def take(n: int) -> list[tuple[object, object]]:
        nonlocal exhausted
        out = []
        while len(out) < n and not exhausted:
            try:
                out.append(next(stream))
            except StopIteration:
                exhausted = True
        return out

    def admit(session_: DecodeSession | None, chunk) -> tuple[DecodeSession | None, list[SessionResult]]:
        failed: list[SessionResult] = []
        try:
            batch = collate([s for _, s in chunk])
            if session_ is None:
                need = int(batch["attention_mask"].sum(-1).max()) + int(settings.max_new_tokens)
                bucket = decoder.kv_bucket or 1
                session_ = decoder.session(slots, int(math.ceil(need / bucket) * bucket), settings, logits_processor)
            decoder.last_session = session_  # benches read its capture time and memory
            session_.admit(batch, [k for k, _ in chunk])
        except Exception as exc:
            if len(chunk) == 1:
                failed.append(SessionResult(chunk[0][0], None, 0, 0.0, {"error": exc}))  # type: ignore[arg-type]
            else:
                for item in chunk:
                    session_, more = admit(session_, [item])
                    failed += more
        return session_, failed

    while True:
        free = session.free_slots() if session is not None else list(range(slots))
        if free and not exhausted:
            chunk = take(min(len(free), chunk_rows))
            if chunk:
                session, failed = admit(session, chunk)
                yield from failed
        if session is None or not session.rows:
            if exhausted:
                return
            continue
        # with free slots and waiting items, return after one poll interval to admit the next chunk
        refill = not exhausted and bool(session.free_slots())
        yield from session.run(max_steps=decoder.poll_every if refill else None)

"""Continuous batching over `FastLatentDecoder` sessions: a finished row's slot is refilled by the next request.

`continuous_decode(decoder, items, collate, settings, slots)` consumes `(key, sample)` pairs lazily (the caller may
prepare media in a background thread), keeps up to `slots` rows decoding, and yields one `SessionResult` per item as
it finishes (not in input order). Keys are the caller's; they may repeat.

Groups: items whose sample is the very same object (LA-DAPO's n rollouts of one prompt) are prefilled once; the
others of the group take copies of that row's prompt KV and state (`DecodeSession.admit_copy`), so a group of 8
costs one prompt's prefill and vision encoding instead of 8. They then decode as independent rows.

Prefill between decode steps: new rows are admitted at polling points (every `poll_every` steps), in chunks of at
most `prefill_rows` prompts and at most `decoder.prefill_tokens` prompt tokens (at least one prompt): at the real
FutureBench size (about 11.9k tokens a prompt) a chunk is one prompt, four 3.3k-token prompts share one. At each
polling point every free slot is filled with the samples that are ready (an input with a `ready()` method, like
`model.prefetch.Prefetch`, is not waited for while rows are decoding): a decode step reads the KV cache of all
slots, so an empty slot costs as much as a full one, and admitting one chunk per polling interval (issue 13) kept
only about 13 of 53 slots busy at the real size (1.33 s/sample measured, against 0.75 s/sample with full slots).

Memory (issue 25): the session is sized when the first prompt is collated, from its length, its vision patches,
`max_new_tokens` and the free device memory (`model/slot_planner.py`): `slots` (the user's `batch_size`) is capped to
what fits, and the cap is logged in one line. The cache grows when a longer prompt arrives. If an allocation still
fails (`torch.OutOfMemoryError`), nothing is lost and nothing is answered twice: a failed prefill chunk goes back to
the front of the queue and the chunk is halved; a single prompt that does not fit beside the running rows makes the
scheduler stop admitting, let the running rows finish, and rebuild the session with half the slots; a decode step
that fails drops the session and re-queues its unfinished rows (decoded again from their prompt: greedy decoding
gives the same answer), with half the slots. Only a prompt that fails alone in a one-slot session is answered with an
error (`output=None`, the exception in `extra["error"]`), like any other failure of one row. Other errors of a chunk
are retried row by row; a row that still fails gets its error result.

The session (its KV cache) is released when the generator finishes; `decoder.last_stats` (a `ScheduleStats`) holds
what happened: slots asked and used, the plan, retries, and where
the time went (collation, prefill, decode).
"""

from __future__ import annotations

import gc
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from future_l1.model.decoder import GenerationSettings, LogitsProcessor
from future_l1.model.slot_planner import ModelShape, SlotPlan, plan_slots, round_up
from future_l1.model.static_decoder import DecodeSession, FastLatentDecoder, SessionResult

log = logging.getLogger(__name__)
VISION_KEYS = ("pixel_values_videos", "pixel_values")


@dataclass
class ScheduleStats:
    """What one `continuous_decode` call did (read by the adapter's log and the benches)."""

    slots_requested: int = 0
    slots: int = 0  # of the last session
    prefill_rows: int = 0  # prompts per prefill chunk (last value)
    plan: SlotPlan | None = None
    oom_retries: int = 0
    events: list[str] = field(default_factory=list)
    input_wait_s: float = 0.0  # waiting for the next input (media not ready yet)
    collate_s: float = 0.0
    prefill_s: float = 0.0
    decode_s: float = 0.0
    capture_s: float = 0.0
    decode_steps: int = 0
    prefill_tokens: int = 0
    copied_rows: int = 0  # rows admitted as copies of a prefilled row of the same sample object (no prefill)
    session_bytes: int = 0  # cache and state of the largest session
    answered: int = 0
    errors: int = 0


def free_device_memory(device: torch.device) -> int | None:
    """Bytes this process can still allocate on `device` (free on the card plus what torch's caching allocator holds
    unused, under a per-process memory fraction if one is set); None off CUDA."""
    if device.type != "cuda":
        return None
    free, total = torch.cuda.mem_get_info(device)
    allocated = torch.cuda.memory_allocated(device)
    cached = torch.cuda.memory_reserved(device) - allocated
    avail = free + cached
    fraction = getattr(torch.cuda, "get_per_process_memory_fraction", None)
    if fraction is not None:
        avail = min(avail, int(fraction(device) * total) - allocated)
    return max(0, int(avail))


def _is_oom(exc: BaseException | None) -> bool:
    """An out-of-memory error, or an error raised while handling one (a CUDA-graph capture that ran out of memory
    ends with the capture's own error, chained to the out-of-memory one)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower():
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _release(device: torch.device, *, collect: bool = False) -> None:
    """Hand cached device blocks back. `collect`: run the cyclic garbage collector first, needed only after an
    exception (its traceback's frames hold tensors in cycles). A session is otherwise freed by reference counting
    (tests/model/test_model_continuous_groups.py checks it with the collector off), and a full collection costs
    about 0.45 s in an LA-DAPO trainer's process on the H200 host (issue 27: two per rollout)."""
    if collect:
        gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _patches_per_row(batch: dict, rows: int) -> int:
    return sum(int(batch[k].shape[0]) for k in VISION_KEYS if isinstance(batch.get(k), torch.Tensor)) // max(1, rows)


def continuous_decode(
    decoder: FastLatentDecoder,
    items: Iterable[tuple[object, object]],
    collate: Callable[[Sequence[object]], dict],
    settings: GenerationSettings,
    slots: int,
    logits_processor: LogitsProcessor | None = None,
    prefill_rows: int | None = None,
    *,
    free_memory: int | Callable[[], int | None] | None = None,
) -> Iterator[SessionResult]:
    """Decode `items` with up to `slots` rows at a time. `free_memory`: the bytes the planner may use (a number or a
    function); default: measured on CUDA, unlimited elsewhere (no planning)."""
    stream = iter(items)
    ready = getattr(items, "ready", None)  # e.g. a Prefetch: while rows decode, admit only what is there
    max_rows = max(1, int(prefill_rows or decoder.prefill_rows))
    stats = ScheduleStats(slots_requested=max(1, int(slots)))
    decoder.last_stats = stats
    decoder.last_session = None  # a previous call's session (benches read it) must not hold its cache any longer
    _release(decoder.device)
    waiting: deque[tuple[object, object]] = deque()  # re-queued items go first
    inflight: dict[int, tuple[object, object]] = {}  # ticket -> item, until its result is yielded
    tickets = iter(range(1 << 62))
    cap = stats.slots_requested
    chunk_rows = 1  # the first chunk is one prompt: the session is planned from it
    session: DecodeSession | None = None
    drain = False  # stop admitting until the session is empty, then rebuild it smaller
    exhausted = False

    def note(message: str) -> None:
        stats.events.append(message)
        log.warning(message)

    def take(prompts: int, room: int, block: bool) -> list[tuple[object, object]]:
        """Up to `room` items holding at most `prompts` distinct samples: an item whose sample is the very object of
        one already taken (a group of rollouts of one prompt) joins the chunk as a copy, with no prefill of its own."""
        nonlocal exhausted
        out: list[tuple[object, object]] = []
        seen: set[int] = set()

        def fits(item) -> bool:
            return id(item[1]) in seen or len(seen) < prompts

        while len(out) < room:
            if waiting:
                if not fits(waiting[0]):
                    break
                item = waiting.popleft()
            else:
                if exhausted or (ready is not None and (out or not block) and not ready()):
                    break
                t = time.perf_counter()
                try:
                    item = next(stream)
                except StopIteration:
                    exhausted = True
                    break
                finally:
                    stats.input_wait_s += time.perf_counter() - t
                if not fits(item):
                    waiting.appendleft(item)
                    break
            out.append(item)
            seen.add(id(item[1]))
        return out

    def failure(item, exc: BaseException) -> SessionResult:
        stats.errors += 1
        return SessionResult(item[0], None, 0, 0.0, {"error": exc})  # type: ignore[arg-type]

    def free_bytes() -> int | None:
        value = free_memory() if callable(free_memory) else free_memory
        return value if value is not None else free_device_memory(decoder.device)

    def new_session(batch: dict, rows: int) -> DecodeSession:
        nonlocal chunk_rows
        prompt = int(batch["attention_mask"].shape[1])
        need = int(batch["attention_mask"].sum(-1).max()) + int(settings.max_new_tokens)
        length = round_up(need, decoder.kv_bucket or 1)
        n = cap
        by_tokens = max(1, min(max_rows, decoder.prefill_tokens // max(1, prompt)))
        free = free_bytes()
        if free is not None:
            model = decoder.model
            shape = ModelShape.from_config(model.config, model.lm_head.weight.element_size())
            plan = plan_slots(shape, free, prompt, int(settings.max_new_tokens), cap, prefill_rows=by_tokens,
                              patches_per_row=_patches_per_row(batch, rows), kv_bucket=decoder.kv_bucket,
                              latents=settings.return_latents, logprobs=settings.return_logprobs)  # fmt: skip
            stats.plan = plan
            n = max(1, plan.slots)
            by_tokens = plan.prefill_rows
            if plan.capped:
                note(plan.message() + ("" if plan.slots else "; trying 1 slot"))
            else:
                log.info(plan.message())
        chunk_rows = by_tokens
        stats.slots, stats.prefill_rows = n, chunk_rows
        return decoder.session(n, length, settings, logits_processor)  # may run out of memory: stats.slots is set

    def admit(chunk: list[tuple[object, object]]) -> Iterator[SessionResult]:
        """Prefill `chunk` into the session (made here when there is none); OOM re-queues it, other errors isolate
        the failing rows."""
        nonlocal session, chunk_rows, drain, cap, max_rows
        oom: str | None = None
        building = False
        try:
            first: dict[int, int] = {}  # id(sample) -> its first position in the chunk, which is prefilled
            for i, (_, sample) in enumerate(chunk):
                first.setdefault(id(sample), i)
            unique = list(first.values())
            t = time.perf_counter()
            batch = collate([chunk[i][1] for i in unique])
            stats.collate_s += time.perf_counter() - t
            if session is None:
                building = True
                session = new_session(batch, len(unique))
                decoder.last_session = session  # while it runs; dropped at the end so that its cache is freed
                stats.session_bytes = max(stats.session_bytes, session.memory_bytes())
                building = False
            free = session.free_slots()
            if len(chunk) > len(free):  # the first chunk's copies outnumber the planned slots: the rest waits
                waiting.extendleft(reversed(chunk[len(free) :]))
                chunk = chunk[: len(free)]
                kept = [i for i in unique if i < len(chunk)]
                if kept != unique:
                    unique = kept
                    batch = collate([chunk[i][1] for i in unique])
            ids = [next(tickets) for _ in chunk]
            slot_of = dict(zip(unique, free, strict=False))  # chunk position -> slot, prefilled rows first
            copies = [i for i in range(len(chunk)) if i not in slot_of]
            slot_of.update(zip(copies, free[len(unique) :], strict=False))
            inflight.update(zip(ids, chunk, strict=True))
            t = time.perf_counter()
            try:
                session.admit(batch, [ids[i] for i in unique], [slot_of[i] for i in unique])
                by_source: dict[int, list[int]] = {}  # the prompt's KV, state and first logits, copied from its row
                for i in copies:
                    by_source.setdefault(slot_of[first[id(chunk[i][1])]], []).append(i)
                for src, members in by_source.items():
                    session.admit_copy(src, [slot_of[i] for i in members], [ids[i] for i in members])
            except BaseException:
                for i in ids:
                    inflight.pop(i, None)
                for slot in slot_of.values():  # nothing half-admitted keeps a slot
                    session.rows.pop(slot, None)
                raise
            stats.prefill_s += time.perf_counter() - t
            stats.prefill_tokens += int(batch["attention_mask"].sum())
            stats.copied_rows += len(copies)
        except Exception as exc:
            if not _is_oom(exc):
                if len(chunk) == 1:
                    yield failure(chunk[0], exc)
                else:
                    for item in chunk:
                        yield from admit([item])
                return
            oom = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        if oom is None:
            return
        # out of memory (handled outside the except block, so the failed frames' tensors are freed first)
        batch = None
        stats.oom_retries += 1
        attempted = session.slots if session is not None else stats.slots
        if len({id(sample) for _, sample in chunk}) > 1 and not building:
            chunk_rows = max_rows = max(1, len({id(sample) for _, sample in chunk}) // 2)
            waiting.extendleft(reversed(chunk))
            note(f"future_l1 fast decoder: out of memory in a prefill of {len(chunk)} prompts; prefill chunks of "
                 f"{chunk_rows} from now on, the prompts are retried ({oom})")  # fmt: skip
        elif session is not None and session.rows:
            cap = max(1, attempted // 2)
            drain = True
            waiting.extendleft(reversed(chunk))
            note(f"future_l1 fast decoder: out of memory admitting a prompt beside {session.active} running rows; "
                 f"the session is rebuilt with {cap} slots once they finish, the prompt is retried ({oom})")  # fmt: skip
        elif attempted > 1:
            cap = attempted // 2
            chunk_rows = 1
            session = None
            decoder.last_session = None
            waiting.extendleft(reversed(chunk))
            note(f"future_l1 fast decoder: out of memory building or filling a session of {attempted} slots; "
                 f"retrying with {cap} ({oom})")  # fmt: skip
        else:
            note(f"future_l1 fast decoder: a prompt does not fit in memory even alone; answered with an error ({oom})")
            for item in chunk:  # copies of the prompt (`take`) fail with it
                yield failure(item, torch.OutOfMemoryError(oom))
        _release(decoder.device, collect=True)

    try:
        while True:
            while not drain and (session is None or session.free_slots()):  # fill every free slot
                room = len(session.free_slots()) if session is not None else cap
                chunk = take(chunk_rows, room, block=session is None or not session.rows)
                if not chunk:
                    break
                yield from admit(chunk)
            if session is None or not session.rows:
                if session is not None and drain:
                    session = None
                    decoder.last_session = None
                    drain = False
                    _release(decoder.device)
                if exhausted and not waiting:
                    decoder.last_session = None
                    return
                continue
            refill = not drain and (bool(waiting) or not exhausted) and bool(session.free_slots())
            t, steps, capture = time.perf_counter(), session.step_count, session.capture_s
            oom = None
            try:
                results = session.run(max_steps=decoder.poll_every if refill else None)
            except Exception as exc:
                if not _is_oom(exc):
                    raise
                oom = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            stats.decode_s += time.perf_counter() - t - (session.capture_s - capture)
            stats.capture_s += session.capture_s - capture
            stats.decode_steps += session.step_count - steps
            if oom is not None:
                stats.oom_retries += 1
                rows = sorted(session.rows)
                keys = [session.rows[s].key for s in rows]
                again = [inflight.pop(k) for k in keys]  # type: ignore[call-overload]
                slots_before = session.slots
                session = None
                decoder.last_session = None
                if slots_before == 1:
                    note(
                        f"future_l1 fast decoder: out of memory decoding one row alone; answered with an error ({oom})"
                    )
                    for item in again:
                        yield failure(item, torch.OutOfMemoryError(oom))
                else:
                    cap = max(1, slots_before // 2)
                    chunk_rows = 1
                    waiting.extendleft(reversed(again))
                    note(f"future_l1 fast decoder: out of memory in a decode step; its {len(again)} unfinished rows are "
                         f"decoded again with {cap} slots ({oom})")  # fmt: skip
                _release(decoder.device, collect=True)
                continue
            for r in results:
                item = inflight.pop(r.key)  # type: ignore[call-overload]
                stats.answered += 1
                yield SessionResult(item[0], r.output, r.prompt_tokens, r.latency_s, r.extra)
    finally:  # the nested functions form reference cycles (admit calls itself); the cache must not wait for gc
        session = None
        decoder.last_session = None

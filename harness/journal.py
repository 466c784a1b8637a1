"""Per-sample resume: a journaling proxy around any lmms-eval model.

lmms-eval hands all requests of a run to one `generate_until` call and its response cache stores them only after that
call returns, so a killed run loses all of its work. `JournalingModel` answers requests it finds in the journal and
passes the rest to the wrapped model in small chunks, appending each answer to `journal/<label>.rank<r>.jsonl` and
fsyncing before it moves on. lmms-eval then scores the full set as usual. Journals of every rank are read on start,
so a resumed run may use a different number of processes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lmms_eval.api.instance import GenerationResult, TokenCounts, unwrap_generation_output
from lmms_eval.api.model import lmms
from tqdm import tqdm

from future_l1.harness import signals
from future_l1.model import jsonl


def request_hash(args: tuple) -> str:
    """Hash of what determines an answer: the prompt and the generation settings (other args are callables)."""
    gen_kwargs = next((a for a in args if isinstance(a, dict)), {})
    payload = json.dumps(
        [args[0] if args and isinstance(args[0], str) else "", gen_kwargs], sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def journal_key(task: str, doc_id: int, req_hash: str, repeat: int) -> str:
    return f"{task}|{doc_id}|{req_hash}|{repeat}"


def read_journal(files: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """All complete records of the given journal files by key (a torn last line is ignored)."""
    records: dict[str, dict[str, Any]] = {}
    for path in files:
        for rec in jsonl.read(path):
            if isinstance(rec.get("key"), str):
                records.setdefault(rec["key"], rec)
    return records


class JournalingModel(lmms):
    """Delegates to `inner`; answers from and appends to the journal. `clean()` is deferred to `release()` because
    lmms-eval calls it after every evaluation and it deletes the model's modules (we evaluate several tasks)."""

    def __init__(self, inner: lmms, journal_dir: Path, label: str, chunk_size: int = 1, rank: int = 0) -> None:
        super().__init__()
        self.inner = inner
        self.is_simple = inner.is_simple
        self.task_dict = inner.task_dict  # lmms-eval fills it on the proxy; the inner model reads the same dict
        self.label = label
        self.chunk_size = max(1, int(chunk_size))
        self._rank = rank
        self._world_size = getattr(inner, "_world_size", 1)
        journal_dir.mkdir(parents=True, exist_ok=True)
        self.journal_dir = journal_dir
        self.path = journal_dir / f"{label}.rank{rank}.jsonl"
        jsonl.repair_tail(self.path)
        self.records = read_journal(sorted(journal_dir.glob(f"{label}.rank*.jsonl")))
        self.hits = 0
        self.computed = 0

    @property
    def device(self):
        return getattr(self.inner, "device", "cpu")

    def __getattr__(self, name: str) -> Any:  # model-specific attributes (tokenizer, config, …) of the inner model
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    # --- journal -------------------------------------------------------------------------------------------------

    def _append(self, records: list[dict[str, Any]]) -> None:
        with signals.critical():  # SIGTERM waits for the line to be whole and fsynced
            jsonl.append(self.path, records)
            for rec in records:
                self.records[rec["key"]] = rec

    def _keys(self, requests: list) -> list[str | None]:
        """One key per request; None for lmms-eval's rank-padding requests (their answers are thrown away)."""
        seen: dict[str, int] = {}
        keys: list[str | None] = []
        for req in requests:
            if req.metadata.get("__padding_only__"):
                keys.append(None)
                continue
            doc_id, task, _split = req.args[-3:]
            base = (task, doc_id, request_hash(req.args))
            repeat = seen.get(base, 0)
            seen[base] = repeat + 1
            keys.append(journal_key(*base, repeat))
        return keys

    def _run(self, reqtype: str, requests: list) -> list:
        keys = self._keys(requests)
        todo = [i for i, k in enumerate(keys) if k is not None and k not in self.records]
        self.hits += sum(1 for k in keys if k is not None and k in self.records)
        self.inner._rank, self.inner._world_size = self._rank, self._world_size
        bar = tqdm(
            total=len(requests),
            initial=len(requests) - len(todo),
            desc=f"{self.label} samples",
            unit="sample",
            leave=False,
            disable=self._rank != 0,
        )
        padded = [i for i, k in enumerate(keys) if k is None]
        bar.update(len(padded))
        for start in range(0, len(todo), self.chunk_size):
            chunk = todo[start : start + self.chunk_size]
            began = time.perf_counter()
            outputs = getattr(self.inner, reqtype)([requests[i] for i in chunk])
            latency = (time.perf_counter() - began) / len(chunk)
            if len(outputs) != len(chunk):
                raise RuntimeError(f"model {self.label!r} returned {len(outputs)} answers for {len(chunk)} requests")
            records = []
            for i, out in zip(chunk, outputs, strict=True):
                doc_id, task, _ = requests[i].args[-3:]
                records.append({"key": keys[i], "task": task, "doc_id": doc_id, "latency_s": latency, **_encode(out)})
            self._append(records)
            self.computed += len(chunk)
            bar.update(len(chunk))
        bar.close()
        return [_decode(self.records[k]) if k is not None else "" for k in keys]

    # --- lmms interface --------------------------------------------------------------------------------------------

    def generate_until(self, requests) -> list:
        return self._run("generate_until", list(requests))

    def loglikelihood(self, requests) -> list:
        return self._run("loglikelihood", list(requests))

    def generate_until_multi_round(self, requests) -> list:
        return self._run("generate_until_multi_round", list(requests))

    def clean(self) -> None:
        """No-op: lmms-eval calls it after each task; `release()` cleans the inner model once all tasks ran."""

    def release(self) -> None:
        self.inner.clean()


def _encode(output: Any) -> dict[str, Any]:
    if isinstance(output, tuple) and len(output) == 2 and isinstance(output[1], bool):  # loglikelihood
        return {"value": [float(output[0]), bool(output[1])]}
    text, counts = unwrap_generation_output(output)
    return {"text": text, "token_counts": counts.to_dict() if counts is not None else None}


def _decode(rec: dict[str, Any]) -> Any:
    if "value" in rec:
        return tuple(rec["value"])
    counts = rec.get("token_counts")
    if counts is None:
        return rec["text"]
    return GenerationResult(rec["text"], TokenCounts(**counts))

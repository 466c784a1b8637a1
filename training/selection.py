"""Visual-gain selection (`future-l1 train select`): the Future-L1-50K curation rule (paper §3.2, App. D).

The authors describe it but never released code (only their README and `asset/figure2.png` describe it). For every candidate a probe model answers
k = 8 times text-only (question frames + question; p_t = number correct) and k = 8 times with the reasoning (future)
frames added as hints (p_v). Keep a candidate iff p_t ≤ 6 and p_v − p_t ≥ 2, rank by gain p_v − p_t (ties: lower
p_t first, then input order), write the top K with their counts.

Correctness is decided by rule (normalised exact match of the `<answer>` text, or the option letter); an optional
`AnswerJudge` decides only the answers the rule rejects (the paper's probe used an LLM judge throughout; the RL reward uses
rule first, judge as fallback, which is what we do here too).

Resumable: each finished candidate is appended to `<out>.progress.jsonl` and fsync'd; a re-run reads it and skips
those candidates, so a kill loses at most the candidate in flight.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from future_l1.model import jsonl

log = logging.getLogger(__name__)

K_ROLLOUTS = 8
MAX_TEXT_CORRECT = 6
MIN_GAIN = 2


@runtime_checkable
class Probe(Protocol):
    """Any model that answers chat messages: `n` sampled answers for one conversation."""

    def answer(self, messages: list[dict], n: int, temperature: float, seed: int) -> list[str]: ...


@runtime_checkable
class AnswerJudge(Protocol):
    """Decides whether `prediction` answers `question` as `reference` does (an LLM judge, typically)."""

    def __call__(self, question: str, reference: str, prediction: str) -> bool: ...


_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)


def normalise(text: str) -> str:
    m = _ANSWER.search(text)
    text = m.group(1) if m else text
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def rule_correct(prediction: str, reference: str) -> bool:
    pred, ref = normalise(prediction), normalise(reference)
    if not pred:
        return False
    if len(ref) == 1 and ref.isalpha():  # option letter
        return pred[:1] == ref and (len(pred) == 1 or not pred[1].isalpha())
    return pred == ref


def probe_messages(question: str, question_frames: Sequence, hint_frames: Sequence = ()) -> list[dict]:
    """The probe's prompt: question frames, then (hinted condition) the reasoning frames, then the question."""
    text = question.replace("<image>", "").strip()
    content = [{"type": "image", "image": f} for f in question_frames]
    if hint_frames:
        content.append({"type": "text", "text": "Frames from later in the video (hints):"})
        content += [{"type": "image", "image": f} for f in hint_frames]
    content.append({"type": "text", "text": text})
    return [{"role": "user", "content": content}]


@dataclass
class Counts:
    id: str
    p_t: int
    p_v: int
    index: int

    @property
    def gain(self) -> int:
        return self.p_v - self.p_t

    @property
    def kept(self) -> bool:
        return self.p_t <= MAX_TEXT_CORRECT and self.gain >= MIN_GAIN


def count_correct(answers: list[str], reference: str, question: str, judge: AnswerJudge | None) -> int:
    n = 0
    for a in answers:
        ok = rule_correct(a, reference)
        if not ok and judge is not None and a.strip():
            try:
                ok = bool(judge(question, reference, a))
            except Exception as exc:  # a failing judge leaves the rule's verdict
                log.warning("judge failed (%s); counting the answer as wrong", exc)
        n += ok
    return n


def select(
    train_file: str | Path,
    out_file: str | Path,
    probe: Probe,
    *,
    top_k: int | None = None,
    k: int = K_ROLLOUTS,
    temperature: float = 1.0,
    seed: int = 0,
    judge: AnswerJudge | None = None,
    allow_bad: bool = True,
    progress: bool = True,
    on_item: Callable[[Counts], None] | None = None,
) -> dict:
    """Run the probe over every candidate of `train_file`, write the selected records to `out_file`, return stats."""
    from tqdm.auto import tqdm

    from future_l1.training.data import load_records, read_raw, record_id
    from future_l1.training.frames import FrameCache

    train_file, out_file = Path(train_file), Path(out_file)
    loaded = load_records(train_file, allow_bad=allow_bad)
    raws = read_raw(train_file)
    progress_file = out_file.with_name(out_file.name + ".progress.jsonl")
    done = _read_progress(progress_file)
    cache = FrameCache()
    todo = [r for r in loaded.records if r.id not in done]
    index_of = {record_id(raw, i): i for i, raw in enumerate(raws)}
    failed: dict[str, str] = {}
    out_file.parent.mkdir(parents=True, exist_ok=True)
    jsonl.repair_tail(progress_file)  # a kill mid-write must not glue the next record onto a torn line
    for rec in tqdm(todo, desc="visual-gain probe", unit="item", disable=not progress, initial=len(done),
                    total=len(loaded.records)):  # fmt: skip
        try:
            q_frames, r_frames = rec.load_frames(cache)
            item_seed = seed * 1_000_003 + int(hashlib.sha256(rec.id.encode()).hexdigest()[:8], 16)
            text_answers = probe.answer(probe_messages(rec.question, q_frames), k, temperature, item_seed)
            hint_answers = probe.answer(probe_messages(rec.question, q_frames, r_frames), k, temperature, item_seed)
        except Exception as exc:  # one bad candidate never stops the run
            failed[rec.id] = f"{type(exc).__name__}: {exc}"
            log.warning("candidate %s failed: %s", rec.id, failed[rec.id])
            continue
        counts = Counts(rec.id, count_correct(text_answers, rec.answer, rec.question, judge),
                        count_correct(hint_answers, rec.answer, rec.question, judge), index_of.get(rec.id, -1))  # fmt: skip
        jsonl.append(progress_file, [vars(counts)])
        done[rec.id] = counts
        if on_item:
            on_item(counts)

    kept = sorted((c for c in done.values() if c.kept), key=lambda c: (-c.gain, c.p_t, c.index))
    chosen = kept[:top_k] if top_k else kept
    selected = []
    for c in chosen:
        raw = dict(raws[c.index])
        raw.update(gain=c.gain, correct_in_8_base=c.p_t, correct_in_8_hint=c.p_v)
        if raw.get("video") and not Path(raw["video"]).is_absolute():  # keep paths valid from the output folder
            raw["video"] = str((train_file.parent / raw["video"]).resolve())
        selected.append(raw)
    out_file.write_text(json.dumps(selected, indent=1))
    gains: dict[int, int] = {}
    for c in done.values():
        gains[c.gain] = gains.get(c.gain, 0) + 1
    stats = {
        "candidates": len(loaded.records) + len(loaded.bad),
        "probed": len(done),
        "bad_records": [vars(b) for b in loaded.bad],
        "failed": failed,
        "passed_filter": len(kept),
        "selected": len(selected),
        "top_k": top_k,
        "rule": {"k": k, "max_text_correct": MAX_TEXT_CORRECT, "min_gain": MIN_GAIN},
        "gain_histogram": {str(g): n for g, n in sorted(gains.items())},
        "items": [vars(c) | {"gain": c.gain, "kept": c.kept} for c in done.values()],
    }
    out_file.with_name(out_file.stem + ".stats.json").write_text(json.dumps(stats, indent=1))
    return stats


def _read_progress(path: Path) -> dict[str, Counts]:
    done: dict[str, Counts] = {}
    for d in jsonl.read(path):  # a line cut by a kill is skipped: that item is simply probed again
        if {"id", "p_t", "p_v", "index"} <= d.keys():
            done[d["id"]] = Counts(d["id"], d["p_t"], d["p_v"], d["index"])
    return done


class RuleProbe:
    """A deterministic offline stand-in for a probe model, for the demo and tests — not a model.

    It recognises a candidate by its first question frame (`oracle`: frame fingerprint → reference answer) and
    answers correctly with a per-candidate probability that is higher when hint frames are present; otherwise it
    gives a wrong answer. Probabilities come from a hash of the fingerprint, so candidates spread over gains.
    `delay_s` slows each call (for kill-and-resume tests).
    """

    def __init__(self, oracle: Mapping[str, str], *, text_skill=(0.05, 0.85), visual_boost=(0.0, 0.8), delay_s=0.0):
        self.oracle = dict(oracle)
        self.text_skill, self.visual_boost, self.delay_s = text_skill, visual_boost, delay_s
        self.calls = 0

    def answer(self, messages: list[dict], n: int, temperature: float, seed: int) -> list[str]:
        import time

        self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        content = messages[-1]["content"]
        images = [c["image"] for c in content if c.get("type") == "image"]
        key = fingerprint(images[0]) if images else ""
        if key not in self.oracle:
            return ["<answer>I do not know.</answer>"] * n
        h = int(key[:8], 16) / 0xFFFFFFFF
        p = self.text_skill[0] + (self.text_skill[1] - self.text_skill[0]) * h
        if any(c.get("type") == "text" and "(hints)" in c.get("text", "") for c in content):
            p = min(1.0, p + self.visual_boost[0] + (self.visual_boost[1] - self.visual_boost[0]) * (1 - h))
        rng = random.Random(seed)
        return [f"<answer>{self.oracle[key]}</answer>" if rng.random() < p else "<answer>nothing happens</answer>"
                for _ in range(n)]  # fmt: skip


def fingerprint(frame) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(frame).tobytes()).hexdigest()


def rule_probe_for(train_file: str | Path, **kwargs) -> RuleProbe:
    """A `RuleProbe` that knows the reference answers of the candidates in `train_file`."""
    from future_l1.training.data import load_records
    from future_l1.training.frames import FrameCache

    cache = FrameCache()
    oracle = {}
    for rec in load_records(train_file, allow_bad=True).records:
        try:
            q_frames, _ = rec.load_frames(cache)
        except Exception:  # unreadable candidates fail later, in select(), where they are counted
            continue
        if q_frames:
            oracle[fingerprint(q_frames[0])] = rec.answer
    return RuleProbe(oracle, **kwargs)

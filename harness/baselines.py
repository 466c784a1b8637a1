"""Baseline lmms-eval models that ship with the harness (registered through the `lmms_eval.models` entry point).

`answer_prior` never looks at the video. For a multiple-choice prompt (FutureBench) it answers one option letter:
`strategy=fixed` answers `letter` (default "A"); `strategy=most_frequent` answers the letter that is most often the
gold answer (doc field `answer_field`, a dotted path; by default FutureBench's `qa.Answer`, else `answer`) of the evaluated split (an oracle label prior: the best any video-blind constant answer can score, so it
is the floor a real model has to beat). For an open prompt (TwiFF-Bench) it answers the constant `open_answer`.
Replies use the `<answer>…</answer>` format both benchmark families parse.
"""

from __future__ import annotations

import collections
import re
import time
from typing import Any

from lmms_eval.api.instance import GenerationResult, TokenCounts
from lmms_eval.api.model import lmms
from lmms_eval.models.registry_v2 import ModelManifest

# An option line: "A. text", "A) text", "(A) text" at the start of a line.
_OPTION = re.compile(r"^\s*\(?([A-Z])[\.\)]\s+\S", re.M)
_LETTER = re.compile(r"^\s*\(?([A-Z])\b")

DEFAULT_OPEN_ANSWER = "Nothing unusual happens; the objects keep moving as they were."


def manifests() -> list[ModelManifest]:
    return [ModelManifest(model_id="answer_prior", simple_class_path="future_l1.harness.baselines.AnswerPrior")]


def _field(doc: dict, path: str) -> Any:
    """`doc["qa"]["Answer"]` for the path "qa.Answer"; None when any step is missing."""
    value: Any = doc
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def option_letters(prompt: str) -> list[str]:
    """The option letters offered in a prompt, in order (empty for an open question)."""
    letters = _OPTION.findall(prompt)
    return letters if len(letters) >= 2 else []


class AnswerPrior(lmms):
    """Video-blind constant-answer baseline; `delay_s` simulates model latency (used by the resume tests)."""

    is_simple = True

    def __init__(
        self,
        strategy: str = "fixed",
        letter: str = "A",
        open_answer: str = DEFAULT_OPEN_ANSWER,
        answer_field: str = "",
        delay_s: float = 0.0,
        **_: Any,  # batch_size / device / max_batch_size from lmms-eval
    ) -> None:
        super().__init__()
        if strategy not in ("fixed", "most_frequent"):
            raise ValueError(f"answer_prior: strategy must be 'fixed' or 'most_frequent', got {strategy!r}")
        self.strategy = strategy
        self.letter = str(letter).strip().upper()
        self.open_answer = str(open_answer)
        self.answer_field = str(answer_field)
        self.delay_s = float(delay_s)
        self._priors: dict[tuple[str, str], str | None] = {}

    @property
    def device(self) -> str:
        return "cpu"

    def _most_frequent_letter(self, task: str, split: str) -> str | None:
        key = (task, split)
        if key not in self._priors:
            counts: collections.Counter[str] = collections.Counter()
            for doc in self.task_dict[task][split]:
                fields = [self.answer_field] if self.answer_field else ["qa.Answer", "answer"]
                gold = next((v for f in fields if (v := _field(doc, f)) is not None), "")
                match = _LETTER.match(str(gold))
                if match:
                    counts[match.group(1)] += 1
            # ties break towards the earlier letter so the answer is deterministic
            self._priors[key] = min(counts, key=lambda c: (-counts[c], c)) if counts else None
        return self._priors[key]

    def _answer(self, ctx: str, task: str, split: str) -> str:
        letters = option_letters(ctx)
        if not letters:
            return f"<answer>{self.open_answer}</answer>"
        choice = self.letter
        if self.strategy == "most_frequent":
            choice = self._most_frequent_letter(task, split) or self.letter
        if choice not in letters:
            choice = letters[0]
        return f"<answer>{choice}</answer>"

    def generate_until(self, requests) -> list[GenerationResult]:
        out = []
        for req in requests:
            ctx = req.args[0]
            _, task, split = req.args[-3:]
            if self.delay_s:
                time.sleep(self.delay_s)
            text = self._answer(ctx, task, split)
            out.append(GenerationResult(text, TokenCounts(input_tokens=len(ctx.split()), output_tokens=1)))
        return out

    def loglikelihood(self, requests):
        raise NotImplementedError("answer_prior only generates text")

    def generate_until_multi_round(self, requests):
        raise NotImplementedError("answer_prior only answers single-turn prompts")

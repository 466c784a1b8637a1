"""A toy chat model: it reads each request's messages and always answers the first option letter it sees.

Replace `answer()` with a call to your model. Everything else is the lmms-eval contract:
- `is_simple = False`: requests carry (ctx, doc_to_messages, gen_kwargs, doc_id, task, split); read the last three
  from the end of `args`.
- Return one `GenerationResult` per request, in order; apply `until` stop strings yourself.
- Answer padding requests (`metadata["__padding_only__"]`, added in data-parallel runs) without running the model.
- Report a failure for one sample as text starting with "[future-l1 error] " so future-l1 tasks count it.
"""

from __future__ import annotations

import re

from lmms_eval.api.instance import GenerationResult, TokenCounts
from lmms_eval.api.model import lmms


class FirstOptionModel(lmms):
    is_simple = False

    def __init__(self, letter_pattern: str = r"\b([A-D])\.", batch_size=1, device=None, max_batch_size=None, **kw):
        super().__init__()
        self.pattern = re.compile(letter_pattern)

    @property
    def device(self):  # lmms-eval gathers request counts on this device in data-parallel runs
        return "cpu"

    def answer(self, messages: list[dict]) -> str:
        texts = [m["content"] if isinstance(m["content"], str) else " ".join(
            c.get("text", "") for c in m["content"] if isinstance(c, dict)) for m in messages]  # fmt: skip
        found = self.pattern.findall("\n".join(texts))
        return f"<answer>{found[0] if found else 'A'}</answer>"

    def generate_until(self, requests):
        results = []
        for req in requests:
            if req.metadata.get("__padding_only__"):
                results.append(GenerationResult("", TokenCounts(0, 0, 0)))
                continue
            doc_id, task, split = req.args[-3:]
            doc_to_messages = req.args[1]
            try:
                text = self.answer(doc_to_messages(self.task_dict[task][split][doc_id]))
            except Exception as exc:  # one bad sample must not end the run
                text = f"[future-l1 error] {exc}"
            results.append(GenerationResult(text, TokenCounts(output_tokens=len(text.split()))))
        return results

    def loglikelihood(self, requests):
        raise NotImplementedError

    def generate_until_multi_round(self, requests):
        raise NotImplementedError

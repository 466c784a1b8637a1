"""A tiny test-only lmms-eval chat model that answers FutureBench / TwiFF-Bench docs by a fixed rule.

The rule mixes every case the tasks must score: a correct tagged answer with latent spans, a wrong answer, an
untagged answer, and a model-side error; it also records the messages it received so tests can check the protocol.
"""

from __future__ import annotations

import os

from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms

ERROR = "[future-l1 error] corrupt video: demo failure"


def futurebench_reply(doc_id: int, doc: dict) -> str:
    if doc_id == 7 or not os.path.isfile(doc["video"]):
        return ERROR
    answer = doc["qa"]["Answer"]
    wrong = next(k for k in "ABCD" if k != answer)
    return {
        0: f"<reason>look</reason>\n<|latent_start|><|latent|><|latent|><|latent_end|>\n<answer>{answer}</answer>",
        1: f"<answer>{wrong}</answer>",
        2: f"The answer is {answer}",  # no tag: wrong under the reasoning protocol
    }[doc_id % 3]


def twiff_reply(doc_id: int, doc: dict) -> str:
    final = doc["answer"].split("<ans>")[1].split("</ans>")[0]
    return {
        0: f"<reason>{doc['answer'].split('<ans>')[0]}</reason><|latent_start|><|latent|><|latent_end|>"
        f"<answer>{final}</answer>",
        1: "<reason>no idea</reason><answer>zzz qqq</answer>",
        2: "[future-l1 error] image decode failed",
    }[doc_id % 3]


class RuleChat(lmms):
    is_simple = False

    def __init__(self, **kwargs) -> None:
        super().__init__()
        self.seen: list[tuple[str, int, list, dict]] = []

    def generate_until(self, requests: list[Instance]) -> list[str]:
        out = []
        for req in requests:
            doc_to_messages, gen_kwargs = req.args[1], req.args[2]
            doc_id, task, split = req.args[-3:]
            doc = self.task_dict[task][split][doc_id]
            self.seen.append((task, doc_id, doc_to_messages(doc), gen_kwargs))
            out.append(futurebench_reply(doc_id, doc) if task.startswith("futurebench") else twiff_reply(doc_id, doc))
        return out

    def loglikelihood(self, requests):
        raise NotImplementedError

    def generate_until_multi_round(self, requests):
        raise NotImplementedError

"""A visual-gain `Probe` over any lmms-eval model: the harness's models (Qwen3-VL, Future-L1, API models) as probers.

The probe builds lmms-eval `Instance` requests exactly as the evaluator does (lmms-eval-integration §2.4–2.5):
chat models (`is_simple = False`) get `(ctx, doc_to_messages, gen_kwargs, doc_id, task, split)`, simple models get
`(ctx, gen_kwargs, doc_to_visual, doc_id, task, split)` and look the doc up in `task_dict`. The k rollouts of one
condition are k requests in one `generate_until` call, so a batching model samples them together.
"""

from __future__ import annotations

import numpy as np

TASK, SPLIT = "future_l1_visual_gain", "probe"


class LmmsEvalProbe:
    def __init__(self, model_name: str | None = None, model_args: str = "", *, lm=None, max_new_tokens: int = 256):
        if lm is None:
            from lmms_eval.models import get_model

            lm = get_model(model_name).create_from_arg_string(model_args, {"batch_size": 1})
        self.lm = lm
        self.max_new_tokens = max_new_tokens

    def answer(self, messages: list[dict], n: int, temperature: float, seed: int) -> list[str]:
        import torch
        from lmms_eval.api.instance import Instance, unwrap_generation_output

        lmms_messages = [_to_lmms(m) for m in messages]
        ctx = "\n".join(c["text"] for m in lmms_messages for c in m["content"] if c["type"] == "text")
        visuals = [c["url"] for m in lmms_messages for c in m["content"] if c["type"] == "image"]
        gen_kwargs = {"max_new_tokens": self.max_new_tokens, "temperature": temperature, "do_sample": temperature > 0,
                      "top_p": 1.0, "until": []}  # fmt: skip
        simple = getattr(self.lm, "is_simple", True)
        requests = []
        for doc_id in range(n):
            if simple:
                args = (ctx, dict(gen_kwargs), lambda doc: list(doc["visuals"]), doc_id, TASK, SPLIT)
            else:
                args = (ctx, lambda doc: doc["messages"], dict(gen_kwargs), doc_id, TASK, SPLIT)
            meta = {"task": TASK, "doc_id": doc_id, "repeats": 1, "split": SPLIT}
            requests.append(Instance("generate_until", args, idx=0, metadata=meta))
        docs = [{"messages": lmms_messages, "visuals": visuals} for _ in range(n)]
        self.lm.task_dict = {TASK: {SPLIT: docs}}
        torch.manual_seed(seed)
        outputs = self.lm.generate_until(requests)
        return [str(unwrap_generation_output(o)[0]) for o in outputs]


def _to_lmms(message: dict) -> dict:
    """Our probe messages (numpy frames) -> lmms-eval chat messages (PIL images under `url`)."""
    from PIL import Image

    content = []
    for item in message["content"]:
        if item.get("type") == "image":
            img = item["image"]
            content.append({"type": "image", "url": Image.fromarray(img) if isinstance(img, np.ndarray) else img})
        else:
            content.append({"type": "text", "text": item.get("text", "")})
    return {"role": message["role"], "content": content}

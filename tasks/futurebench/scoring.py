"""FutureBench lmms-eval hooks: prompts, per-sample scoring and the per-split aggregations.

Prompt layout (official): `pre_prompt + "\n" + question + "\n" + "A. …\nB. …\nC. …\nD. …" + "\n" + post_prompt`; the
option lines are left out when the question already carries inline "A) … D) " options. For the *_future_l1 task the
Future-L1 system prompt goes in the chat `system` role (`doc_to_messages`), the clip first, then the text.

Deviation (a fix): the official task emits only `future_acc` and merely logs per-hop accuracies; we store per-split
accuracies and counts (hop1, hop2, hop3, interp = hop5 in the data), a strict-format accuracy and the error count in
results.json. `future_acc` is the micro accuracy over all samples, the paper's AVG column. A malformed record
(`data_error`, see data.py) or a model-side error is scored wrong AND counted in `n_errors`. A split without samples
has no accuracy (None, shown as "no score"), not 0.
"""

from __future__ import annotations

import re

from future_l1.tasks.common import first_response, future_l1_messages, latent_spans, model_error, pct
from future_l1.tasks.futurebench import parsing
from future_l1.tasks.futurebench.data import SPLIT_NAMES
from future_l1.tasks.results_schema import FutureBenchSample

_INLINE_A = re.compile(r"\bA\)\s+")
_INLINE_D = re.compile(r"\bD\)\s+")


def doc_to_visual(doc: dict) -> list[str]:
    return [doc["video"]]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    kwargs = lmms_eval_specific_kwargs or {}
    question = doc["qa"]["Question"]
    if not (_INLINE_A.search(question) and _INLINE_D.search(question)):
        options = doc["qa"]["Options"]
        question = question + "\n" + "\n".join(f"{k}. {options[k]}" for k in "ABCD")
    return kwargs.get("pre_prompt", "") + "\n" + question + "\n" + kwargs.get("post_prompt", "")


def doc_to_messages(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> list[dict]:
    """Chat messages for the Future-L1 protocol: system prompt, then the clip and the question."""
    return future_l1_messages("video", doc_to_visual(doc), doc_to_text(doc, lmms_eval_specific_kwargs))


def doc_to_target(doc: dict) -> str:
    return doc["qa"]["Answer"]


def _record(doc: dict, response: str, parse, parse_strict) -> dict:
    answer = str(doc["qa"]["Answer"]).strip().upper()
    error = f"data: {doc['data_error']}" if doc.get("data_error") else model_error(response)
    pred = "" if error else parse(response)
    pred_strict = "" if error else parse_strict(response)
    return FutureBenchSample(
        doc_id=int(doc.get("doc_id", -1)),
        id=str(doc.get("id", "")),
        split=SPLIT_NAMES.get(str(doc.get("question_type")), str(doc.get("question_type"))),
        pred=pred,
        pred_strict=pred_strict,
        answer=answer,
        correct=int(bool(pred) and pred == answer),
        correct_strict=int(bool(pred_strict) and pred_strict == answer),
        error=error,
        latent_spans=[] if error else latent_spans(response),
        warning=doc.get("data_warning") or None,  # scored as the authors score it; see data.records_warnings
    ).model_dump()


METRICS = (
    "future_acc", "future_acc_strict", "hop1_acc", "hop2_acc", "hop3_acc", "interp_acc",
    "hop1_n", "hop2_n", "hop3_n", "interp_n", "n_errors",
)  # fmt: skip


def _safe(doc: dict, results: list, parse, parse_strict) -> dict:
    # Never let an exception escape: lmms-eval retries process_results 5x and then aborts the whole run.
    try:
        record = _record(doc, first_response(results), parse, parse_strict)
    except Exception as exc:  # a malformed doc; counted as an error, scored wrong
        record = FutureBenchSample(
            doc_id=-1, id=str(doc.get("id", "")), split=SPLIT_NAMES.get(str(doc.get("question_type")), "?"),
            pred="", pred_strict="", answer="", correct=0, correct_strict=0,
            error=f"scoring failed: {type(exc).__name__}: {exc}", latent_spans=[],
        ).model_dump()  # fmt: skip
    return dict.fromkeys(METRICS, record)


def process_results_reasoning(doc: dict, results: list) -> dict:
    """futurebench_future_l1 / futurebench_thinking: the answer must be inside <answer> tags."""
    return _safe(doc, results, parsing.parse_reasoning, parsing.parse_reasoning_strict)


def process_results_direct(doc: dict, results: list) -> dict:
    """futurebench (direct-answer baseline): the whole response is parsed."""
    return _safe(doc, results, parsing.parse_direct, parsing.parse_direct_strict)


# --- aggregations (each gets the list of per-sample records) -----------------------------------------------------
def future_acc(records: list[dict]) -> float:
    return pct(sum(r["correct"] for r in records), len(records))


def future_acc_strict(records: list[dict]) -> float:
    return pct(sum(r["correct_strict"] for r in records), len(records))


def _split_acc(records: list[dict], split: str) -> float | None:
    chosen = [r for r in records if r["split"] == split]
    return pct(sum(r["correct"] for r in chosen), len(chosen)) if chosen else None


def _split_n(records: list[dict], split: str) -> int:
    return sum(1 for r in records if r["split"] == split)


def hop1_acc(records):
    return _split_acc(records, "hop1")


def hop2_acc(records):
    return _split_acc(records, "hop2")


def hop3_acc(records):
    return _split_acc(records, "hop3")


def interp_acc(records):
    return _split_acc(records, "interp")


def hop1_n(records):
    return _split_n(records, "hop1")


def hop2_n(records):
    return _split_n(records, "hop2")


def hop3_n(records):
    return _split_n(records, "hop3")


def interp_n(records):
    return _split_n(records, "interp")


def n_errors(records: list[dict]) -> int:
    return sum(1 for r in records if r["error"])

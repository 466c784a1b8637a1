"""TwiFF-Bench lmms-eval hooks: prompts, the judge call per sample, and the aggregations.

Prompt (official): `COT_SYSTEM_PROMPT + "\n\n" [+ pre_prompt + "\n\n"] + question [+ "\n\n" + post_prompt]`, the
question with `<image>` markers (and the whitespace after them) removed, the question images before the text. For
twiffbench_future_l1 the Future-L1 system prompt also goes in the chat `system` role (the official adapter did the
same, so COT_SYSTEM_PROMPT sits in the user turn on top of it; kept for parity).

Judge messages (official layout, TwiFF gencot_vqa_eval.py): system = judge prompt; user = "Question: " with each
`<image>` replaced by the next question image (JPEG data URI), "\nReference Reasoning Chain: " with each `<rimage>`
replaced by the next reasoning image, "\nGround Truth Answer: …", "\nModel Response Reasoning Chain: " + the
sanitised chain, "\nModel Response Answer: …". Text-only mode drops the images and the markers.

Deviations (documented): (1) the official code sends the *entire* raw `answer` field (reference chain, `<rimage>`
markers and tags) as "Ground Truth Answer" although the prompt defines it as "the ground truth of the question"; we
send the extracted final answer, as the paper describes (prompt version "…/gt-final-answer"). (2) The official
aggregation silently drops failed judgements; we count them (`n_failed`) and also report the scores with failures as
0 (`*_failzero`). The official figure (mean over judged samples) stays `twiff_cot/answer/avg`.
"""

from __future__ import annotations

import base64
import io
import re

from future_l1.tasks.common import first_response, future_l1_messages, latent_spans, model_error
from future_l1.tasks.prompts import TWIFF_COT_PROMPT, TWIFF_JUDGE_SYSTEM_PROMPT
from future_l1.tasks.results_schema import SAMPLE_KEYS, TWIFFBENCH, TwiffSample
from future_l1.tasks.twiffbench.parsing import sanitize_response, split_reference, split_response


def _to_pil(cell):
    from PIL import Image

    if isinstance(cell, Image.Image):
        return cell
    if isinstance(cell, dict) and cell.get("bytes"):
        return Image.open(io.BytesIO(cell["bytes"]))
    if isinstance(cell, dict) and cell.get("path"):
        return Image.open(cell["path"])
    raise TypeError(f"cannot decode an image cell of type {type(cell).__name__}")


def _data_uri(cell) -> str:
    buf = io.BytesIO()
    _to_pil(cell).convert("RGB").save(buf, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def doc_to_visual(doc: dict) -> list:
    return [_to_pil(im) for im in doc.get("question_images") or []]


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    kwargs = lmms_eval_specific_kwargs or {}
    pre, post = (kwargs.get("pre_prompt") or "").strip(), (kwargs.get("post_prompt") or "").strip()
    question = re.sub(r"<image>\s*", "", doc.get("question") or "").strip()  # a null question: see data_error
    parts = [TWIFF_COT_PROMPT, ""] + ([pre, ""] if pre else []) + [question] + (["", post] if post else [])
    return "\n".join(parts)


def doc_to_messages(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> list[dict]:
    return future_l1_messages("image", doc_to_visual(doc), doc_to_text(doc, lmms_eval_specific_kwargs))


def doc_to_target(doc: dict) -> str:
    return doc.get("answer") or ""


def _interleave(text: str, marker: str, images: list, content: list[dict]) -> None:
    """Append `text` to `content`, replacing each `marker` by the next image (while images last)."""
    rest = text
    for image in images:
        if marker not in rest:
            break
        pre, rest = rest.split(marker, 1)
        if pre.strip():
            content.append({"type": "text", "text": pre})
        content.append({"type": "image_url", "image_url": {"url": _data_uri(image)}})
    if rest.strip():
        content.append({"type": "text", "text": rest})


def judge_messages(doc: dict, sanitized_response: str, *, text_only: bool = False) -> list[dict]:
    question = doc["question"]
    chain, gt_answer = split_reference(doc.get("answer") or "")
    model_chain, model_answer = split_response(sanitized_response)
    if text_only:
        content = [{"type": "text", "text": "Question: " + re.sub(r"<image>\s*", "", question).strip()}]
        content.append({"type": "text", "text": "\nReference Reasoning Chain: "})
        clean_chain = re.sub(r"<rimage>\s*", "", chain).strip()
        if clean_chain:
            content.append({"type": "text", "text": clean_chain})
    else:
        content = [{"type": "text", "text": "Question: "}]
        _interleave(question, "<image>", list(doc.get("question_images") or []), content)
        content.append({"type": "text", "text": "\nReference Reasoning Chain: "})
        _interleave(chain, "<rimage>", list(doc.get("reasoning_images") or []), content)
    content += [
        {"type": "text", "text": f"\nGround Truth Answer: {gt_answer}"},
        {"type": "text", "text": "\nModel Response Reasoning Chain: "},
        {"type": "text", "text": model_chain},
        {"type": "text", "text": f"\nModel Response Answer: {model_answer}"},
    ]
    return [
        {"role": "system", "content": [{"type": "text", "text": TWIFF_JUDGE_SYSTEM_PROMPT}]},
        {"role": "user", "content": content},
    ]


METRICS = ("twiff_cot", "twiff_answer", "twiff_avg", "twiff_cot_failzero", "twiff_answer_failzero",
           "twiff_avg_failzero", "n_judged", "n_failed")  # fmt: skip


def _category(doc: dict) -> str | None:
    meta = doc.get("meta_data")
    value = meta.get("classification") if isinstance(meta, dict) else None
    return None if value is None else str(value)


def process_results(doc: dict, results: list) -> dict:
    """Judge one response. Never raises: lmms-eval would retry 5x and then abort the whole run."""
    record = {"doc_id": -1, "id": "", "category": None, "cot": None, "answer_score": None, "judged": False,
              "error": None, "judge": None, "latent_spans": [], "pred_answer": "", "judge_reasoning": ""}  # fmt: skip
    try:
        from future_l1.tasks.judge import current_config, get_judge

        record.update(doc_id=int(doc.get("doc_id", -1)), category=_category(doc))
        record["warning"] = doc.get("data_warning") or None  # judged as the authors judge it; data.row_warnings
        record["id"] = str(doc.get("id") or doc.get("video") or record["doc_id"])
        response = first_response(results)
        config = current_config()  # the suite's role when future-l1 run set one, else FUTURE_L1_JUDGE_*
        record["judge"] = config.public()
        error = model_error(response)
        if doc.get("data_error"):
            record["error"] = f"data: {doc['data_error']}"
        elif error:
            record["error"] = f"model: {error}"
        else:
            record["latent_spans"] = latent_spans(response)
            sanitized = sanitize_response(response)
            record["pred_answer"] = split_response(sanitized)[1]
            verdict = get_judge(config).score(judge_messages(doc, sanitized, text_only=config.text_only))
            record.update(cot=float(verdict.cot), answer_score=float(verdict.answer), judged=True)
            record["judge_reasoning"] = verdict.reasoning
    except Exception as exc:
        record["error"] = f"judge: {type(exc).__name__}: {exc}"
    full = TwiffSample.model_validate(record).model_dump()
    # lmms-eval writes each metric's value into the samples line: the judge's reasoning goes under one key only
    # (`results_schema.SAMPLE_KEYS`), not once per metric.
    slim = {**full, "judge_reasoning": ""}
    return {metric: full if metric == SAMPLE_KEYS[TWIFFBENCH] else slim for metric in METRICS}


# --- aggregations ----------------------------------------------------------------------------------------------
# With no judged sample there is no score: None (shown as "no score"), never a measured-looking 0.
def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _judged(records):
    return [r for r in records if r["judged"]]


def twiff_cot(records):
    return _mean([r["cot"] for r in _judged(records)])


def twiff_answer(records):
    return _mean([r["answer_score"] for r in _judged(records)])


def twiff_avg(records):
    cot, answer = twiff_cot(records), twiff_answer(records)
    return None if cot is None or answer is None else (cot + answer) / 2


def twiff_cot_failzero(records):
    return _mean([r["cot"] if r["judged"] else 0.0 for r in records])


def twiff_answer_failzero(records):
    return _mean([r["answer_score"] if r["judged"] else 0.0 for r in records])


def twiff_avg_failzero(records):
    cot, answer = twiff_cot_failzero(records), twiff_answer_failzero(records)
    return None if cot is None or answer is None else (cot + answer) / 2


def n_judged(records):
    return len(_judged(records))


def n_failed(records):
    return len(records) - n_judged(records)

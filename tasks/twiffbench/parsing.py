"""TwiFF-Bench response handling: the official sanitisation before judging, and answer extraction.

Sanitisation (official: the authors' fork, `lmms_eval/tasks/twiffbench/utils.py`): drop `<|latent…|>` and
chat-template tokens; rewrite the legacy `<ans>` tag to `<answer>`; split at the first `<answer>…</answer>`; in the
head, join the inner texts of all `<reason>` blocks with blank lines and strip leftover reason tags; rebuild as
"head\n<answer>inner</answer>".
"""

from __future__ import annotations

import re

_LATENT = re.compile(r"<\|latent(?:_start|_end)?\|>", re.IGNORECASE)
_TEMPLATE = re.compile(r"<\|im_(?:start|end)\|>|<\|endoftext\|>|<\|redacted_im_end\|>", re.IGNORECASE)
_ANSWER = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.IGNORECASE | re.DOTALL)
_ANSWER_OPEN = re.compile(r"(?i)<answer>")
_REASON = re.compile(r"<reason>\s*(.*?)\s*</reason>", re.IGNORECASE | re.DOTALL)
_REASON_OPEN = re.compile(r"<\s*reason\b[^>]*>", re.IGNORECASE)
_REASON_CLOSE = re.compile(r"</\s*reason\s*>", re.IGNORECASE)


def ans_to_answer(text: str) -> str:
    """TwiFF-Bench still uses `<ans>…</ans>`; unify to `<answer>`."""
    text = re.sub(r"</ans\s*>", "</answer>", text, flags=re.IGNORECASE)
    return re.sub(r"<ans\s*>", "<answer>", text, flags=re.IGNORECASE)


def _scrub_reason_tags(text: str) -> str:
    text = _REASON_CLOSE.sub("", _REASON_OPEN.sub("", text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _merge_reason_blocks(text: str) -> str:
    parts = [m.group(1).strip() for m in _REASON.finditer(text) if m.group(1).strip()]
    rest = _REASON.sub("", text).strip()
    return "\n\n".join([*parts, rest] if rest else parts).strip()


def sanitize_response(text: str) -> str:
    if not text:
        return ""
    cleaned = ans_to_answer(_TEMPLATE.sub("", _LATENT.sub("", text)))
    match = _ANSWER.search(cleaned)
    head = cleaned[: match.start()].rstrip() if match else cleaned.strip()
    inner = _scrub_reason_tags(match.group(1).strip()) if match else ""
    head = _scrub_reason_tags(_merge_reason_blocks(head))
    if not inner:
        return head
    return _scrub_reason_tags(f"{head}\n<answer>{inner}</answer>" if head else f"<answer>{inner}</answer>")


def split_response(sanitized: str) -> tuple[str, str]:
    """(reasoning chain, final answer) of a sanitised response. The answer falls back to the text after `</think>`."""
    reasoning = _ANSWER_OPEN.split(sanitized, maxsplit=1)[0].strip()
    match = _ANSWER.search(sanitized)
    if match:
        answer = match.group(1).strip()
    elif "</think>" in sanitized:
        reasoning, answer = (s.strip() for s in sanitized.split("</think>", 1))
    else:
        answer = ""
    return _scrub_reason_tags(reasoning), answer


def split_reference(answer_field: str) -> tuple[str, str]:
    """(reference chain with `<rimage>` placeholders, final answer) of the dataset's `answer` field."""
    text = ans_to_answer(answer_field or "")
    chain = _ANSWER_OPEN.split(text, maxsplit=1)[0].strip()
    match = _ANSWER.search(text)
    return chain, (match.group(1).strip() if match else text.strip())

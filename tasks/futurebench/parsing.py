"""FutureBench answer parsing: the official rules, plus a strict variant.

Official rules (OpenGVLab/Future-L1 lmms-eval fork, tasks/futurebench/utils.py), reproduced on purpose, quirks
included, because they define the published numbers:
- reasoning tasks: the inner text of the first `<answer>…</answer>` (case-sensitive, DOTALL, non-greedy, stripped),
  else ""; if it has more than 10 words and no A–D letter -> ""; else the first uppercase A–D character anywhere in
  it. So "<answer>Based on the clip, C</answer>" parses to "B" — a known pitfall, kept for parity.
- direct tasks: remove answer-prefix phrases, then the same two rules on the whole response.
  Deviation: the official prefix list has two missing commas ("The best option is" "The correct option is" fuse into
  one string), so those phrases are never removed there; we remove each phrase as evidently intended.

Strict variant (`future_acc_strict`, ours): the answer must be a lone option letter — optionally in parentheses
and/or followed by a period — so a model only scores if it follows the output format exactly.
"""

from __future__ import annotations

import re

_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)
_LETTER = re.compile(r"[ABCD]")
_LONE_LETTER = re.compile(r"\(?([ABCD])\)?\.?")
ANSWER_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is",
    "The correct option is",
    "Best answer:",
    "Best option:",
)


def answer_tag_text(response: str) -> str | None:
    """Inner text of the first `<answer>` span, stripped; None when there is none."""
    match = _ANSWER_TAG.search(response.strip())
    return match.group(1).strip() if match else None


def _first_letter(text: str) -> str:
    if len(text.split()) > 10 and not _LETTER.search(text):
        return ""
    match = _LETTER.search(text)
    return match[0] if match else ""


def parse_reasoning(response: str) -> str:
    inner = answer_tag_text(response)
    return "" if inner is None else _first_letter(inner)


def parse_direct(response: str) -> str:
    text = response.strip()
    for prefix in ANSWER_PREFIXES:
        text = text.replace(prefix, "")
    return _first_letter(text)


def strict_letter(text: str | None) -> str:
    """The option letter if `text` is nothing but one (e.g. "B", "(B)", "B."), else ""."""
    if text is None:
        return ""
    match = _LONE_LETTER.fullmatch(text.strip())
    return match.group(1) if match else ""


def parse_reasoning_strict(response: str) -> str:
    return strict_letter(answer_tag_text(response))


def parse_direct_strict(response: str) -> str:
    return strict_letter(response)

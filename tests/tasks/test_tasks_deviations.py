"""The task-side deviations listed in the README ("Where we deviate"), pinned with concrete inputs (issue 11, item 5).

Each case shows our result and, where it differs, the authors' result under their rule (restated here from
OpenGVLab/Future-L1 a91add2 as the fact being deviated from).
"""

from __future__ import annotations

import json
import re

import pytest

from future_l1.tasks import judge as J
from future_l1.tasks.futurebench import parsing as p
from future_l1.tasks.futurebench.scoring import METRICS, n_errors, process_results_reasoning

# The authors' direct-answer prefix list: two missing commas fuse four phrases into two strings.
AUTHORS_PREFIXES = ["The best answer is", "The correct answer is", "The answer is", "The answer",
                    "The best option isThe correct option is", "Best answer:Best option:"]  # fmt: skip


def authors_direct(response: str) -> str:
    s = response.strip()
    for prefix in AUTHORS_PREFIXES:
        s = s.replace(prefix, "")
    if len(s.split()) > 10 and not re.search("[ABCD]", s):
        return ""
    match = re.search(r"[ABCD]", s)
    return match[0] if match else ""


@pytest.mark.parametrize(
    ("response", "ours", "authors"),
    [
        ("Best answer: C", "C", "B"),  # the example: "B" of "Best" for the authors
        ("Best option: D", "D", "B"),
        ("The best option is A", "A", "A"),  # "T…" has no A–D before the letter: same either way
        ("The correct option is C", "C", "C"),
        ("The best answer is D", "D", "D"),  # an unfused phrase: identical
    ],
)
def test_direct_answer_prefixes_are_each_removed(response, ours, authors):
    assert p.parse_direct(response) == ours
    assert authors_direct(response) == authors


@pytest.mark.parametrize("score", [[6, 3], [3, -1], [[9, 9]], ["7", 2]])
def test_judge_scores_out_of_range_are_rejected(score):
    """The authors average such pairs in; ours are retried and then counted as judge failures."""
    with pytest.raises(J.JudgeAnswerError, match="out of range"):
        J.coerce_scores(score)
    assert J.coerce_scores([5, 0]) == (5, 0) and J.coerce_scores([["4", 2.0]]) == (4, 2)


@pytest.mark.parametrize(
    "content",
    [
        '```json\n{"reasoning": "ok", "score": [4, 2]}\n```',
        'Here is my verdict: {"reasoning": "ok", "score": [4, 2]} Done.',
    ],
)
def test_wrapped_judge_json_is_parsed(content):
    """The authors' `json.loads` fails on these (retried, then the sample is dropped); we read the object inside."""
    with pytest.raises(ValueError):
        json.loads(content)
    verdict = J.parse_verdict(content)
    assert (verdict.cot, verdict.answer) == (4, 2)


def test_unreadable_media_answer_is_scored_wrong_and_counted():
    doc = {"doc_id": 0, "id": "x", "question_type": "hop1", "qa": {"Answer": "A", "Options": {}, "Question": "q"}}
    out = process_results_reasoning(doc, ["[future-l1 error] cannot decode video /d/clip.mp4"])
    assert set(out) == set(METRICS)
    record = out["future_acc"]
    assert record["correct"] == 0 and record["error"] == "cannot decode video /d/clip.mp4"
    assert n_errors([record]) == 1

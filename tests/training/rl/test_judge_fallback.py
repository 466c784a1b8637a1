"""The optional LLM-judge fallback of R_acc: called only where the rule cannot decide; failures and timeouts score 0,
are counted and never raise; wired to our judge role (an in-process OpenAI-compatible fake judge)."""

from __future__ import annotations

import json
import threading

import pytest

from future_l1.training.rl import rewards as R
from future_l1.training.rl.judge import JudgeFallback, role_judge


def test_judge_only_where_the_rule_cannot_decide():
    calls = []

    def judge(q, gold, pred):
        calls.append((q, gold, pred))
        return 1.0

    fb = JudgeFallback(judge)
    assert R.accuracy_reward("<answer>C</answer>", "B", "multiple choice", "Q?", judge=fb)[0] == 0.0  # the rule's
    assert R.accuracy_reward("<answer>B</answer>", "B", "multiple choice", "Q?", judge=fb)[0] == 1.0
    assert R.accuracy_reward("no answer tag", "The ball falls.", "open", "Q?", judge=fb)[0] == 0.0
    assert R.accuracy_reward("<answer>the ball falls</answer>", "The ball falls.", "open", judge=fb)[0] == 1.0
    assert calls == []  # all four decided by the rule
    acc, _ = R.accuracy_reward("<answer>it drops</answer>", "<answer>The ball falls.</answer>", "open", "Q?", judge=fb)
    assert acc == 1.0 and calls == [("Q?", "The ball falls.", "it drops")]
    assert fb.take_counts() == {"calls": 1, "failures": 0, "accepted": 1}
    assert fb.take_counts() == {"calls": 0, "failures": 0, "accepted": 0}  # reset per logged step


@pytest.mark.parametrize("failure", ["raises", "none", "timeout"])
def test_judge_failures_score_zero_and_are_counted(failure):
    release = threading.Event()

    def judge(q, gold, pred):
        if failure == "raises":
            raise ConnectionError("judge down")
        if failure == "timeout":
            release.wait(10)  # blocks past the fallback's deadline until the test releases it
            return 1.0
        return None

    fb = JudgeFallback(judge, timeout_s=0.05)
    try:
        acc, _ = R.accuracy_reward("<answer>it drops</answer>", "The ball falls.", "open", "Q?", judge=fb)
    finally:
        release.set()
    assert acc == 0.0
    assert fb.take_counts() == {"calls": 1, "failures": 1, "accepted": 0}


def test_role_judge_uses_the_configured_judge():
    from future_l1.tasks.judge import JudgeConfig
    from future_l1.tasks.judge_server import ChatServer

    seen = []

    def reply(request):
        seen.append(request)
        text = json.dumps(request["messages"])
        answer_score = 5 if "Model Response Answer: it drops" in text else 1
        return json.dumps({"reasoning": "fake", "score": [3, answer_score]})

    with ChatServer(reply) as server:
        cfg = JudgeConfig(base_url=server.base_url, model="fake-judge", attempts=1, cache=False)
        judge = JudgeFallback(role_judge(min_score=4, config=cfg))
        ok = R.accuracy_reward("<answer>it drops</answer>", "The ball falls.", "open", "<image>What next?", judge=judge)
        bad = R.accuracy_reward("<answer>it flies</answer>", "The ball falls.", "open", "What next?", judge=judge)
    assert ok[0] == 1.0 and bad[0] == 0.0
    assert len(seen) == 2 and seen[0]["model"] == "fake-judge"
    assert "Ground Truth Answer: The ball falls." in json.dumps(seen[0]["messages"])
    assert judge.take_counts() == {"calls": 2, "failures": 0, "accepted": 1}


def test_role_judge_http_failure_is_a_counted_zero():
    from future_l1.tasks.judge import JudgeConfig
    from future_l1.tasks.judge_server import ChatServer

    with ChatServer(lambda request: (500, b"down")) as server:
        cfg = JudgeConfig(base_url=server.base_url, model="fake-judge", attempts=2, backoff_s=0.0, cache=False)
        judge = JudgeFallback(role_judge(config=cfg))
        acc, _ = R.accuracy_reward("<answer>it drops</answer>", "The ball falls.", "open", "Q?", judge=judge)
    assert acc == 0.0 and judge.take_counts() == {"calls": 1, "failures": 1, "accepted": 0}

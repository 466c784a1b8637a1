"""The optional LLM-judge fallback of R_acc (paper §3.3: rule first, an LLM judge for what the rule cannot decide).

Off by default (`LADAPOConfig.judge = "off"`). With `judge: role` the accuracy of an answer the rule cannot decide
goes to our judge role, the same configured judge that `future-l1 run` uses for TwiFF-Bench (`future_l1.tasks.judge`:
FUTURE_L1_JUDGE_* variables, or the embedded rubric judge without a base URL). "Cannot decide" means a non-multiple-
choice answer whose normalised text differs from the gold one; a multiple-choice letter is always decided by the
rule, and a response without an `<answer>` tag scores 0 without a call (there is nothing to judge).

Our judge role scores an answer 0–5 (the TwiFF judge protocol, text-only messages here); an answer is correct iff its
answer score is at least `judge_min_score` (default 4). The authors' RL judge was a separate binary yes/no prompt
(their `RL_v2/future_l1_rl/judge/api_judge.py`); one judge protocol for evaluation and training is simpler to pin.

A judge that raises, answers None or exceeds `timeout_s` never crashes the step: the sample scores 0 and the failure
is counted (`judge/failures` in the logged metrics, next to `judge/calls` and `judge/accepted`).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading

from future_l1.training.rl.rewards import JudgeFn

log = logging.getLogger(__name__)


class JudgeFallback:
    """Wraps a `(question, gold, predicted) -> 1/0` judge: a per-call deadline, failures as 0, counters."""

    def __init__(self, judge: JudgeFn, timeout_s: float | None = 180.0):
        self.judge, self.timeout_s = judge, timeout_s
        self.counts = {"calls": 0, "failures": 0, "accepted": 0}
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="rl-judge")

    def __call__(self, question: str, gold: str, predicted: str) -> float:
        with self._lock:
            self.counts["calls"] += 1
        try:
            future = self._pool.submit(self.judge, question, gold, predicted)
            verdict = future.result(timeout=self.timeout_s)
            if verdict is None:
                raise ValueError("the judge returned no verdict")
            value = 1.0 if float(verdict) >= 1.0 else 0.0
        except Exception as exc:  # a timeout, an HTTP error, a bad answer: a recorded failure, never a crash
            log.warning("judge failed (%s: %s); the sample scores 0", type(exc).__name__, exc)
            with self._lock:
                self.counts["failures"] += 1
            return 0.0
        with self._lock:
            self.counts["accepted"] += int(value)
        return value

    def take_counts(self) -> dict[str, int]:
        """The counters since the last call (one logged step), reset."""
        with self._lock:
            out, self.counts = self.counts, {"calls": 0, "failures": 0, "accepted": 0}
        return out


def role_judge(min_score: int = 4, config=None) -> JudgeFn:
    """A `(question, gold, predicted) -> 1/0` judge on our judge role (`config`: a `JudgeConfig`, default the
    current one). Raises on judge failures (JudgeFallback turns them into a counted 0)."""
    from future_l1.tasks.judge import current_config, get_judge
    from future_l1.tasks.twiffbench.scoring import judge_messages

    cfg = config or current_config()

    def judge(question: str, gold: str, predicted: str) -> float:
        # TwiFF-Bench's own judge messages (text only), with no reference chain and no model chain: only answers.
        doc = {"question": question, "answer": f"<answer>{gold}</answer>"}
        messages = judge_messages(doc, f"<answer>{predicted}</answer>", text_only=True)
        return 1.0 if get_judge(cfg).score(messages).answer >= min_score else 0.0

    return judge

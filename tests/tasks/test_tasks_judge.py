"""The judge cannot lose a run: faulty servers are retried, then counted per sample; good answers are cached."""

from __future__ import annotations

import json
import threading
import time

import pytest

from future_l1.tasks import judge as J
from future_l1.tasks.judge_server import RUBRIC_MODEL, ChatServer, rubric_judge
from future_l1.tasks.twiffbench import scoring

DOC = {
    "doc_id": 0,
    "video": "v.mp4",
    "question": "frame_1: <image>\nWhat happens next?",
    "answer": "THOUGHT 1: the red ball moves left. <rimage> <ans>The red ball bounces off the left wall.</ans>",
    "question_images": [],
    "reasoning_images": [],
    "meta_data": {"classification": "predictive"},
}
GOOD = "<reason>the red ball moves left</reason><answer>The red ball bounces off the left wall.</answer>"


def _config(server, **kw):
    return J.JudgeConfig(base_url=server.base_url, model="judge-x", api_key="secret-key", attempts=3,
                         backoff_s=0.01, timeout_s=kw.pop("timeout_s", 2.0), cache=False, **kw)  # fmt: skip


def _use(monkeypatch, server, **env):
    monkeypatch.setenv("FUTURE_L1_JUDGE_BASE_URL", server.base_url)
    monkeypatch.setenv("FUTURE_L1_JUDGE_MODEL", "judge-x")
    monkeypatch.setenv("FUTURE_L1_JUDGE_API_KEY", "secret-key")
    monkeypatch.setenv("FUTURE_L1_JUDGE_ATTEMPTS", "3")
    for k, v in env.items():
        monkeypatch.setenv(k, v)


FAULTS = {
    "http_500": lambda req: (500, b'{"error": "boom"}'),
    "malformed_json": lambda req: "this is {not json",
    "no_score": lambda req: json.dumps({"reasoning": "fine"}),
    "out_of_range": lambda req: json.dumps({"reasoning": "x", "score": [7, -1]}),
    "not_openai": lambda req: (200, b'{"hello": 1}'),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_faulty_judge_is_retried_then_counted(monkeypatch, fault):
    with ChatServer(FAULTS[fault]) as server:
        _use(monkeypatch, server)
        out = scoring.process_results(DOC, [GOOD])
        assert server.n_requests == 3  # every attempt was made
    rec = out["n_failed"]
    assert rec["judged"] is False and rec["cot"] is None and rec["error"].startswith("judge:")
    assert "secret-key" not in json.dumps(rec)
    assert scoring.n_failed([rec]) == 1 and scoring.n_judged([rec]) == 0


def test_timeout_is_retried_then_counted(monkeypatch):
    release = threading.Event()

    def slow(req):
        release.wait(5)
        return json.dumps({"reasoning": "late", "score": [5, 5]})

    with ChatServer(slow) as server:
        _use(monkeypatch, server, FUTURE_L1_JUDGE_TIMEOUT="0.2")
        rec = scoring.process_results(DOC, [GOOD])["twiff_avg"]
        release.set()
    assert rec["judged"] is False and "timed out" in rec["error"]


def test_flaky_judge_recovers_within_attempts(monkeypatch):
    calls = []

    def flaky(req):
        calls.append(1)
        return (500, b"oops") if len(calls) < 3 else json.dumps({"reasoning": "ok", "score": [[4, "3"]]})

    with ChatServer(flaky) as server:
        _use(monkeypatch, server)
        rec = scoring.process_results(DOC, [GOOD])["twiff_cot"]
    assert rec["judged"] is True and (rec["cot"], rec["answer_score"]) == (4.0, 3.0) and len(calls) == 3
    assert rec["judge"] == {"provider": "openai-compatible", "base_url": server.base_url, "model": "judge-x",
                            "prompt_version": J.JUDGE_PROMPT_VERSION, "temperature": 0.0, "max_tokens": 1024,
                            "text_only": False, "comparable": True}  # fmt: skip


def test_run_of_mixed_failures_completes_and_counts(monkeypatch):
    """A whole set, judged concurrently: some calls fail for good, the rest are scored; nothing is lost."""

    def by_doc(req):
        text = json.dumps(req["messages"])
        if "answer-7" in text:
            return (500, b"down")
        if "answer-3" in text:
            return "garbage"
        return json.dumps({"reasoning": "ok", "score": [4, 2]})

    docs = [{**DOC, "doc_id": i, "answer": f"chain <ans>answer-{i}</ans>"} for i in range(10)]
    with ChatServer(by_doc) as server:
        _use(monkeypatch, server, FUTURE_L1_JUDGE_CONCURRENCY="2")
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(4) as pool:
            records = list(pool.map(lambda d: scoring.process_results(d, [GOOD])["twiff_avg"], docs))
    records.append(scoring.process_results({**DOC, "doc_id": 10}, ["[future-l1 error] unreadable image"])["twiff_avg"])
    assert scoring.n_judged(records) == 8 and scoring.n_failed(records) == 3
    assert scoring.twiff_cot(records) == 4.0 and scoring.twiff_answer(records) == 2.0
    assert scoring.twiff_avg(records) == 3.0
    assert scoring.twiff_avg_failzero(records) == pytest.approx(3.0 * 8 / 11)
    assert records[-1]["error"] == "model: unreadable image"


def test_answers_are_cached_on_disk(monkeypatch, tmp_path):
    monkeypatch.setenv("FUTURE_L1_CACHE", str(tmp_path))
    with ChatServer(lambda req: json.dumps({"reasoning": "ok", "score": [3, 4]})) as server:
        _use(monkeypatch, server, FUTURE_L1_JUDGE_CACHE="1")
        first = scoring.process_results(DOC, [GOOD])["twiff_avg"]
        second = scoring.process_results(DOC, [GOOD])["twiff_avg"]
        assert server.n_requests == 1
        monkeypatch.setenv("FUTURE_L1_JUDGE_MODEL", "judge-y")  # another judge model is another key
        scoring.process_results(DOC, [GOOD])
        assert server.n_requests == 2
    assert (first["cot"], second["cot"]) == (3.0, 3.0)
    assert not any("secret-key" in p.read_text() for p in (tmp_path / "judge_cache").rglob("*.json"))


def test_text_only_mode_sends_no_images():
    from PIL import Image

    doc = {**DOC, "question_images": [Image.new("RGB", (8, 8))], "reasoning_images": [Image.new("RGB", (8, 8))]}
    full = scoring.judge_messages(doc, GOOD)
    kinds = [c["type"] for c in full[1]["content"]]
    assert kinds.count("image_url") == 2
    assert full[1]["content"][kinds.index("image_url")]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    text = scoring.judge_messages(doc, GOOD, text_only=True)
    assert all(c["type"] == "text" for c in text[1]["content"])
    joined = "".join(c["text"] for c in text[1]["content"])
    assert "<image>" not in joined and "<rimage>" not in joined
    assert "\nGround Truth Answer: The red ball bounces off the left wall." in joined  # final answer, not the chain


def test_rubric_judge_scores_and_is_labelled_not_comparable():
    with rubric_judge() as server:
        judge = J.Judge(J.JudgeConfig(base_url=server.base_url, model=RUBRIC_MODEL, cache=False, attempts=1))
        good = judge.score(scoring.judge_messages(DOC, GOOD))
        bad = judge.score(scoring.judge_messages(DOC, "<answer>nothing</answer>"))
    assert (good.answer, bad.answer, bad.cot) == (5, 0, 0) and good.cot >= 1
    assert J.JudgeConfig(base_url=None).public()["comparable"] is False
    assert J.JudgeConfig(base_url="http://x/v1", model=RUBRIC_MODEL).public()["comparable"] is False


def test_server_stops_by_itself_when_idle():
    server = rubric_judge(idle_timeout_s=0.2).start()
    deadline = time.monotonic() + 5
    while server.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not server.running


def test_config_requires_a_pinned_model(monkeypatch):
    monkeypatch.setenv("FUTURE_L1_JUDGE_BASE_URL", "http://127.0.0.1:9/v1/chat/completions")
    with pytest.raises(ValueError, match="FUTURE_L1_JUDGE_MODEL"):
        J.JudgeConfig.from_env()
    monkeypatch.setenv("FUTURE_L1_JUDGE_MODEL", "m")
    assert J.JudgeConfig.from_env().base_url == "http://127.0.0.1:9/v1"
    rec = scoring.process_results(DOC, [GOOD])["n_judged"]  # nothing listens on port 9: counted, not raised
    assert rec["judged"] is False and "unreachable" in rec["error"]


@pytest.mark.parametrize(
    ("content", "ok"),
    [('{"score": [1, 2]}', True), ('```json\n{"score": [5, 0]}\n```', True), ('{"score": [1]}', False),
     ('{"score": [6, 1]}', False), ("", False), ('{"score": [true, false]}', False)],
)  # fmt: skip
def test_parse_verdict(content, ok):
    if ok:
        assert J.parse_verdict(content)
    else:
        with pytest.raises(J.JudgeAnswerError):
            J.parse_verdict(content)

"""The judge's reply is untrusted (issue 31): its size is bounded (also after decompression), its reasoning is capped
and stored once per sample, its scores must be exact integers 0-5, secrets it echoes never reach a stored field, and
its cache is keyed by the judge's identity."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from future_l1.tasks import judge as J
from future_l1.tasks.judge_server import ChatServer, _completion
from future_l1.tasks.twiffbench import scoring

DOC = {"doc_id": 0, "video": "v.mp4", "question": "What happens next?", "answer": "chain <ans>it falls</ans>",
       "question_images": [], "reasoning_images": [], "data_error": ""}  # fmt: skip
ANSWER = "<reason>r</reason><answer>it falls</answer>"
SECRET = "sk-judge-secret-0123456789abcdefXYZ"


def _config(url: str, **kw) -> J.JudgeConfig:
    kw.setdefault("cache", False)
    return J.JudgeRole(provider="openai", base_url=url, model="judge-x", backoff_s=0.01, **kw).to_config()


def _judge(config: J.JudgeConfig) -> dict:
    """process_results of one TwiFF sample under `config`: every metric's record."""
    with J.active_config(config):
        return scoring.process_results(DOC, [ANSWER])


def _bomb(inflated_mb: int) -> bytes:
    """gzip of `inflated_mb` MiB of zeros, built in 1 MiB pieces (the test never holds the inflated bytes)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    return b"".join(packer.compress(zeros) for _ in range(inflated_mb)) + packer.flush()


# ---------------------------------------------------------------------------------------------------------------
# Bounded replies


def test_gzip_bomb_is_refused_without_inflating_it():
    body = _bomb(128)  # ~130 KB on the wire, 128 MiB inflated
    assert len(body) < 1 << 20
    with ChatServer(lambda req: (200, body, {"Content-Encoding": "gzip"})) as server:
        tracemalloc.start()
        try:
            rec = _judge(_config(server.base_url, attempts=1))["twiff_avg"]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert rec["judged"] is False and "larger than 1,048,576 bytes" in rec["error"]
    assert peak < 32 << 20  # the whole bomb inflated would be 128 MiB


def test_large_plain_reply_is_refused_and_a_compressed_small_one_is_read():
    big = json.dumps(_completion("judge-x", json.dumps({"reasoning": "x" * (2 << 20), "score": [3, 4]}))).encode()
    with ChatServer(lambda req: (200, big)) as server:
        rec = _judge(_config(server.base_url, attempts=2))["twiff_avg"]
        assert server.n_requests == 2  # retried like any invalid reply, then counted
    assert rec["judged"] is False and "larger than" in rec["error"] and "(2 attempt(s))" in rec["error"]
    small = gzip.compress(json.dumps(_completion("judge-x", '{"reasoning": "fine", "score": [3, 4]}')).encode())
    with ChatServer(lambda req: (200, small, {"Content-Encoding": "gzip"})) as server:
        rec = _judge(_config(server.base_url))["twiff_avg"]
    assert rec["judged"] is True and (rec["cot"], rec["answer_score"]) == (3.0, 4.0)


def test_reply_cap_grows_with_max_tokens():
    assert J.Judge(_config("http://h/v1")).reply_cap() == 1 << 20
    assert J.Judge(_config("http://h/v1", max_tokens=100_000)).reply_cap() == 3_200_000


def test_unknown_content_encoding_is_a_failed_judgement():
    with ChatServer(lambda req: (200, b"\x00\x01", {"Content-Encoding": "br"})) as server:
        rec = _judge(_config(server.base_url, attempts=1))["twiff_avg"]
    assert rec["judged"] is False and "content-encoding 'br'" in rec["error"]


def test_long_reasoning_is_capped_and_stored_once_per_sample():
    reasoning = "because " * 60_000  # 480 kB: under the byte cap, far over the reasoning cap
    with ChatServer(lambda req: json.dumps({"reasoning": reasoning, "score": [3, 4]})) as server:
        out = _judge(_config(server.base_url))
    kept = out["twiff_avg"]["judge_reasoning"]
    assert out["twiff_avg"]["judged"] is True
    assert kept.startswith("because because") and len(kept) < J.MAX_REASONING_CHARS + 100
    assert kept.endswith(f"[… {len(reasoning) - J.MAX_REASONING_CHARS:,} more characters cut]")
    others = [m for m in scoring.METRICS if m != "twiff_avg"]
    assert others and all(out[m]["judge_reasoning"] == "" for m in others)
    assert all(out[m]["cot"] == 3.0 for m in scoring.METRICS)  # every aggregation still sees the scores
    assert len(json.dumps(out)) < 3 * J.MAX_REASONING_CHARS


# ---------------------------------------------------------------------------------------------------------------
# Exact scores

INEXACT = {
    "fractions_above_5": [5.4, 5.4],  # the authors round these to 5/5
    "fractions_near": [4.6, 5.4],
    "halves": [2.5, 3.5],  # rounded to 2/4 (banker's rounding)
    "three_numbers": [1, 5, 3],  # the authors take the first two
    "one_number": [4],
    "nested_extra": [[3, 4], 2],
    "fraction_text": ["4.5", "3"],
}


@pytest.mark.parametrize("case", sorted(INEXACT))
def test_inexact_scores_are_counted_failures_never_rounded(case):
    score = INEXACT[case]
    with pytest.raises(J.JudgeAnswerError):
        J.coerce_scores(score)
    with ChatServer(lambda req: json.dumps({"reasoning": "r", "score": score})) as server:
        rec = _judge(_config(server.base_url, attempts=2))["twiff_avg"]
        assert server.n_requests == 2
    assert rec["judged"] is False and rec["cot"] is None and rec["error"].startswith("judge:")


@pytest.mark.parametrize("score, pair", [([3, 4], (3, 4)), ([[0, 5]], (0, 5)), (["3", 4.0], (3, 4)),
                                         ([" 2 ", "5.0"], (2, 5))])  # fmt: skip
def test_exact_scores_in_every_written_form_are_accepted(score, pair):
    assert J.coerce_scores(score) == pair


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(-3, 8), st.floats(allow_nan=True, allow_infinity=True),
                          st.text(max_size=6), st.booleans(), st.none()), max_size=4))  # fmt: skip
def test_accepted_scores_are_exactly_the_two_whole_numbers_given(score):
    """Whatever a judge sends, a verdict is either a JudgeAnswerError or the two given numbers, unchanged."""
    try:
        pair = J.coerce_scores(score)
    except J.JudgeAnswerError:
        return
    assert len(score) == 2
    for given_value, kept in zip(score, pair, strict=True):
        assert not isinstance(given_value, bool) and 0 <= kept <= 5
        assert float(given_value) == kept  # nothing rounded, nothing truncated


# ---------------------------------------------------------------------------------------------------------------
# Secrets the judge echoes


def _echo(request: dict, headers: dict) -> str:
    """A judge that repeats what it was sent: the Authorization header, escaped and plain."""
    auth = headers.get("Authorization", "")
    return json.dumps({"reasoning": f"header {auth}; again {json.dumps(auth)}", "score": [3, 4]})


def test_a_judge_echoing_the_api_key_stores_no_secret(monkeypatch, tmp_path):
    monkeypatch.setenv("FUTURE_L1_CACHE", str(tmp_path / "cache"))
    with ChatServer(_echo, pass_headers=True) as server:
        config = J.JudgeRole(provider="openai", base_url=server.base_url, model="judge-x").to_config(api_key=SECRET)
        out = _judge(config)
    rec = out["twiff_avg"]
    assert rec["judged"] is True and "Bearer [REDACTED]" in rec["judge_reasoning"]
    assert SECRET not in json.dumps(out)
    cached = list((tmp_path / "cache" / "judge_cache").rglob("*.json"))
    assert len(cached) == 1 and SECRET not in cached[0].read_text()


def test_credentials_in_the_base_url_are_neither_recorded_nor_echoed():
    with ChatServer(_echo, pass_headers=True) as server:
        url = server.base_url.replace("http://", f"http://user:{SECRET}@") + f"?api_key={SECRET}&api-version=2"
        config = J.JudgeRole(provider="openai", base_url=url, model="judge-x", cache=False).to_config()
        out = _judge(config)
    text = json.dumps(out)
    assert out["twiff_avg"]["judged"] is True and "Basic [REDACTED]" in out["twiff_avg"]["judge_reasoning"]
    assert SECRET not in text and "user:" not in text
    public = out["twiff_avg"]["judge"]["base_url"]
    assert public.startswith("http://127.0.0.1:") and public.endswith("/v1?api_key=REDACTED&api-version=2")


def test_unreachable_judge_error_names_the_host_not_the_credentials():
    config = J.JudgeRole(provider="openai", base_url=f"http://u:{SECRET}@127.0.0.1:9/v1", model="m",
                         attempts=1, cache=False).to_config()  # fmt: skip
    rec = _judge(config)["twiff_avg"]
    assert "unreachable at http://127.0.0.1:9/v1" in rec["error"] and SECRET not in json.dumps(rec)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=4, max_size=30).filter(lambda s: s.strip() and s != "EMPTY"), st.text(max_size=40))
@example("D]ab", "ab")  # a replacement that forms a new match with the text after it
@example("DACT", "")  # a key inside the placeholder itself
def test_redaction_removes_the_key_from_any_text(key, text):
    config = J.JudgeConfig(base_url="http://h/v1", model="m", api_key=key)
    assert key not in config.redact(f"{text}{key}{text}")


# ---------------------------------------------------------------------------------------------------------------
# The cache key is the judge's identity


def test_cache_key_changes_with_every_part_of_the_judge_identity():
    messages = [{"role": "user", "content": "q"}]
    base = J.JudgeConfig(base_url="http://judge-a:8000/v1", model="m")

    def key(**changes) -> str:
        from dataclasses import replace

        return J.Judge(replace(base, **changes)).cache_key(messages)

    keys = {key(), key(base_url="http://judge-b:8000/v1"), key(model="m2"), key(temperature=0.5),
            key(max_tokens=512), key(prompt_version="other"), key(text_only=True)}  # fmt: skip
    assert len(keys) == 7
    # the same endpoint with another password or key is the same judge: its secrets are not part of the key
    assert key(base_url="http://u:one@judge-a:8000/v1") == key(base_url="http://u:two@judge-a:8000/v1")
    assert key(api_key="k1") == key(api_key="k2")


def test_cached_entry_is_checked_like_a_fresh_reply(monkeypatch, tmp_path):
    monkeypatch.setenv("FUTURE_L1_CACHE", str(tmp_path))
    with ChatServer(lambda req: '{"reasoning": "first", "score": [3, 4]}') as server:
        judge = J.Judge(_config(server.base_url, cache=True))
        messages = scoring.judge_messages(DOC, ANSWER)
        assert judge.score(messages).cached is False
        path = judge._cache_path(judge.cache_key(messages))
        path.write_text(json.dumps({"cot": 5.4, "answer": 5.4, "reasoning": "tampered"}))
        fresh = judge.score(messages)  # the tampered entry is not trusted: asked again
        assert (fresh.cot, fresh.answer, fresh.cached, server.n_requests) == (3, 4, False, 2)

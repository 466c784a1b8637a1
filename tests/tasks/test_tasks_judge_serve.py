"""`future-l1 judge serve`: the rubric judge answers the OpenAI chat API on loopback and stops when idle."""

from __future__ import annotations

import json
import re
import subprocess

import httpx
import pytest


@pytest.mark.integration
def test_judge_serve_answers_and_stops_when_idle() -> None:
    proc = subprocess.Popen(
        ["future-l1", "judge", "serve", "--idle-timeout", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()
        assert "NOT comparable" in first
        base_url = re.search(r"(http://127\.0\.0\.1:\d+\S*)", first).group(1)
        messages = [
            {"role": "system", "content": "judge"},
            {"role": "user", "content": "Question: q\nGround Truth Answer: the red ball\nModel Response Answer: red"},
        ]
        reply = httpx.post(f"{base_url}/chat/completions", json={"model": "x", "messages": messages}, timeout=10)
        reply.raise_for_status()
        verdict = json.loads(reply.json()["choices"][0]["message"]["content"])
        assert len(verdict["score"]) == 2 and all(0 <= s <= 5 for s in verdict["score"])
        assert proc.wait(timeout=30) == 0  # idle timeout: the server stops by itself
    finally:
        proc.kill()

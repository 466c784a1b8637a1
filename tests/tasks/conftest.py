"""Fixtures for the task tests: a private artefact cache and judge cache per session, fast judge retries."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fast_judge(monkeypatch, tmp_path):
    # Keep retries short and never let a test hit a real judge or reuse another test's judge answers.
    monkeypatch.delenv("FUTURE_L1_JUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("FUTURE_L1_JUDGE_MODEL", raising=False)
    monkeypatch.setenv("FUTURE_L1_JUDGE_BACKOFF", "0.01")
    monkeypatch.setenv("FUTURE_L1_JUDGE_TIMEOUT", "5")
    monkeypatch.delenv("FUTURE_L1_FUTUREBENCH_DIR", raising=False)
    monkeypatch.delenv("FUTURE_L1_TWIFFBENCH_DIR", raising=False)
    monkeypatch.setenv("FUTURE_L1_JUDGE_CACHE", "0")

"""The redaction pass's shapes (issue 31): credentials are cut even when the secret is not known; prose is kept."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from future_l1.harness.redaction import redact, scrub_tree


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("judge at http://alice:s3cr3t-pw@host:8000/v1 failed", "s3cr3t-pw"),
        ("GET https://host/v1?model=x&api_key=abcdef123456 404", "abcdef123456"),
        ('{"Authorization": "Bearer sk-live-0123456789abcdef"}', "sk-live-0123456789abcdef"),
        ("authorization: Basic YWxpY2U6czNjcjN0", "YWxpY2U6czNjcjN0"),
        ("echo Bearer 0123456789abcdefghij end", "0123456789abcdefghij"),
        ("known secret plain-value-42 inside", "plain-value-42"),
    ],
)
def test_secrets_are_cut_by_value_or_shape(text: str, gone: str) -> None:
    out = redact(text, ["plain-value-42"])
    assert gone not in out and "[REDACTED]" in out


def test_prose_and_model_arguments_are_left_alone() -> None:
    prose = ("Basic physics says the ball falls; the bearer of the cup tips it. max_new_tokens=8,temperature=0 "
             "see https://example.org/path?page=2")  # fmt: skip
    assert redact(prose) == prose


def test_scrub_tree_rewrites_only_files_with_secrets_and_keeps_their_mode(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    dirty, clean = tmp_path / "a/results.json", tmp_path / "plain.txt"
    dirty.write_text('{"url": "http://u:tok-123456@h/v1"}')
    clean.write_text("nothing here")
    os.chmod(dirty, 0o640)
    (tmp_path / "link").symlink_to(dirty)
    assert scrub_tree(tmp_path, []) == [dirty]
    assert "tok-123456" not in dirty.read_text() and stat.S_IMODE(dirty.stat().st_mode) == 0o640
    assert clean.read_text() == "nothing here"

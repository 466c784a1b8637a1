"""Durable JSONL: what a kill mid-write leaves behind never costs the records written after it."""

from __future__ import annotations

from pathlib import Path

from future_l1.model import jsonl


def test_torn_line_is_cut_before_the_next_append(tmp_path: Path) -> None:
    path = tmp_path / "progress.jsonl"
    jsonl.append(path, [{"id": "a"}])
    with path.open("a") as f:
        f.write('{"id": "b", "p_')  # the process died here
    assert [r["id"] for r in jsonl.read(path)] == ["a"]
    jsonl.repair_tail(path)
    jsonl.append(path, [{"id": "c"}, {"id": "d"}])
    assert [r["id"] for r in jsonl.read(path)] == ["a", "c", "d"]
    assert list(jsonl.read(tmp_path / "missing.jsonl")) == []

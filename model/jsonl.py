"""Append-only JSONL files that survive a kill: each append is fsynced, a torn last line is cut before appending.

Used wherever finished work must not be lost or repeated: the run journal (`harness.journal`) and the progress file
of visual-gain selection (`training.selection`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def repair_tail(path: Path) -> None:
    """Cut a half-written last line (the process died mid-write) so that appends start on a fresh line."""
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    with path.open("r+b") as f:
        f.truncate(data.rfind(b"\n") + 1)


def append(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append records and fsync before returning: once this returns, the records survive a crash."""
    with path.open("a", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read(path: Path) -> Iterator[dict[str, Any]]:
    """The complete records of a file (none if it is missing); a torn or corrupt line is skipped.

    Lines are split on the b"\\n" byte only: `str.splitlines()` also splits on U+2028, U+0085, \\x1c … which
    `json.dumps(ensure_ascii=False)` writes raw inside strings, so a model answer holding one would be lost (and
    recomputed, duplicating the journal entry on resume)."""
    if not path.exists():
        return
    for raw in path.read_bytes().split(b"\n"):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(record, dict):
            yield record

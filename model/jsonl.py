"""Append-only JSONL files that survive a kill: each append is fsynced, a torn last line is cut before appending.

Used wherever finished work must not be lost or repeated: the run journal (`harness.journal`) and the progress file
of visual-gain selection (`training.selection`).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


class LinkRefused(OSError):
    """A file that must be written in place is a symbolic link (it could point anywhere: refused, not followed)."""


def open_nofollow(path: Path, flags: int, mode: int = 0o666) -> int:
    """os.open with O_NOFOLLOW: a symbolic link at `path` raises LinkRefused naming the file and the fix."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EMLINK and os.path.islink(path)):
            raise LinkRefused(
                exc.errno, f"{path} is a symbolic link; it is not followed (remove the link and run again)"
            ) from None
        raise


def repair_tail(path: Path) -> None:
    """Cut a half-written last line (the process died mid-write) so that appends start on a fresh line."""
    try:
        fd = open_nofollow(path, os.O_RDWR)
    except FileNotFoundError:
        return
    with os.fdopen(fd, "r+b") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def append(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append records and fsync before returning: once this returns, the records survive a crash. A link at `path`
    is refused (a planted link would make the append write outside the run)."""
    with os.fdopen(open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "a", encoding="utf-8") as f:
        for rec in records:
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read(path: Path) -> Iterator[dict[str, Any]]:
    """The complete records of a file (none if it is missing); a torn or corrupt line is skipped.

    Lines are split on the b"\\n" byte only: `str.splitlines()` also splits on U+2028, U+0085, \\x1c … which
    `json.dumps(ensure_ascii=False)` writes raw inside strings, so a model answer holding one would be lost (and
    recomputed, duplicating the journal entry on resume)."""
    try:
        fd = open_nofollow(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    with os.fdopen(fd, "rb") as f:
        data = f.read()
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):  # a line nested past Python's limit too
            continue
        if isinstance(record, dict):
            yield record

"""Replace a file's text atomically: a temporary sibling, fsynced, then renamed over it (readers see the old or the new
file, never half of one; a link planted at the path is replaced, not followed)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def swap_in(path: Path, text: str, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

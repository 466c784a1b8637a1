"""Where generated artefacts (tokenizer, processor, tiny checkpoints, demo data) are cached.

`FUTURE_L1_CACHE` overrides the default `~/.cache/future_l1`. Builders write into a temporary sibling and rename it
into place, so a killed build never leaves a half-written entry that later runs would trust.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_root() -> Path:
    root = Path(os.environ.get("FUTURE_L1_CACHE", Path.home() / ".cache" / "future_l1")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def cached_dir(name: str, build: Callable[[Path], None]) -> Path:
    """Return `cache_root()/name`, calling `build(tmp_dir)` once to create it atomically."""
    final = cache_root() / name
    if (final / ".complete").exists():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        build(tmp)
        (tmp / ".complete").write_text("ok\n")
        if final.exists():  # an incomplete leftover from a killed build
            shutil.rmtree(final)
        try:
            tmp.rename(final)
        except OSError:  # another process won the race; its copy is as good as ours
            if not (final / ".complete").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final

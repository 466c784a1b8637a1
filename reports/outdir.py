"""Write a report folder atomically: a reader (or a Ctrl-C) sees the previous complete folder or the new one.

The files are written into a hidden sibling folder, which then takes the folder's place with `os.replace` (one
rename when the folder is new; when it exists, the old one is first renamed aside and removed after). Anything that
stops the writing, KeyboardInterrupt included, removes the sibling and leaves the old folder as it was.

Only a folder that a report wrote is replaced: it holds the marker file `MARKER`, or only names a report writes (a
folder written before the marker existed). Any other existing folder (`--out .`, a folder of papers) is refused, so
a report never deletes a user's files; an existing file is refused too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from future_l1.reports.inputs import ReportInputError

MARKER = ".future-l1-report"
# What report, report compare and the toy experiment write into a report folder (folders written before MARKER).
_BOARDS = ("futurebench", "twiffbench", "twiffbench_categories")
KNOWN_NAMES = {"leaderboard.md", "report.html", "records.csv", "cost.csv", "plots", "compare.md", "compare.json",
               "experiment.md", "result.json", *(f"{b}.{ext}" for b in _BOARDS for ext in ("csv", "tex"))}  # fmt: skip


def check_target(out_dir: Path) -> None:
    """Refuse an `--out` that is a file, or an existing folder that a report did not write."""
    out_dir = Path(out_dir)
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise ReportInputError(f"--out {out_dir}: exists and is not a folder; name a new folder for the report")
    if out_dir.is_dir() and not _is_report_dir(out_dir):
        raise ReportInputError(
            f"--out {out_dir}: an existing folder that holds other files; a report replaces its whole folder, so "
            "name a new or empty folder"
        )


def _is_report_dir(path: Path) -> bool:
    names = [p.name for p in path.iterdir()]
    return MARKER in names or all(n in KNOWN_NAMES for n in names)


@contextmanager
def atomic_dir(out_dir: Path) -> Iterator[Path]:
    """Yield a fresh folder to write into; on success it becomes `out_dir`, on any exception it is removed."""
    out_dir = Path(out_dir)
    check_target(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        (tmp / MARKER).write_text("written by future-l1 report; the whole folder is replaced on the next report\n")
        yield tmp
        _swap(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(new: Path, out_dir: Path) -> None:
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(new, 0o777 & ~mask)  # mkdtemp makes it 0700; a report folder gets the permissions mkdir would give
    if not out_dir.exists():
        os.replace(new, out_dir)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".old", dir=out_dir.parent))
    os.replace(out_dir, old / "report")
    try:
        os.replace(new, out_dir)
    except BaseException:
        os.replace(old / "report", out_dir)  # put the previous report back
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)

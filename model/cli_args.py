"""argparse value types that check what a command line gives before any work starts.

`type=count(1)`, `type=number(low=0, low_open=True)`, `type=existing_file`, `type=existing_dir`: argparse turns the
`ArgumentTypeError` into one `error:` line naming the option, and exit 2 (`future_l1.harness.cli`). The test that
walks every subcommand finds path arguments by these types and tries a missing path on each. A shared leaf.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path


def count(low: int = 1, *, also: tuple[int, ...] = ()) -> Callable[[str], int]:
    """A whole number >= `low` (or one of `also`, e.g. -1 meaning "all")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low and value not in also:
            extra = "".join(f" or {a}" for a in also)
            raise argparse.ArgumentTypeError(f"{value} must be at least {low}{extra}")
        return value

    parse.__name__ = "count"
    return parse


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False) -> Callable[[str], float]:
    """A finite number in [low, high] (or (low, high] with `low_open`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if low is not None and (value <= low if low_open else value < low):
            raise argparse.ArgumentTypeError(f"{text} must be {'>' if low_open else '>='} {low:g}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{text} must be <= {high:g}")
        return value

    parse.__name__ = "number"
    return parse


def existing_file(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder, not a file")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a regular file")
    return path


def existing_dir(text: str) -> Path:
    path = Path(text).expanduser()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder")
    return path


PATH_TYPES = (existing_file, existing_dir)

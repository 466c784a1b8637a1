"""`future-l1`: one entry point, subcommands contributed by each subpackage.

Each subpackage that adds commands has a `cli` module with `register(subparsers)`; the parsers it adds set
`func=handler`, where `handler(args) -> int` is the exit code. Heavy imports stay inside the handlers so that
`future-l1 --help` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from future_l1.harness import __version__

COMMAND_MODULES = (
    "future_l1.harness.commands",
    "future_l1.tasks.cli",
    "future_l1.training.cli",
    "future_l1.reports.cli",
    "future_l1.harness.experiment",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="future-l1",
        description="Evaluate and train Future-L1 (interleaved latent visual reasoning) video event prediction models.",
    )
    parser.add_argument("--version", action="version", version=f"future-l1 {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # that subpackage has no commands (yet)
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

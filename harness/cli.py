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
from pathlib import Path

from future_l1.harness import __version__

COMMAND_MODULES = (
    "future_l1.harness.commands",
    "future_l1.tasks.cli",
    "future_l1.training.cli",
    "future_l1.reports.cli",
    "future_l1.harness.experiments.toy_vep.cli",
)


def render_rl_curves(run_dir: Path) -> None:
    """`train rl`'s curves, drawn by the reports layer (training cannot import it, so the harness wires it in). A
    rendering failure warns: the trained checkpoint is what matters, and it is already saved."""
    from future_l1.reports.training_curves import main as curves

    try:
        curves([str(run_dir)])
    except Exception as exc:
        print(f"warning: the RL curves could not be rendered ({type(exc).__name__}: {exc})", file=sys.stderr)


# Keyword arguments of a command module's `register`, where the harness wires a lower layer to a higher one.
REGISTER_HOOKS = {"future_l1.training.cli": {"render_curves": render_rl_curves}}


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
        module.register(subparsers, **REGISTER_HOOKS.get(name, {}))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from future_l1.model import torchvision_cpu

    torchvision_cpu.install()  # before any command loads transformers' processors (CPU torch, CUDA torchvision)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

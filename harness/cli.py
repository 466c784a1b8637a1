"""`future-l1`: one entry point, subcommands contributed by each subpackage.

Each subpackage that adds commands has a `cli` module with `register(subparsers)`; the parsers it adds set
`func=handler`, where `handler(args) -> int` is the exit code. Heavy imports stay inside the handlers so that
`future-l1 --help` answers at once.

Errors: a bad command line, config or input file ends in `error: …` lines naming the input and the fix, and exit 2
(argparse's usage errors are one line too); any other failure is one `error:` line and exit 1. `--traceback` (on
every command) or FUTURE_L1_TRACEBACK=1 shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from future_l1.harness import __version__, quiet
from future_l1.model import outputs
from future_l1.model.untrusted import InputError

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
        code, why = curves([str(run_dir)]), "see the line above"
    except Exception as exc:
        code, why = 1, f"{type(exc).__name__}: {exc}"
    if code:
        print(f"warning: the RL curves could not be rendered ({why}); the checkpoint is saved", file=sys.stderr)


# Keyword arguments of a command module's `register`, where the harness wires a lower layer to a higher one.
REGISTER_HOOKS = {"future_l1.training.cli": {"render_curves": render_rl_curves}}


class Parser(argparse.ArgumentParser):
    """A parser whose usage errors are one line (subparsers inherit the class)."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
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
    for each in all_parsers(parser):
        each.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS,
                          help="show the traceback of an error (for debugging)")  # fmt: skip
        each.add_argument("--output-path", default=argparse.SUPPRESS, metavar="DIR",
                          help=f"root folder for outputs (runs/, report/, training/, experiments/; default: "
                          f"${outputs.ENV} or the current folder)")  # fmt: skip
        each.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                          help="more log output (-vv: debug); default: warnings and errors only")  # fmt: skip
    return parser


def all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """`parser` and every subparser below it (the `future-l1` command tree)."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                found += all_parsers(sub)
    return found


def _command_parser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The deepest (sub)command parser that `argv` names."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for i, token in enumerate(argv):
                if token in action.choices:
                    return _command_parser(action.choices[token], argv[i + 1 :])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from future_l1.model import torchvision_cpu

    torchvision_cpu.install()  # before any command loads transformers' processors (CPU torch, CUDA torchvision)
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # named by the command they were given to, not by `future-l1`
            _command_parser(parser, argv).error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:  # --help / --version (0) or a usage error (2, its line already printed)
        return exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "traceback", False):
        os.environ["FUTURE_L1_TRACEBACK"] = "1"
    outputs.set_root(getattr(args, "output_path", None))  # per command: not left in the environment
    quiet.configure(getattr(args, "verbose", 0))
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    debug = bool(os.environ.get("FUTURE_L1_TRACEBACK"))
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        if debug:
            raise
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        text = (f"{type(exc).__name__}: {exc}".strip().splitlines() or [type(exc).__name__])[0][:500]
        print(f"error: {text} (run again with --traceback to see where)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

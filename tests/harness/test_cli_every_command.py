"""Every `future-l1` subcommand, found by walking the argparse tree (a new command is covered without touching this
file), given a broken argument: exit 2 and exactly one `error:` line naming the problem, no traceback, no work done.

All in-process (`main([...])`), so this stays in the fast tier.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from future_l1.harness.cli import all_parsers, build_parser, main
from future_l1.model.cli_args import PATH_TYPES

MISSING = "/nonexistent/future-l1-walk/missing.file"


def _commands() -> list[tuple[list[str], argparse.ArgumentParser]]:
    """(argv prefix, parser) of every command and subcommand below `future-l1`."""
    found = []

    def walk(prefix: list[str], parser: argparse.ArgumentParser) -> None:
        found.append((prefix, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk([*prefix, name], sub)

    walk([], build_parser())
    return found[1:]


COMMANDS = _commands()
LEAVES = [
    (prefix, p) for prefix, p in COMMANDS if not any(isinstance(a, argparse._SubParsersAction) for a in p._actions)
]
GROUPS = [(prefix, p) for prefix, p in COMMANDS if (prefix, p) not in LEAVES]


def _filled(prefix: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """`prefix` plus valid-looking values for the parser's required arguments, so that the broken argument added
    after them is the one argparse reports."""
    argv = list(prefix)
    for action in parser._actions:
        required = action.required or (not action.option_strings and action.nargs not in ("?", "*"))
        if not required or isinstance(action, argparse._SubParsersAction):
            continue
        if action.choices is not None:
            value = str(next(iter(action.choices)))
        elif action.type in PATH_TYPES:
            value = str(Path(__file__).parent if action.type.__name__ == "existing_dir" else Path(__file__))
        else:
            value = "x"
        argv += [action.option_strings[-1], value] if action.option_strings else [value]
    return argv


def _cases() -> list[tuple[str, str, list[str], str]]:
    """(command, kind, argv, text the error line must contain), for every argument of every leaf whose value is
    checked, and an unknown option for every leaf."""
    cases = []
    for prefix, parser in LEAVES:
        name = " ".join(prefix)
        cases.append((name, "unknown option", [*_filled(prefix, parser), "--no-such-option"], "--no-such-option"))
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            flag = action.option_strings[-1] if action.option_strings else None
            pre = [*prefix, flag] if flag else list(prefix)
            shown = flag or action.dest
            kind = getattr(action.type, "__name__", "")
            if action.type in PATH_TYPES:
                cases.append((name, f"{shown} missing path", [*pre, MISSING], MISSING))
            elif action.choices is not None and action.nargs != 0:
                cases.append((name, f"{shown} bad choice", [*pre, "no-such-choice"], "no-such-choice"))
            elif kind in ("int", "float", "count", "number"):
                cases.append((name, f"{shown} not a number", [*pre, "x"], shown))
                if kind in ("count", "number"):
                    cases.append((name, f"{shown} NaN", [*pre, "nan"], shown))
    return cases


CASES = _cases()


def _run(capsys, argv: list[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_the_walk_finds_every_command():
    names = {" ".join(prefix) for prefix, _ in COMMANDS}
    assert {"run", "runs list", "train sft", "train rl", "train validate", "train select", "data check", "tasks path",
            "judge serve", "report", "experiment latent-vs-text"} <= names  # fmt: skip
    kinds = {kind.split(" ", 1)[-1] if kind != "unknown option" else kind for _, kind, _, _ in CASES}
    assert {"unknown option", "missing path", "bad choice", "not a number", "NaN"} <= kinds
    assert all(any("--traceback" in a.option_strings for a in p._actions) for p in all_parsers(build_parser()))


@pytest.mark.parametrize("argv, needle", [(c[2], c[3]) for c in CASES], ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_a_broken_argument_is_one_error_line_and_exit_2(argv, needle, capsys):
    rc, out, err = _run(capsys, argv)
    assert rc == 2, (argv, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("prefix", [p for p, _ in GROUPS], ids=[" ".join(p) for p, _ in GROUPS])
def test_an_unknown_subcommand_is_one_error_line(prefix, capsys):
    rc, _, err = _run(capsys, [*prefix, "no-such-command"])
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "no-such-command" in lines[0], err


def test_help_and_version_still_exit_0(capsys):
    assert _run(capsys, ["--version"])[0] == 0
    rc, out, _ = _run(capsys, ["train", "sft", "--help"])
    assert rc == 0 and "--traceback" in out


def test_traceback_flag_shows_the_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("FUTURE_L1_TRACEBACK", raising=False)
    config = tmp_path / "c.yaml"
    config.write_text("- a list\n")
    rc, _, err = _run(capsys, ["train", "sft", "--config", str(config)])
    assert rc == 2 and err.count("\n") == 1 and "must be a mapping" in err
    from future_l1.model.untrusted import InputError

    with pytest.raises(InputError, match="must be a mapping"):
        main(["train", "sft", "--config", str(config), "--traceback"])
    monkeypatch.delenv("FUTURE_L1_TRACEBACK", raising=False)  # main() set it for the process


@pytest.mark.parametrize("args, needle", [
    (["--steps", "0"], "--steps: 0 must be at least 1"),
    (["--latent-lambda", "-1"], "--latent-lambda: -1 must be >= 0"),
    (["--learning-rate", "nan"], "--learning-rate: 'nan' is not a finite number"),
    (["--batch-size", "0"], "--batch-size: 0 must be at least 1"),
    (["--max-latent-token", "0"], "--max-latent-token: 0 must be at least 1"),
])  # fmt: skip
def test_experiment_settings_out_of_range_are_refused_before_any_work(args, needle, tmp_path, capsys):
    """`experiment latent-vs-text --quick --steps 0` ended in three tracebacks (issue 30)."""
    out_dir = tmp_path / "exp"
    rc, _, err = _run(capsys, ["experiment", "latent-vs-text", "--quick", "--out", str(out_dir), *args])
    assert rc == 2 and err.count("\n") == 1 and needle in err, err
    assert not out_dir.exists()

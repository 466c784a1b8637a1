"""`future-l1 run` (evaluate a suite, resumably) and `future-l1 runs list`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    run = subparsers.add_parser(
        "run",
        help="evaluate the models × tasks of a suite through lmms-eval (resumable; default: the embedded demo suite)",
        description="Evaluate a suite. Re-running the same command resumes an interrupted run. "
        "Data parallel: torchrun --nproc_per_node N -m future_l1.harness.cli run SUITE",
    )
    run.add_argument("suite", nargs="?", help="suite YAML (default: the embedded offline demo suite)")
    oneoff = run.add_argument_group(
        "one-off run without a suite file (as lmms-eval's CLI): --model NAME [--model-args k=v,k=v] --tasks a,b"
    )
    oneoff.add_argument("--model", help="an lmms-eval model name (e.g. future_l1, answer_prior or a plugin's)")
    oneoff.add_argument("--model-args", "--model_args", default="", metavar="K=V,…",
                        help="the model's arguments, lmms-eval's comma-separated k=v string")  # fmt: skip
    oneoff.add_argument("--tasks", metavar="A,B", help="comma-separated task names")
    oneoff.add_argument("--limit", type=limit_arg, help="at most this many documents per task (a fraction if < 1)")
    oneoff.add_argument("--include-path", "--include_path", action="append", metavar="DIR",
                        help="a folder of task YAML files (repeatable; default: the packaged tasks)")  # fmt: skip
    run.add_argument("--runs-dir", help="where run directories go (default: <--output-path>/runs, i.e. ./runs)")
    group = run.add_mutually_exclusive_group()
    group.add_argument(
        "--run-id",
        help="explicit run id (default: <suite name>-<digest of the suite, task definitions, data and checkpoints>)",
    )
    group.add_argument("--new", action="store_true", help="start a fresh run instead of resuming")
    run.add_argument("--validate-only", action="store_true", help="check the suite and exit")
    run.set_defaults(func=run_command)

    runs = subparsers.add_parser("runs", help="inspect run directories")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="SUBCOMMAND")
    listing = runs_sub.add_parser("list", help="list runs and their state")
    listing.add_argument("--runs-dir", help="default: <--output-path>/runs")
    listing.set_defaults(func=list_command)


def run_command(args: argparse.Namespace) -> int:
    """Every bad input ends in `error: …` lines and exit 2 (suite, data, run directory) or per-sample errors counted
    in the results; a traceback is shown only with FUTURE_L1_TRACEBACK=1."""
    if args.suite is None:  # offline is the embedded demo's default only: a suite may name a hub checkpoint
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # the tasks read local folders (`data:`), never hub datasets
    from future_l1.harness.suite import SuiteError

    try:
        return _run(args)
    except SuiteError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        from future_l1.harness.signals import Terminated

        why = str(exc) if isinstance(exc, Terminated) else "interrupted"
        print(f"error: {why}; the run is marked interrupted: run the same command again to resume", file=sys.stderr)
        return 128 + exc.signum if isinstance(exc, Terminated) else 130
    except Exception as exc:
        if os.environ.get("FUTURE_L1_TRACEBACK"):
            raise
        text = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:500]
        print(f"error: {text} (set FUTURE_L1_TRACEBACK=1 to see the traceback)", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from future_l1.harness import runner
    from future_l1.harness.suite import SuiteError, load_suite, resolve_checkpoints, validate
    from future_l1.harness.suite_provenance import demo_tasks, preflight_warnings
    from future_l1.model.outputs import output_dir

    suite = oneoff_suite(args) if args.model or args.tasks else load_suite(args.suite)
    args.runs_dir = args.runs_dir or str(output_dir("runs"))
    problems = validate(suite)  # every problem at once, before a demo model is trained or a model loads
    if problems:
        raise SuiteError(problems)
    for warning in preflight_warnings(suite):  # before anything starts: demo data under a real checkpoint, subsets
        print(f"warning: {warning}", file=sys.stderr)
    if args.validate_only:
        print(f"suite {suite.name!r}: OK ({len(suite.models)} models × {len(suite.tasks)} tasks)")
        return 0
    runner.init_distributed()
    # `demo://` checkpoints are built (trained once, then cached) here, on the first rank, before the runner starts.
    resolved = resolve_checkpoints(suite) if runner.world()[0] == 0 else None
    job = runner.Runner(suite, Path(args.runs_dir), run_id=args.run_id, new=args.new, resolved=resolved)
    outcome = job.execute()
    if job.rank != 0:
        return 1 if outcome.failures else 0
    print(f"\nrun {job.run_id}: {progress_line(outcome.computed, outcome.reused)}")
    demo = demo_tasks(suite)
    if demo:
        print(f"data: {', '.join(demo)} ran on the embedded DEMO data (rows marked 'demo data'; not comparable)")
    print(leaderboard(outcome.run_dir))
    print(f"\nrun directory: {outcome.run_dir}")
    for failure in outcome.failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if outcome.failures else 0


def limit_arg(text: str) -> int | float:
    """`--limit`: a whole count as an int (4, not 4.0), else the fraction as given."""
    value = float(text)
    return int(value) if value.is_integer() else value


def parse_model_args(text: str) -> dict[str, object]:
    """lmms-eval's `k=v,k=v` string as typed values (YAML scalars: 8 is an int, true a bool); a malformed item is
    a SuiteError naming it."""
    import yaml

    from future_l1.harness.suite import SuiteError

    args: dict[str, object] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SuiteError(
                [f"--model-args: {item!r} is not key=value; write e.g. --model-args pretrained=DIR,seed=0"]
            )
        try:
            typed = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError:
            typed = value
        args[key.strip()] = typed if isinstance(typed, (str, int, float, bool)) else value
    return args


def oneoff_suite(args: argparse.Namespace):
    """The suite that `--model … --model-args … --tasks …` stands for (validated like a suite file; it is written to
    the run directory as suite.yaml, so the run can be repeated from it)."""
    import re

    from future_l1.harness.suite import SuiteError, parse_suite

    if args.suite:
        raise SuiteError([f"pass either a suite file ({args.suite}) or --model/--tasks, not both"])
    if not (args.model and args.tasks):
        raise SuiteError(["a one-off run needs both --model NAME and --tasks A,B (and --model-args k=v,… if any)"])
    tasks = [{"name": t.strip(), **({"limit": args.limit} if args.limit is not None else {})}
             for t in args.tasks.split(",") if t.strip()]  # fmt: skip
    raw: dict[str, object] = {
        "name": re.sub(r"[^A-Za-z0-9_.+-]", "_", f"cli-{args.model}").replace("..", "_")[:100],
        "models": [{"model": args.model, "args": parse_model_args(args.model_args)}],
        "tasks": tasks,
    }
    if args.include_path:
        raw["include_path"] = list(args.include_path)
    return parse_suite(raw)


def progress_line(computed: int, reused: int) -> str:
    """What this invocation did; a finished run run again says that everything came from the journal."""
    if computed == 0 and reused:
        return f"0 samples computed, {reused} reused from the journal (all samples reused: the run had finished)"
    return f"{computed} samples computed, {reused} reused from the journal"


def leaderboard(run_dir: Path) -> str:
    """The report's Markdown leaderboard (it also writes run_dir/report/); a plain table if rendering fails, since
    the results are safe on disk and a rendering bug must not hide them."""
    from future_l1.reports import render_run
    from future_l1.reports.render import plain_table

    try:
        return str(render_run(run_dir))
    except Exception as exc:
        print(f"warning: the report could not be rendered ({type(exc).__name__}: {exc}); plain table follows",
              file=sys.stderr)  # fmt: skip
        return plain_table(run_dir)


def list_command(args: argparse.Namespace) -> int:
    from future_l1.harness.rundir import list_runs
    from future_l1.model.outputs import output_dir

    runs_dir = Path(args.runs_dir) if args.runs_dir else output_dir("runs")
    rows = list_runs(runs_dir)
    if not rows:
        print(f"no runs under {runs_dir}")
        return 0
    print(f"{'run id':<40} {'status':<9} {'done':>9} {'failed':>6}  updated")
    for r in rows:
        print(f"{r['run_id']:<40} {r['status']:<9} {r['done']:>4}/{r['total']:<4} {r['failed']:>6}  {r['updated']}")
    return 0

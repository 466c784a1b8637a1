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
    run.add_argument("--runs-dir", default="runs", help="where run directories go (default: ./runs)")
    group = run.add_mutually_exclusive_group()
    group.add_argument("--run-id", help="explicit run id (default: derived from the suite's content hash)")
    group.add_argument("--new", action="store_true", help="start a fresh run instead of resuming")
    run.add_argument("--validate-only", action="store_true", help="check the suite and exit")
    run.set_defaults(func=run_command)

    runs = subparsers.add_parser("runs", help="inspect run directories")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="SUBCOMMAND")
    listing = runs_sub.add_parser("list", help="list runs and their state")
    listing.add_argument("--runs-dir", default="runs")
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
    except KeyboardInterrupt:
        print("error: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
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

    suite = load_suite(args.suite)
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
    print(f"\nrun {job.run_id}: {outcome.computed} samples computed, {outcome.reused} reused from the journal")
    demo = demo_tasks(suite)
    if demo:
        print(f"data: {', '.join(demo)} ran on the embedded DEMO data (rows marked 'demo data'; not comparable)")
    print(leaderboard(outcome.run_dir))
    print(f"\nrun directory: {outcome.run_dir}")
    for failure in outcome.failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if outcome.failures else 0


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

    rows = list_runs(Path(args.runs_dir))
    if not rows:
        print(f"no runs under {args.runs_dir}")
        return 0
    print(f"{'run id':<40} {'status':<9} {'done':>9} {'failed':>6}  updated")
    for r in rows:
        print(f"{r['run_id']:<40} {r['status']:<9} {r['done']:>4}/{r['total']:<4} {r['failed']:>6}  {r['updated']}")
    return 0

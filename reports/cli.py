"""`future-l1 report RUN_DIR... --out DIR` and `future-l1 report compare RUN_A [RUN_B] [--models A B]`.

One parser serves both forms: argparse cannot hold a sub-command beside a variable list of paths, so a first
positional word `compare` selects the comparison (a directory literally named "compare" is passed as ./compare).

Every problem with the inputs (a missing, unreadable, non-UTF-8, deeply nested or malformed file, an `--out` that is
a file or a folder of other files, an unknown model) is one line on stderr naming it, and exit status 2; Ctrl-C
leaves no partial report folder and exits 130 without a traceback. Anything unexpected (a bug) is one `error:` line
and exit 1 (`future_l1.harness.cli`; `--traceback` shows it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from future_l1.model.cli_args import count
from future_l1.model.outputs import output_dir

FORMAT_CHOICES = ("md", "html", "csv", "tex", "plots")
MAX_N_BOOT = 10_000

EPILOG = """examples:
  future-l1 report runs/2026-06-20_demo --out reports_out           # tables (md, html, csv, tex) and plots
  future-l1 report runs/a runs/b lmms_out/ --format md --format csv # several runs, plain lmms-eval output too
  future-l1 report runs/a --format tex --models tiny-a --published Video-CoE,NEP   # a table for a paper
  future-l1 report compare runs/a runs/b                            # paired B - A, bootstrap CI, McNemar p
  future-l1 report compare runs/a --models tiny-a tiny-b            # two models of one run
"""


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="leaderboards and plots from run results; `report compare A B` for a paired comparison",
        description="Render leaderboards (Markdown, HTML, CSV, LaTeX) and plots from Future-L1 run directories or "
        "lmms-eval output folders, each row with its provenance (data, judge, subset), and the paper's published "
        "numbers apart. `future-l1 report compare RUN_A RUN_B` compares two runs on their shared samples.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories, lmms-eval output folders or files")
    p.add_argument(
        "--out",
        type=Path,
        help="output folder, replaced as a whole (report: default ./report; compare: optional); a file or a folder "
        "of other files is refused",
    )
    p.add_argument(
        "--format",
        action="append",
        choices=FORMAT_CHOICES,
        help="repeatable; default: all of " + ", ".join(FORMAT_CHOICES),
    )
    p.add_argument(
        "--models",
        nargs="+",
        metavar="LABEL",
        help="only these models (suite labels or lmms-eval model names; commas or spaces); compare: the two models "
        "A and B",
    )
    p.add_argument(
        "--published",
        type=_names,
        metavar="NAMES",
        help="published rows to show, by name prefix, comma-separated (e.g. Video-CoE,NEP); default: all in "
        "Markdown, HTML and CSV, none in LaTeX",
    )
    p.add_argument("--no-published", action="store_true", help="leave out the paper's published rows")
    p.add_argument(
        "--trainer-state",
        type=Path,
        action="append",
        default=[],
        help="training curves to plot: an SFT or RL output folder, sft_summary.json, rl_history.json or "
        "trainer_state.json (repeatable)",
    )
    p.add_argument("--seed", type=count(0), default=0, help="bootstrap seed, 0 or more (default 0)")
    p.add_argument(
        "--n-boot", type=count(1), default=2000, help=f"bootstrap resamples, 1 to {MAX_N_BOOT} (default 2000)"
    )
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from future_l1.reports.inputs import ReportInputError

    try:
        if args.n_boot > MAX_N_BOOT:  # the bootstrap holds n_boot × n indices in memory
            raise ReportInputError(f"--n-boot: {args.n_boot} must be at most {MAX_N_BOOT}")
        if args.runs[0] == "compare":
            return _compare(args)
        return _report(args)
    except (ReportInputError, OSError) as exc:
        if os.environ.get("FUTURE_L1_TRACEBACK"):  # --traceback
            raise
        if isinstance(exc, ReportInputError):
            print(f"error: {_one_line(str(exc))}", file=sys.stderr)
            return 2
        # writing the report: disk full, permissions
        print(f"error: report: cannot write {exc.filename or 'the report'}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: report interrupted; no report folder was written or changed", file=sys.stderr)
        return 130


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _models(args: argparse.Namespace) -> list[str] | None:
    return [m for text in args.models for m in _names(text)] if args.models else None


def _report(args: argparse.Namespace) -> int:
    from future_l1.reports.inputs import ReportInputError
    from future_l1.reports.render import FORMATS, write_report

    if args.no_published and args.published:
        raise ReportInputError("--published and --no-published contradict each other; give one")
    out = args.out or output_dir("report")
    report = write_report(
        [Path(p) for p in args.runs],
        out,
        formats=args.format or FORMATS,
        published=not args.no_published,
        published_names=args.published,
        models=_models(args),
        trainer_states=args.trainer_state,
        seed=args.seed,
        n_boot=args.n_boot,
    )
    print(report.markdown)
    for problem in report.problems:
        print(f"warning: {_one_line(problem)}", file=sys.stderr)
    print(f"wrote {len(report.files)} files to {out}", file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from future_l1.reports.compare import compare_paths, comparison_json, comparison_markdown, warnings
    from future_l1.reports.inputs import ReportInputError
    from future_l1.reports.outdir import atomic_dir, check_target

    paths = [Path(p) for p in args.runs[1:]]
    if not paths or len(paths) > 2:
        raise ReportInputError("usage: future-l1 report compare RUN_A [RUN_B] [--models A B]")
    if args.out:
        check_target(args.out)
    results = compare_paths(paths[0], paths[1] if len(paths) == 2 else None, models=_models(args), seed=args.seed,
                            n_boot=args.n_boot)  # fmt: skip
    text = comparison_markdown(results)
    print(text)
    for line in warnings(results):
        print(line, file=sys.stderr)
    if args.out:
        with atomic_dir(args.out) as tmp:
            (tmp / "compare.md").write_text(text, encoding="utf-8")
            (tmp / "compare.json").write_text(comparison_json(results), encoding="utf-8")
    return 0

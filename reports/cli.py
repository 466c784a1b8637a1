"""`future-l1 report RUN_DIR... --out DIR` and `future-l1 report compare RUN_A RUN_B`.

One parser serves both forms: argparse cannot hold a sub-command beside a variable list of paths, so a first
positional word `compare` selects the comparison (a directory literally named "compare" is passed as ./compare).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

FORMAT_CHOICES = ("md", "html", "csv", "tex", "plots")

EPILOG = """examples:
  future-l1 report runs/2026-06-20_demo --out reports_out           # tables (md, html, csv, tex) and plots
  future-l1 report runs/a runs/b lmms_out/ --format md --format csv # several runs, plain lmms-eval output too
  future-l1 report compare runs/a runs/b                            # paired B - A, bootstrap CI, McNemar p
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="leaderboards and plots from run results; `report compare A B` for a paired comparison",
        description="Render leaderboards (Markdown, HTML, CSV, LaTeX) and plots from Future-L1 run directories or "
        "lmms-eval output folders, with the paper's published numbers beside the measured ones. "
        "`future-l1 report compare RUN_A RUN_B` compares two runs on their shared samples.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories, lmms-eval output folders or files")
    p.add_argument("--out", type=Path, help="output directory (report: default ./report; compare: optional)")
    p.add_argument(
        "--format",
        action="append",
        choices=FORMAT_CHOICES,
        help="repeatable; default: all of " + ", ".join(FORMAT_CHOICES),
    )
    p.add_argument("--no-published", action="store_true", help="leave out the paper's published rows")
    p.add_argument("--trainer-state", type=Path, action="append", default=[], help="trainer_state.json to plot")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from future_l1.reports.readers import ReportInputError

    try:
        if args.runs[0] == "compare":
            return _compare(args)
        return _report(args)
    except ReportInputError as exc:
        print(f"future-l1 report: {exc}", file=sys.stderr)
        return 2


def _report(args: argparse.Namespace) -> int:
    from future_l1.reports.render import FORMATS, write_report

    report = write_report(
        [Path(p) for p in args.runs],
        args.out or Path("report"),
        formats=args.format or FORMATS,
        published=not args.no_published,
        trainer_states=args.trainer_state,
        seed=args.seed,
        n_boot=args.n_boot,
    )
    print(report.markdown)
    print(f"wrote {len(report.files)} files to {args.out or Path('report')}", file=sys.stderr)
    return 0


def _compare(args: argparse.Namespace) -> int:
    from future_l1.reports.compare import compare_paths, comparison_json, comparison_markdown

    if len(args.runs) != 3:
        print("usage: future-l1 report compare RUN_A RUN_B", file=sys.stderr)
        return 2
    results = compare_paths(Path(args.runs[1]), Path(args.runs[2]), seed=args.seed, n_boot=args.n_boot)
    text = comparison_markdown(results)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "compare.md").write_text(text, encoding="utf-8")
        (args.out / "compare.json").write_text(comparison_json(results), encoding="utf-8")
    return 0

"""`future-l1 tasks path`, `future-l1 data check|demo`, `future-l1 judge serve`."""

from __future__ import annotations

import argparse

from future_l1.model.cli_args import count, existing_dir, number


def register(subparsers) -> None:
    tasks = subparsers.add_parser("tasks", help="lmms-eval task plugins (FutureBench, TwiFF-Bench)")
    tasks_sub = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", required=True)
    path = tasks_sub.add_parser("path", help="print the folder to pass to lmms-eval --include_path")
    path.set_defaults(func=_tasks_path)
    names = tasks_sub.add_parser("list", help="print the task names")
    names.set_defaults(func=_tasks_list)

    data = subparsers.add_parser("data", help="benchmark data: validate a download, locate the demo sets")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = data_sub.add_parser("check", help="validate a FutureBench / TwiFF-Bench folder; lists every problem")
    check.add_argument("benchmark", choices=("futurebench", "twiffbench"))
    check.add_argument("--path", type=existing_dir,
                       help="data folder (default: the configured one, FUTURE_L1_*_DIR, else the demo set)")  # fmt: skip
    check.add_argument(
        "--max-question-tokens", type=count(1), default=None, help="flag longer questions (default 2048)"
    )
    check.add_argument("--strict", action="store_true",
                       help="also fail on warnings (records a run scores as the authors do, but that look wrong)")  # fmt: skip
    check.set_defaults(func=_data_check)
    demo = data_sub.add_parser("demo", help="build (once) and print the demo set folders")
    demo.set_defaults(func=_data_demo)

    judge = subparsers.add_parser("judge", help="the offline rubric judge")
    judge_sub = judge.add_subparsers(dest="judge_command", metavar="ACTION", required=True)
    serve = judge_sub.add_parser(
        "serve", help="serve the deterministic rubric judge on 127.0.0.1 (scores NOT comparable with LLM judges)"
    )
    serve.add_argument("--idle-timeout", type=number(0, low_open=True), default=None,
                       help="stop after this many idle seconds")  # fmt: skip
    serve.set_defaults(func=_judge_serve)


def _tasks_path(args: argparse.Namespace) -> int:
    from future_l1.tasks import tasks_path

    print(tasks_path())
    return 0


def _tasks_list(args: argparse.Namespace) -> int:
    from future_l1.tasks import TASK_NAMES

    print("\n".join(TASK_NAMES))
    return 0


def _data_check(args: argparse.Namespace) -> int:
    from pathlib import Path

    from future_l1.tasks import data_check, settings

    if args.path:
        folder = Path(args.path)
    else:
        folder = settings.futurebench_dir() if args.benchmark == "futurebench" else settings.twiffbench_dir()
    limit = getattr(args, "max_question_tokens", None) or data_check.MAX_QUESTION_TOKENS
    report = data_check.check(args.benchmark, folder, limit)
    print(report.render())
    return 0 if report.ok and not (args.strict and report.warnings) else 1


def _data_demo(args: argparse.Namespace) -> int:
    from future_l1.tasks.demo_benchmarks import futurebench_demo_dir, twiffbench_demo_dir

    print(f"futurebench: {futurebench_demo_dir()}")
    print(f"twiffbench: {twiffbench_demo_dir()}")
    return 0


def _judge_serve(args: argparse.Namespace) -> int:
    import threading

    from future_l1.tasks.judge_server import RUBRIC_MODEL, rubric_judge

    server = rubric_judge(idle_timeout_s=args.idle_timeout).start()
    print(f"rubric judge (model {RUBRIC_MODEL}; NOT comparable with LLM-judge scores) at {server.base_url}")
    print(f"use: FUTURE_L1_JUDGE_BASE_URL={server.base_url} FUTURE_L1_JUDGE_MODEL={RUBRIC_MODEL}", flush=True)
    try:
        while server.running:
            threading.Event().wait(0.5)
    except KeyboardInterrupt:
        server.stop()
    return 0

"""`future-l1 train …`: select (visual-gain curation), sft (latent-aligned SFT), rl (LA-DAPO), validate (check a data
file)."""

from __future__ import annotations

import argparse
import functools
import json
from collections.abc import Callable
from pathlib import Path

from future_l1.model.cli_args import count, existing_file, number
from future_l1.model.outputs import output_dir
from future_l1.model.untrusted import InputError, writable_file_problem

RL_PATHS = {"model_name_or_path": "checkpoint", "train_file": "file or demo"}


def register(subparsers, *, render_curves: Callable[[Path], None] | None = None) -> None:
    """`render_curves(run_dir)`: draws an RL run's curves at its end. The harness passes the reports layer's renderer
    (training does not import reports, the layer above it); without one, `train rl` renders none."""
    train = subparsers.add_parser("train", help="Build Future-L1 training data and train checkpoints.")
    sub = train.add_subparsers(dest="train_command", metavar="TRAIN_COMMAND")

    sel = sub.add_parser("select", help="Visual-gain selection: keep candidates whose answers improve with frames.")
    sel.add_argument("candidates", nargs="?", type=existing_file,
                     help="Format A/B JSON(L) of candidates (default: the demo candidates).")  # fmt: skip
    sel.add_argument("--out", required=True, help="Selected records (JSON); stats and progress files go beside it.")
    sel.add_argument("--top-k", type=count(1), default=None, help="Keep the K highest-gain candidates (paper: 50,000).")
    sel.add_argument("--probe", default="rule", help="'rule' (offline demo probe) or an lmms-eval model name.")
    sel.add_argument("--probe-args", default="", help="lmms-eval model_args for --probe, e.g. pretrained=PATH.")
    sel.add_argument("--k", type=count(1), default=8, help="Rollouts per condition (paper 8).")
    sel.add_argument("--temperature", type=number(0), default=1.0)
    sel.add_argument("--seed", type=count(0), default=0)
    sel.add_argument("--delay", type=number(0), default=0.0, help=argparse.SUPPRESS)  # slows the rule probe (tests)
    sel.set_defaults(func=_select)

    sft = sub.add_parser("sft", help="Latent-aligned SFT (L_CE + λ·L_latent) producing a Future-L1 checkpoint.")
    sft.add_argument("--config", type=existing_file, help="YAML of LatentSFTConfig / TrainingArguments keys.")
    sft.add_argument("--output-dir", help="Overrides output_dir.")
    sft.add_argument("--max-steps", type=count(1, also=(-1,)), help="Overrides max_steps (-1: by epochs).")
    sft.add_argument("--text-only", action="store_true", default=None, help="Text-only SFT baseline (λ=0, no frames).")
    sft.add_argument("--demo", action="store_true", help="Tiny model on the demo training set (fast, CPU).")
    sft.set_defaults(func=_sft)

    rl = sub.add_parser("rl", help="LA-DAPO RL with latent rollouts (TRL GRPOTrainer) from an SFT checkpoint.")
    rl.add_argument("--config", type=existing_file,
                    help="YAML of LADAPOConfig / GRPOConfig keys (training/configs/rl_paper.yaml).")  # fmt: skip
    rl.add_argument("--output-dir", help="Overrides output_dir.")
    rl.add_argument("--max-steps", type=count(1, also=(-1,)), help="Overrides max_steps (-1: by epochs).")
    rl.add_argument(
        "--resume", action="store_true", help="Resume from the newest complete checkpoint-N in the output folder."
    )
    rl.add_argument("--demo", action="store_true", help="Demo SFT model on the demo RL set (minutes, CPU).")
    rl.add_argument("--no-curves", action="store_true", help="Do not render rl_curves.png at the end.")
    rl.set_defaults(func=functools.partial(_rl, render_curves=render_curves))

    val = sub.add_parser("validate", help="Check a Future-L1-50K/TwiFF file: every bad record with its reason.")
    val.add_argument("data", type=existing_file, help="JSON list or JSON-lines (.jsonl) file of records.")
    val.add_argument("--decode", action="store_true", help="Also decode every video/image once.")
    val.set_defaults(func=_validate)
    train.set_defaults(func=lambda args: (train.print_help(), 2)[1])


def _select(args) -> int:
    from future_l1.training.selection import rule_probe_for, select

    problem = writable_file_problem(args.out, "--out")
    if problem:
        raise InputError(problem)
    if args.candidates is None:
        from future_l1.training.demo_data import demo_candidates_file

        args.candidates = demo_candidates_file()
    if args.probe == "rule":
        probe = rule_probe_for(args.candidates, delay_s=args.delay)
    else:
        from future_l1.training.lmms_probe import LmmsEvalProbe

        probe = LmmsEvalProbe(args.probe, args.probe_args)
    stats = select(args.candidates, args.out, probe, top_k=args.top_k, k=args.k,
                   temperature=args.temperature, seed=args.seed)  # fmt: skip
    print(json.dumps({k: v for k, v in stats.items() if k != "items"}, indent=1))
    return 0


def _sft(args) -> int:
    from future_l1.training.config import SFT_PATHS, load_config
    from future_l1.training.sft import demo_config, run_sft

    overrides = {"max_steps": args.max_steps, "text_only": args.text_only}
    if args.demo:
        given = {k: v for k, v in overrides.items() if v is not None}
        cfg = demo_config(args.output_dir or str(output_dir("training", "future-l1-demo-sft")), **given)
    elif not args.config:
        raise InputError(
            "train sft: pass --config cfg.yaml (training/configs/sft_paper.yaml is the paper's), or --demo"
        )
    else:
        cfg = load_config(args.config, paths=SFT_PATHS, output_dir=args.output_dir, **overrides)
    out = run_sft(cfg)
    print(f"checkpoint written to {out}")
    return 0


def _rl(args, render_curves: Callable[[Path], None] | None = None) -> int:
    from future_l1.training.config import ConfigError, check_values
    from future_l1.training.rl.config import LADAPOConfig, load_rl_config
    from future_l1.training.rl.run import demo_config, run_rl

    overrides = {"max_steps": args.max_steps}
    if args.demo:  # the demo recipe; a --config YAML given too overrides its keys (checked before the demo model)
        from future_l1.model.untrusted import read_yaml_mapping

        extra = read_yaml_mapping(args.config) if args.config else {}
        extra.update({k: v for k, v in overrides.items() if v is not None})
        _, problems = check_values(LADAPOConfig, extra, dict.fromkeys(extra, f"config {args.config}"))
        if problems:
            raise ConfigError(problems)
        cfg = demo_config(args.output_dir or str(output_dir("training", "future-l1-demo-rl")), **extra)
    elif not args.config:
        raise InputError("train rl: pass --config cfg.yaml (training/configs/rl_paper.yaml is the paper's), or --demo")
    else:
        cfg = load_rl_config(args.config, paths=RL_PATHS, output_dir=args.output_dir, **overrides)
    out = run_rl(cfg, resume=args.resume)
    print(f"checkpoint written to {out}")
    if render_curves is not None and not args.no_curves and cfg.process_index == 0:
        render_curves(Path(out))
    return 0


def _validate(args) -> int:
    """Each bad record once (the loader's own log line is off here), then the counts; exit 1 when any is bad."""
    from future_l1.training.data import check_frames, load_records

    loaded = load_records(args.data, allow_bad=True, log_bad=False)
    if args.decode:
        loaded = check_frames(loaded)
    for bad in loaded.bad:
        print(bad)
    print(f"{len(loaded.records)} usable, {len(loaded.bad)} bad")
    return 1 if loaded.bad else 0

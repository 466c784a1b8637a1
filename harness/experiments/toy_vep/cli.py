"""`future-l1 experiment latent-vs-text`: its command line (registered by `future_l1.harness.cli`).

Import-light, like every command module: the experiment's modules load when the command runs.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from future_l1.model.cli_args import count, number
from future_l1.model.outputs import output_dir

if TYPE_CHECKING:
    from future_l1.harness.experiments.toy_vep.settings import Settings

TRAINED_ARMS = ("latent", "text", "pause", "cot", "aux")  # settings.TRAINED (this module stays import-light; tested)
DESCRIPTION = (
    "`future-l1 experiment latent-vs-text`: does latent SFT beat text-only SFT? A minutes-long offline experiment."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    exp = subparsers.add_parser("experiment", help="research experiments that run the whole pipeline offline")
    sub = exp.add_subparsers(dest="experiment", metavar="EXPERIMENT")
    p = sub.add_parser(
        "latent-vs-text",
        help="toy VEP task: latent SFT vs text-only SFT, its controls and the answer prior, with intervals",
        description=DESCRIPTION,
    )
    p.add_argument("--quick", action="store_true", help="CI mode: one seed, small sets (a few minutes on 2 cores)")
    p.add_argument("--out", type=Path, help="output folder (default: <--output-path>/experiments/latent-vs-text)")
    p.add_argument("--split", choices=("val", "test"), default="test", help="evaluate on val (tuning) or test")
    # typed values (future_l1.model.cli_args): `--steps 0` or a NaN λ is one error line before any work starts
    p.add_argument("--seeds", type=count(0), nargs="+", help="SFT seeds (override the mode's)")
    p.add_argument("--steps", type=count(1), help="SFT steps (override)")
    p.add_argument("--n-train", type=count(1), help="training items (override)")
    p.add_argument("--n-eval", type=count(1), help="items of the evaluated split (override)")
    p.add_argument("--latent-lambda", type=number(0), help="λ of latent SFT (override)")
    p.add_argument("--max-latent-token", type=count(1), help="L_max, latent tokens per future frame (override)")
    p.add_argument("--learning-rate", type=number(0, low_open=True), help="SFT learning rate (override)")
    p.add_argument("--batch-size", type=count(1), help="SFT batch size (override)")
    p.add_argument("--workers", type=count(1), help="SFT processes at once (default 2; one CPU thread each)")
    p.add_argument("--arms", nargs="+", choices=TRAINED_ARMS,
                   help="trained arms to run (default all: latent, text and the controls pause, cot, aux); latent is "
                        "always needed, and (c) and the uninformative-latent arms decode its checkpoint")  # fmt: skip
    p.add_argument("--random-vision", action="store_true",
                   help="keep the tiny model's random vision encoder (the earlier, null setting) instead of the "
                        "pretrained toy encoder")  # fmt: skip
    p.add_argument("--question-images", action="store_true",
                   help="SFT shows the question snapshots as images (Future-L1-50K layout) instead of the "
                        "evaluation's video")  # fmt: skip
    p.add_argument("--full-vocabulary", action="store_true",
                   help="keep the tiny model's full 151,936-row Qwen vocabulary (an SFT step 6.4 times slower: "
                        "make bench) instead of the toy vocabulary")  # fmt: skip
    p.add_argument("--reference-sft", action="store_true",
                   help="SFT runs the vision tower on every batch and the whole prompt for every row, the path of "
                        "the runs recorded before 2026-12-06 (the default computes the same maths with less work "
                        "and other float rounding, so its checkpoints and numbers differ slightly)")  # fmt: skip
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--tune", action="store_true",
                      help="instead of the experiment: every trained arm at each (steps, learning rate) of the tuning "
                           "grid on val, 2 seeds; writes tuning.md / tuning.json and the chosen settings")  # fmt: skip
    mode.add_argument("--size-sweep", action="store_true",
                      help="instead of the experiment: every trained arm at 250, 1,000 and 4,000 training items, "
                           "with its tuned settings; writes size-sweep.md / size-sweep.json")  # fmt: skip
    p.set_defaults(func=_command)
    r = sub.add_parser(
        "latent-rl",
        help="toy VEP task: LA-DAPO from the latent-SFT checkpoints, with and without the latent rewards, vs SFT",
        description="`future-l1 experiment latent-rl`: does LA-DAPO improve on latent SFT (issue 27)?",
    )
    r.add_argument("--quick", action="store_true", help="CI mode: one seed, a few RL steps, small sets")
    r.add_argument("--out", type=Path, default=Path("experiments/latent-rl"), help="output folder")
    r.add_argument("--split", choices=("val", "test"), default="test", help="evaluate on val (tuning) or test")
    r.add_argument("--seeds", type=count(0), nargs="+", help="seeds (override the mode's)")
    r.add_argument("--steps", type=count(1), help="RL optimiser steps (override)")
    r.add_argument("--learning-rate", type=number(0, low_open=True), help="RL learning rate (override)")
    r.add_argument("--temperature", type=number(0, low_open=True), help="rollout temperature (override)")
    r.add_argument("--generations", type=count(2), help="rollouts per prompt, the group size (override)")
    r.add_argument("--sampling-tries", type=count(1), help="dynamic-sampling tries per batch (override)")
    r.add_argument("--n-eval", type=count(1), help="items of the evaluated split (override)")
    r.set_defaults(func=_rl_command)
    exp.set_defaults(func=lambda args: (exp.print_help(), 2)[1])


def settings_from_args(args: argparse.Namespace) -> Settings:
    from future_l1.harness.experiments.toy_vep.settings import MODES

    s = MODES["quick" if args.quick else "full"]
    overrides = {
        "seeds": tuple(args.seeds) if args.seeds else None, "steps": args.steps, "n_train": args.n_train,
        "latent_lambda": args.latent_lambda, "max_latent_token": args.max_latent_token,
        "learning_rate": args.learning_rate, "batch_size": args.batch_size, "sft_workers": args.workers,
        "arms": tuple(dict.fromkeys(args.arms)) if args.arms else None,
    }  # fmt: skip
    if args.steps or args.learning_rate:  # an explicit setting wins over every arm's tuned one
        overrides["tuned"] = ()
    if args.random_vision:
        overrides["toy_vision"] = False
    if args.question_images:
        overrides["question_video"] = False
    if args.full_vocabulary:
        overrides["toy_vocabulary"] = False
    if args.reference_sft:
        overrides["fast_sft"] = False
    if args.n_eval:
        overrides["n_val" if args.split == "val" else "n_test"] = args.n_eval
    return replace(s, **{k: v for k, v in overrides.items() if v is not None})


def _command(args: argparse.Namespace) -> int:
    from future_l1.harness.experiments.toy_vep.pipeline import run_experiment
    from future_l1.harness.experiments.toy_vep.report import markdown

    out = args.out or output_dir("experiments", "latent-vs-text")
    if args.tune or args.size_sweep:
        return _grid_command(args, out)
    res = run_experiment(out, settings_from_args(args), split=args.split)
    print(markdown(res))
    print(f"report: {res.report_dir}")
    return 0


def _grid_command(args: argparse.Namespace, out: Path) -> int:
    from future_l1.harness.experiments.toy_vep import tuning

    s = settings_from_args(args)
    if args.tune:
        seeds = tuple(args.seeds) if args.seeds else tuning.TUNE_SEEDS
        points = tuning.run_grid(out, tuning.tuning_configs(s, seeds=seeds), "val", "tuning")
        print("\n".join(tuning.table(points)))
        print("chosen (arm: steps, learning rate):", tuning.choose(points))
    else:
        points = tuning.run_grid(out, tuning.size_configs(s), args.split, "size-sweep")
        print("\n".join(tuning.table(points)))
    print(f"written: {out}")
    return 0


def _rl_command(args: argparse.Namespace) -> int:
    from future_l1.harness.experiments.toy_vep.rl import RL_MODES, markdown, run_latent_rl

    s = RL_MODES["quick" if args.quick else "full"]
    sft = s.sft
    if args.seeds:
        sft = replace(sft, seeds=tuple(args.seeds))
    if args.n_eval:
        sft = replace(sft, **{"n_val" if args.split == "val" else "n_test": args.n_eval})
    overrides = {"steps": args.steps, "learning_rate": args.learning_rate, "temperature": args.temperature,
                 "generations": args.generations, "max_sampling_tries": args.sampling_tries}  # fmt: skip
    s = replace(s, sft=sft, **{k: v for k, v in overrides.items() if v is not None})
    res = run_latent_rl(args.out, s, split=args.split)
    print(markdown(res))
    print(f"report: {res.report_dir}")
    return 0

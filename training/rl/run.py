"""Build and run LA-DAPO (`future-l1 train rl`), save a checkpoint in the published layout, and the demo recipe.

The output folder is a Future-L1 checkpoint (architectures ["FutureL1_Qwen3VL"], the SFT checkpoint's latent fields
kept) that `load_future_l1` and `future-l1 run` take as is; Trainer checkpoints (`checkpoint-N/`) beside it make a
killed run resumable (`resume_from_checkpoint`, or `--resume`). `rl_history.json` holds the logged curves that
`future_l1.reports.training_curves` renders.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import torch

from future_l1.training.rl.config import LADAPOConfig, load_rl_config

log = logging.getLogger(__name__)

HF_CLASS = "Qwen3VLForConditionalGeneration"


def build_trainer(config: LADAPOConfig):
    from datasets import Dataset

    from future_l1.model.checkpoint import load_future_l1
    from future_l1.training.rl.data import load_rl_rows
    from future_l1.training.rl.trainer import LADAPOTrainer

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    if not config.model_name_or_path or not config.train_file:
        raise ValueError("set model_name_or_path and train_file (in the YAML or on the command line)")
    dtype = torch.bfloat16 if config.bf16 else torch.float32
    fl1 = load_future_l1(config.model_name_or_path, dtype=dtype)
    if fl1.latent_ids is None:
        raise ValueError(
            f"{config.model_name_or_path}: no latent tokens in the config; LA-DAPO needs an SFT checkpoint"
        )
    model = fl1.backbone.train()
    model.config.architectures = [HF_CLASS]  # TRL rebuilds the reference model from the config's class name
    model.config.use_cache = False
    model.model.visual.requires_grad_(False)  # as in SFT; the authors' RL trained the tower too (one line away)
    head = fl1.head.requires_grad_(False) if fl1.head is not None else None  # decoded with, not trained (for now)
    rows = load_rl_rows(config.train_file, limit=config.max_records)
    judge = None
    if config.judge == "role":
        from future_l1.training.rl.judge import role_judge

        judge = role_judge(config.judge_min_score)
    trainer = LADAPOTrainer(
        model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=fl1.processor,
        latent_ids=fl1.latent_ids, budget=fl1.budget, head=head, judge=judge,
    )  # fmt: skip
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from future_l1.training.sft import StepProgress

    trainer.remove_callback(PrinterCallback)  # raw log dictionaries, one per logging step (all kept in the history)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StepProgress("LA-DAPO", ("loss", "rewards/total/mean", "kl", "sampling/kept_ratio")))
    return trainer, rows


def run_rl(config: LADAPOConfig, resume: bool | str | None = None) -> Path:
    """Train and write the final checkpoint into `config.output_dir`; returns that folder."""
    trainer, rows = build_trainer(config)
    start = time.time()
    if resume is True:
        last = _last_checkpoint(Path(config.output_dir))
        resume = str(last) if last else None
    result = trainer.train(resume_from_checkpoint=resume or None)
    out = Path(config.output_dir)
    trainer.save_model(str(out))  # LADAPOTrainer._save: the one checkpoint writer, head included
    summary = {"train_file": str(config.train_file), "rows": len(rows), "global_steps": result.global_step,
               "train_seconds": round(time.time() - start, 2), "history": trainer.history}  # fmt: skip
    if trainer.args.should_save:
        (out / "rl_history.json").write_text(json.dumps(summary, indent=2, default=float))
    return out


def _last_checkpoint(folder: Path) -> Path | None:
    """The newest complete `checkpoint-N`. Trainer writes `trainer_state.json` last, so a run killed while saving
    leaves a newer folder without it (or with it cut short); that folder is skipped, with a warning, not resumed."""
    numbered = [p for p in folder.glob("checkpoint-*") if p.name[len("checkpoint-") :].isdigit()]
    for ckpt in sorted(numbered, key=lambda p: int(p.name[len("checkpoint-") :]), reverse=True):
        try:
            json.loads((ckpt / "trainer_state.json").read_text())
            return ckpt
        except (OSError, ValueError):
            log.warning("skipping %s: incomplete (the run was stopped while writing it)", ckpt)
    return None


# `train rl --demo`: the cached demo SFT model on the demo RL set, a CPU recipe (not a research setting). It shows
# the machinery at work (latent rollouts, rewards, dynamic sampling, mini-batches and the clip, the latent
# log-prob), not learning: the tiny model cannot learn to predict from frames, and the set has no shortcut. Where it
# departs from the paper (Table 9) and why:
# - data `demo`: the demo's 48 multiple-choice questions, gold letters balanced (12 each);
# - lr 1e-3 (paper 1e-6 for an 8B model): at lower rates the tiny model's ratios barely move within 24 steps;
# - 2 prompts x 8 rollouts per rollout batch, 4 mini-batches (12 rollout batches, 48 optimiser steps),
#   completions of at most 48 tokens, 64x64 frames, temperature 1.0 / top-p 1.0;
# - two dynamic-sampling tries (paper 20), so that a step costs at most two rollouts; groups still single-outcome
#   after them only pad the batch (out of the loss, counted in `sampling/groups_padded`).
DEMO_RL = {
    "train_file": "demo", "max_steps": 48, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1,
    "mini_batches": 4, "num_generations": 8, "max_completion_length": 48, "learning_rate": 1e-3, "beta": 0.01,
    "seed": 0, "logging_steps": 1, "save_steps": 12, "save_total_limit": 1, "max_sampling_tries": 2,
    "rollout_batch_size": 16, "min_pixels": 64 * 64, "max_pixels": 64 * 64, "dataloader_num_workers": 0,
    "disable_tqdm": False, "temperature": 1.0, "top_p": 1.0,
}  # fmt: skip


def demo_config(output_dir: str | Path, **overrides) -> LADAPOConfig:
    from future_l1.training import demo_checkpoint

    values = {"model_name_or_path": str(demo_checkpoint()), "output_dir": str(output_dir),
              "use_cpu": not torch.cuda.is_available(), **DEMO_RL, **overrides}  # fmt: skip
    return load_rl_config(None, **values)

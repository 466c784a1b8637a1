"""Future-L1 training: SFT data (Future-L1-50K / TwiFF), visual-gain selection, latent SFT, and the demo checkpoint."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from future_l1.model.cache import cached_dir

DEMO_CHECKPOINT = "demo-future-l1-sft-v3"  # v2: format-learning recipe, eval pixels, fixed budget; v3: data
# A fast CPU recipe for the ~10M-parameter tiny model (not a research setting): enough steps at a high learning rate
# for it to learn the Future-L1 output format; about a minute on 2 CPU cores.
DEMO_RECIPE = {
    "max_steps": 200, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1, "learning_rate": 1e-2,
    "warmup_steps": 0.05, "lr_scheduler_type": "cosine", "seed": 0, "weight_decay": 0.0, "logging_steps": 10,
    "dataloader_num_workers": 0,
}  # fmt: skip


def _base_at_eval_budget(out: Path) -> Path:
    """The untrained tiny checkpoint, with an image processor that sizes question frames like the evaluation does.

    The evaluation resizes a 64x64 frame to the lmms model's minimum of 200,704 pixels (196 merged tokens per image,
    thousands per video); at the tiny processor's own budget a training frame is 4 tokens. A 2-layer model trained
    on such short prompts does not carry its output format over to evaluation prompts 10x longer, so the demo
    training shows question frames at the evaluation budget. Latent (reasoning) frames keep L_max = 4 tokens.
    """
    from future_l1.model.inputs import DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS
    from future_l1.model.tiny import tiny_checkpoint_dir

    shutil.copytree(tiny_checkpoint_dir(), out, ignore=shutil.ignore_patterns(".complete"), dirs_exist_ok=True)
    path = out / "processor_config.json"
    config = json.loads(path.read_text())
    config["image_processor"]["size"] = {"shortest_edge": DEFAULT_MIN_PIXELS, "longest_edge": DEFAULT_MAX_PIXELS}
    path.write_text(json.dumps(config, indent=2) + "\n")
    return out


def _build_demo_checkpoint(out: Path) -> None:
    from future_l1.training.sft import demo_config, run_sft

    with tempfile.TemporaryDirectory(prefix="future-l1-demo-base-") as base:
        run_sft(demo_config(out, model_name_or_path=str(_base_at_eval_budget(Path(base))), **DEMO_RECIPE))
    # Decode spans with the fixed budget of L_max = 4 steps, the span length the demo training shows. In SFT the
    # position after <|latent_start|> is never supervised (its label is a masked <|latent|>, as in the authors' `src/dataset/` collators),
    # so in loose mode the tiny model ends every span at once (empty spans); the loose mode stays one model arg away.
    cfg_path = out / "config.json"
    config = json.loads(cfg_path.read_text())
    config["fixed_latent_budget"] = True
    cfg_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def demo_checkpoint() -> Path:
    """A tiny Future-L1 trained by our SFT pipeline on the demo training set (about a minute on CPU), cached.

    It emits the Future-L1 format, `<reason>…</reason>` + a latent span + `<answer>…</answer>`; at this size it does
    not learn to predict (FutureBench accuracy stays near chance), so the demo shows the product's format and
    plumbing, not its accuracy.
    """
    return cached_dir(DEMO_CHECKPOINT, _build_demo_checkpoint)


__all__ = ["demo_checkpoint"]

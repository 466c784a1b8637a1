"""`LatentSFTConfig`: every knob of the latent SFT, with the paper's values as defaults (paper App. B Table 8).

It subclasses `transformers.TrainingArguments` (TRL's convention), so all of Trainer's options (DeepSpeed, FSDP,
logging, saving) stay available from the same YAML. Where the paper and the released scripts disagree, the paper wins
and the scripts' value is one option away:

| knob | paper (default) | released scripts |
|---|---|---|
| latent_lambda | 0.1 | 0.2 |
| max_latent_token (L_max) | 4 | 32 |
| adam_beta2 | 0.95 | 0.999 |
| latent_mse_reduction | "sum" (Eq. 3: squared norm per vector) | "mean" (also over the hidden size) |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import TrainingArguments

from future_l1.model.protocol import FUTURE_L1_SYSTEM_PROMPT
from future_l1.training.latent_loss import LATENT_LAMBDA

PAPER = "arXiv 2606.05769"


@dataclass
class LatentSFTConfig(TrainingArguments):
    model_name_or_path: str = field(
        default="", metadata={"help": f"Base Qwen3-VL checkpoint (paper: Qwen3-VL-8B-Instruct, {PAPER} §4)."}
    )
    train_file: str = field(
        default="",
        metadata={
            "help": "Future-L1-50K / TwiFF JSON or JSONL (Format A or B, as the authors' `src/dataset/*.py` read them)."
        },
    )
    allow_bad_records: bool = field(
        default=False, metadata={"help": "Skip unusable records (each logged with its reason) instead of failing."}
    )
    max_records: int | None = field(default=None, metadata={"help": "Use only the first N records (smoke runs)."})
    max_latent_token: int = field(
        default=4, metadata={"help": f"L_max, latent tokens per future frame (paper 4, Table 3; scripts 32). {PAPER}"}
    )
    latent_lambda: float = field(
        default=LATENT_LAMBDA, metadata={"help": "λ in L = L_CE + λ·L_latent (paper Eq. 1, Table 3: 0.1; scripts 0.2)."}
    )
    latent_loss: str = field(
        default="mse", metadata={"help": "'mse' (paper Eq. 3) or 'cosine' (the code's 'sim': 1 − cos)."}
    )
    latent_mse_reduction: str = field(
        default="sum",
        metadata={"help": "'sum': paper Eq. 3, squared L2 norm per latent vector averaged over vectors; "
                          "'mean': the released code, also averaged over the hidden size."},
    )  # fmt: skip
    text_only: bool = field(
        default=False,
        metadata={
            "help": "Text-only SFT baseline (paper Table 4): same data, reasoning frames dropped, λ forced to 0."
        },
    )
    question_video_fps: float | None = field(
        default=None,
        metadata={"help": "Show a record's question frames as one video clip of consecutive frames at this frame "
                          "rate, as FutureBench evaluation shows its first-part clip (deviation: the paper and "
                          "Future-L1-50K train on them as images, §3.2). None (default): images."},
    )  # fmt: skip
    system_prompt: str | None = field(
        default="future_l1",
        metadata={"help": "'future_l1' = the Future-L1 system prompt (as in the official SFT), 'none' = the chat "
                          "template's default, anything else = the prompt text itself."},
    )  # fmt: skip
    frame_cache_videos: int = field(default=256, metadata={"help": "Decoded keyframe pools kept in memory."})
    encoded_cache_records: int = field(
        default=0,
        metadata={"help": "Encoded records (token ids, pixel tensors) kept in memory across epochs, per data-loader "
                          "process; 0 = none. Encoding is deterministic, so the result is the same; multi-epoch runs "
                          "on small data (the toy experiment: 0.5 MB a record) skip re-decoding and re-processing."},
    )  # fmt: skip
    selective_lm_head: bool = field(
        default=True, metadata={"help": "Apply the LM head only at supervised positions (same loss, ~3x faster)."}
    )
    auto_gpu_settings: bool = field(
        default=True, metadata={"help": "On CUDA, turn on bf16 and (non-reentrant) gradient checkpointing."}
    )
    # TrainingArguments fields whose defaults follow the paper (Table 8)
    learning_rate: float = field(default=1e-5, metadata={"help": "Peak LR (paper 1e-5)."})
    adam_beta2: float = field(default=0.95, metadata={"help": "AdamW β2 (paper 0.95; scripts 0.999)."})
    weight_decay: float = field(default=0.1, metadata={"help": "Weight decay (paper 0.1)."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping (paper 1.0)."})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "LR schedule (paper cosine)."})
    warmup_steps: float = field(default=0.1, metadata={"help": "Warm-up; < 1 is a ratio of the run (paper 0.1)."})
    num_train_epochs: float = field(default=1.0, metadata={"help": "Epochs (paper 1)."})
    per_device_train_batch_size: int = field(default=1, metadata={"help": "Paper: 1 per GPU × 8 GPUs × accum 16."})
    gradient_accumulation_steps: int = field(default=16, metadata={"help": "Paper: 16 (global batch 128 on 8 GPUs)."})
    seed: int = field(default=42, metadata={"help": "Seed (scripts 42)."})
    logging_steps: float = field(default=1, metadata={"help": "Log every N steps."})
    save_strategy: str = field(
        default="no", metadata={"help": "Intermediate checkpoints; the final one is always saved."}
    )
    remove_unused_columns: bool = field(default=False, metadata={"help": "Must stay False (custom batch keys)."})

    def __post_init__(self):
        if self.auto_gpu_settings and torch.cuda.is_available():
            self.bf16 = True
            self.gradient_checkpointing = True
            self.gradient_checkpointing_kwargs = self.gradient_checkpointing_kwargs or {"use_reentrant": False}
        if self.text_only:
            self.latent_lambda = 0.0
        if self.latent_loss not in ("mse", "cosine"):
            raise ValueError(f"latent_loss must be 'mse' or 'cosine', not {self.latent_loss!r}")
        if self.question_video_fps is not None and not self.question_video_fps > 0:
            raise ValueError(
                f"question_video_fps must be a positive frame rate or None, not {self.question_video_fps!r}"
            )
        if self.latent_mse_reduction not in ("sum", "mean"):
            raise ValueError(f"latent_mse_reduction must be 'sum' or 'mean', not {self.latent_mse_reduction!r}")
        super().__post_init__()

    def resolved_system_prompt(self) -> str | None:
        return resolve_system_prompt(self.system_prompt)


def resolve_system_prompt(value: str | None) -> str | None:
    """`future_l1` names the paper's system prompt; empty or `none` means no system turn; anything else is literal."""
    if value in (None, "", "none"):
        return None
    if value == "future_l1":
        return FUTURE_L1_SYSTEM_PROMPT
    return value


def parse_config(cls: type, path: str | None = None, **overrides):
    """A `cls` (a TrainingArguments dataclass) from a YAML file plus keyword overrides; unknown keys are refused."""
    import yaml
    from transformers import HfArgumentParser

    values = yaml.safe_load(Path(path).read_text()) if path else {}
    values = {**(values or {}), **{k: v for k, v in overrides.items() if v is not None}}
    (cfg,) = HfArgumentParser(cls).parse_dict(values, allow_extra_keys=False)
    return cfg


def load_config(path: str | None = None, **overrides) -> LatentSFTConfig:
    """A config from a YAML file (any LatentSFTConfig / TrainingArguments key) plus keyword overrides."""
    return parse_config(LatentSFTConfig, path, **overrides)

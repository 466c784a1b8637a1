"""Load and save Future-L1 checkpoints (the layout of the authors' released checkpoints: `src/model/future_l1.py`, `src/model/projection_head.py`) on transformers' stock Qwen3-VL classes.

Public API::

    load_future_l1(path, *, latent=None, max_latent_token=None, fixed_latent_budget=None, latent_multiplier=None,
                   loose_latent_budget=None, head_prefer=None, dtype=None, device=None, attn_implementation=None,
                   local_files_only=None) -> FutureL1Model

    save_future_l1_checkpoint(model, processor, out_dir, head=None, **latent_config) -> Path

Accepted checkpoints (all `model_type: qwen3_vl`):
- the authors' published ones: `architectures` FutureL1_Qwen3VL or SwimBird_Qwen3VL, config fields latent_id /
  latent_start_id / latent_end_id / max_latent_token / use_projection_head / projection_hidden_dim /
  projection_head_type (+ training-only fields, kept untouched), optional head weights under `projection_head.*`
  or, for the experimental dual heads, `projection_head_orig.*` / `projection_head_render.*` (chosen by
  `head_prefer`, else the config's `infer_head_prefer`, else "render" as the official adapter does);
- our own SFT outputs, written by `save_future_l1_checkpoint` in exactly that layout (architectures
  ["FutureL1_Qwen3VL"]; the head is saved as a `projection_head` attribute of the model, like the official class);
- a plain Qwen3-VL-Instruct: no latent fields, so latent decoding is off (the zero-shot baseline).

Budget arguments follow the official adapter: `fixed_latent_budget=K` (an int) turns on fixed mode with
max_latent_token=K, `True` turns it on with the checkpoint's max_latent_token, False/None leaves loose mode (cap =
round(max_latent_token × latent_multiplier), multiplier 2.0, unless `loose_latent_budget` > 0).

Loading never contacts the hub for a local directory or when HF_HUB_OFFLINE is set (`local_files_only`).
A checkpoint that declares a projection head but lacks its weights is an error, never a silently random head.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from future_l1.model.decoder import DecodeOutput, GenerationSettings, LatentBudget, LatentDecoder
from future_l1.model.heads import DUAL_HEAD_PREFIXES, HEAD_PREFIX, build_head
from future_l1.model.protocol import ARCHITECTURE
from future_l1.model.tokens import LatentIds

KNOWN_ARCHITECTURES = ("FutureL1_Qwen3VL", "SwimBird_Qwen3VL", "Qwen3VLForConditionalGeneration")
DEFAULT_MAX_LATENT_TOKEN = 32  # the shipped SFT scripts' value (the authors' `scripts/train_twiff.sh`)


class FutureL1Model(nn.Module):
    """A Qwen3-VL model, its processor, the latent ids and budget, and the optional projection head."""

    def __init__(self, backbone, processor, latent_ids: LatentIds | None, budget: LatentBudget,
                 head: nn.Module | None = None, latent: bool = True, name: str = ""):  # fmt: skip
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.processor = processor
        self.latent_ids = latent_ids
        self.budget = budget
        self.latent = bool(latent and latent_ids is not None)
        self.name = name

    @property
    def device(self) -> torch.device:
        return self.backbone.lm_head.weight.device

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    def decoder(self) -> LatentDecoder:
        return LatentDecoder(self.backbone, self.tokenizer, self.latent_ids, self.budget, head=self.head)

    def generate(self, batch, settings: GenerationSettings | None = None, logits_processor=None) -> list[DecodeOutput]:
        settings = replace(settings or GenerationSettings())
        settings.latent = settings.latent and self.latent
        return self.decoder().generate(batch, settings, logits_processor)


def _offline(path: str | Path, local_files_only: bool | None) -> bool:
    if local_files_only is not None:
        return local_files_only
    return Path(path).is_dir() or os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _resolve_dir(path: str | Path, local_files_only: bool) -> Path:
    if Path(path).is_dir():
        return Path(path)
    if Path(path).exists():
        raise ValueError(f"checkpoint path {path} is a file; pass the checkpoint directory")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(path), local_files_only=local_files_only))
    except Exception as exc:
        hint = " (offline: download it on a connected machine first, or pass a local directory)"
        raise FileNotFoundError(f"checkpoint {path!r} not found{hint if local_files_only else ''}: {exc}") from exc


def _weights_with_prefix(ckpt: Path, prefix: str) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    index = ckpt / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        files = sorted({f for k, f in weight_map.items() if k.startswith(prefix)})
    else:
        files = [p.name for p in sorted(ckpt.glob("*.safetensors"))]
    out: dict[str, torch.Tensor] = {}
    for name in files:
        with safe_open(str(ckpt / name), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
                if key.startswith(prefix):
                    out[key[len(prefix) :]] = f.get_tensor(key)
    return out


def _load_head(ckpt: Path, config, head_prefer: str | None) -> nn.Module | None:
    if not getattr(config, "use_projection_head", False):
        return None
    hidden = config.text_config.hidden_size
    head = build_head(getattr(config, "projection_head_type", None) or "swiglu", hidden,
                      getattr(config, "projection_hidden_dim", None))  # fmt: skip
    prefer = (head_prefer or getattr(config, "infer_head_prefer", None) or "render").lower()
    candidates = [HEAD_PREFIX]
    if getattr(config, "use_dual_projection_heads", False):
        other = "orig" if prefer == "render" else "render"
        candidates = [DUAL_HEAD_PREFIXES.get(prefer, DUAL_HEAD_PREFIXES["render"]), DUAL_HEAD_PREFIXES[other]]
    for prefix in candidates:
        state = _weights_with_prefix(ckpt, prefix)
        if state:
            head.load_state_dict(state, strict=True)
            return head
    raise ValueError(
        f"{ckpt}: config.use_projection_head is true but no weights named {' or '.join(c + '*' for c in candidates)} "
        "were found; the checkpoint is incomplete (re-save it with save_future_l1_checkpoint)"
    )


def _latent_ids(config, tokenizer, want_latent: bool | None) -> LatentIds | None:
    fields = [getattr(config, k, None) for k in ("latent_id", "latent_start_id", "latent_end_id")]
    if all(f is not None for f in fields):
        ids = LatentIds(*(int(f) for f in fields))
        try:
            from_tok = LatentIds.from_tokenizer(tokenizer)
        except ValueError:
            from_tok = None
        if from_tok is not None and from_tok != ids:
            raise ValueError(f"latent ids in config.json {ids} disagree with the tokenizer's {from_tok}")
        return ids
    if want_latent:  # a plain checkpoint whose tokenizer has the tokens (or an error naming the fix)
        return LatentIds.from_tokenizer(tokenizer)
    return None


def _budget(config, max_latent_token, fixed_latent_budget, latent_multiplier, loose_latent_budget) -> LatentBudget:
    base = max_latent_token or getattr(config, "max_latent_token", None) or DEFAULT_MAX_LATENT_TOKEN
    fixed = fixed_latent_budget if fixed_latent_budget is not None else getattr(config, "fixed_latent_budget", False)
    if isinstance(fixed, int) and not isinstance(fixed, bool) and fixed > 0:
        base, fixed = fixed, True
    multiplier = latent_multiplier or getattr(config, "infer_latent_multiplier", None) or 2.0
    loose = loose_latent_budget if loose_latent_budget is not None else getattr(config, "loose_latent_budget", None)
    return LatentBudget(max_latent_token=int(base), fixed=bool(fixed), multiplier=float(multiplier),
                        loose_budget=int(loose) if loose else None)  # fmt: skip


def load_future_l1(
    path: str | Path,
    *,
    latent: bool | None = None,
    max_latent_token: int | None = None,
    fixed_latent_budget: bool | int | None = None,
    latent_multiplier: float | None = None,
    loose_latent_budget: int | None = None,
    head_prefer: str | None = None,
    dtype: torch.dtype | str | None = None,
    device: str | torch.device | None = None,
    attn_implementation: str | None = None,
    local_files_only: bool | None = None,
) -> FutureL1Model:
    """Load a Future-L1 / SwimBird / plain Qwen3-VL checkpoint. `latent=None`: on iff the config has latent ids."""
    from transformers import AutoConfig, AutoProcessor, Qwen3VLForConditionalGeneration

    offline = _offline(path, local_files_only)
    ckpt = _resolve_dir(path, offline)
    config = AutoConfig.from_pretrained(ckpt, local_files_only=True)
    if config.model_type != "qwen3_vl":
        raise ValueError(f"{path}: model_type {config.model_type!r} is not supported; expected 'qwen3_vl'")
    arch = (getattr(config, "architectures", None) or [ARCHITECTURE])[0]
    if arch not in KNOWN_ARCHITECTURES:
        raise ValueError(f"{path}: unknown architecture {arch!r}; expected one of {KNOWN_ARCHITECTURES}")
    if isinstance(dtype, str):
        dtype = {"auto": "auto", "bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}.get(
            dtype, getattr(torch, dtype, None)
        )
    device = torch.device(device) if device is not None else torch.device("cpu")
    if dtype is None:
        dtype = torch.float32 if device.type == "cpu" else torch.bfloat16
    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": True}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the head weights are "unexpected" for the stock class; we load them below
    try:
        backbone = Qwen3VLForConditionalGeneration.from_pretrained(ckpt, **kwargs)
    finally:
        hf_logging.set_verbosity(verbosity)
    backbone = backbone.to(device).eval()
    processor = AutoProcessor.from_pretrained(ckpt, local_files_only=True)
    ids = _latent_ids(config, processor.tokenizer, latent)
    head = _load_head(ckpt, config, head_prefer)
    if head is not None:
        head = head.to(device=device, dtype=backbone.dtype).eval()
    budget = _budget(config, max_latent_token, fixed_latent_budget, latent_multiplier, loose_latent_budget)
    enabled = ids is not None if latent is None else bool(latent)
    return FutureL1Model(backbone, processor, ids, budget, head=head, latent=enabled, name=str(path))


def save_future_l1_checkpoint(model, processor, out_dir: str | Path, head: nn.Module | None = None, *,
                              state_dict: dict[str, torch.Tensor] | None = None, is_main_process: bool = True,
                              **latent_config: Any) -> Path:  # fmt: skip
    """Write `model` (a Qwen3VLForConditionalGeneration or FutureL1Model) + processor in the published layout.

    The one checkpoint writer: tests, `future-l1 train sft` and `future-l1 train rl` all save through it (the
    trainers call it from `Trainer._save`). Latent ids are read from the processor's tokenizer, else kept from the
    model config. `latent_config` adds config fields, e.g. max_latent_token=32, latent_loss="mse",
    latent_lambda=0.2, projection_head_type="swiglu", projection_hidden_dim=2048. The head (if any) is stored as
    `projection_head.*` in the model's safetensors; use the classes of future_l1.model.heads (their parameter names
    are the published ones) so that it loads back. `state_dict` and `is_main_process` are passed to
    `save_pretrained` (a Trainer hands in the state dict it gathered under ZeRO-3/FSDP); the head's weights are
    added to a given state dict when it lacks them.
    """
    if isinstance(model, FutureL1Model):
        head = head if head is not None else model.head
        model = model.backbone
    out = Path(out_dir)
    config = model.config
    if processor is not None:
        for key, value in LatentIds.from_tokenizer(processor.tokenizer).to_config().items():
            setattr(config, key, value)
    config.max_latent_token = int(latent_config.pop("max_latent_token", getattr(config, "max_latent_token", None)
                                                    or DEFAULT_MAX_LATENT_TOKEN))  # fmt: skip
    config.use_projection_head = head is not None
    if head is not None:
        is_lvr = hasattr(head, "ln_q")
        config.projection_head_type = latent_config.pop("projection_head_type", "lvr" if is_lvr else "swiglu")
        if not is_lvr and hasattr(head, "projection"):
            config.projection_hidden_dim = head.projection[1].out_features
        if state_dict is not None and not any(k.startswith(HEAD_PREFIX) for k in state_dict):
            state_dict = {**state_dict, **{HEAD_PREFIX + k: v for k, v in head.state_dict().items()}}
    for key, value in latent_config.items():
        setattr(config, key, value)
    if is_main_process:
        out.mkdir(parents=True, exist_ok=True)
    if head is not None:
        model.projection_head = head  # saved as projection_head.* (the official class's attribute name)
    try:
        model.save_pretrained(out, state_dict=state_dict, is_main_process=is_main_process)
    finally:
        if head is not None:
            del model.projection_head
    if not is_main_process:
        return out
    if processor is not None:
        processor.save_pretrained(out)
    # save_pretrained writes the class name (Qwen3VLForConditionalGeneration); the file gets the published one (the
    # live model's config keeps the transformers class, which TRL and Trainer rely on). Training
    # turns the KV cache off; the checkpoint is for inference, so it is written on.
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["architectures"] = [ARCHITECTURE]
    cfg["use_cache"] = True
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return out


def save_from_trainer(trainer, output_dir: str | None, state_dict=None, head: nn.Module | None = None) -> None:
    """`Trainer._save` of our trainers (SFT, RL): the writer above, given the state dict that Trainer gathered
    (ZeRO-3 / FSDP; every rank takes part, the main process writes), plus the training arguments, as Trainer does."""
    from transformers.trainer import TRAINING_ARGS_NAME

    args = trainer.args
    if not args.should_save and not getattr(trainer, "is_distributed_loading_by_transformers", False):
        return
    out = Path(output_dir or args.output_dir)
    model = trainer.accelerator.unwrap_model(trainer.model, keep_torch_compile=False)
    save_future_l1_checkpoint(model, trainer.processing_class, out, head=head, state_dict=state_dict,
                              is_main_process=args.should_save)  # fmt: skip
    if args.should_save:
        torch.save(args, out / TRAINING_ARGS_NAME)

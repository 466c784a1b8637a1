"""Latent-aligned SFT on transformers' `Trainer` (`future-l1 train sft`), and the cached demo checkpoint.

Why `Trainer` and not TRL's `SFTTrainer`: TRL is not a dependency, and everything SFTTrainer would add (chat
templating, packing, its own collator) must be replaced here anyway, since latent spans need their own batch layout
and forward. `Trainer` already gives accelerate, DeepSpeed ZeRO-2 / FSDP (configs in `training/configs/`), bf16,
gradient checkpointing, logging and saving; we only override `compute_loss`, `log` and `_save`.

Robustness: bad records are named and skipped at load time (`allow_bad_records`); a record whose video turns out to be
unreadable during training is logged, counted (`skipped_records` in the logs) and replaced by the next good one, so
the run never dies on sample 40,001.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch.utils.data import Dataset
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from future_l1.model.checkpoint import save_from_trainer
from future_l1.training.aux_head import AUX_HEAD, attach_aux_head, detached_aux_head
from future_l1.training.config import SFT_PATHS, ConfigError, LatentSFTConfig, path_problems

log = logging.getLogger(__name__)


FEATURIZE_CHUNK = 16  # records per frozen-tower call in `encode_all` (fixed: features must not depend on the run)


class LatentSFTDataset(Dataset):
    """Encoded records; the first `keep_encoded` distinct ones stay in memory (encoding is deterministic)."""

    def __init__(self, records, encoder, cache, keep_encoded: int = 0, featurize=None):
        self.records, self.encoder, self.cache = records, encoder, cache
        self.featurize = featurize  # `frozen_features`: an encoded example -> the same with the tower's outputs
        self.skipped: dict[str, str] = {}
        self.keep_encoded = keep_encoded
        self.encoded: dict[int, dict] = {}  # by position: record ids need not be unique

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        for offset in range(len(self.records)):
            at = (index + offset) % len(self.records)
            rec = self.records[at]
            if rec.id in self.skipped:
                continue
            if at in self.encoded:
                return dict(self.encoded[at])  # collate stacks into new tensors: the cached ones stay intact
            try:
                example = self.encoder.encode(rec, *rec.load_frames(self.cache))
                if self.featurize is not None:
                    example = self.featurize([example])[0]
            except Exception as exc:  # unreadable media or an encoding failure: skip this record, keep training
                self.skipped[rec.id] = f"{type(exc).__name__}: {exc}"
                log.warning("skipping record %s: %s", rec.id, self.skipped[rec.id])
                continue
            if len(self.encoded) < self.keep_encoded:
                self.encoded[at] = dict(example)
            return example
        raise RuntimeError(f"no usable record left; skipped: {self.skipped}")

    def encode_all(self, chunk: int = 16, progress: bool = True) -> None:
        """Encode the records the cache can keep now, with `featurize` run on `chunk` of them at a time in data order
        (so a record's features do not depend on the shuffle); bad records are skipped as during training."""
        from tqdm.auto import tqdm

        room = self.keep_encoded - len(self.encoded)
        todo = [at for at in range(len(self.records)) if at not in self.encoded][:room]
        bar = tqdm(total=len(todo), desc="encoding records", unit="record", disable=not progress)
        for start in range(0, len(todo), chunk):
            ready = {}
            for at in todo[start : start + chunk]:
                rec = self.records[at]
                try:
                    ready[at] = self.encoder.encode(rec, *rec.load_frames(self.cache))
                except Exception as exc:  # as in __getitem__: named, counted, skipped
                    self.skipped[rec.id] = f"{type(exc).__name__}: {exc}"
                    log.warning("skipping record %s: %s", rec.id, self.skipped[rec.id])
            if ready and self.featurize is not None:
                ready = dict(zip(ready, self.featurize(list(ready.values())), strict=True))
            self.encoded.update(ready)
            bar.update(len(todo[start : start + chunk]))
        bar.close()


class LatentSFTTrainer(Trainer):
    """Trainer whose loss is `latent_sft_loss`; logs CE, latent loss and span statistics."""

    loss_is_scaled_for_ga = False  # compute_loss returns a per-micro-batch mean; Trainer divides by accumulation

    def __init__(self, *args, sft_config: LatentSFTConfig, **kwargs):
        super().__init__(*args, **kwargs)
        self.sft_config = sft_config
        self._metrics: dict[str, list[float]] = defaultdict(list)
        self.history: list[dict] = []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        from future_l1.training.latent_loss import latent_sft_loss

        spans = inputs.pop("span_lengths", None)
        c = self.sft_config
        out = latent_sft_loss(
            model, inputs, latent_lambda=c.latent_lambda, latent_loss=c.latent_loss,
            mse_reduction=c.latent_mse_reduction, selective_head=c.selective_lm_head,
            aux_head=getattr(model, AUX_HEAD, None), share_prefix=c.shared_prefix,
        )  # fmt: skip
        m = self._metrics
        m["ce"].append(out.ce.item())
        m["latent_loss"].append(out.latent.item())
        if out.aux is not None:
            m["aux_loss"].append(out.aux.item())
        m["latent_tokens"].append(out.n_latent)
        if spans is not None and len(spans):
            m["spans_per_sample"].append(len(spans) / inputs["input_ids"].shape[0])
            m["span_len_mean"].append(spans.float().mean().item())
        return (out.loss, out) if return_outputs else out.loss

    def log(self, logs: dict, *args, **kwargs) -> None:
        for key, values in self._metrics.items():
            if values:
                logs[key] = round(sum(values) / len(values), 6)
        self._metrics.clear()
        dataset = self.train_dataset
        if isinstance(dataset, LatentSFTDataset):
            logs["skipped_records"] = len(dataset.skipped)
        if "loss" in logs:
            self.history.append(dict(logs, step=self.state.global_step))
        super().log(logs, *args, **kwargs)

    def _save(self, output_dir: str | None = None, state_dict=None):
        """Save through the project's one checkpoint writer (weights, processor, the published config fields), without
        the aux head: it only shapes training, so the checkpoint is a plain text-only model."""
        model = self.accelerator.unwrap_model(self.model, keep_torch_compile=False)
        head = detached_aux_head(model)
        if state_dict is not None and head is not None:
            state_dict = {k: v for k, v in state_dict.items() if not k.startswith(AUX_HEAD + ".")}
        try:
            save_from_trainer(self, output_dir, state_dict)
        finally:
            if head is not None:
                model.add_module(AUX_HEAD, head)


class StepProgress(TrainerCallback):
    """One progress bar over the optimizer steps (count, rate, ETA) showing the latest losses, in place of Trainer's
    raw log dictionaries (every logged value stays in `sft_summary.json` and `trainer_state.json`). Off with
    `disable_tqdm: true` or TQDM_DISABLE=1."""

    SHOWN = ("loss", "ce", "latent_loss", "aux_loss", "skipped_records")

    def __init__(self, desc: str = "latent SFT", shown: tuple[str, ...] | None = None) -> None:
        self.bar = None
        self.desc = desc
        self.shown = shown or self.SHOWN

    def on_train_begin(self, args, state, control, **kwargs):
        from tqdm.auto import tqdm

        if state.is_world_process_zero:
            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.desc, unit="step",
                            disable=args.disable_tqdm, dynamic_ncols=True)  # fmt: skip

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs:
            shown = {k: logs[k] for k in self.shown if isinstance(logs.get(k), (int, float))}
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def checkpoint_fields(config: LatentSFTConfig, latent_ids) -> dict:
    """Config fields the Future-L1 model adapter reads (the `config.json` of the authors' released checkpoints)."""
    return {
        **latent_ids.to_config(),
        "max_latent_token": config.max_latent_token,
        "latent_lambda": config.latent_lambda,
        "latent_loss": config.latent_loss,
        "latent_mse_reduction": config.latent_mse_reduction,
        "use_projection_head": False,
        "text_only_sft": config.text_only,
        **({"aux_latent_head": True} if config.aux_latent_head else {}),  # (others' config.json stay as they were)
    }


def build_trainer(config: LatentSFTConfig):
    """Model, processor, data and trainer for `config` (also used by tests to reach the pieces)."""
    from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

    from future_l1.model.tokens import LatentIds
    from future_l1.training.data import load_records
    from future_l1.training.frames import FrameCache
    from future_l1.training.latent_batch import LatentEncoder, collate

    problems = path_problems(vars(config), SFT_PATHS)  # before the model loads
    if problems:
        raise ConfigError(problems)
    processor = AutoProcessor.from_pretrained(config.model_name_or_path)
    latent_ids = LatentIds.from_tokenizer(processor.tokenizer)
    dtype = torch.bfloat16 if config.bf16 else torch.float32
    model = Qwen3VLForConditionalGeneration.from_pretrained(config.model_name_or_path, dtype=dtype)
    model.model.visual.requires_grad_(False)  # vision tower + merger (+ DeepStack mergers) frozen, paper §4
    for key, value in checkpoint_fields(config, latent_ids).items():
        setattr(model.config, key, value)
    model.config.use_cache = False

    loaded = load_records(config.train_file, allow_bad=config.allow_bad_records, limit=config.max_records)
    encoder = LatentEncoder(processor, latent_ids, max_latent_token=config.max_latent_token,
                            text_only=config.text_only, system_prompt=config.resolved_system_prompt(),
                            question_video_fps=config.question_video_fps,
                            aux_targets=config.aux_latent_head)  # fmt: skip
    if config.aux_latent_head:  # before the trainer, so that its optimizer holds the head's parameters
        attach_aux_head(model, config.max_latent_token, config.seed)
    featurize = None
    if config.frozen_features:
        from functools import partial

        from future_l1.training.frozen_features import featurize, supports_precomputed

        if not supports_precomputed(model):
            import transformers

            raise ConfigError([f"frozen_features: transformers {transformers.__version__} cannot take precomputed "
                               "vision outputs (mm_encoder_outputs); use the locked version or turn it off"])  # fmt: skip
        featurize = partial(featurize, model)
    dataset = LatentSFTDataset(loaded.records, encoder, FrameCache(config.frame_cache_videos),
                               keep_encoded=config.encoded_cache_records, featurize=featurize)  # fmt: skip
    pad_id = processor.tokenizer.pad_token_id
    trainer = LatentSFTTrainer(
        model=model, args=config, train_dataset=dataset, processing_class=processor,
        data_collator=lambda examples: collate(examples, pad_id), sft_config=config,
    )  # fmt: skip
    if featurize is not None:  # the model is on its device now: every record's features once, up front
        dataset.encode_all(chunk=FEATURIZE_CHUNK, progress=not config.disable_tqdm)
    trainer.remove_callback(PrinterCallback)  # raw log dictionaries, one per logging step
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(StepProgress())
    return trainer, loaded


def run_sft(config: LatentSFTConfig) -> Path:
    """Train and save the final checkpoint into `config.output_dir`; returns that folder."""
    trainer, loaded = build_trainer(config)
    start = time.time()
    result = trainer.train()
    trainer.save_model(config.output_dir)
    out = Path(config.output_dir)
    summary = {
        "train_file": str(config.train_file),
        "records": len(loaded.records),
        "bad_records": [vars(b) for b in loaded.bad],
        "skipped_during_training": trainer.train_dataset.skipped,
        "global_steps": result.global_step,
        "train_seconds": round(time.time() - start, 2),
        "history": trainer.history,
    }
    (out / "sft_summary.json").write_text(json.dumps(summary, indent=2))
    return out


DEMO_SFT = {
    "max_steps": 10, "per_device_train_batch_size": 2, "gradient_accumulation_steps": 1, "learning_rate": 3e-3,
    "warmup_steps": 0.0, "lr_scheduler_type": "constant", "seed": 0, "weight_decay": 0.0, "logging_steps": 1,
    "dataloader_num_workers": 0,
}  # fmt: skip  # `train sft --demo`: a seconds-long CPU smoke recipe; the cached demo model uses training.DEMO_RECIPE


def demo_config(output_dir: str | Path, **overrides) -> LatentSFTConfig:
    from future_l1.model.tiny import tiny_checkpoint_dir
    from future_l1.training.config import load_config
    from future_l1.training.demo_data import demo_train_file

    values = {"model_name_or_path": str(tiny_checkpoint_dir()), "train_file": str(demo_train_file()),
              "output_dir": str(output_dir), "use_cpu": not torch.cuda.is_available(), **DEMO_SFT, **overrides}  # fmt: skip
    return load_config(None, paths=SFT_PATHS, **values)

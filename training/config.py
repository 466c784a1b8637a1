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

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import TrainingArguments

from future_l1.model.protocol import FUTURE_L1_SYSTEM_PROMPT
from future_l1.model.untrusted import InputError, read_yaml_mapping
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
    aux_latent_head: bool = field(
        default=False,
        metadata={"help": "Text-only SFT plus an auxiliary head that regresses the reasoning frame's vision tokens "
                          "(L_max of them) from the hidden state before <answer>, weighted by latent_lambda, nothing "
                          "fed back (training/aux_head.py; a control of the toy experiment). Needs text_only."},
    )  # fmt: skip
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
    frozen_features: bool = field(
        default=False,
        metadata={"help": "Run the frozen vision tower once per record (at batch size 1) and train on its stored "
                          "outputs instead of pixels (training/frozen_features.py): same maths, other float rounding. "
                          "Worth it with encoded_cache_records covering small, multi-epoch data (the toy "
                          "experiment); features stay in CPU memory. Needs dataloader_num_workers 0."},
    )  # fmt: skip
    shared_prefix: bool = field(
        default=False,
        metadata={"help": "Run the leading text that every row of a batch shares (the system prompt) once, its KV "
                          "cache repeated for the rows: same maths, other float rounding, less compute when the "
                          "prompt is long against the rest (the toy: 122 of 271 tokens). Needs gradient "
                          "checkpointing off."},
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
        if self.aux_latent_head and not self.text_only:
            raise ValueError("aux_latent_head is a text-only control: it needs text_only: true")
        if self.text_only and not self.aux_latent_head:  # the aux head's loss keeps λ
            self.latent_lambda = 0.0
        if self.latent_loss not in ("mse", "cosine"):
            raise ValueError(f"latent_loss must be 'mse' or 'cosine', not {self.latent_loss!r}")
        if self.question_video_fps is not None and not self.question_video_fps > 0:
            raise ValueError(
                f"question_video_fps must be a positive frame rate or None, not {self.question_video_fps!r}"
            )
        if self.frozen_features and self.dataloader_num_workers:
            raise ValueError(
                "frozen_features runs the model in the data loader's process: set dataloader_num_workers 0"
            )
        if self.shared_prefix and self.gradient_checkpointing:
            raise ValueError("shared_prefix needs the prefix's KV cache, which gradient checkpointing turns off: set "
                             "gradient_checkpointing false (auto_gpu_settings turns it on with CUDA)")  # fmt: skip
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


def parse_config(cls: type, path: str | Path | None = None, *, paths: Mapping[str, str] | None = None, **overrides):
    """A `cls` (a TrainingArguments dataclass) from a YAML file plus keyword overrides (None = not given).

    Everything is checked before the config is built, and every problem is reported at once as a `ConfigError`: the
    file (`read_yaml_mapping`), unknown keys (with "did you mean"), types, ranges (`RANGES`), bf16 on a machine
    without it, and, with `paths` (key -> `PATH_KINDS` entry; commands pass it, library callers may build a config
    with placeholder paths), that each path exists as the kind expected. A refusal by TrainingArguments itself is
    one more problem naming the file."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    problems: list[str] = []
    if path is not None:
        source = f"config {path}"
        try:
            values = read_yaml_mapping(path)
        except InputError as exc:
            raise ConfigError(exc.problems) from None
        sources = dict.fromkeys(values, source)
    given = {k: v for k, v in overrides.items() if v is not None}
    values.update(given)
    sources.update(dict.fromkeys(given, "command line"))
    where = _Where(sources, f"config {path}" if path is not None else "the configuration")
    checked, problems = check_values(cls, values, where)
    if paths:
        problems += path_problems(checked, paths, where)
    if problems:
        raise ConfigError(problems)
    try:
        return cls(**checked)
    except Exception as exc:  # TrainingArguments' own checks (combinations of settings)
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        where = f"config {path}" if path is not None else "the configuration"
        raise ConfigError([f"{where}: {text}"]) from None


class _Where(dict):
    """Where each key came from (the file or the command line), `default` for keys nobody gave."""

    def __init__(self, sources: Mapping[str, str], default: str) -> None:
        super().__init__(sources)
        self.default = default

    def __missing__(self, key: str) -> str:
        return self.default


class ConfigError(InputError):
    """A training config that cannot be used: one line per problem, each naming the file or flag and the key."""


# Ranges of the training knobs, by field name (each applies to every config class that has the field; None = unset
# passes). Steps of -1 mean "run by epochs", as in TrainingArguments.
def _at_least(low: float, *also: float) -> tuple[Callable[[float], bool], str]:
    extra = "".join(f" or {a:g}" for a in also)
    return (lambda v: v >= low or v in also), f"must be at least {low:g}{extra}"


_POSITIVE = (lambda v: v > 0, "must be greater than 0")
_FRACTION = (lambda v: 0 <= v < 1, "must be in [0, 1)")
RANGES: dict[str, tuple[Callable[[float], bool], str]] = {
    "learning_rate": _POSITIVE,
    "latent_lambda": _at_least(0),
    "max_latent_token": _at_least(1),
    "max_steps": _at_least(1, -1),
    "num_train_epochs": _POSITIVE,
    "per_device_train_batch_size": _at_least(1),
    "per_device_eval_batch_size": _at_least(1),
    "gradient_accumulation_steps": _at_least(1),
    "max_records": _at_least(1),
    "warmup_steps": _at_least(0),
    "weight_decay": _at_least(0),
    "max_grad_norm": _at_least(0),
    "adam_beta1": _FRACTION,
    "adam_beta2": _FRACTION,
    "adam_epsilon": _POSITIVE,
    "logging_steps": _POSITIVE,
    "save_steps": _POSITIVE,
    "save_total_limit": _at_least(1),
    "seed": _at_least(0),
    "data_seed": _at_least(0),
    "dataloader_num_workers": _at_least(0),
    "frame_cache_videos": _at_least(1),
    "encoded_cache_records": _at_least(0),
    "question_video_fps": _POSITIVE,
    # LA-DAPO (training/rl/config.py)
    "num_generations": _at_least(2),
    "max_completion_length": _at_least(1),
    "rollout_batch_size": _at_least(1),
    "max_num_frames": _at_least(1),
    "max_sampling_tries": _at_least(1),
    "oversample_factor": _at_least(1),
    "temperature": _POSITIVE,
    "top_p": (lambda v: 0 < v <= 1, "must be in (0, 1]"),
    "beta": _at_least(0),
    "epsilon": _at_least(0),
    "epsilon_high": _at_least(0),
    "accuracy_weight": _at_least(0),
    "format_weight": _at_least(0),
    "ctr_lambda": _at_least(0),
    "div_lambda": _at_least(0),
    "ctr_temperature": _POSITIVE,
    "acc_low": (lambda v: 0 <= v <= 1, "must be in [0, 1]"),
    "acc_high": (lambda v: 0 <= v <= 1, "must be in [0, 1]"),
    "judge_min_score": (lambda v: 0 <= v <= 5, "must be a judge score in 0-5"),
    "judge_timeout_s": _POSITIVE,
    "latent_logprob_kappa": _at_least(0),
    "repetition_threshold": _at_least(0),
}


def _fields(cls: type) -> dict[str, Any]:
    """Init fields of a config dataclass -> their resolved type."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _type_words(hint: Any) -> str:
    names = {int: "a whole number", float: "a number", bool: "true or false", str: "text", dict: "a mapping",
             list: "a list", type(None): "null"}  # fmt: skip
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    words = [names.get(typing.get_origin(a) or a, getattr(a, "__name__", str(a))) for a in args]
    return " or ".join(dict.fromkeys(words))


def _admits_bool(hint: Any) -> bool:
    args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return bool in args or any(a is Any for a in args)


def check_values(cls: type, values: dict[str, Any], sources: Mapping[str, str] | None = None):
    """(values coerced to their field types, problems): unknown keys, types, finiteness and `RANGES`."""
    from pydantic import ConfigDict, TypeAdapter, ValidationError

    sources = sources if isinstance(sources, _Where) else _Where(sources or {}, "the configuration")
    fields = _fields(cls)
    checked, problems = {}, []
    for key, value in values.items():
        where = sources[key]
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; see the keys of {cls.__name__}"
            problems.append(f"{where}: unknown key {key!r}{hint}")
            continue
        hint = fields[key]
        wrong = f"{where}: {key}: must be {_type_words(hint)}, got {_shown(value)}"
        if isinstance(value, bool) and not _admits_bool(hint):
            problems.append(wrong)
            continue
        try:
            value = TypeAdapter(hint, config=ConfigDict(arbitrary_types_allowed=True)).validate_python(value)
        except ValidationError:
            problems.append(wrong)
            continue
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{where}: {key}: must be a finite number, got {_shown(value)}")
            continue
        rule = RANGES.get(key)
        if rule and isinstance(value, (int, float)) and not isinstance(value, bool) and not rule[0](value):
            problems.append(f"{where}: {key}: {rule[1]}, got {_shown(value)}")
            continue
        checked[key] = value
    problems += _precision_problems(checked, sources)
    return checked, problems


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _precision_problems(values: dict[str, Any], sources: Mapping[str, str]) -> list[str]:
    """bf16/fp16 asked for on a machine that cannot run it (TrainingArguments would blame "your setup")."""
    problems = []
    if values.get("use_cpu"):
        return problems
    for key in ("bf16", "fp16"):
        if values.get(key) and not torch.cuda.is_available():
            problems.append(f"{sources[key]}: {key}: true needs a CUDA GPU and this "
                            f"machine has none; set `{key}: false` (on a GPU, auto_gpu_settings turns bf16 on)")  # fmt: skip
    return problems


# What a path-valued key must be (`parse_config(paths=...)`).
PATH_KINDS = ("checkpoint", "file", "file or demo")
SFT_PATHS = {"model_name_or_path": "checkpoint", "train_file": "file"}


def path_problems(values: dict[str, Any], paths: Mapping[str, str], sources: Mapping[str, str] | None = None):
    """One line per path-valued key that is missing or not what it must be; `output_dir` must not be a file."""
    sources = sources if isinstance(sources, _Where) else _Where(sources or {}, "the configuration")
    problems = []
    for key, kind in paths.items():
        where = sources[key]
        value = values.get(key)
        if not value:
            problems.append(f"{where}: {key} is required; set it in the YAML or on the command line")
            continue
        value = str(value)
        if kind == "file or demo" and (value == "demo" or value.startswith("demo:")):
            continue
        path = Path(value).expanduser()
        if kind == "checkpoint":
            problem = _checkpoint_problem(path, value)
        elif not path.exists():
            problem = f"{value} does not exist"
        elif not path.is_file():
            problem = f"{value} is {'a folder' if path.is_dir() else 'not a regular file'}; it must be a data file"
        else:
            problem = None
        if problem:
            problems.append(f"{where}: {key}: {problem}")
    out = values.get("output_dir")
    if out and Path(str(out)).expanduser().exists() and not Path(str(out)).expanduser().is_dir():
        problems.append(f"{sources['output_dir']}: output_dir: {out} is a file; pass a folder")
    return problems


def _checkpoint_problem(path: Path, value: str) -> str | None:
    if path.is_dir():
        return None if (path / "config.json").is_file() else f"{value} is not a model folder (no config.json)"
    if path.exists():
        return f"{value} is a file; pass the model folder"
    if value.count("/") == 1 and not value.startswith((".", "/", "~")):  # a hub id: only the local cache (offline)
        try:
            from huggingface_hub import try_to_load_from_cache

            if isinstance(try_to_load_from_cache(value, "config.json"), str):
                return None
        except Exception:  # an unusable cache is the same as a missing model
            pass
        return f"{value} is neither a local folder nor in the local Hugging Face cache"
    return f"{value} does not exist"


def load_config(path: str | None = None, *, paths: Mapping[str, str] | None = None, **overrides) -> LatentSFTConfig:
    """A config from a YAML file (any LatentSFTConfig / TrainingArguments key) plus keyword overrides."""
    return parse_config(LatentSFTConfig, path, paths=paths, **overrides)

"""The `future_l1` adapter's model arguments (`--model_args k=v,...`), parsed by one typed object.

lmms-eval hands a model's constructor the `--model_args` pairs as keyword arguments, after its own guess at their
types (`lmms_eval.utils.simple_parse_args_string`: "true"/"false" become bools, digit strings ints, decimals floats,
everything else stays a string), plus the generic `batch_size`, `max_batch_size` and `device` of its command line
(`simple_evaluate` → `create_from_arg_string(model_args, {"batch_size", "max_batch_size", "device"})`, unset ones
dropped). Python callers (tests, the harness) pass real values. `FutureL1ModelArgs.from_model_args(**kwargs)` takes
all of these:

- booleans: true/false, 1/0, yes/no, on/off (any case);
- "none", "null" or "" for an argument whose default is None means "not given" (the default);
- an unknown key is an error naming it, with a close match if there is one, and the list of valid arguments;
- a bad value is an error naming the argument, the value and what is expected (`ModelArgsError`, a ValueError).

Where a default comes from: "the authors' adapter" is `lmms-eval/lmms_eval/models/future_l1.py` in the authors'
repository (OpenGVLab/Future-L1 at a91add2), whose defaults the `future_l1` adapter keeps; "the paper" is
arXiv 2606.05769.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from future_l1.model.inputs import DEFAULT_MAX_NUM_FRAMES, DEFAULT_MAX_PIXELS, DEFAULT_MIN_PIXELS
from future_l1.model.interventions import InterventionError, InterventionSpec
from future_l1.model.static_decoder import ATTENTION

DEFAULT_MAX_NEW_TOKENS = 8192  # the authors' adapter's default for requests whose gen_kwargs give none
NONE_WORDS = ("none", "null", "")
DTYPE_SHORT = ("auto", "bf16", "fp16", "fp32")
TRUE_WORDS = ("1", "true", "yes", "on", "t", "y")
FALSE_WORDS = ("0", "false", "no", "off", "f", "n")


class ModelArgsError(ValueError):
    """A bad `--model_args` for the `future_l1` model: an unknown key or a value of the wrong kind."""


def _arg(default: Any, description: str, expected: str, **constraints: Any) -> Any:
    """A field with its description and, for the error messages, what it expects in words (`constraints`: gt, ge)."""
    return Field(default, description=description, json_schema_extra={"expected": expected}, **constraints)


class FutureL1ModelArgs(BaseModel):
    """Every argument of the `future_l1` lmms-eval model, typed, with its default and where that default comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    # -- the checkpoint ----------------------------------------------------------------------------------------------
    pretrained: str = _arg(
        ...,
        "The checkpoint: a local directory or a hub id (Future-L1 / SwimBird / plain Qwen3-VL-Instruct; see "
        "future_l1.model.checkpoint). Required.",
        "a checkpoint directory or hub id",
    )
    latent: bool | None = _arg(
        None,
        "Latent-interleaved decoding on or off. Default: on iff the checkpoint's config.json has latent token ids "
        "(so a plain Qwen3-VL decodes text only).",
        "true or false (or none: on iff the checkpoint has latent ids)",
    )
    max_latent_token: int | None = _arg(
        None,
        "L_max, the per-span latent budget base (paper §3.1). Default: the checkpoint's "
        "max_latent_token, else 32 (the authors' scripts/train_twiff.sh).",
        "a positive integer",
        gt=0,
    )
    fixed_latent_budget: bool | int | None = _arg(
        None,
        "Fixed-budget spans, as the authors' adapter's `fixed_latent_budget`: an int K > 0 gives every span exactly "
        "K latent steps (max_latent_token = K), true gives every span exactly max_latent_token steps, false or 0 "
        "keeps the dynamic budget (a span ends at <|latent_end|> or at the cap). Default: the checkpoint's "
        "fixed_latent_budget, else false.",
        "true, false or a non-negative integer K",
    )
    latent_multiplier: float | None = _arg(
        None,
        "Dynamic mode's cap = round(max_latent_token × latent_multiplier), as the authors' adapter's "
        "infer_latent_multiplier. Default: the checkpoint's infer_latent_multiplier, else 2.0.",
        "a positive number",
        gt=0,
    )
    loose_latent_budget: int | None = _arg(
        None,
        "Dynamic mode's cap given directly (overrides the multiplier when > 0), as the authors' adapter's "
        "loose_latent_budget. Default: the checkpoint's, else none.",
        "a non-negative integer",
        ge=0,
    )
    head_prefer: Literal["render", "orig"] | None = _arg(
        None,
        "Which of a dual-head checkpoint's projection heads feeds latents back. Default: the checkpoint's "
        "infer_head_prefer, else render (the authors' adapter).",
        "render or orig",
    )
    dtype: str | None = _arg(
        None,
        "Weights' dtype: auto, bf16, fp16, fp32 or a torch floating dtype name (bfloat16, float16, float32). "
        "Default auto: bf16 on GPU (the authors' adapter); float32 on CPU whatever is asked (bf16 matmuls there are "
        "slow and change greedy outputs).",
        "auto, bf16, fp16, fp32 or a torch floating dtype name such as bfloat16",
    )
    attn_implementation: str | None = _arg(
        None,
        "transformers' attention implementation for the backbone (eager, sdpa, flash_attention_2, …). Default: "
        "transformers' choice (the authors' adapter asks for flash_attention_2).",
        "a transformers attn_implementation name",
    )
    # -- inputs ------------------------------------------------------------------------------------------------------
    max_num_frames: int = _arg(
        DEFAULT_MAX_NUM_FRAMES,
        "Frames sampled per video (the authors' adapter's default, 32).",
        "a positive integer",
        gt=0,
    )
    min_pixels: int = _arg(
        DEFAULT_MIN_PIXELS,
        "Lower pixel bound per image or frame (the authors' adapter's default, 256·28² = 200,704).",
        "a positive integer",
        gt=0,
    )
    max_pixels: int = _arg(
        DEFAULT_MAX_PIXELS,
        "Upper pixel bound per image or frame (the authors' adapter's default, 1,605,632); qwen-vl-utils "
        "0.0.14 caps video frames at 786,432 whatever this says.",
        "a positive integer",
        gt=0,
    )
    # -- generation --------------------------------------------------------------------------------------------------
    max_new_tokens: int = _arg(
        DEFAULT_MAX_NEW_TOKENS,
        "Token limit for requests whose gen_kwargs give none (the authors' adapter's default, 8192).",
        "a positive integer",
        gt=0,
    )
    seed: int = _arg(0, "Sampling seed for requests whose gen_kwargs give none (greedy decoding ignores it).",
                     "an integer")  # fmt: skip
    save_latents: Path | None = _arg(
        None,
        "A folder for one .npz per sample with the latent vectors fed back and the span lengths (read by "
        "future_l1.reports.latent_maps). Default: none, nothing saved.",
        "a folder path",
    )
    latent_intervention: str = _arg(
        "none",
        "A latent intervention applied inside the decoder (issue 29, model/interventions.py): none, zero (fed-back "
        "vectors replaced by zeros), mean (by the run's mean latent), noise:SIGMA (Gaussian noise of SIGMA times the "
        "vector's norm), random (a Gaussian vector of the vector's norm instead), shuffle (another sample's vector of "
        "the same step), budget:K (every span exactly K steps).",
        "none, zero, mean, noise:SIGMA, random, shuffle or budget:K",
    )
    latent_intervention_seed: int = _arg(0, "Seed of the intervention's random draws (noise, random).", "an integer")
    # -- decoder -----------------------------------------------------------------------------------------------------
    decoder: Literal["auto", "fast", "eager"] = _arg(
        "auto",
        "fast: static KV cache, CUDA-graph step, continuous batching over batch_size slots (model/static_decoder.py); "
        "eager: transformers forward per step, fixed batches (model/decoder.py); auto: fast on CUDA, eager on CPU. "
        "Both give the same answers.",
        "auto, fast or eager",
    )
    compile: bool | None = _arg(
        None,
        "Fast decoder: torch.compile the decoder layer. Default: on CUDA yes, on CPU no.",
        "true or false (or none: on iff CUDA)",
    )
    attn: str = _arg(
        "matmul",
        f"Fast decoder's attention form, one of {', '.join(ATTENTION)}; matmul is the fastest on the H200 "
        "(bench/results/decode_bench_h200.json).",
        f"one of {', '.join(ATTENTION)}",
    )
    # -- lmms-eval's generic arguments -------------------------------------------------------------------------------
    batch_size: int = _arg(
        1,
        "Requests decoded together per process (lmms-eval's --batch_size, default 1 like the authors' "
        "adapter). lmms-eval's auto / auto:N are taken as 1: this model does not search batch sizes.",
        "a positive integer, auto or auto:N",
        gt=0,
    )
    max_batch_size: int | None = _arg(
        None,
        "lmms-eval's --max_batch_size, for --batch_size auto; accepted and unused.",
        "a positive integer",
        gt=0,
    )
    device: str | None = _arg(
        None,
        "Torch device (cpu, cuda, cuda:N). Default (and cuda, auto, or any cuda under torchrun / accelerate): "
        "cuda:LOCAL_RANK when CUDA is available, else cpu.",
        "auto, cpu, cuda or cuda:N (a torch device)",
    )

    # -- parsing -----------------------------------------------------------------------------------------------------
    @model_validator(mode="before")
    @classmethod
    def _none_words(cls, data: Any) -> Any:
        """Strip strings; "none"/"null"/"" is the default of an argument whose default is None (decoder: auto)."""
        if not isinstance(data, dict):
            return data
        out = {}
        for key, value in data.items():
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            if isinstance(value, str):
                value = value.strip()
            field = cls.model_fields.get(key)
            if value is None or (isinstance(value, str) and value.lower() in NONE_WORDS):
                if key == "decoder":
                    value = "auto"
                elif field is not None and not field.is_required() and field.default is None:
                    value = None
            out[key] = value
        return out

    @field_validator("latent_intervention", mode="before")
    @classmethod
    def _intervention(cls, value: Any) -> Any:
        """Checked and written in its canonical form (noise:0.50 -> noise:0.5), as the run identity records it."""
        if value is None:
            return "none"
        try:
            return str(InterventionSpec.parse(str(value)))
        except InterventionError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("head_prefer", "decoder", "attn", "dtype", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("fixed_latent_budget", mode="before")
    @classmethod
    def _fixed_budget(cls, value: Any) -> bool | int | None:
        """An int K, a bool, or a word; the int/bool split is what `checkpoint._budget` reads (0 is false)."""
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            word = value.lower()
            if word.isdigit():
                value = int(word)
            elif word in TRUE_WORDS or word in FALSE_WORDS:
                return word in TRUE_WORDS
        if isinstance(value, int) and value >= 0:
            return value if value > 0 else False
        raise ValueError("not a bool or a non-negative integer")

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.lower()
            if word == "auto" or (word.startswith("auto:") and word[5:].isdigit()):
                return 1
        return value

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, value: str | None) -> str | None:
        if value is None or value in DTYPE_SHORT:
            return value
        found = getattr(torch, value, None)
        if isinstance(found, torch.dtype) and found.is_floating_point:
            return value
        raise ValueError("not a dtype")

    @field_validator("attn")
    @classmethod
    def _attn(cls, value: str) -> str:
        if value not in ATTENTION:
            raise ValueError("not an attention form")
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.lower() == "auto":
            return "auto"
        if value.isdigit():  # lmms-eval turns device=0 into the int 0, which torch reads as cuda:0
            return f"cuda:{value}"
        try:
            torch.device(value)
        except (RuntimeError, ValueError) as exc:
            raise ValueError("not a torch device") from exc
        return value

    @field_validator("pretrained")
    @classmethod
    def _pretrained(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("empty")
        return value

    @model_validator(mode="after")
    def _pixels(self) -> FutureL1ModelArgs:
        if self.min_pixels > self.max_pixels:
            raise ValueError(
                f"min_pixels={self.min_pixels} is larger than max_pixels={self.max_pixels}: expected min_pixels <= "
                "max_pixels"
            )
        return self

    # -- construction ------------------------------------------------------------------------------------------------
    @classmethod
    def from_model_args(cls, **kwargs: Any) -> FutureL1ModelArgs:
        """Parse a `future_l1` model's keyword arguments; ModelArgsError names any unknown key or bad value."""
        unknown = [k for k in kwargs if k not in cls.model_fields]
        if unknown:
            raise ModelArgsError(_unknown_message(unknown, list(cls.model_fields)))
        try:
            return cls.model_validate(kwargs)
        except ValidationError as exc:
            raise ModelArgsError(_explain(exc, kwargs)) from None

    @classmethod
    def expected(cls, name: str) -> str:
        """What argument `name` takes, in words (as the errors say it)."""
        extra = cls.model_fields[name].json_schema_extra
        return str(extra.get("expected", "")) if isinstance(extra, dict) else ""


def _unknown_message(unknown: list[str], valid: list[str]) -> str:
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(key, valid, n=1)
        parts.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    plural = "s" if len(unknown) > 1 else ""
    return f"future_l1: unknown model argument{plural} {', '.join(parts)}; valid arguments: {', '.join(sorted(valid))}"


def _explain(exc: ValidationError, given: dict[str, Any]) -> str:
    lines = []
    for error in exc.errors():
        loc = error.get("loc") or ()
        name = str(loc[0]) if loc else None
        if name is None:  # a check across arguments (min_pixels <= max_pixels): its message says it all
            lines.append(str(error.get("msg", "")).removeprefix("Value error, "))
        elif error.get("type") == "missing":
            lines.append(f"model argument {name} is required: expected {FutureL1ModelArgs.expected(name)} "
                         f"(--model_args {name}=...)")  # fmt: skip
        else:
            lines.append(f"model argument {name}={given.get(name)!r}: expected {FutureL1ModelArgs.expected(name)}")
    unique = list(dict.fromkeys(lines))  # a union type reports one error per member; say it once
    return "future_l1: " + "; ".join(unique)

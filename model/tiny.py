"""A tiny, seeded, random-weight Qwen3-VL with the Future-L1 latent tokens, for offline tests and the demo.

It keeps the real 151,936-row vocabulary (so the real tokenizer fits), or with `domain` a vocabulary pruned to the
texts of a closed domain (`processor.qwen_tokenizer_dir`; the toy experiment's 1,152 rows), and Qwen3-VL's geometry
(patch 16, merge 2, interleaved M-RoPE, DeepStack), shrunk to 2 text and 2 vision layers of width 64: about 10M
parameters with the full vocabulary, tied embeddings, a forward pass in tens of milliseconds on one CPU core.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch

from future_l1.model.cache import cached_dir
from future_l1.model.processor import build_processor, domain_name, qwen_tokenizer_dir
from future_l1.model.tokens import LatentIds

QWEN3_VOCAB_SIZE = 151936  # the real model's embedding rows; the tokenizer uses 151,672 of them
TINY_CHECKPOINT = "tiny-qwen3vl-v1"


def tiny_config(
    latent_ids: LatentIds | None = None, *, hidden: int = 64, layers: int = 2, domain: tuple[str, ...] | None = None
):
    from transformers import AutoTokenizer, Qwen3VLConfig

    tok = AutoTokenizer.from_pretrained(qwen_tokenizer_dir(domain))
    latent_ids = latent_ids or LatentIds.from_tokenizer(tok)
    vocab_size = QWEN3_VOCAB_SIZE if domain is None else -(-len(tok) // 64) * 64  # padded as Qwen pads its rows
    head_dim = 16
    cfg = Qwen3VLConfig(
        text_config=dict(
            vocab_size=vocab_size, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
            num_attention_heads=hidden // head_dim, num_key_value_heads=max(1, hidden // head_dim // 2),
            head_dim=head_dim, max_position_embeddings=8192, tie_word_embeddings=True,
            rope_parameters={"rope_type": "default", "rope_theta": 5e6, "mrope_section": [4, 2, 2],
                             "mrope_interleaved": True},
            eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        ),
        vision_config=dict(
            depth=2, hidden_size=64, intermediate_size=128, num_heads=4, patch_size=16, spatial_merge_size=2,
            temporal_patch_size=2, out_hidden_size=hidden, num_position_embeddings=256,
            deepstack_visual_indexes=list(range(min(2, layers))),
        ),
        image_token_id=tok.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tok.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tok.convert_tokens_to_ids("<|vision_end|>"),
        tie_word_embeddings=True,
    )  # fmt: skip
    for key, value in latent_ids.to_config().items():
        setattr(cfg, key, value)
    cfg.max_latent_token = 4  # paper default L_max (the authors' `scripts/train_twiff.sh` uses 32)
    return cfg


def build_tiny_model(seed: int = 0, **config_kwargs):
    """Random weights, reproducible from `seed` (the same seed gives bit-identical parameters)."""
    from transformers import Qwen3VLForConditionalGeneration

    cfg = tiny_config(**config_kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen3VLForConditionalGeneration(cfg)
    model.generation_config.eos_token_id = cfg.text_config.eos_token_id
    model.generation_config.pad_token_id = cfg.text_config.pad_token_id
    return model.eval()


def write_tiny_checkpoint(out: Path, seed: int = 0, domain: tuple[str, ...] | None = None) -> Path:
    build_tiny_model(seed, domain=domain).save_pretrained(out)
    build_processor(domain=domain).save_pretrained(out)
    return out


def tiny_checkpoint_dir(seed: int = 0, domain: tuple[str, ...] | None = None) -> Path:
    """A saved tiny checkpoint (model, processor, chat template), built on first use and cached; `domain`: with the
    vocabulary pruned to those texts."""
    name = f"{TINY_CHECKPOINT}-seed{seed}" + (f"-domain-{domain_name(domain)}" if domain is not None else "")
    return cached_dir(name, lambda out: write_tiny_checkpoint(out, seed, domain))


def derive_tiny_checkpoint(
    out: Path, *, pixels: tuple[int, int], seed: int = 0, domain: tuple[str, ...] | None = None
) -> Path:
    """The cached tiny checkpoint (`seed`, `domain`) copied into `out`, its image processor resizing images to
    `pixels` = (min, max) pixels: the untrained base of a tiny model that SFT trains (the demo model, the toy
    experiment's), shown question frames at the size its evaluation uses."""
    source = tiny_checkpoint_dir(seed, domain)
    shutil.copytree(source, out, ignore=shutil.ignore_patterns(".complete"), dirs_exist_ok=True)
    path = out / "processor_config.json"
    config = json.loads(path.read_text())
    config["image_processor"]["size"] = {"shortest_edge": pixels[0], "longest_edge": pixels[1]}
    path.write_text(json.dumps(config, indent=2) + "\n")
    return out


def fix_latent_budget(ckpt: Path) -> None:
    """Make a trained tiny checkpoint decode every span with the fixed budget of L_max steps, the span length SFT
    shows it: SFT never supervises where a span ends (the position after <|latent_start|> is a masked <|latent|>, as
    in the authors' collators), so in loose mode a tiny model ends every span at once. Loose mode stays one model
    argument away (`fixed_latent_budget=false`)."""
    path = ckpt / "config.json"
    config = json.loads(path.read_text())
    config["fixed_latent_budget"] = True
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")

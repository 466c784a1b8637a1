"""A byte-level BPE vocabulary cut down to what a closed text domain uses, segmenting that domain exactly as before.

Why: a tiny model over the real 151,643-rank Qwen vocabulary spends most of a training step in its output head (the
toy SFT step benchmark: 666 of 834 ms). A toy task writes a few dozen distinct words, so a vocabulary of those
words' tokens is enough: the toy experiment's has 1,152 rows, and its step takes 130 ms.

What is kept: every token the full BPE produces on the domain's texts, every substring of those tokens that is itself
a token (a superset of the intermediate tokens BPE builds them from), and all 256 single-byte tokens, so any text
still encodes. Merges whose two parts and result are kept stay, in their original rank order. On the domain's texts
the pruned BPE then applies the same merges in the same order: the merge the full BPE picks at each step is kept
(its result is an intermediate token), and every kept merge has the rank it had. Other texts still round-trip through
the byte tokens, with a coarser segmentation than Qwen's. New ids follow the old ranks, so the order is preserved.
"""

from __future__ import annotations

from collections.abc import Iterable


def kept_tokens(vocab: dict[str, int], used: Iterable[str]) -> set[str]:
    """The byte tokens, the `used` tokens and every substring of them that is a token of `vocab`."""
    keep = {token for token in vocab if len(token) == 1}  # byte-level BPE: one character per byte
    for token in set(used):
        if token not in vocab:
            continue  # an added (special) token, kept by the tokenizer itself
        keep.update(token[i:j] for i in range(len(token)) for j in range(i + 1, len(token) + 1) if token[i:j] in vocab)
    return keep


def prune_bpe(
    vocab: dict[str, int], merges: list[tuple[str, str]], used: Iterable[str]
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """(vocab with ids 0..K-1 in the old rank order, the merges among kept tokens in their old order)."""
    keep = kept_tokens(vocab, used)
    ordered = sorted(keep, key=vocab.__getitem__)
    new_vocab = {token: i for i, token in enumerate(ordered)}
    new_merges = [(a, b) for a, b in merges if a in keep and b in keep and a + b in keep]
    return new_vocab, new_merges

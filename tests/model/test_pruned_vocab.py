"""A vocabulary pruned to a text domain (`model.pruned_vocab`, `processor.qwen_tokenizer_dir(domain)`): the domain
segments exactly as with the full Qwen vocabulary, any other text still round-trips, and the added tokens keep
working."""

from __future__ import annotations

from pathlib import Path

import pytest

from future_l1.model.pruned_vocab import kept_tokens, prune_bpe

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def full():
    from transformers import AutoTokenizer

    from future_l1.model.processor import qwen_tokenizer_dir

    return AutoTokenizer.from_pretrained(qwen_tokenizer_dir())


def _pruned(domain: tuple[str, ...]):
    from transformers import AutoTokenizer

    from future_l1.model.processor import qwen_tokenizer_dir

    return AutoTokenizer.from_pretrained(qwen_tokenizer_dir(domain))


def test_prune_bpe_keeps_bytes_used_tokens_and_their_sub_tokens_in_rank_order():
    vocab = {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5, "cc": 6, "zz": 7}
    merges = [("a", "b"), ("b", "c"), ("ab", "c"), ("c", "c")]
    assert kept_tokens(vocab, ["abc", "<|special|>"]) == {"a", "b", "c", "ab", "bc", "abc"}
    new_vocab, new_merges = prune_bpe(vocab, merges, ["abc"])
    assert new_vocab == {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5}
    assert new_merges == [("a", "b"), ("b", "c"), ("ab", "c")]  # "cc" is no used token's substring


def test_real_text_segments_as_with_the_full_vocabulary(full):
    """The class of problem, not the toy: a pruned vocabulary of this README segments every README line exactly as
    Qwen's does, while holding a small share of its tokens."""
    lines = tuple(line for line in README.read_text().splitlines() if line.strip())
    tok = _pruned(lines)
    assert len(tok) < len(full) // 10
    for line in lines:
        assert tok.tokenize(line) == full.tokenize(line), line
    # new ids follow the old ones: every kept token (added ones too) keeps its order
    old_by_new = [full.convert_tokens_to_ids(t) for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
    assert old_by_new == sorted(old_by_new) and len(set(old_by_new)) == len(old_by_new)


@pytest.mark.parametrize(
    "text",
    ["Ünïcode 漢字 and an emoji 🎾", "brand-new words: zymurgy, quixotic\tcode()\n\n", " ", "0.125 s", "\r\n\x00"],
)
def test_text_outside_the_domain_still_round_trips(full, text):
    tok = _pruned(("The ball flies.",))
    ids = tok(text, add_special_tokens=False).input_ids
    assert tok.decode(ids) == text
    assert max(ids) < len(tok)


def test_added_tokens_stay_atomic_and_follow_the_bpe_tokens(full):
    from future_l1.model.processor import QWEN3_ADDED
    from future_l1.model.tokens import LATENT_TOKENS, LatentIds

    tok = _pruned(("The ball flies.", "\n<answer>A</answer>"))
    bpe = len(tok.get_vocab()) - len(QWEN3_ADDED) - len(LATENT_TOKENS)
    added = tok.convert_tokens_to_ids([*QWEN3_ADDED, *LATENT_TOKENS])
    assert added == list(range(bpe, bpe + len(added)))  # the full tokenizer's order, right after the BPE ranks
    ids = LatentIds.from_tokenizer(tok)
    text = "<|latent_start|><|latent|><|latent|><|latent_end|>\n<answer>A</answer><|im_end|>"
    enc = tok(text, add_special_tokens=False).input_ids
    assert enc[:4] == [ids.start, ids.latent, ids.latent, ids.end]
    assert tok.decode(enc) == text and tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    assert tok.tokenize(text) == full.tokenize(text)


def test_tiny_model_over_a_domain_has_a_small_head_and_consistent_ids(tmp_path):
    from transformers import AutoProcessor

    from future_l1.model.tiny import QWEN3_VOCAB_SIZE, tiny_checkpoint_dir, tiny_config

    domain = ("The ball flies.",)
    cfg = tiny_config(domain=domain)
    processor = AutoProcessor.from_pretrained(tiny_checkpoint_dir(0, domain))
    tok = processor.tokenizer
    assert len(tok) <= cfg.text_config.vocab_size < len(tok) + 64 and cfg.text_config.vocab_size < QWEN3_VOCAB_SIZE
    assert cfg.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    assert cfg.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
    assert cfg.latent_id == tok.convert_tokens_to_ids("<|latent|>")
    assert cfg.text_config.eos_token_id == tok.eos_token_id
    assert tiny_checkpoint_dir(0, domain) != tiny_checkpoint_dir(0)  # never served from the full model's cache

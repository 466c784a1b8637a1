"""SFT record conversion against the authors' SFT loader rules (issue 11, item 4), and the deliberate deviations."""

from __future__ import annotations

import random
import re
from types import SimpleNamespace

import pytest

from future_l1.model.tokens import LATENT, LATENT_END, LATENT_START
from future_l1.training.data import clean_thought, normalize_question, parse_record
from future_l1.training.latent_batch import IGNORE, LatentEncoder, assistant_text


@pytest.fixture()
def images(tmp_path):
    from PIL import Image

    for name in ("q1.png", "q2.png", "r1.png", "r2.png"):
        Image.new("RGB", (40, 30), (10, 200, 10)).save(tmp_path / name)
    return tmp_path


def record(root, human: str, gpt: str, answer: str = "C", q=("q1.png", "q2.png"), r=("r1.png",)):
    raw = {"id": "x", "image": list(q), "reasoning_image": list(r), "answer": answer,
           "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}]}  # fmt: skip
    return parse_record(raw, 0, root)


def authors_thought(piece: str) -> str:
    """The authors' rule for one gpt text piece (src/dataset/*: strip, delete every "THOUGHT <n>:" + spaces, strip)."""
    return re.sub(r"THOUGHT \d+:\s*", "", piece.strip()).strip()


@pytest.mark.parametrize(
    ("piece", "expected"),
    [
        ("THOUGHT 1: a. THOUGHT 2: b. ", "a. b."),  # the issue's example: every marker goes, not only the first
        ("  THOUGHT 12:\n\nthe ball falls", "the ball falls"),
        ("thought 1: lower case stays", "thought 1: lower case stays"),  # the rule is case-sensitive
        ("THOUGHT1: no space stays", "THOUGHT1: no space stays"),
        ("THOUGHT 3 : spaced colon stays", "THOUGHT 3 : spaced colon stays"),
        ("see THOUGHT 4:x", "see x"),
        ("THOUGHT 5:", ""),
    ],
)
def test_thought_markers(piece, expected):
    assert clean_thought(piece) == expected == authors_thought(piece)


def test_thought_markers_on_generated_pieces():
    rng = random.Random(0)
    atoms = ["THOUGHT 1:", "THOUGHT 22: ", "THOUGHT 3:\n", "thought 4:", "THOUGHT:", " ", "\n", "a", "b.", "<x>"]
    for _ in range(2000):
        piece = "".join(rng.choice(atoms) for _ in range(rng.randint(0, 8)))
        assert clean_thought(piece) == authors_thought(piece), repr(piece)


def test_issue_example_reason_block(images):
    rec = record(images, "<image><image>Next?", "THOUGHT 1: a. THOUGHT 2: b. <image>")
    assert rec.thoughts == ["a. b.", ""]
    text = assistant_text(rec, [2])
    assert text == f"<reason>a. b.</reason>\n{LATENT_START}{LATENT * 2}{LATENT_END}\n<answer>C</answer>"


def authors_user_layout(text: str, n_frames: int) -> list[str]:
    """The authors' human-turn layout: split at <image> (kept), strip pieces, drop empty ones, frames in order."""
    out, k = [], 0
    for part in re.split(r"(<image>)", text):
        part = part.strip()
        if part == "<image>":
            if k < n_frames:
                out.append("<IMG>")
                k += 1
        elif part:
            out.append(part)
    return out


def our_user_layout(rec) -> list[str]:
    encoder = SimpleNamespace(system_prompt=None)  # the layout needs no processor
    msgs = LatentEncoder.messages(encoder, rec, len(rec.question_frames), "")
    return [c["text"] if c["type"] == "text" else "<IMG>" for c in msgs[-2]["content"]]


@pytest.mark.parametrize(
    "human",
    [
        "frame_1: <image>\nframe_2: <image>\nWhat will happen next?",
        "<image>  <image>\n\nWhat next?  ",
        "Look:\n<image>then<image>",
        "\n<image>\n<image>\n",
    ],
)
def test_normalize_question_gives_the_authors_layout(human):
    """`normalize_question` reproduces the authors' human-turn layout (kept for comparison, not used in training)."""
    parts = normalize_question(human).split("<image>")
    ours = [x for i, p in enumerate(parts) for x in ([p] if p else []) + (["<IMG>"] if i < len(parts) - 1 else [])]
    assert ours == authors_user_layout(human, 2)


def test_user_text_whitespace_is_kept(images):
    """Deviation (kept): the authors strip it (`frame_1:<image>frame_2:<image>What next?`); we keep the record's text,
    the layout of the evaluation prompt (visuals, then "\n" + question)."""
    human = "frame_1: <image>\nframe_2: <image>\nWhat next?"
    rec = record(images, human, "x <image>")
    assert rec.question == human
    assert our_user_layout(rec) == ["frame_1: ", "<IMG>", "\nframe_2: ", "<IMG>", "\nWhat next?"]
    assert authors_user_layout(human, 2) == ["frame_1:", "<IMG>", "frame_2:", "<IMG>", "What next?"]
    assert normalize_question(" a: <image>\n b ") == "a:<image>b"


def test_human_turn_without_markers_gets_its_frames_first(images):
    """Deviation (kept): the authors' SFT loader would train this record without its two question frames."""
    rec = record(images, "What happens next?", "x <image>")
    assert rec.question == "<image><image>What happens next?"
    assert our_user_layout(rec) == ["<IMG>", "<IMG>", "What happens next?"]
    assert authors_user_layout("What happens next?", 2) == ["What happens next?"]


@pytest.mark.parametrize("answer", ["", "   ", None])
def test_empty_answer_is_rejected(images, answer):
    """Deviation (kept): the authors train such a record with no <answer> block."""
    with pytest.raises(ValueError, match="empty answer"):
        record(images, "<image><image>Q", "x <image>", answer=answer)


def test_marker_frame_mismatch_is_rejected(images):
    with pytest.raises(ValueError, match="placeholders"):
        record(images, "<image>Q", "x <image>")  # two question frames listed, one marker
    with pytest.raises(ValueError, match="placeholders"):
        record(images, "<image><image>Q", "x <image> y <image>")  # one reasoning frame, two markers


def test_format_a_record_without_frames_is_skipped(tmp_path):
    (tmp_path / "v.mp4").write_bytes(b"")
    raw = {"id": "a", "video": "v.mp4", "image": [], "reasoning_image": [], "answer": "C",
           "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "x"}]}  # fmt: skip
    with pytest.raises(ValueError, match="no frames"):
        parse_record(raw, 0, tmp_path)


def test_text_only_baseline_joins_reasons_with_newlines(images):
    rec = record(images, "<image><image>Q", "THOUGHT 1: a. <image> THOUGHT 2: b.")
    assert assistant_text(rec, None) == "<reason>a.\nb.</reason>\n<answer>C</answer>"


def test_newline_after_assistant_header_is_masked(images, tiny_ckpt):
    """Deviation (kept): the authors supervise this `\\n`; it is part of the generation prompt, so we mask it."""
    import numpy as np
    from transformers import AutoProcessor

    from future_l1.model.tokens import LatentIds

    proc = AutoProcessor.from_pretrained(tiny_ckpt)
    tok = proc.tokenizer
    rec = record(images, "<image><image>Q", "THOUGHT 1: a. <image>")
    frame = np.full((64, 64, 3), 90, np.uint8)
    ex = LatentEncoder(proc, LatentIds.from_tokenizer(tok)).encode(rec, [frame, frame], [frame])
    ids, labels = ex["input_ids"].tolist(), ex["labels"]
    header = tok("<|im_start|>assistant", add_special_tokens=False).input_ids
    start = max(i for i in range(len(ids)) if ids[i : i + len(header)] == header)
    newline = start + len(header)
    assert tok.decode([ids[newline]]) == "\n"
    assert labels[newline] == IGNORE  # the authors' label here would be the "\n" id
    assert (labels[:newline] == IGNORE).all() and labels[newline + 1] == ids[newline + 1]
    assert tok.decode(ids[newline + 1 : newline + 5]).startswith("<reason>")

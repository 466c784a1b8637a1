"""Two probes of a toy experiment's latent SFT model: does it read the future frame, and does it imagine it?

Latent SFT teaches two things at once (paper §3.2): to answer from the future frame's embeddings, which SFT feeds at
the latent positions (teacher forcing), and to predict those embeddings from the question, which is what decoding
feeds back at inference. The toy experiment's accuracy cannot tell which of the two failed; these probes can.

* `reading`: teacher-forced answer accuracy on training items, with each item's own future frame at its latent
  positions, and with another item's. Far above chance with its own and at chance with another's: the model answers
  from the frame. It also gives the latent loss's squared error per span step on those items, next to that of
  predicting each step's mean: the first step is the one that needs the dynamics, the later ones can copy the frame
  teacher forcing feeds them.
* `imagining`: the latent vectors the model fed back on the evaluated items (`save_latents`) against the frozen
  encoder's embeddings of the true future frame: the squared error per latent step next to that of predicting each
  step's mean target, and the answer quadrant read from them by a linear read-out fitted on the true embeddings of the
  other half of the items. A model that imagines the future frame scores far above chance there.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch


def _model(ckpt: Path):
    from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

    return Qwen3VLForConditionalGeneration.from_pretrained(ckpt).eval(), AutoProcessor.from_pretrained(ckpt)


def _letter_ids(tokenizer) -> list[int]:
    ids = [tokenizer.convert_tokens_to_ids(">" + c) for c in "ABCD"]  # "<answer>A" tokenizes as "<", "answer", ">A"
    if tokenizer.unk_token_id in ids or None in ids:
        raise ValueError("the tokenizer has no '>A'..'>D' tokens; the reading probe expects the Qwen vocabulary")
    return ids


def _step_errors(pred: np.ndarray, target: np.ndarray) -> dict:
    """Squared error per span step of (items, steps, dim) predictions, and that of predicting each step's mean."""
    return {
        "squared_error_per_step": ((pred - target) ** 2).sum(-1).mean(0).round(3).tolist(),
        "squared_error_of_the_step_mean": ((target - target.mean(0)) ** 2).sum(-1).mean(0).round(3).tolist(),
    }


def reading(ckpt: Path, train_file: Path, *, n: int = 64, question_video_fps: float | None = None) -> dict:
    """Teacher-forced accuracy of the answer letter on the first `n` training items, own vs. another item's frame."""
    from future_l1.model.protocol import FUTURE_L1_SYSTEM_PROMPT
    from future_l1.model.tokens import LatentIds
    from future_l1.training.data import load_records
    from future_l1.training.frames import FrameCache
    from future_l1.training.latent_batch import LatentEncoder, collate
    from future_l1.training.latent_loss import latent_hidden_states, latent_inputs_embeds

    model, processor = _model(ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    encoder = LatentEncoder(processor, LatentIds.from_tokenizer(processor.tokenizer),
                            max_latent_token=int(config.get("max_latent_token", 4)),
                            system_prompt=FUTURE_L1_SYSTEM_PROMPT, question_video_fps=question_video_fps)  # fmt: skip
    cache = FrameCache()
    records = load_records(train_file).records[:n]
    batch = collate([encoder.encode(r, *r.load_frames(cache)) for r in records], processor.tokenizer.pad_token_id)
    letters = _letter_ids(processor.tokenizer)

    def forward(b: dict) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            embeds = latent_inputs_embeds(model, b)
            return embeds, latent_hidden_states(model, b, embeds)

    def accuracy(b: dict, hidden: torch.Tensor) -> float:
        logits = model.lm_head(hidden)[..., letters]
        right = []
        for row, labels in enumerate(b["labels"]):
            found = [t for t in range(1, len(labels)) if int(labels[t]) in letters]
            if not found:
                raise ValueError(f"record {records[row].id}: no answer letter A-D among its supervised tokens")
            right.append(letters[int(logits[row, found[-1] - 1].argmax())] == int(labels[found[-1]]))
        return float(np.mean(right))

    embeds, hidden = forward(batch)
    per_item = batch["latent_pixel_values"].shape[0] // len(records)  # patches of one item's future frame
    shuffled = dict(batch, latent_pixel_values=torch.roll(batch["latent_pixel_values"], per_item, 0))
    # each latent step's prediction (the hidden state before it) against its target, as latent_sft_loss pairs them
    at = batch["latent_mask"][:, 1:]
    pred = hidden[:, :-1][at].reshape(len(records), -1, hidden.shape[-1]).double().numpy()
    target = embeds[:, 1:][at].reshape(pred.shape).double().numpy()
    return {
        "items": len(records),
        "own_frame": accuracy(batch, hidden),
        "another_items_frame": accuracy(shuffled, forward(shuffled)[1]),
        **_step_errors(pred, target),
    }


def imagining(ckpt: Path, latents_dir: Path, split: str) -> dict | None:
    """Imagined latents (saved by the adapter) of the evaluated toy items against their true future-frame embeddings."""
    from future_l1.tasks.toy_vep import TARGET, make_item
    from future_l1.training.latent_batch import LATENT_MIN_PIXELS, PIXELS_PER_TOKEN

    # the adapter's files: <task>__<split>__<doc_id>__rank<k>.npz, the fed-back vectors of one answer; others ignored
    named = [(f, f.name.split("__")) for f in Path(latents_dir).glob("*__rank*.npz")]
    files = sorted(((int(p[-2]), f) for f, p in named if len(p) >= 4 and p[-2].isdigit()), key=lambda x: x[0])
    if len(files) < 8:
        return None
    doc_ids = [i for i, _ in files]
    files = [f for _, f in files]
    imagined = [np.load(f)["latents"] for f in files]
    steps = {len(x) for x in imagined}
    if len(steps) != 1:
        return None  # spans of different lengths: not the fixed-budget decoding the toy experiment uses
    model, processor = _model(ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    max_pixels = int(config.get("max_latent_token", 4)) * PIXELS_PER_TOKEN
    items = [make_item(split, i) for i in doc_ids]
    size = {"shortest_edge": min(LATENT_MIN_PIXELS, max_pixels), "longest_edge": max_pixels}
    enc = processor.image_processor(images=[it.frames[TARGET] for it in items], size=size, return_tensors="pt")
    with torch.no_grad():
        true = model.model.get_image_features(enc["pixel_values"], enc["image_grid_thw"]).pooler_output
    true = torch.stack(list(true)).double().numpy()
    imagined = np.stack(imagined).astype(np.float64)
    if true.shape != imagined.shape:
        return None
    gold = np.array(["ABCD".index(it.answer) for it in items])
    half = len(items) // 2
    readout = np.linalg.lstsq(np.c_[true[:half].reshape(half, -1), np.ones(half)], np.eye(4)[gold[:half]],
                              rcond=None)[0]  # fmt: skip

    def quadrant_accuracy(x: np.ndarray) -> float:
        rest = x[half:].reshape(len(x) - half, -1)
        return float(((np.c_[rest, np.ones(len(rest))] @ readout).argmax(1) == gold[half:]).mean())

    return {
        "items": len(items),
        **_step_errors(imagined, true),
        "quadrant_from_true_frame": quadrant_accuracy(true),
        "quadrant_from_imagined_frame": quadrant_accuracy(imagined),
    }

"""Probes of a toy experiment's latent SFT model: does it read the future frame, and does it imagine it?

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
  step's mean target; and the ball's centre read from them by a linear read-out fitted on the true embeddings of the
  other half of the items, in pixels off the true centre, with the answer the task's rule (`task.quadrant`) gives
  for that centre. A model that imagines the future frame scores far above chance there.
* `swapping`: the content control. The evaluated items, teacher-forced with the latents the model imagined for them,
  and with those it imagined for another clip (whose answer differs): a model that answers from what it imagined
  follows the other clip's answer.
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


def _answer_letters(model, batch: dict, hidden: torch.Tensor, letters: list[int], ids: list[str]):
    """(predicted, gold) option index per row: the model's pick among A-D where the last supervised answer letter is."""
    logits = model.lm_head(hidden)[..., letters]
    predicted, gold = [], []
    for row, labels in enumerate(batch["labels"]):
        found = [t for t in range(1, len(labels)) if int(labels[t]) in letters]
        if not found:
            raise ValueError(f"record {ids[row]}: no answer letter A-D among its supervised tokens")
        predicted.append(int(logits[row, found[-1] - 1].argmax()))
        gold.append(letters.index(int(labels[found[-1]])))
    return np.array(predicted), np.array(gold)


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
        predicted, gold = _answer_letters(model, b, hidden, letters, [r.id for r in records])
        return float(np.mean(predicted == gold))

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


def _saved_latents(latents_dir: Path) -> tuple[list[int], np.ndarray] | None:
    """(doc ids, their fed-back vectors (items, steps, dim)) from the adapter's `save_latents` files, named
    <task>__<split>__<doc_id>__rank<k>.npz (others are ignored); None for fewer than 8 items, for answers without a
    span, or for spans of different lengths (not the fixed-budget decoding the toy experiment uses)."""
    named = [(f, f.name.split("__")) for f in Path(latents_dir).glob("*__rank*.npz")]
    files = sorted(((int(p[-2]), f) for f, p in named if len(p) >= 4 and p[-2].isdigit()), key=lambda x: x[0])
    if len(files) < 8:
        return None
    imagined = [np.load(f)["latents"] for _, f in files]
    if len({x.shape for x in imagined}) != 1 or len(imagined[0]) == 0:
        return None  # spans of different lengths, or no span opened at all
    return [i for i, _ in files], np.stack(imagined)


def imagining(ckpt: Path, latents_dir: Path, split: str) -> dict | None:
    """Imagined latents (saved by the adapter) of the evaluated toy items against their true future-frame embeddings."""
    from future_l1.harness.experiments.toy_vep.task import TARGET, make_item, quadrant
    from future_l1.training.latent_loss import future_frame_embeddings

    saved = _saved_latents(latents_dir)
    if saved is None:
        return None
    doc_ids, imagined = saved
    model, processor = _model(ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    items = [make_item(split, i) for i in doc_ids]
    # SFT's own latent targets (the function the latent diagnostics' cos_future_frame also uses)
    true = future_frame_embeddings(model, processor, [it.frames[TARGET] for it in items],
                                   int(config.get("max_latent_token", 4)))  # fmt: skip
    true = torch.stack(true).double().numpy()
    imagined = imagined.astype(np.float64)
    if true.shape != imagined.shape:
        return None
    centre = np.stack([it.positions[TARGET] for it in items])
    gold = np.array(["ABCD".index(it.answer) for it in items])
    half = len(items) // 2
    readout = np.linalg.lstsq(np.c_[true[:half].reshape(half, -1), np.ones(half)], centre[:half], rcond=None)[0]

    def read(x: np.ndarray) -> tuple[float, float]:
        """(mean distance in px of the read centre from the true one, answer accuracy) on the held-out half."""
        rest = x[half:].reshape(len(x) - half, -1)
        got = np.c_[rest, np.ones(len(rest))] @ readout
        answers = np.array([quadrant(*c) for c in got])
        return float(np.hypot(*(got - centre[half:]).T).mean()), float((answers == gold[half:]).mean())

    (true_px, true_acc), (imagined_px, imagined_acc) = read(true), read(imagined)
    return {
        "items": len(items),
        **_step_errors(imagined, true),
        "centre_error_px_true_frame": round(true_px, 2),
        "centre_error_px_imagined_frame": round(imagined_px, 2),
        "answer_from_true_frame": true_acc,
        "answer_from_imagined_frame": imagined_acc,
    }


def _donors(answers: list[str]) -> np.ndarray:
    """For each item, the next item (cyclically) whose answer differs; the next item where all answers agree. Item i's
    answer is option i mod 4, so this is the next item unless evaluated items are missing."""
    n = len(answers)
    return np.array(
        [next((j % n for j in range(i + 1, i + n) if answers[j % n] != answers[i]), (i + 1) % n) for i in range(n)]
    )


def swapping(
    ckpt: Path, latents_dir: Path, split: str, *, question_video_fps: float | None = None, batch_size: int = 32
) -> dict | None:
    """Content control: does (a) answer from what it imagined, or only from running its latent loop?

    Each evaluated item is laid out as SFT lays it out (the evaluation's prompt, the reason, a span, `<answer>`), and
    the span's positions get, teacher-forced, the vectors the model fed back at inference: its own, or those it
    imagined for another clip, the next evaluated item whose answer differs (`_donors`). A model that answers from the
    imagined content follows the other clip's answer; one that only needs the loop to run does not care. Accuracy
    against each item's own answer, and the share of answers that are the other clip's answer.

    Not `latent_intervention=shuffle` (model/interventions.py), on purpose: shuffle swaps while decoding freely, and
    its donor is the next row still decoding, whose answer may be the same; this probe is teacher-forced (the same
    span length and answer position for every item) and its donor always has another answer, which is what makes
    "gave the other clip's answer" readable, and it keeps the README's published numbers."""
    import tempfile

    from future_l1.harness.experiments.toy_vep.data import toy_record
    from future_l1.model.protocol import FUTURE_L1_SYSTEM_PROMPT
    from future_l1.model.tokens import LatentIds
    from future_l1.training.data import load_records
    from future_l1.training.frames import FrameCache
    from future_l1.training.latent_batch import LatentEncoder, collate
    from future_l1.training.latent_loss import latent_hidden_states, latent_inputs_embeds

    saved = _saved_latents(latents_dir)
    if saved is None:
        return None
    doc_ids, imagined = saved
    model, processor = _model(ckpt)
    letters = _letter_ids(processor.tokenizer)
    steps = imagined.shape[1]
    encoder = LatentEncoder(processor, LatentIds.from_tokenizer(processor.tokenizer), max_latent_token=steps,
                            system_prompt=FUTURE_L1_SYSTEM_PROMPT, question_video_fps=question_video_fps)  # fmt: skip
    picks: dict[str, list[np.ndarray]] = {"own": [], "other": []}
    golds: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as tmp:
        videos = Path(tmp) / "videos"
        videos.mkdir()
        raw = [toy_record(i, videos, split) for i in doc_ids]
        donor = _donors([r["answer"] for r in raw])
        vectors = {"own": torch.from_numpy(imagined), "other": torch.from_numpy(imagined[donor])}
        (Path(tmp) / "items.json").write_text(json.dumps(raw))
        records, cache = load_records(Path(tmp) / "items.json").records, FrameCache()
        for start in range(0, len(records), batch_size):
            part = records[start : start + batch_size]
            b = collate([encoder.encode(r, *r.load_frames(cache)) for r in part], processor.tokenizer.pad_token_id)
            if int(b["latent_mask"].sum()) != len(part) * steps:
                raise ValueError(f"spans of {steps} steps expected (the saved latents'); the records give others")
            with torch.no_grad():
                embeds = latent_inputs_embeds(model, b)
                for name, fed in vectors.items():
                    chunk = fed[start : start + len(part)].reshape(-1, fed.shape[-1]).to(embeds.dtype)
                    swapped = embeds.masked_scatter(b["latent_mask"].unsqueeze(-1), chunk)
                    got, gold = _answer_letters(model, b, latent_hidden_states(model, b, swapped), letters,
                                                [r.id for r in part])  # fmt: skip
                    picks[name].append(got)
            golds.append(gold)
    gold_all = np.concatenate(golds)
    own, other = np.concatenate(picks["own"]), np.concatenate(picks["other"])
    return {
        "items": len(gold_all),
        "own_imagined": float((own == gold_all).mean()),
        "other_clips_imagined": float((other == gold_all).mean()),
        "other_clips_answer_given": float((other == gold_all[donor]).mean()),
        "answer_changed": float((other != own).mean()),
    }


def future_in_hidden(
    ckpt: Path, train_file: Path, *, text_only: bool, n: int = 256, question_video_fps: float | None = None
) -> dict:
    """How well a linear read-out finds the ball's centre at the last snapshot and at the asked frame in the hidden
    state at the end of the reason text (the token before `<|latent_start|>` in latent SFT and before `<answer>` in
    text-only SFT: the same prompt and text in both arms, before any latent). Ridge fitted on half of `n` training
    items, R² on the other half, per layer (0 = embeddings). A model that has learned to work out the future from
    the question carries the asked frame's centre there; the last snapshot's is what it can read off the clip."""
    from future_l1.harness.experiments.toy_vep.task import OBSERVED, TARGET, make_item
    from future_l1.model.protocol import FUTURE_L1_SYSTEM_PROMPT
    from future_l1.model.tokens import LatentIds
    from future_l1.training.data import load_records
    from future_l1.training.frames import FrameCache
    from future_l1.training.latent_batch import LatentEncoder, collate
    from future_l1.training.latent_loss import latent_hidden_states, latent_inputs_embeds

    model, processor = _model(ckpt)
    ids = LatentIds.from_tokenizer(processor.tokenizer)

    def make_encoder(drop_frame: bool) -> LatentEncoder:
        return LatentEncoder(processor, ids, max_latent_token=4, system_prompt=FUTURE_L1_SYSTEM_PROMPT,
                             question_video_fps=question_video_fps, text_only=drop_frame)  # fmt: skip

    encoder, with_span = make_encoder(text_only), make_encoder(False) if text_only else None
    cache, records = FrameCache(), load_records(train_file).records[:n]
    states, centres = [], []
    for start in range(0, len(records), 32):
        part = records[start : start + 32]
        frames = [r.load_frames(cache) for r in part]
        b = collate(
            [encoder.encode(r, *f) for r, f in zip(part, frames, strict=True)], processor.tokenizer.pad_token_id
        )
        with torch.no_grad():
            layers = latent_hidden_states(model, b, latent_inputs_embeds(model, b), all_layers=True)
        for row, (record, f) in enumerate(zip(part, frames, strict=True)):
            # both arms' sequences are the same up to the span's opening (right-padded batches: same index), so the
            # text-only arm takes it from the record encoded with its span; the system prompt names <|latent_start|>
            # too, so the span's own is found as the token before its first latent slot
            mask = with_span.encode(record, *f)["latent_mask"] if text_only else b["latent_mask"][row]
            slots = mask.flatten().nonzero().flatten()
            if not len(slots):
                raise ValueError(f"record {record.id}: no reasoning frame, so no latent span to probe before")
            at = int(slots[0]) - 2
            states.append(torch.stack([h[row, at] for h in layers]).double().numpy())
            item = make_item("train", int(record.id.rsplit("-", 1)[-1]))
            centres.append(np.r_[item.positions[OBSERVED[-1]], item.positions[TARGET]])
    x, y = np.stack(states), np.stack(centres)
    half = len(x) // 2

    def r2(layer: int, cols: slice) -> float:
        a = np.c_[x[:, layer], np.ones(len(x))]
        w = np.linalg.solve(a[:half].T @ a[:half] + 1e-2 * np.eye(a.shape[1]), a[:half].T @ y[:half, cols])
        err = ((a[half:] @ w - y[half:, cols]) ** 2).sum()
        return float(1 - err / ((y[half:, cols] - y[half:, cols].mean(0)) ** 2).sum())

    layers = range(x.shape[1])
    return {
        "items": len(x),
        "r2_last_snapshot_centre": [round(r2(k, slice(0, 2)), 3) for k in layers],
        "r2_future_centre": [round(r2(k, slice(2, 4)), 3) for k in layers],
    }

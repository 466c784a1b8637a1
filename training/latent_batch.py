"""Turn an `SFTRecord` into model inputs with latent spans, and pad examples into batches (paper §3.2; as the authors' `src/dataset/*.py` do).

The assistant turn is `<reason>…</reason>\n` text blocks interleaved, in placeholder order, with one latent span per
reasoning frame: `<|latent_start|>` + N×`<|latent|>` + `<|latent_end|>\n`, and ends with `<answer>…</answer>`.
N is the frame's merged vision-token count after resizing it with Qwen's smart_resize (factor 32 = patch 16 × merge
2, max_pixels = max_latent_token·32², min_pixels = min(2·32², max_pixels)); with the paper's L_max = 4 a 16:9 frame
gives 2 tokens and a square one 4.

Labels (as in the authors' collators): everything up to and including `<|im_start|>assistant\n` is masked, and so are padding and every
`<|latent|>`; `<|latent_start|>`, `<|latent_end|>`, the tags, `<|im_end|>` and newlines are supervised.
Deviation: the authors mask only through `<|im_start|>assistant` and supervise the `\n` after it. That `\n` belongs
to the generation prompt (`add_generation_prompt` writes it), so the model never predicts it; supervising it only
adds one constant target per sample to the CE mean. We mask it.
Text-only baseline (`text_only=True`): the same gpt turn without its latent spans, the cleaned pieces joined with
newlines in one `<reason>` block, as the authors' `cot` mode joins them. Deviation: their `cot` mode reads a record's
separate `cot` field when it has one; we keep the gpt turn, so the two arms differ only in the latent spans.
Question frames as a video (`question_video_fps`, off by default): the record's question frames become one video clip
of consecutive frames at that frame rate (an odd count padded with the last frame, as qwen-vl-utils pads frame lists),
placed at the first `<image>` (the other markers are dropped, the text between them kept). That is the layout
FutureBench evaluation feeds (`model.inputs`: same resizing, same timestamps, same bare `<|video_pad|>`), so a model
trained this way is evaluated on the layout it saw.
Deviation: Future-L1-50K and the paper train on question frames as separate images.
We build the latent text directly instead of the official rewrite of `<|vision_start|><|image_pad|>…` in a second
processor pass; the result is the same token layout with one processor call less.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from future_l1.model.tokens import LATENT, LATENT_END, LATENT_START, LatentIds
from future_l1.training.data import PLACEHOLDER, SFTRecord

IGNORE = -100
PIXELS_PER_TOKEN = 32 * 32  # patch 16 × merge 2, squared
LATENT_MIN_PIXELS = 2 * PIXELS_PER_TOKEN  # the scripts' image_min_pixels


def assistant_text(record: SFTRecord, span_lengths: list[int] | None) -> str:
    """The target text of the assistant turn; `span_lengths=None` gives the text-only baseline (no latent spans)."""
    pieces = [p for p in record.thoughts]
    if span_lengths is None:
        reason = "\n".join(p for p in pieces if p)
        return (f"<reason>{reason}</reason>\n" if reason else "") + f"<answer>{record.answer}</answer>"
    out = []
    for i, piece in enumerate(pieces):
        if piece:
            out.append(f"<reason>{piece}</reason>\n")
        if i < len(span_lengths):
            out.append(LATENT_START + LATENT * span_lengths[i] + LATENT_END + "\n")
    out.append(f"<answer>{record.answer}</answer>")
    return "".join(out)


def latent_frame_inputs(processor, frames: list[np.ndarray], max_latent_token: int) -> dict[str, torch.Tensor]:
    """Future frames resized as latent SFT resizes its targets (at most `max_latent_token` merged tokens each):
    `pixel_values` and `image_grid_thw` for the vision encoder."""
    max_pixels = max_latent_token * PIXELS_PER_TOKEN
    size = {"shortest_edge": min(LATENT_MIN_PIXELS, max_pixels), "longest_edge": max_pixels}
    return processor.image_processor(images=frames, size=size, return_tensors="pt")


@dataclass
class LatentEncoder:
    """Encodes records with a Qwen3-VL processor. `text_only=True` drops the reasoning frames (paper's baseline)."""

    processor: object
    latent_ids: LatentIds
    max_latent_token: int = 4
    text_only: bool = False
    system_prompt: str | None = None
    question_video_fps: float | None = None
    aux_targets: bool = False  # text-only: keep the reasoning frames as aux-head targets (`aux_pixel_values`)

    def __post_init__(self):
        tok = self.processor.tokenizer
        self._header = tok("<|im_start|>assistant\n", add_special_tokens=False).input_ids
        self._answer_open = tok("<answer", add_special_tokens=False).input_ids
        self._pad = tok.pad_token_id

    def latent_frames(self, frames: list[np.ndarray]) -> dict[str, torch.Tensor]:
        return latent_frame_inputs(self.processor, frames, self.max_latent_token)

    def messages(self, record: SFTRecord, n_images: int, assistant: str, *, video: bool = False) -> list[dict]:
        content: list[dict] = []
        parts = record.question.split(PLACEHOLDER)
        for i, part in enumerate(parts):
            if part:
                content.append({"type": "text", "text": part})
            if i < len(parts) - 1 and not (video and i > 0):
                content.append({"type": "video" if video else "image"})
        assert sum(c["type"] == "image" for c in content) == (0 if video else n_images)
        msgs = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*msgs, {"role": "user", "content": content}, {"role": "assistant", "content": assistant}]

    def encode(self, record: SFTRecord, question_frames: list[np.ndarray], reasoning_frames: list[np.ndarray]):
        latent = None
        spans: list[int] | None = None
        if not self.text_only and reasoning_frames:
            latent = self.latent_frames(reasoning_frames)
            spans = [int(n) for n in latent["image_grid_thw"].prod(-1) // 4]
        elif not self.text_only:
            spans = []
        video = self.question_video_fps is not None and bool(question_frames)
        chat = self.processor.apply_chat_template(
            self.messages(record, len(question_frames), assistant_text(record, spans), video=video), tokenize=False
        )
        if video:
            enc = self._encode_with_video(chat, question_frames)
        else:
            enc = self.processor(text=[chat], images=question_frames or None, return_tensors="pt")
        ids = enc["input_ids"][0]
        start = _find_last(ids.tolist(), self._header)
        if start < 0:
            raise ValueError(f"record {record.id}: no assistant header in the rendered chat")
        labels = ids.clone()
        labels[: start + len(self._header)] = IGNORE
        latent_mask = ids == self.latent_ids.latent
        labels[latent_mask | (ids == self._pad)] = IGNORE
        if int(latent_mask.sum()) != sum(spans or []):
            raise ValueError(f"record {record.id}: {int(latent_mask.sum())} <|latent|> tokens, expected {spans}")
        ex = {
            "input_ids": ids,
            "attention_mask": enc["attention_mask"][0],
            "mm_token_type_ids": enc["mm_token_type_ids"][0],
            "labels": labels,
            "latent_mask": latent_mask,
            "span_lengths": spans or [],
        }
        if self.text_only and self.aux_targets and reasoning_frames:
            ex.update(self._aux_targets(record, ids, reasoning_frames))
        if question_frames and video:
            ex["pixel_values_videos"], ex["video_grid_thw"] = enc["pixel_values_videos"], enc["video_grid_thw"]
        elif question_frames:
            ex["pixel_values"], ex["image_grid_thw"] = enc["pixel_values"], enc["image_grid_thw"]
        if latent is not None:
            ex["latent_pixel_values"], ex["latent_grid_thw"] = latent["pixel_values"], latent["image_grid_thw"]
        return ex

    def _aux_targets(self, record: SFTRecord, ids: torch.Tensor, frames: list[np.ndarray]) -> dict:
        """The aux head's inputs: its targets (the reasoning frames as latent SFT would scatter them) and the one
        position it reads, the token before the last `<answer>`, whose hidden state is the last before the answer."""
        at = _find_last(ids.tolist(), self._answer_open)
        if at < 1:
            raise ValueError(f"record {record.id}: no <answer> block for the aux head to read before")
        mask = torch.zeros_like(ids, dtype=torch.bool)
        mask[at - 1] = True
        latent = self.latent_frames(frames)
        return {"aux_mask": mask, "aux_pixel_values": latent["pixel_values"], "aux_grid_thw": latent["image_grid_thw"]}

    def _encode_with_video(self, chat: str, frames: list[np.ndarray]):
        """The question frames as one clip, sized and timed as `model.inputs` sizes and times an evaluation video."""
        from transformers.video_utils import VideoMetadata

        from future_l1.model.inputs import WRAPPED_VIDEO, presized_videos, resize_video

        size = self.processor.image_processor.size
        clip = np.stack(frames + frames[-1:] * (len(frames) % 2))
        clip = resize_video(clip, size["shortest_edge"], size["longest_edge"])
        presized_videos(self.processor)
        meta = VideoMetadata(
            total_num_frames=len(clip), fps=self.question_video_fps, frames_indices=list(range(len(clip)))
        )
        return self.processor(
            text=[chat.replace(WRAPPED_VIDEO, "<|video_pad|>")], videos=[clip], video_metadata=[meta],
            do_sample_frames=False, videos_kwargs={"do_resize": False}, return_tensors="pt",
        )  # fmt: skip


def _find_last(seq: list[int], sub: list[int]) -> int:
    for i in range(len(seq) - len(sub), -1, -1):
        if seq[i : i + len(sub)] == sub:
            return i
    return -1


def collate(examples: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a list of encoded examples; visual tensors (pixels, or `frozen_features`' outputs) are concatenated in
    batch order (the scatter order)."""
    length = max(len(e["input_ids"]) for e in examples)

    def pad(key: str, value) -> torch.Tensor:
        out = torch.full((len(examples), length), value, dtype=examples[0][key].dtype)
        for i, e in enumerate(examples):
            out[i, : len(e[key])] = e[key]
        return out

    batch = {
        "input_ids": pad("input_ids", pad_id),
        "attention_mask": pad("attention_mask", 0),
        "mm_token_type_ids": pad("mm_token_type_ids", 0),
        "labels": pad("labels", IGNORE),
        "latent_mask": pad("latent_mask", False),
    }
    if "aux_mask" in examples[0]:
        batch["aux_mask"] = pad("aux_mask", False)
    visuals = (("pixel_values", "image_grid_thw"), ("pixel_values_videos", "video_grid_thw"),
               ("latent_pixel_values", "latent_grid_thw"), ("aux_pixel_values", "aux_grid_thw"),
               ("image_features", "image_grid_thw"), ("video_features", "video_grid_thw"),
               ("latent_features", "latent_grid_thw"), ("aux_features", "aux_grid_thw"))  # fmt: skip
    for key, grid in visuals:
        present = [e for e in examples if key in e]
        if present:
            batch[key] = torch.cat([e[key] for e in present])
            batch[grid] = torch.cat([e[grid] for e in present])
    for key in ("image_deepstack", "video_deepstack"):  # (layers, tokens, d) per example: tokens in batch order
        present = [e[key] for e in examples if key in e]
        if present:
            batch[key] = torch.cat(present, dim=1)
    if "position_ids" in examples[0]:  # `frozen_features`: (3, length) each; padding at 1, as get_rope_index pads
        positions = torch.ones((3, len(examples), length), dtype=examples[0]["position_ids"].dtype)
        for i, e in enumerate(examples):
            positions[:, i, : e["position_ids"].shape[1]] = e["position_ids"]
        batch["position_ids"] = positions
    batch["span_lengths"] = torch.tensor([n for e in examples for n in e["span_lengths"]], dtype=torch.long)
    return batch

"""Training records of the toy VEP task (`toy_vep.task`) in the Future-L1-50K schema (Format A).

Each record: the full 16-frame clip (lossless mp4), question frames = keyframe-pool slots 1 and 4 (frames 1 and 6,
what the evaluation clip shows), one reasoning frame = slot 7 (frame 12, the frame the question asks about), the gpt
turn "THOUGHT 1: <the one generic reason> <image>" and the option letter as answer. The human turn is laid out as
the futurebench_future_l1 task's `doc_to_text`, so training and evaluation prompts are the same text.

Latent SFT turns the reasoning frame into a latent span aligned to the frozen vision encoder's embedding of frame 12;
text-only SFT (`text_only: true`) drops it and keeps the same reason text and answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from future_l1.training.frames import keyframe_pool

if TYPE_CHECKING:
    from future_l1.harness.experiments.toy_vep.task import ToyItem

QUESTION_SLOTS = [1, 4]  # 1-based keyframe-pool positions
REASONING_SLOT = 7


def _check_slots() -> None:
    from future_l1.harness.experiments.toy_vep.task import N_FRAMES, OBSERVED, TARGET

    pool = keyframe_pool(N_FRAMES)
    if [pool[s - 1] for s in QUESTION_SLOTS] != list(OBSERVED) or pool[REASONING_SLOT - 1] != TARGET:
        raise AssertionError(f"keyframe pool {pool} no longer puts frames {OBSERVED}/{TARGET} at the task's slots")


def toy_record(index: int, videos: Path, split: str = "train", reason: Callable[[ToyItem], str] | None = None) -> dict:
    """Item `index` of `split` as a training record (other splits than train: for layout checks only); `reason` gives
    an item's reason text (default: the one generic `REASON`; the control arms' texts: `controls`)."""
    from future_l1.harness.experiments.toy_vep.task import FPS, REASON, make_item, prompt_text
    from future_l1.tasks.prompts import FUTUREBENCH_FUTURE_L1_POST_PROMPT
    from future_l1.tasks.scenes import write_video

    item = make_item(split, index)
    name = f"toy_{item.seed}.mp4"
    write_video(item.frames, videos / name, fps=FPS)
    return {
        "id": f"toy-{split}-{index:05d}",
        "video": f"videos/{name}",
        "image": list(QUESTION_SLOTS),
        "reasoning_image": [REASONING_SLOT],
        "conversations": [
            {
                "from": "human",
                "value": "<image>" * len(QUESTION_SLOTS) + prompt_text(FUTUREBENCH_FUTURE_L1_POST_PROMPT),
            },
            {"from": "gpt", "value": f"THOUGHT 1: {reason(item) if reason else REASON} <image>"},
        ],
        "answer": item.answer,
        "meta_data": {
            "seed": item.seed,
            "borders_crossed": item.borders_crossed,
            "split": item.split,
            "style": "toy_vep",
        },
    }


def build_train_set(
    out: Path, n_items: int, *, progress: bool = True, reason: Callable[[ToyItem], str] | None = None
) -> Path:
    """Write `train.json` and `videos/` for the first `n_items` training items into `out`; returns train.json.
    `reason`: each item's reason text (`toy_record`)."""
    from tqdm.auto import tqdm

    _check_slots()
    out = Path(out)
    videos = out / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    records = [
        toy_record(i, videos, reason=reason)
        for i in tqdm(range(n_items), desc="toy VEP train set", unit="item", leave=False, disable=not progress)
    ]
    path = out / "train.json"
    path.write_text(json.dumps(records, indent=1))
    return path

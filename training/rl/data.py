"""RL data readers (the row shapes of the authors' `RL_v2/verl/utils/dataset.py`): EasyR1 rows, TwiFF rows, and
the demo RL set.

Every reader yields flat rows `{id, problem, answer, problem_type, media}`; `media` is a JSON list of
`{"type": "video"|"image", "path": …}` or `{"type": "image", "video": …, "slot": k}` (frame k of the video's 8-frame
keyframe pool, decoded at rollout time). Flat string columns keep the rows valid for `datasets.Dataset`.

* EasyR1 rows `{problem, answer, images?, videos?, problem_type?}`: paths relative to the file; `<image>`/`<video>`
  markers in `problem` bind the media in order (else the media go first); `problem_type == "multiple choice"` appends
  the authors' instruction "Please provide only the single option letter within the <answer> </answer> tags.".
* TwiFF rows (`conversations` + `video` + `image`): the question frames come from the SAME 8-frame pool as SFT and
  evaluation (`training.frames.keyframe_pool`). Deviation: the authors' RL used a different pool
  (linspace(1, L−2, 8)), so RL saw other frames than SFT for the same record; the reasoning frames are unused.
  `problem` = the human turn with its `<image>` markers, `answer` = `answer` (else the gpt turn).
* `demo`: the demo training set's multiple-choice records (procedural scenes, 48 questions, gold letters balanced:
  12 per letter), read as TwiFF rows; the `train rl --demo` set. (It once trained on the 12 whose gold letter is A,
  a shortcut that made the demo's reward rise while teaching nothing but "answer A".)
"""

from __future__ import annotations

import json
from pathlib import Path

from future_l1.training.rl.rollout import MC_SUFFIX


def _read(path: Path) -> list[dict]:
    text = path.read_text()
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    data = json.loads(text)
    return data if isinstance(data, list) else data.get("data", [])


def _resolve(p: str, root: Path) -> str:
    path = Path(p)
    return str(path if path.is_absolute() else root / path)


def easyr1_row(raw: dict, index: int, root: Path) -> dict:
    media = [{"type": "image", "path": _resolve(p, root)} for p in raw.get("images") or []]
    media += [{"type": "video", "path": _resolve(p, root)} for p in raw.get("videos") or []]
    problem = str(raw["problem"]).strip()
    ptype = raw.get("problem_type") or ""
    if ptype.lower() == "multiple choice":
        problem = f"{problem} {MC_SUFFIX}"
    return {"id": str(raw.get("id", index)), "problem": problem, "answer": str(raw["answer"]),
            "problem_type": ptype, "media": json.dumps(media)}  # fmt: skip


def is_twiff_row(raw: dict) -> bool:
    return "conversations" in raw and "video" in raw and ("image" in raw or "reasoning_image" in raw)


def twiff_row(raw: dict, index: int, root: Path) -> dict:
    from future_l1.training.data import parse_record

    rec = parse_record(raw, index, root)
    if rec.video is None:
        media = [{"type": "image", "path": str(p)} for p in rec.question_frames]
    else:
        media = [{"type": "image", "video": str(rec.video), "slot": int(s)} for s in rec.question_frames]
    answer = rec.answer
    letter = answer.strip().strip("().").upper()
    ptype = "multiple choice" if len(letter) == 1 and letter in "ABCD" and len(answer.strip()) <= 4 else "open"
    return {"id": rec.id, "problem": rec.question, "answer": answer, "problem_type": ptype, "media": json.dumps(media)}


def load_rl_rows(path: str | Path, limit: int | None = None) -> list[dict]:
    """Rows from a JSON/JSONL file of EasyR1 or TwiFF rows (told apart per row), or the demo set for 'demo'."""
    if str(path) == "demo":
        return demo_rl_rows(limit)
    path = Path(path)
    rows = []
    for i, raw in enumerate(_read(path)):
        rows.append(twiff_row(raw, i, path.parent) if is_twiff_row(raw) else easyr1_row(raw, i, path.parent))
        if limit and len(rows) >= limit:
            break
    if not rows:
        raise ValueError(f"{path}: no RL rows")
    return rows


def demo_rl_rows(limit: int | None = None) -> list[dict]:
    """The demo training set's multiple-choice records as RL rows (procedural scenes, balanced gold letters)."""
    from future_l1.training.demo_data import demo_train_file

    path = demo_train_file()
    rows = [twiff_row(raw, i, path.parent) for i, raw in enumerate(_read(path)) if "mc" in str(raw.get("id", ""))]
    return rows[:limit] if limit else rows

"""Readers and validators for Future-L1-50K / TwiFF SFT records (the formats the authors' `src/dataset/*.py` read).

Two record forms are accepted, told apart per record:

* Format A (TwiFF frame-index JSON, what Future-L1-50K uses): `video` (absolute or relative to the JSON file),
  `image` and `reasoning_image` = 1-based positions in the video's 8-frame keyframe pool (`frames.keyframe_pool`).
* Format B (path-based): `image` and `reasoning_image` = image file paths, relative to the JSON file.

Both carry `conversations` = [human turn with `<image>` placeholders, gpt turn "THOUGHT 1: … <image> THOUGHT 2: …"]
and `answer`. A file is a JSON list or JSON lines.

As the authors' SFT loaders (`src/dataset/twiff_sft_dataset.py`, `future_l1_dataset.py`) convert a record:
- Gpt turn: split at each `<image>`; in every text piece each `THOUGHT <digits>:` marker (upper case, one space, any
  whitespace after the colon) is deleted wherever it occurs, then the piece is stripped; empty pieces give no
  `<reason>` block (`clean_thought`). `"THOUGHT 1: a. THOUGHT 2: b. <image>"` gives the reason `a. b.`.
- A Format A record that lists no frames at all is skipped.

Deviations, on purpose (README "Where we deviate"):
- The human text keeps its whitespace around `<image>` markers. The authors' loaders strip every piece between
  markers and drop empty ones (`"frame_1: <image>\nframe_2: <image>\nWhat next?"` becomes `frame_1:`, frame,
  `frame_2:`, frame, `What next?` with nothing in between), while the evaluation prompt they score with keeps
  `\n` + question after the visuals: a train/evaluation layout mismatch. Measured on the demo model: trained on
  stripped text, it opened 12 of 24 FutureBench answers in the Future-L1 format instead of at least 20.
  `normalize_question` gives the authors' layout, for comparison.
- A human turn without `<image>` markers gets its question frames before the text (the layout of the evaluation
  adapter and of the authors' RL loader); the authors' SFT loader silently trains such a record without its
  question frames.
- An empty answer rejects the record; the authors train it without an `<answer>` block, which teaches the model to
  stop without answering (a format failure for every FutureBench/TwiFF parser and for the RL format reward).
- A count mismatch between `<image>` markers and listed frames, in either turn, rejects the record; the authors drop
  surplus markers (or ignore surplus frames) with a warning and train on the rest, which silently changes the
  reasoning trace.
- The answer is stripped in both formats (the authors strip it in Format A only).
Every bad record is reported as `BadRecord(index, id, reason)`; with `allow_bad=True` the good records still load.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from future_l1.model.untrusted import InputError, parse_json, read_text
from future_l1.training.frames import POOL_SIZE, FrameCache

log = logging.getLogger(__name__)

PLACEHOLDER = "<image>"
THOUGHT_MARKER = re.compile(r"THOUGHT \d+:\s*")  # the authors' rule: case-sensitive, anywhere in a piece
HUMAN_ROLES = {"human", "user"}
GPT_ROLES = {"gpt", "assistant"}


class DataError(InputError):
    """A dataset that cannot be used as given; the message names the file or the bad records and the fix."""


@dataclass(frozen=True)
class BadRecord:
    index: int
    id: str
    reason: str

    def __str__(self) -> str:
        return f"record {self.index} ({self.id}): {self.reason}"


@dataclass
class SFTRecord:
    """One training example, resolved: which frames, which texts. Frames are decoded on demand (`load_frames`)."""

    id: str
    question: str  # human text as written; `<image>` marks where each question frame goes
    thoughts: list[str]  # len(reasoning frames) + 1 text pieces of the gpt turn, cleaned by `clean_thought`
    answer: str
    question_frames: list[int | Path]  # Format A: 0-based pool slots; Format B: image paths
    reasoning_frames: list[int | Path]
    video: Path | None = None  # Format A only
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def format(self) -> str:
        return "A" if self.video is not None else "B"

    def load_frames(self, cache: FrameCache) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """(question frames, reasoning frames) as HxWx3 uint8 arrays."""
        if self.video is not None:
            pool = cache.pool(self.video)
            return [pool[i] for i in self.question_frames], [pool[i] for i in self.reasoning_frames]
        return [_read_image(p) for p in self.question_frames], [_read_image(p) for p in self.reasoning_frames]


def _read_image(path: int | Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


MAX_DATA_BYTES = 1 << 30  # Future-L1-50K is ~100 MB; a larger file is almost surely the wrong one


class Unreadable:
    """A line of a JSON-lines file that is not a JSON value: it keeps its place and becomes a bad record."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def read_raw(path: str | Path) -> list:
    """The raw records of a JSON list or JSON-lines (`.jsonl`) file. The file is untrusted: a missing, binary,
    non-UTF-8, oversized, deeply nested or non-JSON file raises `DataError` naming it and the reason; in a JSON-lines
    file a bad line is an `Unreadable` record (one bad record, not a dead file)."""
    path = Path(path)
    try:
        text = read_text(path, what="data file", max_bytes=MAX_DATA_BYTES)
        if path.suffix == ".jsonl":
            return [_line(line, n) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
        data = parse_json(text, where=f"data file {path}")
    except InputError as exc:
        hint = " (JSON lines need the .jsonl suffix)" if "Extra data" in str(exc) else ""
        raise DataError([p + hint for p in exc.problems]) from None
    if not isinstance(data, list):
        raise DataError(f"data file {path}: expected a JSON list of records, got {type(data).__name__}")
    return data


def _line(line: str, number: int):
    try:
        return parse_json(line, where=f"line {number}")
    except InputError as exc:
        return Unreadable(exc.problems[0])


def parse_record(raw: Any, index: int, root: Path) -> SFTRecord:
    """Validate one raw record; raises `ValueError` with the reason when it is unusable."""
    if isinstance(raw, Unreadable):
        raise ValueError(raw.reason)
    if not isinstance(raw, dict):
        raise ValueError(f"not a JSON object ({type(raw).__name__})")
    rid = record_id(raw, index)
    human, gpt = _turns(raw.get("conversations"))
    answer = raw.get("answer")
    if answer is not None and (isinstance(answer, bool) or not isinstance(answer, (str, int, float))):
        raise ValueError(f"`answer` must be text, got {type(answer).__name__}")
    answer = str(answer if answer is not None else "").strip()
    if not answer:
        raise ValueError("empty answer")
    q_frames, r_frames = raw.get("image") or [], raw.get("reasoning_image") or []
    if not isinstance(q_frames, list) or not isinstance(r_frames, list):
        raise ValueError("`image` and `reasoning_image` must be lists")
    n_q = human.count(PLACEHOLDER)
    if n_q and n_q != len(q_frames):
        raise ValueError(f"human turn has {n_q} <image> placeholders but `image` lists {len(q_frames)} frames")
    n_r = gpt.count(PLACEHOLDER)
    if n_r != len(r_frames):
        raise ValueError(f"gpt turn has {n_r} <image> placeholders but `reasoning_image` lists {len(r_frames)} frames")
    if raw.get("video") and not q_frames and not r_frames:
        raise ValueError("lists no frames (`image` and `reasoning_image` are empty); the official loader skips it")
    if not n_q:  # no markers: the frames go before the question (eval adapter layout; deviation, module docstring)
        human = PLACEHOLDER * len(q_frames) + human
    thoughts = [clean_thought(piece) for piece in gpt.split(PLACEHOLDER)]
    meta = {k: raw[k] for k in ("gain", "correct_in_8_base", "correct_in_8_hint", "meta_data") if k in raw}

    if raw.get("video") is not None and not isinstance(raw["video"], str):
        raise ValueError(f"`video` must be a path (text), got {type(raw['video']).__name__}")
    if raw.get("video"):
        video = Path(raw["video"])
        video = video if video.is_absolute() else root / video
        if not video.is_file():
            raise ValueError(f"video not found: {video}")
        return SFTRecord(rid, human, thoughts, answer, _slots(q_frames, "image"), _slots(r_frames, "reasoning_image"),
                         video=video, meta=meta)  # fmt: skip
    paths = [_image_path(p, root) for p in [*q_frames, *r_frames]]
    return SFTRecord(rid, human, thoughts, answer, paths[: len(q_frames)], paths[len(q_frames) :], meta=meta)


def normalize_question(text: str) -> str:
    """The human text as the authors' SFT loaders lay it out (not used for training, see the module docstring): pieces
    between `<image>` markers stripped, empty ones dropped, nothing in between (`"a: <image>\n b"` -> `"a:<image>b"`)."""
    pieces = text.split(PLACEHOLDER)
    out = pieces[0].strip()
    for piece in pieces[1:]:
        out += PLACEHOLDER + piece.strip()
    return out


def clean_thought(piece: str) -> str:
    """One text piece of the gpt turn with every `THOUGHT n:` marker deleted, stripped (the authors' rule)."""
    return THOUGHT_MARKER.sub("", piece.strip()).strip()


def _turns(conversations: Any) -> tuple[str, str]:
    if not isinstance(conversations, list) or len(conversations) < 2:
        raise ValueError("`conversations` must hold a human turn and a gpt turn")
    human = [c for c in conversations if isinstance(c, dict) and c.get("from", c.get("role")) in HUMAN_ROLES]
    gpt = [c for c in conversations if isinstance(c, dict) and c.get("from", c.get("role")) in GPT_ROLES]
    if len(human) != 1 or len(gpt) != 1:
        raise ValueError(f"expected one human and one gpt turn, got {len(human)} and {len(gpt)}")
    texts = [t.get("value", t.get("content", "")) for t in (human[0], gpt[0])]
    for name, text in zip(("human", "gpt"), texts, strict=True):
        if text is not None and not isinstance(text, str):
            raise ValueError(f"the {name} turn's value must be text, got {type(text).__name__}")
    return texts[0] or "", texts[1] or ""


def record_id(raw: Any, index: int) -> str:
    """A record's id for messages and progress files (its position when it has none; long ids are cut)."""
    rid = raw.get("id", index) if isinstance(raw, dict) else index
    text = rid if isinstance(rid, str) else json.dumps(rid, default=str)
    return text if len(text) <= 200 else text[:197] + "..."


def _slots(indices: list, name: str) -> list[int]:
    """1-based pool positions -> 0-based slots, checked."""
    out = []
    for i in indices:
        if isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= POOL_SIZE:
            raise ValueError(f"`{name}` entry {i!r} is not a 1-based position in the {POOL_SIZE}-frame pool")
        out.append(i - 1)
    return out


def _image_path(p: Any, root: Path) -> Path:
    if not isinstance(p, str):
        raise ValueError(f"image entry {p!r} is neither a pool index (with `video`) nor a path")
    path = Path(p) if Path(p).is_absolute() else root / p
    if not path.is_file():
        raise ValueError(f"image not found: {path}")
    return path


@dataclass
class LoadedRecords:
    records: list[SFTRecord]
    bad: list[BadRecord]
    source: Path


def load_records(path: str | Path, *, allow_bad: bool = False, limit: int | None = None,
                 log_bad: bool = True) -> LoadedRecords:  # fmt: skip
    """Parse and validate every record of `path`. Bad records raise `DataError` unless `allow_bad`; with `log_bad`
    their count is logged once (the caller gets each in `bad`: `train validate` prints them, SFT's summary keeps
    them)."""
    path = Path(path)
    raws = read_raw(path)[:limit]
    records, bad = [], []
    for i, raw in enumerate(raws):
        try:
            records.append(parse_record(raw, i, path.parent))
        except (ValueError, TypeError) as exc:
            bad.append(BadRecord(i, record_id(raw, i), str(exc)))
    if bad and allow_bad and log_bad:
        log.warning("%s: skipping %d of %d records (first: %s); `future-l1 train validate %s` lists them all",
                    path, len(bad), len(raws), bad[0], path)  # fmt: skip
    if bad and not allow_bad:
        listed = "\n  ".join(str(b) for b in bad[:10]) + (f"\n  … and {len(bad) - 10} more" if len(bad) > 10 else "")
        raise DataError(
            f"{path}: {len(bad)} of {len(raws)} records are unusable:\n  {listed}\n"
            "Fix them, or allow skipping (allow_bad_records: true / --allow-bad-records)."
        )
    return LoadedRecords(records, bad, path)


def check_frames(loaded: LoadedRecords, cache: FrameCache | None = None) -> LoadedRecords:
    """Decode every record's frames once (filling `cache`); records whose video/images cannot be read move to bad."""
    from tqdm.auto import tqdm

    cache = cache or FrameCache()
    good, bad = [], list(loaded.bad)
    for i, rec in enumerate(tqdm(loaded.records, desc="checking frames", unit="rec", leave=False)):
        try:
            rec.load_frames(cache)
            good.append(rec)
        except Exception as exc:  # unreadable media of any kind: name it and go on
            bad.append(BadRecord(i, rec.id, f"unreadable frames: {exc}"))
    return LoadedRecords(good, bad, loaded.source)

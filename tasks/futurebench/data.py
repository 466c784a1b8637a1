"""Load FutureBench from where the user put it (see `future_l1.tasks.settings`).

Accepted layouts in the data folder: NEP's `futurebench.json` (a JSON list of records), or a `datasets.save_to_disk`
copy (a Dataset or a DatasetDict with a `test` split). Records: `id`, `question_type` (hop1|hop2|hop3|hop5),
`video_path`, `qa` = {`Question`, `Options` {A..D}, `Answer`}. Each doc gets `video` = the resolved clip path.

Video resolution follows the official rule: an absolute path is used as is; a path containing `video_dataset/` is
re-rooted at the clip folder (the part after it); anything else is taken relative to the clip folder. Deviation:
the official code raises on a missing clip, which aborts the whole lmms-eval run; we keep the path, the model adapter
reports the missing file per sample, and `future-l1 data check futurebench` lists every missing clip up front.
Likewise a malformed record (no `qa`, `qa` not an object, `Options` not an object, an answer outside A-D, not an
object at all) keeps its doc_id and carries `data_error`; scoring counts it in `n_errors` (never silently wrong).
A record the authors' protocol still scores but that looks wrong (a `question_type` outside hop1/2/3/5, an id an
earlier record already uses) is scored as they score it and carries `data_warning`, recorded in its sample and
summed up in one log line when the data loads. `records_problems` and `records_warnings` are the one rule set of
`run` and `data check`; the check also decodes every clip and measures questions in tokens, which `run` finds per
sample (a counted model error) when it reaches them.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import datasets

from future_l1.model.untrusted import InputError, read_json
from future_l1.tasks import settings
from future_l1.tasks.common import earlier_duplicates
from future_l1.tasks.results_schema import FUTUREBENCH_SPLIT_NAMES as SPLIT_NAMES  # data name -> metric name

SPLITS = tuple(SPLIT_NAMES)  # the data's question_type values
MAX_JSON_BYTES = 512 << 20  # futurebench.json is ~1 MB
JSON_NAME = "futurebench.json"
log = logging.getLogger(__name__)


def resolve_video(raw: str, video_dir: Path) -> Path:
    path = Path(raw)
    if path.is_absolute():
        return path
    if "video_dataset/" in raw:
        return video_dir / raw.split("video_dataset/", 1)[1]
    return video_dir / raw.lstrip("/")


class DataError(ValueError):
    """The benchmark data cannot be used at all (not one record): one clear message naming the file and the fix."""


def load_records(data_dir: Path) -> list:
    """The raw records, in file order (doc_id = position); a file that is not a list of records raises DataError."""
    json_path = data_dir / JSON_NAME
    if json_path.exists():
        try:
            records = read_json(json_path, what="FutureBench file", max_bytes=MAX_JSON_BYTES)
        except InputError as exc:
            raise DataError(f"{exc}; re-download it") from None
        if isinstance(records, dict):  # tolerate {"test": [...]} / {"data": [...]} wrappers
            records = records.get("test") or records.get("data") or []
        if not isinstance(records, list):
            raise DataError(f"{json_path} must hold a JSON list of records, got {type(records).__name__}")
        return records
    if (data_dir / "dataset_dict.json").is_file() or (data_dir / "dataset_info.json").is_file():
        loaded = datasets.load_from_disk(str(data_dir))
        if isinstance(loaded, datasets.DatasetDict):
            loaded = loaded["test"]
        return loaded.to_list()
    raise FileNotFoundError(
        f"no FutureBench data in {data_dir}: expected {JSON_NAME} or a datasets.save_to_disk folder. "
        f"Point {settings.FUTUREBENCH_ENV} at the folder holding {JSON_NAME} and first_part_video/ (V1-33K layout)."
    )


def record_problems(rec) -> list[str]:
    """What makes a record unscorable, in words (empty when it is fine): the rules of `run` (a counted error,
    `data_error`) and of `data check` alike."""
    if not isinstance(rec, dict):
        return [f"record is not an object (got {type(rec).__name__})"]
    problems = []
    qa = rec.get("qa")
    if not isinstance(qa, dict):
        return ["missing 'qa' object" if qa is None else f"'qa' must be an object, got {type(qa).__name__}"]
    question = qa.get("Question")
    if not isinstance(question, str) or not question.strip():
        problems.append("empty qa.Question" if question in (None, "") else "qa.Question is not text")
    options = qa.get("Options")
    if not isinstance(options, dict):
        problems.append(f"qa.Options must be an object {{A: …, D: …}}, got {type(options).__name__}")
    else:
        missing = [
            k for k in "ABCD" if not isinstance(options.get(k), (str, int, float)) or not str(options[k]).strip()
        ]
        if missing:
            problems.append(f"qa.Options missing {missing}")
    if not isinstance(qa.get("Answer"), str) or qa["Answer"].strip().upper() not in ("A", "B", "C", "D"):
        problems.append(f"qa.Answer {qa.get('Answer')!r} is not one of A-D"[:200])
    if not isinstance(rec.get("video_path"), str) or not rec["video_path"].strip():
        problems.append("missing video_path")
    return problems


def records_problems(records: list) -> list[list[str]]:
    """`record_problems` of every record: what makes it a counted error (`data_error`) in `run` and in `data check`."""
    return [record_problems(rec) for rec in records]


def records_warnings(records: list) -> list[list[str]]:
    """What looks wrong in a record that the authors' protocol still scores (scored the same here, so the benchmark's
    numbers do not move; `data_warning`): a `question_type` that is no split (it counts in `future_acc` only), an id
    an earlier record already uses (results are matched by id across runs)."""
    out: list[list[str]] = [[] for _ in records]
    for i, rec in enumerate(records):
        split = rec.get("question_type") if isinstance(rec, dict) else None
        if isinstance(rec, dict) and split not in SPLITS:
            out[i].append(f"question_type {split!r} is not one of {SPLITS}"[:200])
    keys = [_id_key(rec) for rec in records]
    uses = Counter(keys)
    for i, first in earlier_duplicates(keys).items():
        out[i].append(f"id used by {uses[keys[i]]} records (first: record {first}); ids should be unique")
    return out


def _id_key(rec) -> str | None:
    value = rec.get("id") if isinstance(rec, dict) else None
    if value is None or value == "":
        return None
    return repr(value)[:200]


def _text(value) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def to_doc(doc_id: int, rec, video_dir: Path, problems: list[str] | None = None, warnings: list[str] = ()) -> dict:
    """One lmms-eval doc. A broken record keeps its place (doc_id) and carries `data_error`: the task scores it as a
    counted error (`n_errors`) instead of aborting the run or scoring it silently wrong."""
    problems = record_problems(rec) if problems is None else problems
    rec = rec if isinstance(rec, dict) else {}
    qa = rec.get("qa") if isinstance(rec.get("qa"), dict) else {}
    options = qa.get("Options") if isinstance(qa.get("Options"), dict) else {}
    video_path = _text(rec.get("video_path"))
    return {
        "doc_id": doc_id,
        "id": _text(rec.get("id")),
        "question_type": _text(rec.get("question_type")),
        "video_path": video_path,
        "video": str(resolve_video(video_path, video_dir)) if video_path.strip() else "",
        "qa": {
            "Question": _text(qa.get("Question")),
            "Options": {k: _text(options.get(k)) for k in "ABCD"},
            "Answer": _text(qa.get("Answer")),
        },
        "data_error": "; ".join(problems),
        "data_warning": "; ".join(warnings),
    }


def load_futurebench(data_dir: Path | None = None) -> datasets.Dataset:
    data_dir = Path(data_dir) if data_dir is not None else settings.futurebench_dir()
    video_dir = settings.futurebench_video_dir(data_dir)
    records = load_records(data_dir)
    problems, warnings = records_problems(records), records_warnings(records)
    rows = [to_doc(i, rec, video_dir, problems[i], warnings[i]) for i, rec in enumerate(records)]
    n_warned = sum(1 for w in warnings if w)
    if n_warned:
        log.warning("FutureBench data in %s: %d record(s) with warnings, scored as the authors' protocol scores them "
                    "(first: %s); `future-l1 data check futurebench` lists them", data_dir, n_warned,
                    next(w for w in warnings if w)[0])  # fmt: skip
    if not rows:
        raise DataError(f"no FutureBench records in {data_dir}; check {settings.FUTUREBENCH_ENV}")
    return datasets.Dataset.from_list(rows)


def process_docs(_placeholder: datasets.Dataset) -> datasets.Dataset:
    """lmms-eval `process_docs` hook: the YAML loads a one-row placeholder; the real docs come from the setting (a
    seeded sample across the hop splits under `settings.active_subset`)."""
    ds = load_futurebench()
    return settings.subset_docs("futurebench", ds, ds["question_type"])

"""Load FutureBench from where the user put it (see `future_l1.tasks.settings`).

Accepted layouts in the data folder: NEP's `futurebench.json` (a JSON list of records), or a `datasets.save_to_disk`
copy (a Dataset or a DatasetDict with a `test` split). Records: `id`, `question_type` (hop1|hop2|hop3|hop5),
`video_path`, `qa` = {`Question`, `Options` {A..D}, `Answer`}. Each doc gets `video` = the resolved clip path.

Video resolution follows the official rule: an absolute path is used as is; a path containing `video_dataset/` is
re-rooted at the clip folder (the part after it); anything else is taken relative to the clip folder. Deviation:
the official code raises on a missing clip, which aborts the whole lmms-eval run; we keep the path, the model adapter
reports the missing file per sample, and `future-l1 data check futurebench` lists every missing clip up front.
"""

from __future__ import annotations

import json
from pathlib import Path

import datasets

from future_l1.tasks import settings

SPLITS = ("hop1", "hop2", "hop3", "hop5")
SPLIT_NAMES = {"hop1": "hop1", "hop2": "hop2", "hop3": "hop3", "hop5": "interp"}  # data name -> metric name
JSON_NAME = "futurebench.json"


def resolve_video(raw: str, video_dir: Path) -> Path:
    path = Path(raw)
    if path.is_absolute():
        return path
    if "video_dataset/" in raw:
        return video_dir / raw.split("video_dataset/", 1)[1]
    return video_dir / raw.lstrip("/")


def load_records(data_dir: Path) -> list[dict]:
    """The raw records, in file order (doc_id = position)."""
    json_path = data_dir / JSON_NAME
    if json_path.is_file():
        records = json.loads(json_path.read_text())
        if isinstance(records, dict):  # tolerate {"test": [...]} / {"data": [...]} wrappers
            records = records.get("test") or records.get("data") or []
        return list(records)
    if (data_dir / "dataset_dict.json").is_file() or (data_dir / "dataset_info.json").is_file():
        loaded = datasets.load_from_disk(str(data_dir))
        if isinstance(loaded, datasets.DatasetDict):
            loaded = loaded["test"]
        return loaded.to_list()
    raise FileNotFoundError(
        f"no FutureBench data in {data_dir}: expected {JSON_NAME} or a datasets.save_to_disk folder. "
        f"Point {settings.FUTUREBENCH_ENV} at the folder holding {JSON_NAME} and first_part_video/ (V1-33K layout)."
    )


def load_futurebench(data_dir: Path | None = None) -> datasets.Dataset:
    data_dir = Path(data_dir) if data_dir is not None else settings.futurebench_dir()
    video_dir = settings.futurebench_video_dir(data_dir)
    rows = []
    for doc_id, rec in enumerate(load_records(data_dir)):
        qa = rec.get("qa") or {}
        options = qa.get("Options") or {}
        rows.append(
            {
                "doc_id": doc_id,
                "id": str(rec.get("id", "")),
                "question_type": str(rec.get("question_type", "")),
                "video_path": str(rec.get("video_path", "")),
                "video": str(resolve_video(str(rec.get("video_path", "")), video_dir)),
                "qa": {
                    "Question": str(qa.get("Question", "")),
                    "Options": {k: str(options.get(k, "")) for k in "ABCD"},
                    "Answer": str(qa.get("Answer", "")),
                },
            }
        )
    return datasets.Dataset.from_list(rows)


def process_docs(_placeholder: datasets.Dataset) -> datasets.Dataset:
    """lmms-eval `process_docs` hook: the YAML loads a one-row placeholder; the real docs come from the setting."""
    return load_futurebench()

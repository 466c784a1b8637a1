"""Load TwiFF-Bench from where the user put it (see `future_l1.tasks.settings`).

The release is four parquet shards `test-0000{0..3}-of-00004.parquet`; they are concatenated in name order and
`doc_id` is the row index of the concatenation (the official convention). Fields: `video`, `question` (with
`<image>` placeholders and "frame_i" labels), `answer` (reference chain with `<rimage>` placeholders and a final
`<ans>…</ans>`), `question_images` / `reasoning_images` (lists of HF Image = PNG bytes), `question_images_index` /
`reasoning_images_index`, optional `meta_data.classification`. The model sees only `question_images`.
"""

from __future__ import annotations

from pathlib import Path

import datasets

from future_l1.tasks import settings

SHARD_GLOB = "test-*.parquet"


def shard_paths(data_dir: Path) -> list[Path]:
    shards = sorted(Path(data_dir).glob(SHARD_GLOB))
    if not shards:
        raise FileNotFoundError(
            f"no TwiFF-Bench parquet shards ({SHARD_GLOB}) in {data_dir}. Point {settings.TWIFFBENCH_ENV} at the "
            "folder holding test-00000-of-00004.parquet … test-00003-of-00004.parquet."
        )
    return shards


def load_twiffbench(data_dir: Path | None = None) -> datasets.Dataset:
    data_dir = Path(data_dir) if data_dir is not None else settings.twiffbench_dir()
    parts = [datasets.Dataset.from_parquet(str(p)) for p in shard_paths(data_dir)]
    ds = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    return ds.add_column("doc_id", list(range(len(ds))))


def process_docs(_placeholder: datasets.Dataset) -> datasets.Dataset:
    """lmms-eval `process_docs` hook: the YAML loads a one-row placeholder; the real docs come from the setting."""
    return load_twiffbench()

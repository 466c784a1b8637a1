"""Load TwiFF-Bench from where the user put it (see `future_l1.tasks.settings`).

The release is four parquet shards `test-0000{0..3}-of-00004.parquet`; they are concatenated in name order and
`doc_id` is the row index of the concatenation (the official convention). Fields: `video`, `question` (with
`<image>` placeholders and "frame_i" labels), `answer` (reference chain with `<rimage>` placeholders and a final
`<ans>…</ans>`), `question_images` / `reasoning_images` (lists of HF Image = PNG bytes), `question_images_index` /
`reasoning_images_index`, optional `meta_data.classification`. The model sees only `question_images`.

Robustness: images stay undecoded until the model or the judge needs them (a corrupt image fails its sample only);
a shard that is not parquet or lacks the `question`/`answer` columns raises DataError naming it; a row with a null or
empty question or answer carries `data_error` and is counted as a failed judgement, never judged against nothing.
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


REQUIRED_COLUMNS = ("question", "answer")
IMAGE_COLUMNS = ("question_images", "reasoning_images")


class DataError(ValueError):
    """The TwiFF-Bench data cannot be used at all: one clear message naming the shard and the fix."""


def _read_shard(path: Path) -> datasets.Dataset:
    """One shard with its images left undecoded ({bytes, path} cells): a corrupt image must fail only its sample,
    when the model or the judge decodes it, not the loading (or hashing) of the whole set."""
    try:
        import pyarrow.parquet as pq

        columns = pq.read_schema(path).names
        ds = datasets.Dataset.from_parquet(str(path))
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        raise DataError(f"{path} is not a readable parquet shard ({text}); re-download it") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise DataError(
            f"{path} has no {missing} column(s) (found {columns}); it is not a TwiFF-Bench test shard, re-download it"
        )
    for column in IMAGE_COLUMNS:
        feature = ds.features.get(column)
        inner = getattr(feature, "feature", None)
        if isinstance(inner, datasets.Image) and inner.decode:
            ds = ds.cast_column(column, datasets.List(datasets.Image(decode=False)))
    return ds


def _data_error(row: dict) -> str:
    """What makes a row unscorable (empty when fine); such a row is a counted failure (`n_failed`)."""
    problems = []
    for key in REQUIRED_COLUMNS:
        value = row.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"missing or empty '{key}'")
    return "; ".join(problems)


def load_twiffbench(data_dir: Path | None = None) -> datasets.Dataset:
    data_dir = Path(data_dir) if data_dir is not None else settings.twiffbench_dir()
    parts = [_read_shard(p) for p in shard_paths(data_dir)]
    try:
        ds = datasets.concatenate_datasets(parts) if len(parts) > 1 else parts[0]
    except ValueError as exc:
        raise DataError(f"the shards in {data_dir} do not share one schema ({exc}); re-download them") from None
    if len(ds) == 0:
        raise DataError(f"no TwiFF-Bench rows in {data_dir}; check {settings.TWIFFBENCH_ENV}")
    ds = ds.add_column("doc_id", list(range(len(ds))))
    errors = [_data_error(row) for row in ds.select_columns(list(REQUIRED_COLUMNS))]
    return ds.add_column("data_error", errors)


def process_docs(_placeholder: datasets.Dataset) -> datasets.Dataset:
    """lmms-eval `process_docs` hook: the YAML loads a one-row placeholder; the real docs come from the setting."""
    return load_twiffbench()

"""Load TwiFF-Bench from where the user put it (see `future_l1.tasks.settings`).

The release is four parquet shards `test-0000{0..3}-of-00004.parquet`; they are concatenated in name order and
`doc_id` is the row index of the concatenation (the official convention). Fields: `video`, `question` (with
`<image>` placeholders and "frame_i" labels), `answer` (reference chain with `<rimage>` placeholders and a final
`<ans>…</ans>`), `question_images` / `reasoning_images` (lists of HF Image = PNG bytes), `question_images_index` /
`reasoning_images_index`, optional `meta_data.classification`. The model sees only `question_images`.

The shard set is checked before anything loads (`check_shards`, the one rule of `run` and `data check`): exactly the
release's 4 shards, no stray or missing one, none from another release, none empty; any problem refuses the run with
one message naming every broken shard. A row that breaks `row_problems` (also shared with `data check`) keeps its
doc_id and carries `data_error`: a counted failed judgement, never judged. A row the authors' protocol still judges
but that looks wrong (`row_warnings`: no question or reasoning images, more `<image>` markers than question images,
no `<ans>` final answer, a repeat of an earlier row) is judged as they judge it and carries `data_warning`, recorded
in its sample and summed up in one log line when the data loads.

Robustness: images stay undecoded until the model or the judge needs them (a corrupt image fails its sample only);
a shard that is not parquet or lacks the `question`/`answer` columns raises DataError naming it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import datasets

from future_l1.tasks import settings
from future_l1.tasks.common import earlier_duplicates

SHARD_GLOB = "test-*.parquet"
SHARD_NAME = re.compile(r"^test-(\d{5})-of-(\d{5})\.parquet$")
RELEASE_SHARDS = 4  # the published TwiFF-Bench test split: test-00000-of-00004 … test-00003-of-00004
REQUIRED_COLUMNS = ("question", "answer")
log = logging.getLogger(__name__)
IMAGE_COLUMNS = ("question_images", "reasoning_images")


class DataError(ValueError):
    """The TwiFF-Bench data cannot be used at all: one clear message naming the shard and the fix."""


def shard_name(index: int, total: int = RELEASE_SHARDS) -> str:
    return f"test-{index:05d}-of-{total:05d}.parquet"


def check_shards(data_dir: Path) -> tuple[list[Path], list[str]]:
    """The shard files (name order) and every problem of the set, the one rule of `run` and `data check`: the
    release's 4 shards, named `test-0000k-of-00004.parquet`, all present, none from another release (another
    `-of-` count, an index past the count, another name), none unreadable or empty."""
    folder = Path(data_dir)
    hint = f"point {settings.TWIFFBENCH_ENV} at the folder holding {shard_name(0)} … {shard_name(RELEASE_SHARDS - 1)}"
    if not folder.is_dir():
        return [], [f"{folder} is not a folder; {hint}"]
    shards = sorted(folder.glob(SHARD_GLOB))
    if not shards:
        return [], [f"no TwiFF-Bench parquet shards ({SHARD_GLOB}) in {folder}; {hint}"]
    problems = []
    named = {}
    for path in shards:
        match = SHARD_NAME.match(path.name)
        if match is None:
            problems.append(f"{path.name} is not a shard name test-NNNNN-of-NNNNN.parquet; remove it from {folder}")
        else:
            named[path.name] = (int(match.group(1)), int(match.group(2)))
    totals = sorted({total for _, total in named.values()})
    for total in totals:
        if total != RELEASE_SHARDS:
            names = sorted(n for n, (_, t) in named.items() if t == total)
            problems.append(f"{', '.join(names)}: shard(s) of a {total}-shard release, not of the "
                            f"{RELEASE_SHARDS}-shard TwiFF-Bench release; remove them or re-download the release")  # fmt: skip
    present = {i for i, t in named.values() if t == RELEASE_SHARDS}
    for i in sorted(present):
        if i >= RELEASE_SHARDS:
            problems.append(f"{shard_name(i)} is past the last shard of the {RELEASE_SHARDS}-shard release; remove it")
    missing = [shard_name(i) for i in range(RELEASE_SHARDS) if i not in present]
    if missing and (present or not totals):
        problems.append(f"missing {', '.join(missing)} ({RELEASE_SHARDS - len(missing)} of {RELEASE_SHARDS} shards "
                        f"present); re-download {'them' if len(missing) > 1 else 'it'} into {folder}")  # fmt: skip
    elif missing:
        problems.append(f"no shard of the {RELEASE_SHARDS}-shard release in {folder}; {hint}")
    for path in shards:
        problem = _shard_problem(path)
        if problem:
            problems.append(problem)
    return shards, problems


def _shard_problem(path: Path) -> str | None:
    """A shard that is not parquet or holds no row (read from the footer, cheaply)."""
    try:
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return f"{path.name} is not a readable parquet shard ({text}); re-download it"
    return f"{path.name} holds no rows; re-download it" if rows == 0 else None


def shard_paths(data_dir: Path) -> list[Path]:
    """The shards of a complete, valid set; DataError naming every problem otherwise."""
    shards, problems = check_shards(data_dir)
    if problems:
        raise DataError(f"TwiFF-Bench data in {data_dir}: {'; '.join(problems)}")
    return shards


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


def row_problems(question, answer) -> list[str]:
    """What makes one row unscorable, in words (empty when fine): the rules of `run` (a counted failed judgement,
    `data_error`) and of `data check` alike. Nothing to judge without a question and a reference."""
    return [f"missing or empty '{key}'" for key, value in (("question", question), ("answer", answer))
            if not isinstance(value, str) or not value.strip()]  # fmt: skip


def row_warnings(question, answer, n_question_images: int, n_reasoning_images: int) -> list[str]:
    """What looks wrong in a row that the authors' protocol still judges (judged the same here, so the benchmark's
    numbers do not move; `data_warning`)."""
    warnings = [f"missing or empty '{key}'" for key, n in (("question_images", n_question_images),
                                                            ("reasoning_images", n_reasoning_images)) if not n]  # fmt: skip
    if isinstance(question, str) and question.count("<image>") > n_question_images:
        warnings.append(f"question has {question.count('<image>')} <image> markers, {n_question_images} images")
    if isinstance(answer, str) and answer.strip() and not re.search(r"<ans(wer)?\s*>", answer, re.IGNORECASE):
        warnings.append("answer has no <ans>…</ans> final answer (the judge gets the whole reference)")
    return warnings


def rows_problems(questions: list, answers: list) -> list[list[str]]:
    """`row_problems` of every row."""
    return [row_problems(q, a) for q, a in zip(questions, answers, strict=True)]


def rows_warnings(questions: list, answers: list, videos: list, n_question_images: list[int],
                  n_reasoning_images: list[int]) -> list[list[str]]:  # fmt: skip
    """`row_warnings` of every row, plus a repeat of an earlier row (same video and question)."""
    out = [row_warnings(*row) for row in zip(questions, answers, n_question_images, n_reasoning_images, strict=True)]
    keys = [(str(v), q) if isinstance(q, str) and q.strip() else None for v, q in zip(videos, questions, strict=True)]
    for i, first in earlier_duplicates(keys).items():
        out[i].append(f"same video and question as doc_id {first}; rows should be unique")
    return out


def _lengths(ds: datasets.Dataset, column: str) -> list[int]:
    """List lengths of an image column, read from Arrow (no image bytes are copied); a missing column: 0."""
    if column not in ds.column_names:
        return [0] * len(ds)
    import pyarrow.compute as pc

    return [n or 0 for n in pc.list_value_length(ds.data.column(column)).to_pylist()]


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
    videos = ds["video"] if "video" in ds.column_names else [None] * len(ds)
    problems = rows_problems(ds["question"], ds["answer"])
    warnings = rows_warnings(ds["question"], ds["answer"], videos, *(_lengths(ds, c) for c in IMAGE_COLUMNS))
    n_warned = sum(1 for w in warnings if w)
    if n_warned:
        log.warning("TwiFF-Bench data in %s: %d row(s) with warnings, judged as the authors' protocol judges them "
                    "(first: %s); `future-l1 data check twiffbench` lists them", data_dir, n_warned,
                    next(w for w in warnings if w)[0])  # fmt: skip
    ds = ds.add_column("data_error", ["; ".join(p) for p in problems])
    return ds.add_column("data_warning", ["; ".join(w) for w in warnings])


def process_docs(_placeholder: datasets.Dataset) -> datasets.Dataset:
    """lmms-eval `process_docs` hook: the YAML loads a one-row placeholder; the real docs come from the setting (a
    seeded sample across the categories under `settings.active_subset`)."""
    ds = load_twiffbench()
    meta = ds["meta_data"] if "meta_data" in ds.column_names else [None] * len(ds)
    return settings.subset_docs(
        "twiffbench", ds, [m.get("classification") if isinstance(m, dict) else None for m in meta]
    )

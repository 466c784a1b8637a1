"""`future-l1 data check`: validate a FutureBench or TwiFF-Bench folder and name every broken record.

Applies the same rules as `future-l1 run` (one validator: `futurebench.data.records_problems`,
`twiffbench.data.check_shards` and `rows_problems`; a record they reject is a counted error in a run, a broken shard
set refuses the run; a record `records_warnings` / `rows_warnings` flags is scored in a run as the authors score it,
carries `data_warning`, and is listed here as a WARNING), then what a run only finds when it reaches a sample: every clip / image decodes, and no
question is longer than `MAX_QUESTION_TOKENS` (a prompt beyond the model's context is answered with garbage; the
model adapter turns it into a per-sample error, this check names it before a long run). Counts records per split
(FutureBench `question_type`) or per category (TwiFF-Bench `meta_data.classification`). Problems are listed by
record id; the command exits non-zero when there is any.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

# Real FutureBench / TwiFF-Bench questions are a few hundred tokens; the frames take the rest of the context
# (32 frames of a Qwen3-VL video alone are several thousand tokens). A question above this is a broken record.
MAX_QUESTION_TOKENS = 2048


def _token_count(text: str) -> int:
    """Tokens of `text` with the Qwen vocabulary when it is at hand, else a rough estimate (UTF-8 bytes / 3)."""
    try:
        from transformers import AutoTokenizer

        from future_l1.model.processor import qwen_tokenizer_dir

        global _tokenizer
        if _tokenizer is None:
            _tokenizer = AutoTokenizer.from_pretrained(str(qwen_tokenizer_dir()))
        return len(_tokenizer(text, add_special_tokens=False)["input_ids"])
    except Exception:
        return len(text.encode("utf-8")) // 3


_tokenizer = None


def _long_question(text: str, limit: int) -> str | None:
    if len(text) <= limit:  # a token is at least one character: no need to tokenise
        return None
    n = _token_count(text)
    return f"question is {n} tokens long (limit {limit}); shorten or drop this record" if n > limit else None


@dataclass
class Report:
    benchmark: str
    folder: Path
    n_records: int = 0
    counts: Counter = field(default_factory=Counter)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (record id, what is wrong)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (record id, scored anyway, but looks wrong)

    @property
    def ok(self) -> bool:
        return not self.problems and self.n_records > 0

    def add(self, record_id: str, message: str) -> None:
        self.problems.append((record_id, message))

    def warn(self, record_id: str, message: str) -> None:
        self.warnings.append((record_id, message))

    def render(self) -> str:
        lines = [f"{self.benchmark} at {self.folder}: {self.n_records} records"]
        lines += [f"  {name}: {n}" for name, n in sorted(self.counts.items())]
        if self.n_records == 0 and not self.problems:
            lines.append("PROBLEM: no records")
        lines += [f"PROBLEM {rid}: {msg}" for rid, msg in self.problems]
        lines += [f"WARNING {rid}: {msg}" for rid, msg in self.warnings]
        warned = f", {len(self.warnings)} warning(s) (scored as the authors score them)" if self.warnings else ""
        lines.append(("OK" if self.ok else f"{len(self.problems)} problem(s)") + warned)
        return "\n".join(lines)


def _video_problem(path: Path) -> str | None:
    if not path.is_file():
        return f"video not found: {path}"
    try:
        import av

        with av.open(str(path)) as container:
            if not container.streams.video:
                return f"no video stream in {path}"
            for _frame in container.decode(video=0):
                return None
        return f"video has no decodable frame: {path}"
    except Exception as exc:
        return f"video unreadable ({type(exc).__name__}: {exc}): {path}"


def _image_problem(cell) -> str | None:
    from PIL import Image

    try:
        if isinstance(cell, dict) and cell.get("bytes"):
            Image.open(io.BytesIO(cell["bytes"])).load()
        elif isinstance(cell, dict) and cell.get("path"):
            Image.open(cell["path"]).load()
        else:
            return "empty image cell"
    except Exception as exc:
        return f"image does not decode ({type(exc).__name__})"
    return None


def check_futurebench(folder: Path, max_question_tokens: int = MAX_QUESTION_TOKENS) -> Report:
    from future_l1.tasks import settings
    from future_l1.tasks.futurebench.data import load_records, records_problems, records_warnings, resolve_video

    report = Report("futurebench", folder)
    try:
        records = load_records(folder)
    except Exception as exc:
        report.add("<dataset>", f"{type(exc).__name__}: {exc}")
        return report
    video_dir = settings.futurebench_video_dir(folder)
    report.n_records = len(records)
    shared = records_problems(records)  # the rules that make a record a counted error in `run`
    warned = records_warnings(records)  # and those it scores anyway, with `data_warning`
    for i, rec in enumerate(tqdm(records, desc="futurebench check", disable=len(records) < 200)):
        rid = _record_name(rec, i)
        for problem in shared[i]:
            report.add(rid, problem)
        for warning in warned[i]:
            report.warn(rid, warning)
        if not isinstance(rec, dict):
            continue
        report.counts[str(rec.get("question_type"))] += 1
        qa = rec.get("qa") if isinstance(rec.get("qa"), dict) else {}
        options = qa.get("Options") if isinstance(qa.get("Options"), dict) else {}
        text = "\n".join(str(x) for x in [qa.get("Question") or "", *options.values()])
        problem = _long_question(text, max_question_tokens)
        if problem:
            report.add(rid, problem)
        if isinstance(rec.get("video_path"), str) and rec["video_path"].strip():
            problem = _video_problem(resolve_video(rec["video_path"], video_dir))
            if problem:
                report.add(rid, problem)
    return report


def _record_name(rec, index: int) -> str:
    rid = rec.get("id") if isinstance(rec, dict) else None
    return (rid if isinstance(rid, str) else repr(rid))[:120] if rid not in (None, "") else f"#{index}"


def check_twiffbench(folder: Path, max_question_tokens: int = MAX_QUESTION_TOKENS) -> Report:
    import pyarrow.parquet as pq

    from future_l1.tasks.twiffbench.data import check_shards, rows_problems, rows_warnings

    report = Report("twiffbench", folder)
    shards, problems = check_shards(folder)  # the shard-set rule `run` refuses a broken set with
    for problem in problems:
        report.add("<dataset>", problem)
    rows: list[dict] = []
    for shard in shards:
        try:
            rows += pq.read_table(shard).to_pylist()
        except Exception as exc:
            if not any(shard.name in p for p in problems):
                report.add(f"<{shard.name}>", f"unreadable parquet ({type(exc).__name__}: {exc})")

    def column(key: str) -> list:
        return [row.get(key) for row in rows]

    images = {key: [len(x) if isinstance(x, list) else 0 for x in column(key)]
              for key in ("question_images", "reasoning_images")}  # fmt: skip
    shared = rows_problems(column("question"), column("answer"))
    warned = rows_warnings(column("question"), column("answer"), column("video"), images["question_images"],
                           images["reasoning_images"])  # fmt: skip
    report.n_records = len(rows)
    for doc_id, row in enumerate(tqdm(rows, desc="twiffbench check", disable=len(rows) < 200)):
        rid = f"doc_id={doc_id} ({row.get('video') or 'no video name'})"
        meta = row.get("meta_data")
        report.counts[str(meta.get("classification") if isinstance(meta, dict) else None)] += 1
        for problem in shared[doc_id]:  # the rules that make a row a counted failure in `run`
            report.add(rid, problem)
        for warning in warned[doc_id]:  # judged anyway in `run`, with `data_warning`
            report.warn(rid, warning)
        problem = _long_question(str(row.get("question") or ""), max_question_tokens)
        if problem:
            report.add(rid, problem)
        for kind in ("question", "reasoning"):
            cells = row.get(f"{kind}_images")
            for k, cell in enumerate(cells if isinstance(cells, list) else []):
                problem = _image_problem(cell)
                if problem:
                    report.add(rid, f"{kind}_images[{k}]: {problem}")
    return report


def check(benchmark: str, folder: Path, max_question_tokens: int = MAX_QUESTION_TOKENS) -> Report:
    folder = Path(folder)
    if not folder.is_dir():
        report = Report(benchmark, folder)
        report.add("<dataset>", f"folder not found: {folder}")
        return report
    run = check_futurebench if benchmark == "futurebench" else check_twiffbench
    return run(folder, max_question_tokens)

"""`future-l1 data check`: validate a FutureBench or TwiFF-Bench folder and name every broken record.

Checks the schema of every record, that every clip / image decodes, and counts records per split (FutureBench
`question_type`) or per category (TwiFF-Bench `meta_data.classification`). Problems are listed by record id; the
command exits non-zero when there is any.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm


@dataclass
class Report:
    benchmark: str
    folder: Path
    n_records: int = 0
    counts: Counter = field(default_factory=Counter)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (record id, what is wrong)

    @property
    def ok(self) -> bool:
        return not self.problems and self.n_records > 0

    def add(self, record_id: str, message: str) -> None:
        self.problems.append((record_id, message))

    def render(self) -> str:
        lines = [f"{self.benchmark} at {self.folder}: {self.n_records} records"]
        lines += [f"  {name}: {n}" for name, n in sorted(self.counts.items())]
        if self.n_records == 0 and not self.problems:
            lines.append("PROBLEM: no records")
        lines += [f"PROBLEM {rid}: {msg}" for rid, msg in self.problems]
        lines.append("OK" if self.ok else f"{len(self.problems)} problem(s)")
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


def check_futurebench(folder: Path) -> Report:
    from future_l1.tasks import settings
    from future_l1.tasks.futurebench.data import SPLITS, load_records, resolve_video

    report = Report("futurebench", folder)
    try:
        records = load_records(folder)
    except Exception as exc:
        report.add("<dataset>", f"{type(exc).__name__}: {exc}")
        return report
    video_dir = settings.futurebench_video_dir(folder)
    report.n_records = len(records)
    for i, rec in enumerate(tqdm(records, desc="futurebench check", disable=len(records) < 200)):
        rid = str(rec.get("id") or f"#{i}") if isinstance(rec, dict) else f"#{i}"
        if not isinstance(rec, dict):
            report.add(rid, "record is not an object")
            continue
        split = rec.get("question_type")
        report.counts[str(split)] += 1
        if split not in SPLITS:
            report.add(rid, f"question_type {split!r} is not one of {SPLITS}")
        qa = rec.get("qa") if isinstance(rec.get("qa"), dict) else {}
        if not qa:
            report.add(rid, "missing 'qa' object")
        if not str(qa.get("Question", "")).strip():
            report.add(rid, "empty qa.Question")
        options = qa.get("Options") if isinstance(qa.get("Options"), dict) else {}
        missing = [k for k in "ABCD" if not str(options.get(k, "")).strip()]
        if missing:
            report.add(rid, f"qa.Options missing {missing}")
        if str(qa.get("Answer", "")).strip().upper() not in ("A", "B", "C", "D"):
            report.add(rid, f"qa.Answer {qa.get('Answer')!r} is not one of A-D")
        if not rec.get("video_path"):
            report.add(rid, "missing video_path")
        else:
            problem = _video_problem(resolve_video(str(rec["video_path"]), video_dir))
            if problem:
                report.add(rid, problem)
    return report


def check_twiffbench(folder: Path) -> Report:
    import pyarrow.parquet as pq

    from future_l1.tasks.twiffbench.data import shard_paths

    report = Report("twiffbench", folder)
    try:
        shards = shard_paths(folder)
    except FileNotFoundError as exc:
        report.add("<dataset>", str(exc))
        return report
    if len(shards) != 4:
        report.add("<dataset>", f"expected 4 shards test-0000{{0..3}}-of-00004.parquet, found {len(shards)}")
    doc_id = 0
    required = ("question", "answer", "question_images", "reasoning_images")
    for shard in shards:
        try:
            rows = pq.read_table(shard).to_pylist()
        except Exception as exc:
            report.add(f"<{shard.name}>", f"unreadable parquet ({type(exc).__name__}: {exc})")
            continue
        for row in tqdm(rows, desc=f"twiffbench check {shard.name}", disable=len(rows) < 200):
            rid = f"doc_id={doc_id} ({row.get('video') or 'no video name'})"
            doc_id += 1
            report.n_records += 1
            meta = row.get("meta_data")
            report.counts[str(meta.get("classification") if isinstance(meta, dict) else None)] += 1
            for key in required:
                if key not in row or row[key] in (None, "", []):
                    report.add(rid, f"missing or empty '{key}'")
            question, answer = str(row.get("question") or ""), str(row.get("answer") or "")
            q_images, r_images = row.get("question_images") or [], row.get("reasoning_images") or []
            if question.count("<image>") > len(q_images):
                report.add(rid, f"question has {question.count('<image>')} <image> markers, {len(q_images)} images")
            if answer and not any(tag in answer.lower() for tag in ("<ans>", "<answer>")):
                report.add(rid, "answer has no <ans>…</ans> final answer")
            for kind, images in (("question", q_images), ("reasoning", r_images)):
                for k, cell in enumerate(images):
                    problem = _image_problem(cell)
                    if problem:
                        report.add(rid, f"{kind}_images[{k}]: {problem}")
    return report


def check(benchmark: str, folder: Path) -> Report:
    folder = Path(folder)
    if not folder.is_dir():
        report = Report(benchmark, folder)
        report.add("<dataset>", f"folder not found: {folder}")
        return report
    return check_futurebench(folder) if benchmark == "futurebench" else check_twiffbench(folder)

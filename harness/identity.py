"""A run's identity: everything that determines its answers, so that a resume never reuses stale answers.

The run id used to depend on the suite text alone: re-running a suite after pointing FUTURE_L1_FUTUREBENCH_DIR at
other data reused the old journal and reported the old data's accuracy. The identity now covers

- `suite`: the validated suite (models, args, tasks, limits, gen_kwargs, judge roles, settings);
- `tasks`: each task's definition (the text of its YAML file and of every template it `include:`s, i.e. prompts,
  generation settings and scoring hooks);
- `datasets`: each task's resolved documents, and the size and modification time of every file a document names
  (videos, images): cheap enough to compute on every start, unlike a content hash of gigabytes of video;
- `checkpoints`: each checkpoint folder's file names, sizes and modification times (after `demo://` resolution).

Content hashes (sha256 of every byte) are still written once per run to `hashes.json` for the record. The run id is
`<suite name>-<first 12 hex of the identity digest>`, so changed inputs select a new run directory; an explicit
`--run-id` whose directory holds another identity is refused (`Runner._check_identity`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _default(obj: Any) -> Any:
    """JSON stand-in for values json cannot encode, stable across processes (no object addresses)."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return "sha256:" + hashlib.sha256(bytes(obj)).hexdigest()
    tobytes = getattr(obj, "tobytes", None)  # PIL images, numpy arrays
    if callable(tobytes):
        try:
            return f"{type(obj).__name__}:sha256:{hashlib.sha256(tobytes()).hexdigest()}"
        except Exception:  # an image that does not decode: its identity is that it does not decode
            return f"{type(obj).__name__}:unreadable"
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return _ADDRESS.sub("", str(obj))


def stable_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, default=_default, ensure_ascii=False).encode("utf-8", "surrogatepass")


def file_stamp(path: Path) -> str:
    """name, size and mtime of a file, or of every file under a folder (sorted): cheap, and changes on any rewrite."""
    path = Path(path)
    if path.is_file():
        st = path.stat()
        return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.name not in (".complete", ".lock")):
        st = file.stat()
        digest.update(f"{file.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def fingerprint_docs(docs: Any) -> str:
    """sha256 over the documents and the stamps of the files they name (a video replaced in place counts)."""
    digest = hashlib.sha256()
    n = 0
    for doc in docs:
        n += 1
        digest.update(stable_json(doc))
        values = doc.values() if isinstance(doc, dict) else []
        for value in values:
            if isinstance(value, str) and 0 < len(value) < 4096 and os.path.isfile(value):
                digest.update(file_stamp(Path(value)).encode())
    digest.update(f"n={n}".encode())
    return digest.hexdigest()


def fingerprint_task_yaml(path: str | Path | None) -> str | None:
    """sha256 over a task YAML and, recursively, every file it names in `include:` (relative to it, as lmms-eval
    resolves them), so that editing a shared template changes the identity of every task built on it."""
    if not path or not Path(path).is_file():
        return None
    digest = hashlib.sha256()
    queue, seen = [Path(path)], set()
    while queue:
        current = queue.pop(0).resolve()
        if current in seen or not current.is_file():
            continue
        seen.add(current)
        data = current.read_bytes()
        digest.update(f"{current.name}:{len(data)}:".encode() + data)
        # a regex, not a YAML parser: task files carry `!function` tags that safe_load refuses
        for name in _INCLUDE.findall(data.decode("utf-8", errors="replace")):
            queue.append(current.parent / name.strip("'\""))
    return digest.hexdigest()


_INCLUDE = re.compile(r"^include:\s*(\S+)\s*$", re.MULTILINE)


@dataclass
class Identity:
    suite: str
    tasks: dict[str, str | None] = field(default_factory=dict)
    datasets: dict[str, str] = field(default_factory=dict)
    checkpoints: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return hashlib.sha256(stable_json(asdict(self))).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {"digest": self.digest, **asdict(self)}

    @classmethod
    def from_json(cls, data: Any) -> Identity | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(data["suite"], dict(data["tasks"]), dict(data["datasets"]), dict(data["checkpoints"]))
        except (KeyError, TypeError, ValueError):
            return None

    def changes(self, old: Identity | None) -> list[str]:
        """What differs from `old`, in words (for the message that explains a new run or a refusal)."""
        if old is None:
            return ["the run was made by an older Future-L1 without an identity record"]
        out = (
            ["the suite (models, args, tasks, limits, gen_kwargs, judges or settings)"]
            if old.suite != self.suite
            else []
        )
        for kind, mine, theirs in (
            ("definition (YAML) of task", self.tasks, old.tasks),
            ("data of task", self.datasets, old.datasets),
            ("checkpoint of model", self.checkpoints, old.checkpoints),
        ):
            out += [
                f"the {kind} {name!r}" for name in sorted(set(mine) | set(theirs)) if mine.get(name) != theirs.get(name)
            ]
        return out or ["nothing visible (identity format changed)"]

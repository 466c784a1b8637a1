"""The run directory: layout, atomic writes, state, environment and hashes (the contract reports read).

<runs_root>/<run_id>/ suite.yaml, env.json, hashes.json, judge.json, state.json, journal/, results/<label>/<task>.json,
samples/<label>/<task>.jsonl, lmms_eval/ (lmms-eval's own files).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from future_l1.harness.file_swap import swap_in
from future_l1.harness.identity import stable_json
from future_l1.harness.redaction import redact
from future_l1.model import jsonl
from future_l1.model.distributed import place

PACKAGES = ("future-l1", "lmms-eval", "torch", "transformers", "accelerate", "datasets", "av", "numpy")


def file_mode() -> int:
    """The mode a plain `open()` would give a new file (0666 less the umask): run files are shared like any other
    output (mkstemp alone makes them 0600). The umask is read from /proc (setting it to learn it would briefly
    change it for every thread); elsewhere once, by setting and restoring it."""
    try:
        status = Path("/proc/self/status").read_text()
        umask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


SECRETS: list[str] = []  # the current run's secrets (`Runner` sets them): every write is redacted of them


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary sibling, fsync, then os.replace: readers see the old or the new file, never half.
    os.replace swaps the name itself, so a link planted at `path` is replaced, never followed. The text goes
    through the redaction pass (`harness.redaction`) first."""
    text = redact(text, SECRETS)
    path.parent.mkdir(parents=True, exist_ok=True)
    swap_in(path, text, file_mode())


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    """The JSON at `path`, or `default` when it is missing or unreadable as JSON; a symbolic link is refused
    (jsonl.LinkRefused), not followed."""
    try:
        with os.fdopen(jsonl.open_nofollow(path, os.O_RDONLY), "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return default


def count_lines(path: Path) -> int:
    """Complete lines of a (samples) file; 0 when it is missing."""
    try:
        with os.fdopen(jsonl.open_nofollow(path, os.O_RDONLY), "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def planted_links(root: Path) -> list[Path]:
    """Symbolic links anywhere inside a run directory (none is made by a run: each one was planted, and following
    it would read or write outside the run)."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        found += [Path(folder) / name for name in dirs + files if os.path.islink(os.path.join(folder, name))]
    return sorted(found)


def pid_alive(pid: Any, host: Any) -> bool | None:
    """Whether process `pid` of this host still exists; None when that cannot be told (another host, no pid)."""
    if not isinstance(pid, int) or pid <= 0 or host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else
        return True
    return True


def entry_name(label: str, task: str) -> str:
    return f"{label}/{task}"


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # paths
    @property
    def state_path(self) -> Path:
        return self.path / "state.json"

    @property
    def journal_dir(self) -> Path:
        return self.path / "journal"

    def results_path(self, label: str, task: str) -> Path:
        return self.path / "results" / label / f"{task}.json"

    def samples_path(self, label: str, task: str) -> Path:
        return self.path / "samples" / label / f"{task}.jsonl"

    def lmms_eval_dir(self, label: str, task: str) -> Path:
        return self.path / "lmms_eval" / label / task

    # state
    def read_state(self) -> dict[str, Any]:
        state = read_json(self.state_path)
        if not isinstance(state, dict) or not isinstance(state.get("entries"), dict):
            return {"status": "running", "entries": {}}  # missing or corrupt: entries are re-checked from results
        return state

    def write_state(self, state: dict[str, Any]) -> None:
        state["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        write_json(self.state_path, state)

    def set_entry(self, label: str, task: str, status: str, error: str | None = None) -> None:
        state = self.read_state()
        state["entries"][entry_name(label, task)] = status
        if error:
            state.setdefault("errors", {})[entry_name(label, task)] = error
        else:
            state.get("errors", {}).pop(entry_name(label, task), None)
        self.write_state(state)

    def is_done(self, label: str, task: str) -> bool:
        entries = self.read_state()["entries"]
        return entries.get(entry_name(label, task)) == "done" and self.results_path(label, task).exists()

    def write_suite(self, suite_dict: dict[str, Any]) -> None:
        atomic_write(self.path / "suite.yaml", yaml.safe_dump(suite_dict, sort_keys=False))


# ---------------------------------------------------------------------------------------------------------------
# Environment and hashes


def git_hash(repo: Path | None = None) -> str | None:
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def environment() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    gpu: dict[str, Any] = {"available": False}
    try:
        import torch

        if torch.cuda.is_available():
            gpu = {
                "available": True,
                "count": torch.cuda.device_count(),
                "names": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
                "cuda": torch.version.cuda,
            }
    except Exception as exc:  # the environment record must never stop a run
        gpu = {"available": False, "error": str(exc)}
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "gpu": gpu,
        "git_hash": git_hash(),
        "world_size": place().world_size,
        "hf_offline": os.environ.get("HF_HUB_OFFLINE"),
    }


def hash_path(path: Path) -> str:
    """sha256 over a file, or over a folder's files (relative names + contents, sorted) so renames count."""
    digest = hashlib.sha256()
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file() and p.name != ".complete")
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with file.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def hash_docs(docs: Any) -> str:
    """sha256 over a task's evaluation docs, including the content of every file a doc names (videos)."""
    digest = hashlib.sha256()
    for doc in docs:
        digest.update(stable_json(doc))  # no object addresses: the same docs give the same hash in every process
        for value in doc.values():
            if isinstance(value, str) and len(value) < 4096 and os.path.isfile(value):
                digest.update(hash_path(Path(value)).encode())
    return digest.hexdigest()


def list_runs(runs_root: Path) -> list[dict[str, Any]]:
    rows = []
    if not runs_root.is_dir():
        return rows
    for run in sorted(p for p in runs_root.iterdir() if (p / "state.json").exists()):
        try:
            state = read_json(run / "state.json", {})
        except OSError:  # a planted link: listed as unreadable, the other runs still shown
            state = {}
        state = state if isinstance(state, dict) else {}
        entries = state.get("entries") if isinstance(state.get("entries"), dict) else {}
        done = sum(1 for s in entries.values() if s == "done")
        status = str(state.get("status", "unreadable"))
        if status == "running" and pid_alive(state.get("pid"), state.get("host")) is False:
            status = "interrupted"  # its process is gone (killed): resumable, not running
        rows.append(
            {
                "run_id": run.name,
                "status": status,
                "done": done,
                "total": len(entries),
                "failed": sum(1 for s in entries.values() if s == "failed"),
                "updated": state.get("updated", ""),
                "path": str(run),
            }
        )
    return rows

"""What produced a row of numbers, in the words every table shows beside it.

A results file of schema version 2 carries `provenance` (`tasks.results_schema.Provenance`: data, judge, subset,
hardware, checkpoint, intervention), filled by the runner. Older files (version 1) and plain lmms-eval output do
not; for them `infer` derives what the files do say and leaves the rest "unknown":

- judge: the `judge` dict every TwiFF-Bench per-sample record carries (provider, model, `comparable`);
- subset: lmms-eval's `limit` (it takes the first N documents) and its `n-samples` original/effective counts;
- hardware: the run directory's env.json (GPU names, else the CPU);
- data: never known (the data folder was not recorded), so such a row is never ranked beside published numbers;
  the documents' fingerprint (hashes.json, lmms-eval's `task_hashes`) still tells rows on the same documents apart.

Rows are ranked against each other (bold) only within one `group`: the same data (and fingerprint, where known),
judge and subset. Rows on unknown data without a fingerprint are never ranked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from future_l1.tasks.judge_server import RUBRIC_MODEL
from future_l1.tasks.results_schema import TWIFFBENCH, Provenance, benchmark_of

UNKNOWN = "unknown"


@dataclass(frozen=True)
class RowProvenance:
    """data: "demo", "folder NAME", "hub ID" or "unknown". judge: "" when scored by rule, "rubric", the LLM judge's
    model, "unknown" or "mixed". subset: "" for every document, else e.g. "first 8 of 24". intervention: "" for none.
    hardware: where latencies were measured. comparable: the row may stand beside published numbers. recorded: True
    when the results file carried provenance, False when it was inferred."""

    data: str = UNKNOWN
    judge: str = ""
    judge_comparable: bool = True
    subset: str = ""
    intervention: str = ""
    hardware: str = UNKNOWN
    checkpoint: str = ""
    comparable: bool = False
    recorded: bool = False
    fingerprint: str = ""  # content hash of the evaluated documents, when recorded

    def parts(self) -> list[str]:
        """Short labels, most important first: what makes the row differ from a full run on the real data."""
        out = ["demo data" if self.data == "demo" else "data unknown" if self.data == UNKNOWN else f"data {self.data}"]
        if self.judge == "rubric":
            out.append("rubric judge")
        elif self.judge:
            out.append(f"judge {self.judge}" + ("" if self.judge_comparable else " (not comparable)"))
        if self.subset:
            out.append(f"subset: {self.subset}")
        if self.intervention:
            out.append(f"intervention {self.intervention}")
        return out

    @property
    def label(self) -> str:
        return " · ".join(self.parts())

    @property
    def group(self) -> tuple[str, str, str, str] | None:
        """Rows are ranked against each other only within one group (and with the same n); None: never ranked
        (unknown data and no fingerprint: nothing says two such rows saw the same documents)."""
        if self.data == UNKNOWN and not self.fingerprint:
            return None
        return (self.data, self.fingerprint, self.judge, self.subset)


def from_schema(prov: Provenance) -> RowProvenance:
    data = prov.data
    if data.kind == "demo":
        data_label = "demo"
    elif data.kind in ("folder", "hub") and data.path:
        data_label = f"{data.kind} {PurePath(data.path).name if data.kind == 'folder' else data.path}"
    else:
        data_label = UNKNOWN
    judge = prov.judge
    judge_label = {"none": "", "rubric": "rubric"}.get(judge.kind, judge.model or UNKNOWN)
    hardware = prov.hardware.device or (prov.hardware.kind if prov.hardware.kind != "unknown" else UNKNOWN)
    checkpoint = prov.checkpoint.ref or ""
    if prov.checkpoint.revision:
        checkpoint += f"@{prov.checkpoint.revision[:12]}"
    return RowProvenance(
        data=data_label,
        judge=judge_label,
        judge_comparable=judge.comparable,
        subset=_subset(prov.subset.strategy, prov.subset.n, prov.subset.limit, prov.subset.n_total, prov.subset.seed),
        intervention="" if prov.intervention in (None, "", "none") else str(prov.intervention),
        hardware=hardware,
        checkpoint=checkpoint,
        comparable=prov.comparable,
        recorded=True,
        fingerprint=data.fingerprint or "",
    )


def _subset(strategy: str, n: Any, limit: Any, n_total: Any, seed: Any = None) -> str:
    if strategy == "all":
        return ""
    count = n if n is not None else limit
    text = f"{strategy} {_num(count)}" + (f" of {_num(n_total)}" if n_total is not None else "")
    return text + (f" (seed {seed})" if strategy == "stratified" and seed is not None else "")


def _num(x: Any) -> str:
    return str(int(x)) if isinstance(x, (int, float)) and float(x).is_integer() else str(x)


def infer(
    task: str,
    records: Iterable[Mapping[str, Any]],
    *,
    limit: Any = None,
    n: int | None = None,
    n_total: int | None = None,
    env: Mapping[str, Any] | None = None,
    fingerprint: Any = None,
    intervention: str = "",
) -> RowProvenance:
    """Provenance of a file without it (schema version 1, plain lmms-eval output), from what the files say
    (`intervention`: the row's latent_intervention model argument, issue 29)."""
    judge, judge_ok = _judge_from_records(records) if benchmark_of(task) == TWIFFBENCH else ("", True)
    subset = ""
    if isinstance(n, int) and isinstance(n_total, int) and n < n_total:
        subset = f"first {n} of {n_total}"
    elif limit is not None:
        subset = f"first {_num(n if n is not None else limit)} (limit {_num(limit)})"
    return RowProvenance(
        judge=judge,
        judge_comparable=judge_ok,
        subset=subset,
        hardware=hardware_from_env(env),
        comparable=False,
        fingerprint=fingerprint if isinstance(fingerprint, str) else "",
        intervention="" if intervention in ("", "none") else intervention,
    )


def _judge_from_records(records: Iterable[Mapping[str, Any]]) -> tuple[str, bool]:
    seen: set[tuple[str, bool]] = set()
    for record in records:
        judge = record.get("judge")
        if not isinstance(judge, Mapping):
            continue
        model = str(judge.get("model") or UNKNOWN)
        rubric = judge.get("provider") == "rubric" or model == RUBRIC_MODEL
        seen.add(("rubric" if rubric else model, judge.get("comparable") is not False and not rubric))
    if not seen:
        return UNKNOWN, False
    if len(seen) > 1:
        return "mixed", False
    return next(iter(seen))


def hardware_from_env(env: Mapping[str, Any] | None) -> str:
    """The machine a run directory's env.json describes: its GPU names, else "cpu"; "unknown" without env.json."""
    if not isinstance(env, Mapping) or not env:
        return UNKNOWN
    gpu = env.get("gpu")
    if not isinstance(gpu, Mapping):
        return UNKNOWN  # env.json without its GPU record says nothing about the machine
    if gpu.get("available"):
        names = gpu.get("names")
        if isinstance(names, list) and names and all(isinstance(x, str) for x in names):
            return names[0] + (f" ×{len(names)}" if len(names) > 1 else "")
        return "cuda"
    platform = env.get("platform")
    machine = str(platform).rsplit("-with-", 1)[0].split("-")[-1] if isinstance(platform, str) and platform else ""
    return f"cpu ({machine})" if machine else "cpu"

"""Paired comparison of two runs (or two models of one run) on the samples they share.

Samples are matched per task by the first key that is present on every sample of both sides and unique within each
side: `sample_hash` (our harness), then lmms-eval's `doc_hash`, then `doc_id` (within one task, i.e. the pair
(task, doc_id)). lmms-eval's own output gives every sample of a task the same `doc_hash`, so pairing by it would
collapse them into one; uniqueness rules that out. Whenever fewer samples are paired than either side holds, the
comparison says so (`warnings`, printed by the CLI). For accuracy (FutureBench, overall and per split) the report
gives B - A in percentage points, a paired bootstrap interval, the discordant counts and McNemar's p-value (exact
binomial for fewer than 25 discordant pairs). For TwiFF-Bench judge scores it gives B - A over samples judged on both
sides with a paired bootstrap interval (no McNemar: the scores are not binary).

Models are named by their suite label (run directories) or their lmms-eval model name (`readers.lmms_model_name`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from future_l1.reports.formats import md_text
from future_l1.reports.readers import ReportInputError, RunResult, read_results
from future_l1.reports.records import FUTUREBENCH, FUTUREBENCH_SPLITS, OVERALL, TWIFFBENCH
from future_l1.reports.stats import DEFAULT_N_BOOT, DEFAULT_SEED, mcnemar_p, paired_difference


@dataclass(frozen=True)
class PairedResult:
    task: str
    model_a: str
    model_b: str
    split: str
    metric: str
    n_shared: int
    only_a: int  # samples of A with no partner in B (same for every split row of a task)
    only_b: int
    value_a: float
    value_b: float
    diff: float  # B - A
    ci_low: float | None
    ci_high: float | None
    a_only_correct: int | None = None  # McNemar's b
    b_only_correct: int | None = None  # McNemar's c
    p_value: float | None = None
    paired_by: str = "sample_hash"  # the key samples were matched on


def compare_paths(
    path_a: Path,
    path_b: Path | None = None,
    *,
    models: Sequence[str] | None = None,
    seed: int = DEFAULT_SEED,
    n_boot: int = DEFAULT_N_BOOT,
) -> list[PairedResult]:
    """Compare B against A. With one path, `models` names the two models of it to compare; with two, `models` (if
    given) names the model to take from each."""
    side_a = read_results([path_a])
    side_b = read_results([path_b]) if path_b is not None else side_a
    if models:
        if len(models) != 2:
            raise ReportInputError(f"--models takes two model labels (A and B), got {len(models)}")
        side_a, side_b = _only(side_a, models[0], path_a), _only(side_b, models[1], path_b or path_a)
    elif path_b is None:
        raise ReportInputError(f"{path_a}: one run given; name the two models to compare with --models A B "
                               f"(models there: {', '.join(_models(side_a))})")  # fmt: skip
    return compare_results(side_a, side_b, seed=seed, n_boot=n_boot)


def _models(results: list[RunResult]) -> list[str]:
    return list(dict.fromkeys(r.model for r in results))


def _only(results: list[RunResult], model: str, path: Path) -> list[RunResult]:
    chosen = [r for r in results if r.model == model]
    if not chosen:
        raise ReportInputError(f"{path}: no model {model!r} (models there: {', '.join(_models(results))})")
    return chosen


def compare_results(
    side_a: list[RunResult], side_b: list[RunResult], *, seed: int = DEFAULT_SEED, n_boot: int = DEFAULT_N_BOOT
) -> list[PairedResult]:
    out = []
    for a, b in _pair_runs(side_a, side_b):
        out += _compare_pair(a, b, seed=seed, n_boot=n_boot)
    if not out:
        raise ReportInputError("the two runs share no task with per-sample results; nothing to compare")
    return out


def _pair_runs(side_a: list[RunResult], side_b: list[RunResult]) -> list[tuple[RunResult, RunResult]]:
    pairs = []
    for task in sorted({r.task for r in side_a} & {r.task for r in side_b}):
        a = [r for r in side_a if r.task == task]
        b = [r for r in side_b if r.task == task]
        if len(a) == 1 and len(b) == 1:
            pairs.append((a[0], b[0]))
            continue
        same = [(x, y) for x in a for y in b if x.model == y.model]
        if not same:
            raise ReportInputError(
                f"task {task}: run A has models {[r.model for r in a]} and run B {[r.model for r in b]}; "
                "name the two to compare with --models A B"
            )
        pairs += same
    return pairs


KEYS = ("sample_hash", "doc_hash", "doc_id")


def _key_field(a: RunResult, b: RunResult) -> str:
    """The first key present on every sample of both sides and unique within each side."""
    for name in KEYS:
        if all(_unique(r, name) for r in (a, b)):
            return name
    raise ReportInputError(
        f"{a.task}: no key (sample_hash, doc_hash, doc_id) identifies each sample of both runs once; cannot pair them"
    )


def _unique(r: RunResult, name: str) -> bool:
    keys = [s.get(name) for s in r.samples]
    ok = all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in keys)
    return ok and len(set(keys)) == len(keys)


def _by_key(r: RunResult, key: str) -> dict[Any, dict[str, Any]]:
    """Per-sample dict by matching key; the samples line and its per-sample dict are zipped (same order)."""
    dicts = r.sample_dicts()
    if len(dicts) != len(r.samples):
        raise ReportInputError(f"{r.origin}: {r.task} has samples without the per-sample result dict")
    return {line[key]: d for line, d in zip(r.samples, dicts, strict=True)}


def _compare_pair(a: RunResult, b: RunResult, *, seed: int, n_boot: int) -> list[PairedResult]:
    if not a.samples or not b.samples or a.benchmark not in (FUTUREBENCH, TWIFFBENCH):
        return []
    key = _key_field(a, b)
    da, db = _by_key(a, key), _by_key(b, key)
    shared = sorted(set(da) & set(db), key=str)
    common = {"task": a.task, "model_a": a.model, "model_b": b.model, "only_a": len(da) - len(shared),
              "only_b": len(db) - len(shared), "paired_by": key}  # fmt: skip

    def paired(split: str, metric: str, xa: list[float], xb: list[float], **extra: Any) -> PairedResult:
        diff, ci = paired_difference(xa, xb, seed=seed, n_boot=n_boot)
        return PairedResult(
            **common, split=split, metric=metric, n_shared=len(xa), value_a=sum(xa) / len(xa),
            value_b=sum(xb) / len(xb), diff=diff, ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None, **extra,
        )  # fmt: skip

    out = []
    if a.benchmark == FUTUREBENCH:
        for split, _keys, xa, xb, a_only, b_only in accuracy_by_split(da, db, shared):
            extra = {"a_only_correct": a_only, "b_only_correct": b_only, "p_value": mcnemar_p(a_only, b_only)}
            out.append(paired(split, "acc", xa, xb, **extra))
    else:
        keys = [k for k in shared if _judged(da[k]) and _judged(db[k])]
        scores = {
            "cot": lambda d: d["cot"],
            "answer": lambda d: d["answer_score"],
            "avg": lambda d: (d["cot"] + d["answer_score"]) / 2.0,
        }
        for metric, score in scores.items() if keys else ():
            out.append(paired(OVERALL, metric, [score(da[k]) for k in keys], [score(db[k]) for k in keys]))
    return out


def accuracy_by_split(
    da: dict[Any, dict[str, Any]], db: dict[Any, dict[str, Any]], shared: list[Any]
) -> Iterator[tuple[str, list[Any], list[float], list[float], int, int]]:
    """FutureBench's paired accuracy, overall then per split: (split, keys, correct % of a, of b, a only, b only)."""
    for split in (OVERALL, *FUTUREBENCH_SPLITS):
        keys = [k for k in shared if split == OVERALL or da[k].get("split") == split]
        if not keys:
            continue
        xa = [100.0 * da[k]["correct"] for k in keys]
        xb = [100.0 * db[k]["correct"] for k in keys]
        a_only = sum(1 for k in keys if da[k]["correct"] and not db[k]["correct"])
        b_only = sum(1 for k in keys if db[k]["correct"] and not da[k]["correct"])
        yield split, keys, xa, xb, a_only, b_only


def _judged(d: dict[str, Any]) -> bool:
    return bool(d.get("judged")) and d.get("cot") is not None and d.get("answer_score") is not None


def warnings(results: list[PairedResult]) -> list[str]:
    """One line per task where fewer samples were paired than a side holds (those samples are left out)."""
    lines = []
    for task, only_a, only_b, n, key in sorted(
        {(r.task, r.only_a, r.only_b, r.n_shared, r.paired_by) for r in results if r.split == OVERALL}
    ):
        if only_a or only_b:
            lines.append(
                f"warning: {task}: paired {n} samples by {key}, but A has {n + only_a} and B {n + only_b}; "
                f"{only_a} of A and {only_b} of B have no partner and are left out"
            )
    return lines


def comparison_markdown(results: list[PairedResult]) -> str:
    lines = [
        "| Task | Split | Metric | Model A | Model B | n shared | A | B | B − A [95% CI] | only A ✓ | only B ✓ | McNemar p |",
        "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        d = 1 if r.metric == "acc" else 2
        ci = f" [{r.ci_low:+.{d}f}, {r.ci_high:+.{d}f}]" if r.ci_low is not None else ""
        p = "" if r.p_value is None else f"{r.p_value:.4g}"
        counts = ["" if x is None else str(x) for x in (r.a_only_correct, r.b_only_correct)]
        lines.append(
            f"| {md_text(r.task)} | {r.split} | {r.metric} | {md_text(r.model_a)} | {md_text(r.model_b)} | "
            f"{r.n_shared} | {r.value_a:.{d}f} | {r.value_b:.{d}f} | {r.diff:+.{d}f}{ci} | {counts[0]} | {counts[1]} "
            f"| {p} |"
        )
    keys = sorted({(r.task, r.paired_by) for r in results})
    lines.append("")
    lines += [f"{md_text(task)}: samples paired by {key}." for task, key in keys]
    lines += [md_text(w) for w in warnings(results)]
    return "\n".join(lines) + "\n"


def comparison_json(results: list[PairedResult]) -> str:
    return json.dumps([asdict(r) for r in results], indent=2, sort_keys=True) + "\n"

"""Turn a `RunResult` into records, with seeded bootstrap intervals computed from its samples.

Values are the run's own aggregated metrics (what lmms-eval wrote); the samples only supply counts and intervals, and
the values when the results file lacks a metric. A metric the results file holds as NaN, infinite or text is an
invalid record (value NaN, `invalid` says why): it is never replaced by a number computed from the samples, since
the file and the samples would then disagree without a word. FutureBench accuracies are micro accuracies in percent
(the paper's AVG); TwiFF-Bench scores average judged samples only (the official figure), the "_failzero" variants
count failures as 0, and per category (`meta_data.classification`, e.g. physical / predictive) the same three
scores come from the per-sample records. Cost figures: mean_output_tokens is lmms-eval's `output_tokens` (text
tokens; latent steps are counted apart as mean_latent_steps = the sum of a sample's `latent_spans`), mean_latency_s
the harness's per-sample `latency_s`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from future_l1.reports.readers import RunResult
from future_l1.reports.records import (
    CATEGORY,
    FUTUREBENCH,
    FUTUREBENCH_SPLITS,
    MEASURED,
    OVERALL,
    TWIFFBENCH,
    Record,
)
from future_l1.reports.stats import DEFAULT_N_BOOT, DEFAULT_SEED, bootstrap_ci

NO_CATEGORY = "(none)"
TWIFF_SCORES: dict[str, Callable[[dict[str, Any]], float]] = {
    "cot": lambda d: d["cot"],
    "answer": lambda d: d["answer_score"],
    "avg": lambda d: (d["cot"] + d["answer_score"]) / 2.0,
}


def records_from_result(r: RunResult, *, seed: int = DEFAULT_SEED, n_boot: int = DEFAULT_N_BOOT) -> list[Record]:
    def make(
        split: str,
        metric: str,
        value: float | None,
        values: Sequence[float] | None,
        count: int | None = None,
        key: str | None = None,
    ) -> Record | None:
        invalid = r.invalid_metrics.get(key, "") if key else ""
        n = count if count is not None else (len(values) if values else None)
        if invalid:  # shown as invalid, never replaced by a number from the samples
            value, values = math.nan, None
        if value is None and values:
            value = sum(values) / len(values)
        if value is None:
            return None
        ci = bootstrap_ci(values, seed=seed, n_boot=n_boot) if values else None
        return Record(
            benchmark=r.benchmark,
            model=r.model,
            task=r.task,
            split=split,
            metric=metric,
            value=float(value),
            count=n,
            ci_low=ci[0] if ci else None,
            ci_high=ci[1] if ci else None,
            source=MEASURED,
            origin=r.origin,
            meta=dict(r.meta),
            provenance=r.provenance,
            invalid=invalid,
        )

    if r.benchmark == FUTUREBENCH:
        made = _futurebench(r, make)
    elif r.benchmark == TWIFFBENCH:
        made = _twiffbench(r, make) + _twiff_categories(r, make)
    else:
        made = [make(OVERALL, k, v, None, r.n_samples, key=k) for k, v in sorted(r.metrics.items())]
        made += [make(OVERALL, k, None, None, r.n_samples, key=k) for k in sorted(r.invalid_metrics)]
    made += _cost(r, make)
    return [rec for rec in made if rec is not None]


def _futurebench(r: RunResult, make: Callable[..., Record | None]) -> list[Record | None]:
    dicts = r.sample_dicts()
    m = r.metrics
    out = []
    for metric, field in (("acc", "correct"), ("acc_strict", "correct_strict")):
        key = "future_acc" if metric == "acc" else "future_acc_strict"
        values = [100.0 * d[field] for d in dicts if field in d] or None
        out.append(make(OVERALL, metric, m.get(key), values, None if values else r.n_samples, key=key))
    for split in FUTUREBENCH_SPLITS:
        values = [100.0 * d["correct"] for d in dicts if d.get("split") == split] or None
        count = m.get(f"{split}_n")
        count = int(count) if count is not None else None
        out.append(make(split, "acc", m.get(f"{split}_acc"), values, count, key=f"{split}_acc"))
    errors = m.get("n_errors", sum(1 for d in dicts if d.get("error")) if dicts else None)
    out.append(make(OVERALL, "n_errors", errors, None, len(dicts) or r.n_samples, key="n_errors"))
    return out


def _judged(d: dict[str, Any]) -> bool:
    return bool(d.get("judged")) and d.get("cot") is not None and d.get("answer_score") is not None


def _twiffbench(r: RunResult, make: Callable[..., Record | None]) -> list[Record | None]:
    dicts = r.sample_dicts()
    judged = [d for d in dicts if _judged(d)]
    m = r.metrics
    judged_ids = {id(d) for d in judged}
    out = []
    for metric, score in TWIFF_SCORES.items():
        values = [score(d) for d in judged] or None
        key = f"twiff_{metric}"
        out.append(make(OVERALL, metric, m.get(key), values, len(judged) if dicts else None, key=key))
        failzero = [score(d) if id(d) in judged_ids else 0.0 for d in dicts] or None
        key = f"twiff_{metric}_failzero"
        out.append(make(OVERALL, f"{metric}_failzero", m.get(key), failzero, key=key))
    n_judged = m.get("n_judged", len(judged) if dicts else None)
    n_failed = m.get("n_failed", len(dicts) - len(judged) if dicts else None)
    out.append(make(OVERALL, "n_judged", n_judged, None, len(dicts) or r.n_samples, key="n_judged"))
    out.append(make(OVERALL, "n_failed", n_failed, None, len(dicts) or r.n_samples, key="n_failed"))
    return out


def _twiff_categories(r: RunResult, make: Callable[..., Record | None]) -> list[Record | None]:
    """CoT, Answer and Avg per category over judged samples, and each category's failed judgements (from samples:
    lmms-eval's results entry holds only whole-benchmark metrics)."""
    dicts = r.sample_dicts()
    if not any(d.get("category") for d in dicts):
        return []
    by_category: dict[str, list[dict[str, Any]]] = {}
    for d in dicts:
        by_category.setdefault(str(d.get("category") or NO_CATEGORY), []).append(d)
    out = []
    for category, members in sorted(by_category.items()):
        judged = [d for d in members if _judged(d)]
        split = CATEGORY + category
        for metric, score in TWIFF_SCORES.items():
            out.append(make(split, metric, None, [score(d) for d in judged] or None))
        out.append(make(split, "n_failed", float(len(members) - len(judged)), None, len(members)))
    return out


def _cost(r: RunResult, make: Callable[..., Record | None]) -> list[Record | None]:
    tokens = [t for t in (output_tokens(s) for s in r.samples) if t is not None]
    latency = [float(x) for x in (s.get("latency_s") for s in r.samples) if _finite(x) and x >= 0]
    spans = [d["latent_spans"] for d in r.sample_dicts() if latent_spans_ok(d.get("latent_spans"))]
    return [
        make(OVERALL, "mean_output_tokens", None, tokens or None),
        make(OVERALL, "mean_latency_s", None, latency or None),
        make(OVERALL, "mean_latent_spans", None, [float(len(s)) for s in spans] or None),
        make(OVERALL, "mean_latent_steps", None, [float(sum(s)) for s in spans] or None),
    ]


def latent_spans_ok(spans: Any) -> bool:
    """A per-sample `latent_spans` list of step counts (records of other tasks are read as they are)."""
    return isinstance(spans, list) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in spans)


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def output_tokens(sample: dict[str, Any]) -> float | None:
    """Text tokens generated for one sample: the sum of `output_tokens` over lmms-eval's token_counts entries."""
    entries = sample.get("token_counts")
    if not isinstance(entries, list):
        return None
    found = [e["output_tokens"] for e in entries if isinstance(e, dict) and _finite(e.get("output_tokens"))]
    return float(sum(found)) if found else None

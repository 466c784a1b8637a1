"""Latent reliance (issue 29): each intervention row paired with the unperturbed row of the same checkpoint.

A row's intervention is its `latent_intervention=` model argument (none when absent; `harness.interventions` writes
it for a suite's `interventions:` sweep). Rows are paired per task when their model arguments are equal apart from
`latent_intervention` and `latent_intervention_seed` (and the `save_latents` folder, one per row in a sweep), so both rows ran the same checkpoint with the same settings;
samples are paired by the same key as `report compare` (`compare._key_field`). Per split (FutureBench: all, hop1-3,
interp) a pair gives the accuracy difference (intervention − none, percentage points) with its paired bootstrap
interval and McNemar's p, the share of answers that changed (parsed option letter differs), and for `shuffle` the
share of samples whose answer equals the unperturbed answer of its donor. The donor is estimated as the next sample
in document order (cyclic within the task): the adapter's batch order on one process with the eager decoder (the
fast decoder's slot order and several ranks change who the donor is, so there the share is only indicative).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from future_l1.reports.compare import _by_key, _key_field, accuracy_by_split
from future_l1.reports.formats import md_text
from future_l1.reports.readers import RunResult, model_arg
from future_l1.reports.records import FUTUREBENCH, OVERALL
from future_l1.reports.stats import DEFAULT_N_BOOT, DEFAULT_SEED, mcnemar_p, paired_difference

ARGS = ("latent_intervention", "latent_intervention_seed", "save_latents")  # what may differ within a pair


@dataclass(frozen=True)
class Reliance:
    checkpoint: str  # the unperturbed row's label
    model: str  # the intervention row's label
    intervention: str
    task: str
    split: str
    n: int
    acc_none: float
    acc: float
    diff: float  # intervention − none, percentage points
    ci_low: float | None
    ci_high: float | None
    p_value: float
    changed: float  # % of answers that differ from the unperturbed answer
    follows_donor: float | None  # shuffle: % of answers equal to the donor's unperturbed answer
    donor_baseline: float | None = None  # shuffle: % of unperturbed answers already equal to the donor's (chance)


def intervention(r: RunResult) -> str:
    return (model_arg(r.meta.get("model_args"), "latent_intervention") or "none").lower()


def _base_args(r: RunResult) -> tuple[str, ...]:
    parts = [p.strip() for p in str(r.meta.get("model_args", "")).split(",") if p.strip()]
    return tuple(sorted(p for p in parts if p.partition("=")[0].strip() not in ARGS))


def pairs(results: Sequence[RunResult]) -> list[tuple[RunResult, RunResult]]:
    """(unperturbed, intervention) pairs of FutureBench rows with samples, per task and checkpoint."""
    out = []
    rows = [r for r in results if r.benchmark == FUTUREBENCH and r.samples]
    for r in rows:
        if intervention(r) == "none":
            continue
        bases = [b for b in rows if b.task == r.task and intervention(b) == "none" and _base_args(b) == _base_args(r)
                 and b.origin == r.origin]  # fmt: skip
        if len(bases) == 1:
            out.append((bases[0], r))
    return out


def reliance(results: Sequence[RunResult], *, seed: int = DEFAULT_SEED, n_boot: int = DEFAULT_N_BOOT) -> list[Reliance]:
    out = []
    for base, row in pairs(results):
        key = _key_field(base, row)
        da, db = _by_key(base, key), _by_key(row, key)
        shared = sorted(set(da) & set(db), key=str)
        order = sorted(shared, key=lambda k: (da[k].get("doc_id", 0), str(k)))
        donor = {k: order[(i + 1) % len(order)] for i, k in enumerate(order)}
        kind = intervention(row)
        for split, keys, xa, xb, only_a, only_b in accuracy_by_split(da, db, shared):
            diff, ci = paired_difference(xa, xb, seed=seed, n_boot=n_boot)
            changed = 100.0 * sum(da[k].get("pred") != db[k].get("pred") for k in keys) / len(keys)
            follows = baseline = None
            if kind == "shuffle" and len(order) > 1:
                follows = 100.0 * sum(db[k].get("pred") == da[donor[k]].get("pred") for k in keys) / len(keys)
                baseline = 100.0 * sum(da[k].get("pred") == da[donor[k]].get("pred") for k in keys) / len(keys)
            out.append(Reliance(base.model, row.model, kind, row.task, split, len(keys), sum(xa) / len(xa),
                                sum(xb) / len(xb), diff, ci[0] if ci else None, ci[1] if ci else None,
                                mcnemar_p(only_a, only_b), changed, follows, baseline))  # fmt: skip
    return out


def reliance_markdown(rows: Sequence[Reliance]) -> str:
    if not rows:
        return ""
    lines = ["### Latent reliance (each intervention against the unperturbed row of its checkpoint)", "",
             "| Checkpoint | Intervention | Task | Split | n | acc none | acc | Δ [95% CI] | McNemar p | changed % "
             "| follows donor % (unperturbed) |", "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        ci = f" [{r.ci_low:+.1f}, {r.ci_high:+.1f}]" if r.ci_low is not None else ""
        donor = "" if r.follows_donor is None else f"{r.follows_donor:.1f} ({r.donor_baseline:.1f})"
        lines.append(f"| {md_text(r.checkpoint)} | {md_text(r.intervention)} | {md_text(r.task)} | {r.split} | {r.n} "
                     f"| {r.acc_none:.1f} | {r.acc:.1f} | {r.diff:+.1f}{ci} | {r.p_value:.4g} | {r.changed:.1f} "
                     f"| {donor} |")  # fmt: skip
    lines += ["", "A model that uses its latents loses accuracy and changes answers under zero / shuffle / noise; "
              "under shuffle its answers follow the donor's (in brackets: how often the unperturbed answer already equals the "
              "donor's, the level to beat). Donor: the next sample in document order (estimate)."]  # fmt: skip
    return "\n".join(lines) + "\n"


def reliance_json(rows: Sequence[Reliance]) -> str:
    return json.dumps([asdict(r) for r in rows], indent=2, sort_keys=True) + "\n"


def reliance_plot(rows: Sequence[Reliance], stem: Path) -> list[Path] | None:
    """Accuracy difference per intervention (split all), one group per checkpoint and task, with 95% intervals."""
    rows = [r for r in rows if r.split == OVERALL]
    if not rows:
        return None
    from future_l1.reports.plots import RC, plt, save

    groups = list(dict.fromkeys((r.checkpoint, r.task) for r in rows))
    kinds = list(dict.fromkeys(r.intervention for r in rows))
    width = 0.8 / len(kinds)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(groups) * max(1, len(kinds)) / 2), 3.2))
        for j, kind in enumerate(kinds):
            xs, ys, lo, hi = [], [], [], []
            for i, g in enumerate(groups):
                hit = [r for r in rows if (r.checkpoint, r.task) == g and r.intervention == kind]
                if hit:
                    r = hit[0]
                    xs.append(i + (j - (len(kinds) - 1) / 2) * width)
                    ys.append(r.diff)
                    lo.append(r.diff - r.ci_low if r.ci_low is not None else 0.0)
                    hi.append(r.ci_high - r.diff if r.ci_high is not None else 0.0)
            ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=kind, edgecolor="black", linewidth=0.5)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(range(len(groups)), [f"{c}\n{t}" for c, t in groups], fontsize=7)
        ax.set_ylabel("accuracy − unperturbed (pp)")
        ax.set_title("Latent reliance")
        ax.legend(fontsize=7)
        fig.tight_layout()
        return save(fig, stem)

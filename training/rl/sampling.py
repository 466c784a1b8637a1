"""DAPO dynamic sampling (paper App. B Table 9; TRL has none): keep prompt groups whose mean accuracy lies in
[acc_low, acc_high] (with n = 8 and [0.1, 0.9]: 1 to 7 correct rollouts), oversample new prompts for the missing
groups, at most `max_tries` rollout rounds per batch. "Correct" means R_acc ≥ 1 (after the repetition override).

If the batch is still short after the last try, the missing slots are padded with the most recently dropped groups,
flagged in `SampledBatch.padded`: they keep the batch's shape (TRL splits it into equal mini-batches, processes
gather equal sizes) and nothing else. The trainer takes them out of the loss (policy term and KL) and their advantage
is 0, so a dropped group never trains, whatever `max_tries` is; the count is logged (`groups_padded`, with a warning).
Deviation: the authors used the last round unfiltered when it kept nothing and raised otherwise; a crash after hours
of training helps nobody, and training on single-outcome groups is what dynamic sampling exists to prevent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch


@dataclass
class SampledBatch:
    rollout: dict
    components: dict[str, torch.Tensor]
    rows: list[dict]
    padded: list[bool] = field(default_factory=list)  # per group in `rows`: a dropped group only filling a slot
    stats: dict[str, float] = field(default_factory=dict)
    # mean of each reward component over EVERY rollout generated for this batch, kept or dropped: the unbiased
    # learning curve (the kept groups' means are filtered towards mixed outcomes by construction)
    all_means: dict[str, float] = field(default_factory=dict)


def group_accuracy(accuracy: torch.Tensor, groups: torch.Tensor, g: int) -> float:
    """Mean accuracy of group g, correct = R_acc ≥ 1."""
    return float((accuracy[groups == g] >= 1).float().mean())


def _take(ro: dict, comps: dict, idx: list[int], new_group: int, out_ro: dict, out_comps: dict) -> None:
    for key, values in ro.items():
        out_ro.setdefault(key, []).extend(new_group if key == "group" else values[i] for i in idx)
    for key, values in comps.items():
        out_comps.setdefault(key, []).append(values[idx])


class DynamicSampler:
    def __init__(self, acc_low: float = 0.1, acc_high: float = 0.9, max_tries: int = 20,
                 oversample_factor: float = 2.0, enabled: bool = True):  # fmt: skip
        self.acc_low, self.acc_high, self.max_tries = acc_low, acc_high, max(1, int(max_tries))
        self.oversample_factor, self.enabled = oversample_factor, enabled

    def keep(self, mean_accuracy: float) -> bool:
        return (not self.enabled) or self.acc_low <= mean_accuracy <= self.acc_high

    def fill(self, target: int, rows: list[dict], rollout: Callable[[list[dict]], dict],
             score: Callable[[dict, list[dict]], dict], draw: Callable[[int], list[dict]]) -> SampledBatch:  # fmt: skip
        """Roll out `rows`, keep the groups that pass, retry with `draw(k)` new prompts until `target` groups."""
        out_ro: dict = {}
        out_comps: dict = {}
        kept_rows: list[dict] = []
        dropped: list[tuple[dict, dict, list[int], dict]] = []
        stats = {"tries": 0, "groups_kept": 0, "groups_dropped_all_correct": 0, "groups_dropped_all_wrong": 0,
                 "groups_dropped_other": 0, "groups_surplus": 0, "groups_padded": 0, "groups_rolled_out": 0}  # fmt: skip
        every: dict[str, list[torch.Tensor]] = {}
        candidates = rows
        while True:
            stats["tries"] += 1
            ro = rollout(candidates)
            comps = score(ro, candidates)
            for key, values in comps.items():
                every.setdefault(key, []).append(values.float())
            groups = torch.tensor(ro["group"])
            stats["groups_rolled_out"] += len(candidates)
            for g, row in enumerate(candidates):
                idx = (groups == g).nonzero().flatten().tolist()
                frac = group_accuracy(comps["accuracy"], groups, g)
                if self.keep(frac) and len(kept_rows) < target:
                    _take(ro, comps, idx, len(kept_rows), out_ro, out_comps)
                    kept_rows.append(row)
                elif self.keep(frac):
                    stats["groups_surplus"] += 1
                else:
                    reason = "all_correct" if frac >= 1 else "all_wrong" if frac <= 0 else "other"
                    stats[f"groups_dropped_{reason}"] += 1
                    dropped.append((ro, comps, idx, row))
            if len(kept_rows) >= target or stats["tries"] >= self.max_tries:
                break
            candidates = draw(math.ceil((target - len(kept_rows)) * self.oversample_factor))
        stats["groups_kept"] = len(kept_rows)
        padded = [False] * len(kept_rows)
        while len(kept_rows) < target and dropped:
            ro, comps, idx, row = dropped.pop()
            _take(ro, comps, idx, len(kept_rows), out_ro, out_comps)
            kept_rows.append(row)
            padded.append(True)
            stats["groups_padded"] += 1
        rolled = max(1, stats["groups_rolled_out"])
        stats["kept_ratio"] = stats["groups_kept"] / rolled
        components = {k: torch.cat(v) for k, v in out_comps.items()}
        all_means = {k: float(torch.cat(v).mean()) for k, v in every.items()}
        return SampledBatch(out_ro, components, kept_rows, padded, {k: float(v) for k, v in stats.items()}, all_means)

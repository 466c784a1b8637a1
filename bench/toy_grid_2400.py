"""Issue 28's check beyond the tuning grid (every arm's val best was its longest run, 1,200 steps), in two rounds;
checkpoints are shared by the splits, so a test run reuses the val run's seeds 0 and 1.

- round 1: (a) and (b) at 2,400 steps, seeds 0 and 1, on val (`tuning-2400`), then each at its val-best learning
  rate (and (a) at the other) on test (`test-2400`);
- round 2: all five trained arms at 2,400 steps on val (seeds 0 and 1; (a) at lr 1e-2, the others at 3e-3, each
  arm's val-best lr at 1,200 steps) (`tuning-2400-all`), then the same five over 5 seeds on test
  (`test-2400-5seeds`; first run with (a), (b) and aux only, the controls' test runs added when val put pause ahead
  of aux).

    python bench/toy_grid_2400.py [OUT] [--round 1|2]   # OUT: the experiment folder (default experiments/latent-vs-text)
"""

import argparse
from dataclasses import replace
from pathlib import Path

from future_l1.harness.experiments.toy_vep import tuning
from future_l1.harness.experiments.toy_vep.settings import MODES


def rounds() -> dict[int, list[tuple[str, str, list]]]:
    """round -> [(split, output name, configs)]."""
    full = replace(MODES["full"], tuned=(), steps=2400, fast_sft=False)  # the SFT path these rounds ran on
    two, five = (0, 1), (0, 1, 2, 3, 4)
    first = [replace(full, seeds=two, learning_rate=1e-2, arms=("latent",)),
             replace(full, seeds=two, learning_rate=3e-3, arms=("latent", "text"))]  # fmt: skip
    controls = ("text", "pause", "cot", "aux")
    second_val = [replace(full, seeds=two, learning_rate=1e-2, arms=("latent",)),
                  replace(full, seeds=two, learning_rate=3e-3, arms=controls)]  # fmt: skip
    second_test = [replace(full, seeds=five, learning_rate=1e-2, arms=("latent",)),
                   replace(full, seeds=five, learning_rate=3e-3, arms=controls)]  # fmt: skip
    return {
        1: [("val", "tuning-2400", first), ("test", "test-2400", first)],
        2: [("val", "tuning-2400-all", second_val), ("test", "test-2400-5seeds", second_test)],
    }


def paired(out: Path, points: list, name: str) -> list[str]:
    """(a) − each other arm on the same test items: pooled over seeds (bootstrap interval over item × seed pairs,
    McNemar p) and over seeds (t interval of the per-seed differences); written to out/<name>.json and .md."""
    import json

    from future_l1.harness.experiments.toy_vep.analysis import _pooled, seed_level
    from future_l1.harness.experiments.toy_vep.settings import LABELS
    from future_l1.reports.compare import compare_results
    from future_l1.reports.readers import read_results

    runs: dict[str, list] = {}
    for p in sorted(points, key=lambda p: p.seed):
        runs.setdefault(p.arm, []).append((p.seed, read_results([out / "runs" / Path(p.run).name])[0]))
    acc = {arm: {str(p.seed): p.accuracy for p in points if p.arm == arm} for arm in runs}
    rows, lines = [], ["| (a) − arm | n | arm % | (a) % | (a) − arm, items [95% CI] | McNemar p | over seeds [95% CI] |",
                       "|---|---:|---:|---:|---|---:|---|"]  # fmt: skip
    for arm in (a for a in runs if a != "latent"):
        rows_ = compare_results([_pooled(runs[arm], LABELS[arm])], [_pooled(runs["latent"], LABELS["latent"])])
        row = next(r for r in rows_ if r.split == "all")  # the per-hop splits are in the run reports
        seeds = seed_level(acc["latent"], acc[arm])
        rows.append({"arm": arm, "pooled": [r.__dict__ for r in rows_], "seeds": seeds})
        lo, hi = seeds["ci"] or (float("nan"), float("nan"))
        lines.append(f"| {LABELS[arm]} | {row.n_shared} | {row.value_a:.1f} | {row.value_b:.1f} | {row.diff:+.1f} "
                     f"[{row.ci_low:+.1f}, {row.ci_high:+.1f}] | {row.p_value:.2g} | {seeds['mean']:+.1f} "
                     f"[{lo:+.1f}, {hi:+.1f}] |")  # fmt: skip
    (out / f"{name}.json").write_text(json.dumps(rows, indent=1, default=str) + "\n")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    return lines


if __name__ == "__main__":  # spawned SFT workers import this file
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", type=Path, default=Path("experiments/latent-vs-text"))
    ap.add_argument("--round", type=int, choices=(1, 2), default=2)
    args = ap.parse_args()
    for split, name, configs in rounds()[args.round]:
        points = tuning.run_grid(args.out, configs, split, name)
        print("\n".join(tuning.table(points)))
        if split == "test" and args.round == 2:
            print("\n".join(paired(args.out, points, f"{name}-paired")))

"""LA-DAPO training curves: rewards by component (over every rollout generated, and over the groups kept by dynamic
sampling and trained on), dynamic sampling, KL, latent span statistics, loss, the judge fallback's counters.

Reads an RL output folder's `rl_history.json` (written by `future_l1.training.rl.run`) or a Trainer
`trainer_state.json`, and writes `rl_curves.png` / `.svg` (deterministic bytes, `plots.save`) beside it, or where
`--out` says. `future-l1 train rl` renders it at the end of a run; by hand:

    python -m future_l1.reports.training_curves RUN_DIR [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from future_l1.reports.plots import RC, save

_COMPONENTS = ("accuracy", "format", "ctr", "div", "total")
PANELS = (
    ("rewards, every rollout (Eq. 7)", tuple(f"rewards_all/{c}/mean" for c in _COMPONENTS)),
    ("rewards, groups trained on", tuple(f"rewards/{c}/mean" for c in _COMPONENTS)),
    ("dynamic sampling", ("sampling/kept_ratio", "sampling/tries", "sampling/groups_padded",
                          "advantages/single_outcome_groups")),
    ("KL to the reference", ("kl",)),
    ("latent spans", ("latent/spans_per_sample", "latent/span_len_mean")),
    ("policy", ("loss", "entropy", "clip_ratio/region_mean")),
    ("completions", ("completions/mean_length", "completions/clipped_ratio")),
    ("LLM-judge fallback", ("judge/calls", "judge/failures", "judge/accepted")),
)  # fmt: skip


def load_history(path: Path) -> list[dict]:
    """Logged steps from a run folder, an rl_history.json or a trainer_state.json."""
    path = Path(path)
    if path.is_dir():
        cand = [path / "rl_history.json", path / "trainer_state.json"]
        path = next((c for c in cand if c.exists()), cand[0])
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = data.get("history") or data.get("log_history") or []
    return [r for r in rows if isinstance(r, dict) and "loss" in r]


def _float(v) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def render(history: list[dict], stem: Path, title: str = "LA-DAPO") -> list[Path] | None:
    panels = [(name, [k for k in keys if any(_float(r.get(k)) is not None for r in history)]) for name, keys in PANELS]
    panels = [(name, keys) for name, keys in panels if keys]
    if not panels:
        return None
    with plt.rc_context(RC):
        ncols = min(3, len(panels))
        nrows = (len(panels) + ncols - 1) // ncols
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 2.8 * nrows), squeeze=False)
        for ax, (name, keys) in zip(axes.flat, panels, strict=False):
            for key in keys:
                pts = [(r.get("step", i), _float(r.get(key))) for i, r in enumerate(history)]
                pts = [(s, v) for s, v in pts if v is not None]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=".", markersize=3, linewidth=1,
                        label=key.split("/")[-2] if key.endswith("/mean") else key.split("/")[-1])  # fmt: skip
            ax.set_title(name)
            ax.set_xlabel("step")
            ax.legend(fontsize=6)
        for ax in list(axes.flat)[len(panels) :]:
            ax.set_visible(False)
        fig.suptitle(title)
        fig.tight_layout()
        return save(fig, stem)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="RL output folder, rl_history.json or trainer_state.json")
    ap.add_argument("--out", help="Folder for rl_curves.png/.svg (default: beside the history)")
    args = ap.parse_args(argv)
    run = Path(args.run)
    history = load_history(run)
    out = Path(args.out) if args.out else (run if run.is_dir() else run.parent)
    out.mkdir(parents=True, exist_ok=True)
    files = render(history, out / "rl_curves", title=f"LA-DAPO: {run.name}")
    if not files:
        print(f"no logged steps in {run}")
        return 1
    print("\n".join(str(f) for f in files))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

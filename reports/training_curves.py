"""Training curves of an SFT or LA-DAPO run: losses, latent statistics, rewards by component (over every rollout
generated, and over the groups kept by dynamic sampling and trained on), dynamic sampling, KL, the judge fallback.

Reads an output folder or one of its history files: `rl_history.json` (written by `future_l1.training.rl.run`),
`sft_summary.json` (its `history`, written by `future_l1.training.sft`), or a Trainer `trainer_state.json` (the
folder's own, else its newest `checkpoint-N/`). Writes `rl_curves.png` / `.svg` or `sft_curves.png` / `.svg`
(deterministic bytes, `plots.save`) beside it, or where `--out` says. `future-l1 train rl` renders it at the end of
a run; `future-l1 report --trainer-state FILE` puts the same figure in a report; by hand:

    python -m future_l1.reports.training_curves RUN_DIR [--out DIR]

A folder or file without a readable history is a one-line error naming it; a history without logged steps says so.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from future_l1.reports.inputs import ReportInputError, load_json
from future_l1.reports.plots import RC, save

_COMPONENTS = ("accuracy", "format", "ctr", "div", "total")
RL_PANELS = (
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
SFT_PANELS = (
    ("loss (CE + λ · latent)", ("loss", "eval_loss")),
    ("cross-entropy", ("ce", "ce_loss")),
    ("latent loss", ("latent_loss", "latent_mse")),
    ("latent spans", ("spans_per_sample", "span_len_mean")),
    ("gradient norm", ("grad_norm",)),
    ("learning rate", ("learning_rate",)),
    ("skipped records", ("skipped_records",)),
)  # fmt: skip
PANELS = RL_PANELS  # kept for callers of the RL figure
HISTORY_FILES = ("rl_history.json", "sft_summary.json", "trainer_state.json")


@dataclass
class History:
    rows: list[dict]  # logged training steps (rows with a loss)
    kind: str  # "rl" | "sft"
    source: Path  # the file read

    @property
    def panels(self) -> tuple:
        return RL_PANELS if self.kind == "rl" else SFT_PANELS


def find_history(path: Path) -> Path:
    """The history file of an output folder (or `path` itself when it is a file)."""
    path = Path(path)
    if not path.is_dir():
        return path
    for name in HISTORY_FILES:
        if (path / name).is_file():
            return path / name
    checkpoints = sorted(path.glob("checkpoint-*/trainer_state.json"), key=_step)
    if checkpoints:
        return checkpoints[-1]
    raise ReportInputError(
        f"{path}: no {', '.join(HISTORY_FILES)} (nor checkpoint-N/trainer_state.json) in this folder; pass an SFT or "
        "RL output folder or one of those files"
    )


def _step(path: Path) -> int:
    m = re.search(r"checkpoint-(\d+)$", path.parent.name)
    return int(m[1]) if m else -1


def load_history(path: Path) -> History:
    """Logged steps from a run folder, an rl_history.json, an sft_summary.json or a trainer_state.json."""
    source = find_history(path)
    data = load_json(source, "training history (rl_history.json, sft_summary.json or trainer_state.json)")
    rows = data.get("history") if isinstance(data.get("history"), list) else data.get("log_history")
    if not isinstance(rows, list):
        raise ReportInputError(f"{source}: holds no 'history' or 'log_history' list; not a training history")
    rows = [r for r in rows if isinstance(r, dict) and _float(r.get("loss")) is not None]
    rl = source.name == "rl_history.json" or any(str(k).startswith(("rewards", "kl")) for r in rows for k in r)
    return History(rows, "rl" if rl else "sft", source)


def _float(v) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def render(history: list[dict], stem: Path, title: str = "LA-DAPO", panels: tuple = RL_PANELS) -> list[Path] | None:
    """One panel per group of logged series; None when no series of `panels` was logged."""
    panels = [(name, [k for k in keys if any(_float(r.get(k)) is not None for r in history)]) for name, keys in panels]
    panels = [(name, keys) for name, keys in panels if keys]
    if not panels:
        return None
    with plt.rc_context(RC):
        ncols = min(3, len(panels))
        nrows = (len(panels) + ncols - 1) // ncols
        fig, axes = plt.subplots(nrows, ncols, figsize=(4.0 * ncols, 2.8 * nrows), squeeze=False)
        for ax, (name, keys) in zip(axes.flat, panels, strict=False):
            for key in keys:
                pts = [(_float(r.get("step")), _float(r.get(key))) for r in history]
                pts = [(i if s is None else s, v) for i, (s, v) in enumerate(pts) if v is not None]
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


def render_history(history: History, out_dir: Path, name: str) -> list[Path] | None:
    """`rl_curves` or `sft_curves` in `out_dir` for a loaded history; None when it has no logged step to draw."""
    kind = "LA-DAPO" if history.kind == "rl" else "SFT"
    stem = Path(out_dir) / f"{history.kind}_curves"
    return render(history.rows, stem, title=f"{kind}: {name}", panels=history.panels)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "run", help="SFT or RL output folder, or its rl_history.json, sft_summary.json or trainer_state.json"
    )
    ap.add_argument("--out", help="Folder for the curves (default: beside the history)")
    args = ap.parse_args(argv)
    run = Path(args.run)
    try:
        history = load_history(run)
    except ReportInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else (run if run.is_dir() else run.parent)
    if out.exists() and not out.is_dir():
        print(f"error: --out {out}: exists and is not a folder", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    files = render_history(history, out, run.name)
    if not files:
        print(f"no logged steps in {history.source} (no row with a loss); nothing to draw")
        return 1
    print("\n".join(str(f) for f in files))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

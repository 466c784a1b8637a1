"""The experiment's outputs: `experiment.md` (settings, accuracy per arm, paired differences, the probes' tables,
run directories, timings), `result.json` (the same numbers) and the product's report of the runs (leaderboard,
plots, latent maps), all in `<out>/report/<split>-<settings tag>/`."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from future_l1.harness.experiments.toy_vep.settings import LABELS, PRIOR, VARIANTS, ExperimentResult, Settings


def probe_table(probes: dict) -> list[str]:
    """Markdown lines for the probes (`probes`), one row per seed."""

    def pct(x) -> str:
        return "–" if x is None else f"{100 * x:.1f}"

    def px(x) -> str:
        return "–" if x is None else f"{x:.1f}"

    def errors(d: dict, key: str) -> str:
        return ", ".join(f"{x:.2f}" for x in d.get(key) or []) or "–"

    lines = [
        "Probes of (a) (`harness/experiments/toy_vep/probes.py`). Training items, teacher-forced: does it answer from the future "
        "frame SFT feeds it, and how well does each latent step predict its target (the first needs the dynamics; "
        "later ones can copy the fed frame)? Evaluated items: does it imagine the frame (fed-back vectors vs the true "
        "frame's tokens; the ball's centre a read-out fitted on true frames finds in them, and the answer that centre "
        "gives)?",
        "",
        "| seed | answers right, own frame fed % | another item's frame fed % | teacher-forced squared error per step "
        "| same, each step's mean | imagined vs true, squared error per step | same, each step's mean "
        "| centre off by, true / imagined frame (px) | answer from the true frame % | answer from the imagined frame % |",
        "|---|---:|---:|---|---|---|---|---|---:|---:|",
    ]
    for seed, p in probes.items():
        r, m = p["reading"], p["imagining"] or {}
        lines.append(
            f"| {seed} | {pct(r['own_frame'])} | {pct(r['another_items_frame'])} "
            f"| {errors(r, 'squared_error_per_step')} | {errors(r, 'squared_error_of_the_step_mean')} "
            f"| {errors(m, 'squared_error_per_step')} | {errors(m, 'squared_error_of_the_step_mean')} "
            f"| {px(m.get('centre_error_px_true_frame'))} / {px(m.get('centre_error_px_imagined_frame'))} "
            f"| {pct(m.get('answer_from_true_frame'))} | {pct(m.get('answer_from_imagined_frame'))} |"
        )
    swaps = {seed: p["swapping"] for seed, p in probes.items() if p.get("swapping")}
    if swaps:
        lines += [
            "",
            "Does (a) answer from what it imagined? Evaluated items, teacher-forced with the latents (a) fed back for "
            "them at inference, and with those it fed back for the next item, whose answer always differs. A model "
            "that answers from the imagined content follows the other clip's answer.",
            "",
            "| seed | items | right, own imagined latents % | right, another clip's % | gave the other clip's answer % "
            "| answer changed % |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for seed, w in swaps.items():
            lines.append(
                f"| {seed} | {w['items']} | {pct(w['own_imagined'])} | {pct(w['other_clips_imagined'])} "
                f"| {pct(w['other_clips_answer_given'])} | {pct(w['answer_changed'])} |"
            )
    hidden = {seed: p["future_in_hidden"] for seed, p in probes.items() if p.get("future_in_hidden")}
    if hidden:

        def r2(d: dict | None, key: str) -> str:
            return ", ".join(f"{x:.2f}" for x in (d or {}).get(key, [])[1:]) or "–"

        lines += [
            "",
            "Where the future is before any latent: R² of a linear read-out (fitted on half of the training items, "
            "scored on the other half) of the ball's centre from the hidden state at the end of the reason text, "
            "layers 1 to last. Both arms can read the last snapshot there; a model that works out the future from the "
            "question also carries the asked frame's centre.",
            "",
            "| seed | (a) last snapshot | (a) asked frame | (b) last snapshot | (b) asked frame |",
            "|---|---|---|---|---|",
        ]
        for seed, h in hidden.items():
            a, b = h.get("latent"), h.get("text")
            lines.append(
                f"| {seed} | {r2(a, 'r2_last_snapshot_centre')} | {r2(a, 'r2_future_centre')} "
                f"| {r2(b, 'r2_last_snapshot_centre')} | {r2(b, 'r2_future_centre')} |"
            )
    return lines


def _schedule(s: Settings) -> str:
    """Steps and learning rate: one pair, or each arm's val-chosen pair (`Settings.tuned`)."""
    if not s.tuned:
        return f"{s.steps} steps, lr {s.learning_rate:g}"
    arms = ", ".join(f"{arm} {s.for_arm(arm).steps} / {s.for_arm(arm).learning_rate:g}" for arm in s.arms)
    return f"steps / lr tuned per arm on val ({arms})"


def markdown(res: ExperimentResult) -> str:
    s = res.settings
    lines = [
        f"## Toy VEP: latent SFT vs text-only SFT and the controls ({res.split} split)",
        "",
        f"Settings: {s.n_train} training items, {s.n_test if res.split == 'test' else s.n_val} {res.split} items, "
        f"seeds {list(s.seeds)}, {_schedule(s)}, batch {s.batch_size}, "
        f"λ = {s.latent_lambda:g}, L_max = {s.max_latent_token}; vision encoder: "
        f"{'pretrained toy encoder' if s.toy_vision else 'random'}; question frames in SFT: "
        f"{'video (the evaluation layout)' if s.question_video else 'images (Future-L1-50K layout)'}; vocabulary: "
        f"{'pruned to the toy texts' if s.toy_vocabulary else 'full Qwen (151,936 rows)'}; trained arms: "
        f"{', '.join(s.arms)}.",
        "",
        "Accuracy per arm: pooled over seeds with a bootstrap 95% CI over items, and the mean of the seeds' "
        "accuracies with a Student-t 95% CI over seeds (the seeds as units).",
        "",
        "| model | accuracy % [95% CI, items] | seed mean [95% CI, seeds] | n | per seed |",
        "|---|---:|---:|---:|---|",
    ]
    for v in (*VARIANTS, PRIOR):
        a = res.accuracy.get(v)
        if not a:
            continue
        ci = f" [{a['ci'][0]:.1f}, {a['ci'][1]:.1f}]" if a["ci"] else ""
        seeds = ", ".join(f"{k}: {x:.1f}" for k, x in a["per_seed"].items())
        seed_ci = a.get("seed_ci")
        by_seed = (f"{sum(a['per_seed'].values()) / len(a['per_seed']):.1f} [{seed_ci[0]:.1f}, {seed_ci[1]:.1f}]"
                   if seed_ci else "–")  # fmt: skip
        lines.append(f"| {a['label']} | {a['acc']:.1f}{ci} | {by_seed} | {a['n']} | {seeds} |")
    if res.seed_level:
        lines += [
            "",
            "(a) − arm at the seed level (percentage points): the per-seed differences, their mean and a Student-t 95% "
            "CI over seeds.",
            "",
            "| (a) − arm | mean [95% CI, seeds] | per seed |",
            "|---|---:|---|",
        ]
        for v, d in res.seed_level.items():
            ci = f" [{d['ci'][0]:+.1f}, {d['ci'][1]:+.1f}]" if d.get("ci") else ""
            mean = f"{d['mean']:+.1f}{ci}" if d.get("mean") is not None else "–"
            seeds = ", ".join(f"{k}: {x:+.1f}" for k, x in d["per_seed"].items())
            lines.append(f"| {LABELS[v]} | {mean} | {seeds} |")
    lines += [
        "",
        "Paired differences (B − A, percentage points; bootstrap 95% CI over paired items; McNemar p):",
        "",
        "| comparison | scope | split | n | A % | B % | B − A [95% CI] | only A ✓ | only B ✓ | McNemar p |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in res.comparisons:
        ci = f" [{c['ci_low']:+.1f}, {c['ci_high']:+.1f}]" if c["ci_low"] is not None else ""
        name = f"{c['model_b']} − {c['model_a']}"
        lines.append(
            f"| {name} | {c['scope']} | {c['split']} | {c['n_shared']} | {c['value_a']:.1f} | {c['value_b']:.1f} | "
            f"{c['diff']:+.1f}{ci} | {c['a_only_correct']} | {c['b_only_correct']} | {c['p_value']:.3g} |"
        )
    if res.latent_spread:
        spread = ", ".join(f"seed {k}: {v:.4f}" for k, v in res.latent_spread.items())
        lines += ["", f"Clip dependence of (a)'s latents (share of their variance not explained by the span step; "
                      f"0 = the same imagined frame for every clip): {spread}."]  # fmt: skip
    if res.probes:
        lines += ["", *probe_table(res.probes)]
    lines += ["", "Run directories (compare any two with `future-l1 report compare RUN_A RUN_B`):", ""]
    for variant, runs in res.runs.items():
        for seed, run in runs.items():
            lines.append(f"- {variant} seed {seed}: `{run}`")
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in res.seconds.items())]
    return "\n".join(lines) + "\n"


def write_experiment_report(res: ExperimentResult) -> Path:
    """The product's report of every run (leaderboard, plots, latent maps of (a)) in the report folder."""
    from future_l1.reports.render import write_report

    report_dir = res.report_dir
    runs = [run for variant in res.runs.values() for run in variant.values()]
    report = write_report(runs, report_dir, published=False)  # leaderboard, plots, latent maps of (a)
    res.maps = [str(p) for p in report.files if p.name.startswith("latent_map_") and p.suffix == ".png"]
    return report_dir


def write_summary(res: ExperimentResult) -> None:
    """`experiment.md` (the Markdown above) and `result.json` (every number, the settings, the toy encoder's
    pretraining record) in the report folder."""
    report_dir = res.report_dir
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "experiment.md").write_text(markdown(res), encoding="utf-8")
    data = {
        "split": res.split,
        "settings": asdict(res.settings),
        "accuracy": res.accuracy,
        "comparisons": res.comparisons,
        "runs": {v: {str(k): str(p) for k, p in runs.items()} for v, runs in res.runs.items()},
        "seconds": {k: round(v, 1) for k, v in res.seconds.items()},
        "maps": res.maps,
        "latent_spread": res.latent_spread,
        "seed_level": res.seed_level,
        "probes": res.probes,
    }
    if res.settings.toy_vision:
        from future_l1.harness.experiments.toy_vep.vision import pretrained_toy_vision

        data["vision_encoder"] = json.loads((pretrained_toy_vision() / "pretraining.json").read_text())
    (report_dir / "result.json").write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")

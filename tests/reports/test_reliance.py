"""Latent reliance (issue 29): intervention rows paired with the unperturbed row of the same checkpoint."""

from __future__ import annotations

import json

from future_l1.reports.readers import RunResult
from future_l1.reports.reliance import pairs, reliance, reliance_markdown, reliance_plot

TASK = "futurebench_future_l1"
GOLD = "ABCDABCDABCDABCDABCD"
SPLITS = ("hop1", "hop2", "hop3", "interp")


def row(label: str, preds: str, args: str) -> RunResult:
    lines = []
    for i, pred in enumerate(preds):
        rec = {"doc_id": i, "id": f"q{i}", "split": SPLITS[i % 4], "pred": pred, "pred_strict": pred, "answer": GOLD[i],
               "correct": int(pred == GOLD[i]), "correct_strict": int(pred == GOLD[i]), "error": None,
               "latent_spans": [4]}  # fmt: skip
        lines.append({"doc_id": i, "sample_hash": f"h{i}", "future_acc": rec})
    return RunResult(label, TASK, {"future_acc": 0.0}, "run", samples=lines, meta={"model_args": args})


def test_pairs_and_statistics(tmp_path):
    base = "pretrained=/ckpt/a,max_new_tokens=64"
    donor_preds = GOLD[1:] + GOLD[0]  # every sample answers what the next sample's unperturbed answer is
    results = [
        row("a", GOLD, base),  # all correct
        row("a+zero", "A" * 20, base + ",latent_intervention=zero,save_latents=run://l+zero"),
        row("a+shuffle", donor_preds, base + ",latent_intervention=shuffle,latent_intervention_seed=1"),
        row("b", GOLD, "pretrained=/ckpt/b"),  # another checkpoint: no intervention row pairs with it
        row("b+budget-0", GOLD, "pretrained=/ckpt/b,latent_intervention=budget:0"),
    ]
    assert [(a.model, b.model) for a, b in pairs(results)] == [("a", "a+zero"), ("a", "a+shuffle"),
                                                               ("b", "b+budget-0")]  # fmt: skip
    rows = {(r.model, r.split): r for r in reliance(results, n_boot=200)}
    zero = rows[("a+zero", "all")]
    assert (zero.n, zero.acc_none, zero.acc, zero.diff) == (20, 100.0, 25.0, -75.0)
    assert zero.changed == 75.0 and zero.follows_donor is None and zero.p_value < 1e-3
    assert zero.ci_high < 0
    shuffle = rows[("a+shuffle", "all")]
    assert shuffle.follows_donor == 100.0 and shuffle.changed == 100.0 and shuffle.acc == 0.0
    assert shuffle.donor_baseline == 0.0  # unperturbed, no answer equals the next sample's
    assert rows[("a+zero", "hop1")].n == 5
    same = rows[("b+budget-0", "all")]
    assert (same.diff, same.changed, same.p_value) == (0.0, 0.0, 1.0)
    text = reliance_markdown(list(rows.values()))
    assert "Latent reliance" in text and "| a | shuffle |" in text
    files = reliance_plot(list(rows.values()), tmp_path / "rel")
    assert files and all(f.exists() for f in files)
    json.dumps([r.__dict__ for r in rows.values()])


def test_rows_without_provenance_show_their_intervention():
    from future_l1.reports.provenance import infer

    assert infer(TASK, [], intervention="shuffle").intervention == "shuffle"
    assert "intervention shuffle" in infer(TASK, [], intervention="shuffle").parts()
    assert infer(TASK, [], intervention="none").intervention == ""

"""DAPO dynamic sampling with a scripted rollout: kept, dropped, retried and filled groups are counted."""

from __future__ import annotations

import torch

from future_l1.training.rl.sampling import DynamicSampler

N = 4


def _scripted(correct_counts):
    """A rollout whose group g gets the next scripted number of correct answers (out of N)."""
    script = iter(correct_counts)
    calls = []

    def rollout(rows):
        calls.append([r["id"] for r in rows])
        return {"group": [g for g in range(len(rows)) for _ in range(N)], "text": ["t"] * (N * len(rows))}

    def score(ro, rows):
        acc = []
        for _ in rows:
            c = next(script)
            acc += [1.0] * c + [0.0] * (N - c)
        return {"accuracy": torch.tensor(acc), "total": torch.tensor(acc)}

    return rollout, score, calls


def test_keeps_mixed_groups_and_retries():
    rollout, score, calls = _scripted([0, 2, 4, 3, 1])  # round 1: 0, 2 correct; round 2: 4, 3, (1 unused)
    drawn = iter(range(100))
    sampler = DynamicSampler(0.1, 0.9, max_tries=5, oversample_factor=2.0)
    batch = sampler.fill(2, [{"id": "a"}, {"id": "b"}], rollout, score,
                         lambda k: [{"id": f"n{next(drawn)}"} for _ in range(k)])  # fmt: skip
    assert [r["id"] for r in batch.rows] == ["b", "n1"] and batch.padded == [False, False]
    assert batch.stats["tries"] == 2 and batch.stats["groups_kept"] == 2
    assert batch.stats["groups_dropped_all_wrong"] == 1 and batch.stats["groups_dropped_all_correct"] == 1
    assert calls[1] == ["n0", "n1"]  # one group missing x oversample 2
    assert batch.rollout["group"] == [0] * N + [1] * N
    assert batch.components["accuracy"].tolist() == [1, 1, 0, 0, 1, 1, 1, 0]
    # the every-rollout means see all four groups rolled out (0 + 2 + 4 + 3 of 16 correct), not just the kept two
    assert batch.all_means["accuracy"] == 9 / 16 and batch.components["accuracy"].mean().item() == 5 / 8


def test_one_try_pads_with_dropped_groups_flagged_not_kept():
    """max_tries 1: a dropped group is not silently trained on; it pads the batch, flagged (the trainer takes it
    out of the loss), and is counted."""
    rollout, score, _ = _scripted([0, 2])
    batch = DynamicSampler(0.1, 0.9, max_tries=1).fill(2, [{"id": "a"}, {"id": "b"}], rollout, score, None)
    assert batch.stats["groups_padded"] == 1 and batch.stats["groups_kept"] == 1
    assert [r["id"] for r in batch.rows] == ["b", "a"] and batch.padded == [False, True]
    assert batch.rollout["group"] == [0] * N + [1] * N  # the padded group is renumbered after the kept one
    rollout, score, _ = _scripted([0, 4])
    batch = DynamicSampler(0.1, 0.9, max_tries=1).fill(2, [{"id": "a"}, {"id": "b"}], rollout, score, None)
    assert batch.stats["groups_padded"] == 2 and batch.padded == [True, True] and len(batch.rows) == 2


def test_disabled_keeps_everything():
    rollout, score, _ = _scripted([0, 4])
    batch = DynamicSampler(enabled=False).fill(2, [{"id": "a"}, {"id": "b"}], rollout, score, None)
    assert batch.stats["groups_kept"] == 2 and batch.stats["tries"] == 1 and batch.padded == [False, False]

"""Group-relative advantages (training/rl/advantages.py) against hand-computed values: single-outcome groups at 0,
the three reward scalings, padded rollouts outside the batch std."""

from __future__ import annotations

import pytest
import torch

from future_l1.training.rl.advantages import group_advantages

# group 0: one outcome (all wrong), its totals spread only by latent rewards; group 1: mixed
ACC = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0])
TOTAL = torch.tensor([0.02, 0.03, 0.05, 0.08, 1.0, 0.1, 0.95, 0.12])


def _standardise(x: torch.Tensor, std: torch.Tensor) -> list[float]:
    return ((x - x.mean()) / (std + 1e-4)).tolist()


def test_single_outcome_group_gets_zero_and_its_plain_value_is_logged():
    adv, stats = group_advantages(TOTAL, ACC, 4)
    assert adv[:4].tolist() == [0.0] * 4
    g1 = TOTAL[4:]
    assert adv[4:].tolist() == pytest.approx(_standardise(g1, g1.std()))
    g0 = TOTAL[:4]
    plain = max(abs(v) for v in _standardise(g0, g0.std()))
    assert stats == {"single_outcome_groups": 1.0, "single_outcome_raw_abs_max": pytest.approx(plain)}
    assert plain > 1.0  # a 0.06-wide latent spread becomes advantages past ±1 when standardised


def test_all_correct_and_repetition_groups():
    acc = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.0, -1.0, 0.0, 0.0])  # all right; all wrong, one repetitive (-1)
    adv, stats = group_advantages(TOTAL, acc, 4)
    assert adv[:4].tolist() == [0.0] * 4 and stats["single_outcome_groups"] == 1.0
    assert adv[4:].abs().sum() > 0  # R_acc differs (0 vs -1): the repetition penalty still trains


def test_batch_scale_divides_by_the_std_of_the_trained_rewards():
    in_loss = torch.tensor([False] * 4 + [True] * 4)  # group 0 padded
    adv, _ = group_advantages(TOTAL, ACC, 4, "batch", in_loss=in_loss)
    g1 = TOTAL[4:]
    assert adv[4:].tolist() == pytest.approx(_standardise(g1, g1.std()))  # the batch std is group 1's here
    adv_all, _ = group_advantages(TOTAL, ACC, 4, "batch")
    assert adv_all[4:].tolist() == pytest.approx(_standardise(g1, TOTAL.std()))  # every reward in the batch
    assert adv_all[4:].tolist() != pytest.approx(adv[4:].tolist())
    seen = []

    def gather(t):  # two processes: this one and a twin holding the same rewards
        seen.append(t.shape)
        return torch.cat([t, t])

    adv_two, _ = group_advantages(TOTAL, ACC, 4, "batch", gather=gather)
    assert seen and adv_two[4:].tolist() == pytest.approx(_standardise(g1, torch.cat([TOTAL, TOTAL]).std()))


def test_no_scale_and_bad_input():
    adv, _ = group_advantages(TOTAL, ACC, 4, "none")
    assert adv[4:].tolist() == pytest.approx((TOTAL[4:] - TOTAL[4:].mean()).tolist())
    assert adv[:4].tolist() == [0.0] * 4
    with pytest.raises(ValueError, match="scale_rewards must be one of"):
        group_advantages(TOTAL, ACC, 4, "per-token")
    with pytest.raises(ValueError, match="whole groups"):
        group_advantages(TOTAL, ACC, 3)

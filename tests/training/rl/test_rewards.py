"""LA-DAPO rewards against hand-computed cases (Eq. 4–7, the authors' format grammar, accuracy, repetition)."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest
import torch

from future_l1.training.rl import rewards as R

L = "<|latent_start|><|latent|><|latent|><|latent_end|>"


def test_trajectory_similarity_is_step_aligned_and_in_unit_interval():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = torch.tensor([[2.0, 0.0], [0.0, -3.0]])  # cos = 1 then -1; the third step of a is ignored (T = 2)
    assert R.trajectory_similarity(a, b).item() == pytest.approx((1.0 + 0.0) / 2)
    assert R.trajectory_similarity(a, a).item() == pytest.approx(1.0)
    assert math.isnan(R.trajectory_similarity(a, torch.zeros(0, 2)).item())


def _group():
    # three rollouts with one-step trajectories: 0 and 1 identical, 2 orthogonal to both
    e1, e2 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    return [e1, e1.clone(), e2]


def test_ctr_mixed_group_hand_computed():
    lat = _group()
    correct = torch.tensor([True, False, False])
    tau = 0.5
    out = R.outcome_contrastive_reward(lat, correct, tau)
    # i = 0 (correct, alone): s+ = 1 (its own positive); negatives 1 (s = 1) and 2 (s = 0.5)
    e = math.exp
    assert out[0].item() == pytest.approx(e(2) / (e(2) + e(2) + e(1)))
    # i = 1 (wrong): positive 0 (s = 1); negatives = {2} only (Eq. 4: j != i), s = 0.5
    assert out[1].item() == pytest.approx(e(2) / (e(2) + e(1)))
    # i = 2 (wrong): positive 0 (s = 0.5); negative 1 (s = 0.5)
    assert out[2].item() == pytest.approx(0.5)


def test_ctr_self_negative_is_the_authors_option():
    lat = _group()
    correct = torch.tensor([True, False, False])
    e = math.exp
    out = R.outcome_contrastive_reward(lat, correct, 0.5, self_negative=True)
    assert out[1].item() == pytest.approx(e(2) / (e(2) + e(1) + e(2)))  # s_11 = 1 joins the denominator
    assert out[0].item() == pytest.approx(e(2) / (e(2) + e(2) + e(1)))  # a correct sample is unaffected


def test_ctr_pos_only_bounded_by_default_authors_unbounded():
    lat = _group()
    correct = torch.tensor([True, True, True])
    assert R.outcome_contrastive_reward(lat, correct, 0.5).tolist() == pytest.approx([1.0, 1.0, 1.0])
    authors = R.outcome_contrastive_reward(lat, correct, 0.5, pos_only="authors")
    assert authors.tolist() == pytest.approx([2.0, 2.0, 1.0])  # s+/τ: 1/0.5 for the twins, 0.5/0.5 for the third


def test_ctr_all_wrong_and_missing_latents():
    lat = _group()
    out = R.outcome_contrastive_reward(lat, torch.tensor([False, False, False]), 0.5)
    assert out[2].item() == pytest.approx(1 / (1 + 2 * math.exp(1.0)))
    out = R.outcome_contrastive_reward([lat[0], None, lat[2]], torch.tensor([True, False, False]), 0.5)
    assert out[1].item() == 0.0  # no latents: no reward, and left out of the others' sets
    assert out[0].item() == pytest.approx(math.exp(2) / (math.exp(2) + math.exp(1)))


def test_diversity_reward_hand_computed():
    lat = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    # span means: (1,0), (0,2), (1,1) -> cos² = 0 and 0.5 -> R_div = -0.25
    assert R.temporal_diversity_reward(lat, [2, 1, 1]).item() == pytest.approx(-0.25)
    assert R.temporal_diversity_reward(lat, [4]).item() == 0.0
    # spans [2, 0, 2]: the empty one is skipped; means (1, 0), (0.5, 1.5): cos² = 0.25 / 2.5 = 0.1
    assert R.temporal_diversity_reward(lat, [2, 0, 2]).item() == pytest.approx(-0.1)
    with pytest.raises(ValueError):
        R.temporal_diversity_reward(lat, [1, 1])


def test_total_reward_eq7():
    acc, fmt, ctr, div = (torch.tensor([1.0, -1.0]), torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.2]),
                          torch.tensor([-0.25, 0.0]))  # fmt: skip
    out = R.total_reward(acc, fmt, ctr, div)
    assert out.tolist() == pytest.approx([0.9 + 0.1 + 0.1 - 0.025, -0.9 + 0.04])


def test_format_grammar():
    reason, answer = "<reason>look</reason>\n", "<answer>B</answer><|im_end|>"
    for text in (reason + L + "\n" + reason + answer, L + reason + answer, reason + L + reason + L + reason + answer):
        for mode in R.FORMAT_MODES:  # (L R)+ A and R (L R)+ A: every grammar accepts the authors' layouts ...
            assert R.format_reward(text, mode) == (0.0 if mode == "rfirst" and text.startswith(L) else 1.0)
    # ... the default also accepts a span straight into the answer (R L A, R L R L A, L A), the authors' do not
    for text in (reason + L + answer, reason + L + reason + L + answer, L + answer):
        assert R.format_reward(text) == 1.0, text
        assert R.format_reward(text, "both") == R.format_reward(text, "rfirst") == 0.0
    for bad in (reason + answer, reason + reason + L + answer, reason + L + L + answer, reason + L + reason,
                answer + reason + L, L + reason + answer + answer + "x"):  # fmt: skip
        assert R.format_reward(bad) == 0.0, bad  # no span; two in a row; no answer; answer first; text after it
    assert R.format_reward("< reason >x</ reason >" + L + reason + answer) == 1.0  # spaces around < > / removed
    with pytest.raises(ValueError, match="format mode must be one of"):
        R.format_reward(answer, "any")


@pytest.mark.parametrize("thoughts", [["look", ""], ["look", "then", ""], ["look", "then", "so"], ["", "then", ""]])
def test_default_format_accepts_what_our_latent_sft_teaches(thoughts):
    """The SFT target text (`assistant_text`, one reason piece per imagined frame plus one after the last) scores 1
    under the default grammar, whichever pieces are empty; under the authors' only when a reason follows each span."""
    from future_l1.training.data import SFTRecord
    from future_l1.training.latent_batch import assistant_text

    record = SFTRecord(id="r", question="<image>q", thoughts=thoughts, answer="B", question_frames=[0],
                       reasoning_frames=list(range(len(thoughts) - 1)))  # fmt: skip
    text = assistant_text(record, [4] * (len(thoughts) - 1)) + "<|im_end|>"
    assert R.format_reward(text) == 1.0, text
    assert R.format_reward(text, "both") == (1.0 if thoughts[-1] else 0.0)


def test_accuracy_rules_and_judge_fallback():
    assert R.rule_accuracy("<answer>B</answer>", "B", "multiple choice") == 1.0
    assert R.rule_accuracy("<answer>Based on it, C</answer>", "C", "multiple choice") == 0.0  # official rule: "B"
    assert R.rule_accuracy("<answer>(C)</answer>", "<answer>C</answer>") == 1.0
    assert R.rule_accuracy("<answer>The ball falls.</answer>", "the ball falls") == 1.0
    assert R.rule_accuracy("no tag", "B") is None
    calls = []

    def judge(q, gold, pred):
        calls.append((q, gold, pred))
        return 1.0

    acc, rep = R.accuracy_reward("<answer>it drops</answer>", "The ball falls.", "open", "Q?", judge=judge)
    assert acc == 1.0 and rep == 0.0 and calls == [("Q?", "The ball falls.", "it drops")]


def test_repetition_override():
    looped = "<answer>B</answer> " + " ".join(["the ball bounces off the wall"] * 30)
    acc, rep = R.accuracy_reward(looped, "B", "multiple choice")
    assert rep > 0.5 and acc == -1.0
    assert R.repetition_score("a b c d e f g h") == 0.0


def test_latent_logprob_lands_in_the_latent_slot_paired_with_the_producing_state():
    """κ·⟨h_{k−1}, z_k⟩ in slot k (the authors' values landed one slot late, paired one step off)."""
    from types import SimpleNamespace

    from future_l1.model.tokens import LatentIds
    from future_l1.training.rl.trainer import LADAPOTrainer

    ids = LatentIds(latent=7, start=8, end=9)
    fake = SimpleNamespace(latent_ids=ids, head=None, _metrics={"train": defaultdict(list)})
    # prompt of 2 tokens, then completion: start, latent, latent, end
    seq = torch.tensor([[1, 2, 8, 7, 7, 9]])
    hidden = torch.arange(6 * 2, dtype=torch.float32).view(1, 6, 2)  # h_p = (2p, 2p + 1)
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    logps = torch.full((1, 4), -1.0)
    out = LADAPOTrainer._latent_logprob(fake, logps, hidden, seq, [z], 4, kappa=0.5)
    # slot 1 (position 3) is scored from position 2: 0.5 * <(4, 5), (1, 0)> = 2; slot 2 from position 3: 0.5 * 7
    assert out.tolist() == [[-1.0, 2.0, 3.5, -1.0]]
    assert fake._metrics["train"]["latent/kappa_logprob_mean"] == [2.75]
    fake.head = lambda h: torch.stack([h[:, 1], -h[:, 0]], -1)  # μ = head(h), as the decoder feeds it
    out = LADAPOTrainer._latent_logprob(fake, logps, hidden, seq, [z], 4, kappa=0.5)
    assert out.tolist() == [[-1.0, 2.5, -3.0, -1.0]]  # 0.5 * <(5, -4), (1, 0)>, 0.5 * <(7, -6), (0, 1)>

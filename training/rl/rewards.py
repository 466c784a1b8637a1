"""LA-DAPO rewards (paper Eq. 4–7): pure tensor functions for the formulas, plain functions for the text rules.

Total (Eq. 7): R = λ_a·R_acc + λ_f·R_fmt + λ_c·R_ctr + λ_d·R_div, paper defaults λ_a 0.9, λ_f 0.1, λ_c 0.2,
λ_d 0.1, τ 0.5 (Table 9, Table 5).

Decisions where the authors' reward code (`RL_v2/examples/reward_function/future_l1_reward_function.py`,
`outcome_contrastive_latent_reward.py`) departs from the paper's equations:

* R_ctr, no negative in the group ("pos_only"). Eq. 5 with an empty N_i is e^{s⁺/τ}/e^{s⁺/τ} = 1; the authors return
  s⁺/τ instead, unbounded by 1 (up to 2 at τ = 0.5), so an all-correct group would out-reward the mixed groups R_ctr
  is meant for. Default: 1 (the equation); `ctr_pos_only="authors"` gives s⁺/τ. (Under dynamic sampling such groups
  are dropped anyway, so this only matters with filtering off.)
* R_ctr, a wrong sample among its own negatives. Eq. 4 defines N_i = {j ≠ i : a_j = 0}; the authors' N also holds i
  itself when i is wrong, adding e^{1/τ} (s_ii = 1) to every wrong sample's denominator. Default: excluded (the
  equation); `ctr_self_negative=True` gives the authors' behaviour.
* Kept from the authors because the paper leaves it undefined: when i is the only correct sample, P_i = {i}
  (s⁺ = 1); in an all-wrong group R = 1 / (1 + Σ_N e^{s/τ}); a sample without latents gets R_ctr = 0 and is left out
  of the others' P and N; the accuracy used for "correct" is the one after the repetition override (≥ 1).
* R_div uses the raw span means (cos² is scale-free), 0 with fewer than two spans, as in the paper and the code.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence

import torch

from future_l1.model.tokens import LATENT, LATENT_END, LATENT_START
from future_l1.tasks.futurebench.parsing import answer_tag_text, parse_reasoning, strict_letter


# -- Eq. 4–5: outcome-contrastive latent reward ---------------------------------------------------------------------
def trajectory_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Eq. 4 s_ij: step-aligned similarity of two latent trajectories [T_a, H], [T_b, H], in [0, 1].

    s = (1/T) Σ_{t<T} (1 + cos(a_t, b_t)) / 2 with T = min(T_a, T_b); NaN when T = 0.
    """
    t = min(a.shape[0], b.shape[0])
    if t == 0:
        return torch.tensor(float("nan"))
    cos = torch.nn.functional.cosine_similarity(a[:t].float(), b[:t].float(), dim=-1)
    return ((1 + cos) / 2).mean()


def outcome_contrastive_reward(
    latents: Sequence[torch.Tensor],
    correct: torch.Tensor,
    tau: float = 0.5,
    pos_only: str = "paper",
    self_negative: bool = False,
) -> torch.Tensor:
    """Eq. 5 R_ctr for ONE group (the n rollouts of a prompt): a tensor [n].

    R_ctr(i) = e^{s⁺_i/τ} / (e^{s⁺_i/τ} + Σ_{j∈N_i} e^{s_ij/τ}), s⁺_i = max_{j∈P_i} s_ij (the most similar correct
    trajectory), P_i / N_i = the other correct / wrong trajectories. `latents[i]` is rollout i's fed vectors [T_i, H]
    (all spans concatenated), `correct` a bool tensor [n]. Edge cases: see the module docstring.
    """
    if pos_only not in ("paper", "authors"):
        raise ValueError(f"pos_only must be 'paper' or 'authors', not {pos_only!r}")
    n = len(latents)
    correct = torch.as_tensor(correct, dtype=torch.bool).view(-1)
    out = torch.zeros(n)
    has = torch.tensor([lat is not None and lat.shape[0] > 0 for lat in latents], dtype=torch.bool)
    if n < 2:
        return out
    sim = torch.full((n, n), float("nan"))
    for i in range(n):
        for j in range(n):
            if has[i] and has[j]:
                sim[i, j] = trajectory_similarity(latents[i], latents[j])
    for i in range(n):
        if not has[i]:
            continue
        others = has.clone()
        others[i] = False
        pos = others & correct
        neg = others & ~correct
        if self_negative and not correct[i]:
            neg = neg.clone()
            neg[i] = True
        if correct[i] and not pos.any():
            s_pos = torch.tensor(1.0)  # the lone correct rollout is its own positive (authors; undefined in the paper)
        elif pos.any():
            s_pos = sim[i][pos].max()
        else:
            s_pos = None
        neg_sum = torch.exp(sim[i][neg] / tau).sum() if neg.any() else None
        if s_pos is not None and neg_sum is not None:
            out[i] = torch.exp(s_pos / tau) / (torch.exp(s_pos / tau) + neg_sum)
        elif neg_sum is not None:
            out[i] = 1.0 / (1.0 + neg_sum)
        elif s_pos is not None:
            out[i] = s_pos / tau if pos_only == "authors" else torch.tensor(1.0)
    return out


# -- Eq. 6: temporal diversity ---------------------------------------------------------------------------------------
def span_means(latents: torch.Tensor, span_lengths: Sequence[int]) -> torch.Tensor:
    """b_m: the mean of each non-empty span's vectors, [M, H] (spans are consecutive rows of `latents`)."""
    if sum(span_lengths) != latents.shape[0]:
        raise ValueError(f"span lengths {list(span_lengths)} do not add up to {latents.shape[0]} latent vectors")
    chunks = [c for c in torch.split(latents.float(), list(span_lengths)) if c.shape[0] > 0]
    return torch.stack([c.mean(0) for c in chunks]) if chunks else latents.new_zeros(0, latents.shape[-1]).float()


def temporal_diversity_reward(latents: torch.Tensor, span_lengths: Sequence[int]) -> torch.Tensor:
    """Eq. 6 R_div = −(1/(M−1)) Σ_{m<M} cos²(b_m, b_{m+1}) over the span means; 0 when M < 2. A scalar tensor."""
    b = span_means(latents, span_lengths)
    if b.shape[0] < 2:
        return torch.tensor(0.0)
    cos = torch.nn.functional.cosine_similarity(b[:-1], b[1:], dim=-1)
    return -(cos**2).mean()


# -- Eq. 7: the total -----------------------------------------------------------------------------------------------
def total_reward(
    accuracy: torch.Tensor,
    fmt: torch.Tensor,
    ctr: torch.Tensor,
    div: torch.Tensor,
    weights: tuple[float, float, float, float] = (0.9, 0.1, 0.2, 0.1),
) -> torch.Tensor:
    """Eq. 7 R = λ_a·R_acc + λ_f·R_fmt + λ_c·R_ctr + λ_d·R_div (R_div ≤ 0 already carries its minus sign)."""
    la, lf, lc, ld = weights
    return la * accuracy + lf * fmt + lc * ctr + ld * div


# -- text rules: format (the authors' grammar), accuracy, repetition ------------------------------------------------
_STRIP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|eot|>", "<|eot_id|>")
_SPAN = re.compile(re.escape(LATENT_START) + r".*?" + re.escape(LATENT_END), re.DOTALL)
_CANON = LATENT_START + LATENT + LATENT_END
_R = r"<reason>(?:(?!<reason>).)*?</reason>"
_L = re.escape(_CANON)
_FORMAT_BOTH = re.compile(rf"^\s*(?:(?:{_L}\s*{_R}\s*)+|{_R}(?:\s*{_L}\s*{_R})+)\s*<answer>.*?</answer>\s*$", re.DOTALL)
_FORMAT_RFIRST = re.compile(rf"^\s*{_R}(?:\s*{_L}\s*{_R})+\s*<answer>.*?</answer>\s*$", re.DOTALL)


def normalize_response(text: str) -> str:
    """The authors' normalisation: drop chat end tokens, spaces around < > /, each span -> one canonical span."""
    for tok in _STRIP_TOKENS:
        text = text.replace(tok, "")
    text = re.sub(r"\s*([<>/])\s*", r"\1", text)
    return _SPAN.sub(_CANON, text)


# R? (L R)* L R?: reason blocks and spans alternate, at least one span
_FORMAT_INTERLEAVED = re.compile(
    rf"^\s*(?:{_R}\s*)?(?:{_L}\s*{_R}\s*)*{_L}(?:\s*{_R})?\s*<answer>.*?</answer>\s*$", re.DOTALL
)
_FORMATS = {"interleaved": _FORMAT_INTERLEAVED, "both": _FORMAT_BOTH, "rfirst": _FORMAT_RFIRST}
FORMAT_MODES = tuple(_FORMATS)


def format_reward(text: str, mode: str = "interleaved") -> float:
    """R_fmt ∈ {0, 1} (L = a latent span, R = a <reason> block, A = <answer>…</answer>, after `normalize_response`).

    'interleaved' (default, ours): R and L blocks alternating, at least one L, then A, i.e. R? (L R)* L R? A. It
    accepts the layout our latent SFT teaches (`training/latent_batch.assistant_text`: a reason before each imagined
    frame, the answer straight after the last span, R L A or R L R L A) and everything the authors' grammar accepts;
    it rejects two reason blocks or two spans in a row, and a response without a span.
    The authors' (`future_l1_reward_function.py`): 'both' = (L R)+ A or R (L R)+ A, every span followed by a reason
    block (so it scores our own SFT layout 0); 'rfirst' = R (L R)+ A only."""
    if mode not in _FORMATS:
        raise ValueError(f"format mode must be one of {FORMAT_MODES}, not {mode!r}")
    return 1.0 if _FORMATS[mode].match(normalize_response(text)) else 0.0


def normalize_answer(text: str) -> str:
    text = text.strip().casefold()
    text = text.translate(str.maketrans("", "", string.punctuation))
    return " ".join(text.split())


def gold_answer(answer: str) -> str:
    """The ground truth as the authors normalise it: the inner text of <answer>…</answer> if present, else stripped."""
    inner = answer_tag_text(answer)
    return inner if inner is not None else answer.strip()


def rule_accuracy(text: str, answer: str, problem_type: str | None = None) -> float | None:
    """1.0 / 0.0 by rule, or None when there is no <answer> tag.

    Multiple choice: our FutureBench rule (the official letter parser, `parse_reasoning`) against the gold letter.
    Otherwise: exact match after normalisation (case, punctuation, whitespace).
    """
    gold = gold_answer(answer)
    pred = answer_tag_text(text)
    if pred is None:
        return None
    letter = strict_letter(gold) or (gold if gold in "ABCD" and len(gold) == 1 else "")
    if is_multiple_choice(answer, problem_type):
        return float(bool(letter) and parse_reasoning(text) == letter)
    return float(normalize_answer(pred) == normalize_answer(gold))


_TAGS = re.compile(r"<\|[^|>]*\|>|</?[a-z_]+>")


def repetition_score(text: str) -> float:
    """A repetition score in [0, 1], the max of three signals (the authors' detector, `future_l1_reward_function.py`):
    the duplicate 4-gram rate; with ≥ 100 words, the share of words inside a window of 50 (or 25) words that
    repeats immediately; with > 2 lines longer than 10 characters, the duplicate-line rate. Tags are removed first."""
    words = _TAGS.sub(" ", text).split()
    scores = [0.0]
    grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
    if grams:
        scores.append(1.0 - len(set(grams)) / len(grams))
    if len(words) >= 100:
        for w in (50, 25):
            covered = [False] * len(words)
            for i in range(len(words) - 2 * w + 1):
                if words[i : i + w] == words[i + w : i + 2 * w]:
                    covered[i : i + 2 * w] = [True] * (2 * w)
            scores.append(sum(covered) / len(words))
    lines = [ln.strip() for ln in _TAGS.sub(" ", text).splitlines() if len(ln.strip()) > 10]
    if len(lines) > 2:
        scores.append(1.0 - len(set(lines)) / len(lines))
    return min(1.0, max(scores))


JudgeFn = Callable[[str, str, str], "float | None"]  # (question, gold answer, predicted answer) -> 1/0, None = failed


def is_multiple_choice(answer: str, problem_type: str | None = None) -> bool:
    """A multiple-choice question: declared so, or a gold answer that is an option letter."""
    gold = gold_answer(answer)
    letter = strict_letter(gold) or (gold if gold in "ABCD" and len(gold) == 1 else "")
    return (problem_type or "").lower().replace("_", " ") == "multiple choice" or bool(letter)


def accuracy_reward(
    text: str,
    answer: str,
    problem_type: str | None = None,
    question: str = "",
    judge: JudgeFn | None = None,
    repetition_threshold: float = 0.5,
) -> tuple[float, float]:
    """(R_acc, repetition score). The rule first; where it cannot decide (a non-multiple-choice answer whose text
    differs from the gold one) the optional LLM-judge fallback `judge` decides (see `judge.py`; a failed call scores
    0). A multiple-choice letter is always the rule's, and a response without an `<answer>` tag scores 0 without a
    judge call. A repetition score above `repetition_threshold` overrides the accuracy with −1 (authors)."""
    acc = rule_accuracy(text, answer, problem_type)
    if acc == 0.0 and judge is not None and not is_multiple_choice(answer, problem_type):
        verdict = judge(question, gold_answer(answer), answer_tag_text(text) or "")
        acc = float(verdict) if verdict is not None else 0.0
    acc = acc or 0.0
    rep = repetition_score(text)
    return (-1.0 if rep > repetition_threshold else acc), rep

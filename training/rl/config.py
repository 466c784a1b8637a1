"""`LADAPOConfig`: TRL's `GRPOConfig` plus the LA-DAPO knobs, paper values as defaults (arXiv 2606.05769 App. B
Table 9, Eq. 4–7, Table 5). Where the authors' scripts differ (`RL_v2/train.sh`,
`RL_v2/examples/config_future_l1.yaml`), their value is one option away:

| knob | default | authors' scripts |
|---|---|---|
| ctr_lambda (λ_c) | 0.2 (paper) | 1.0 (`*_ctr` modes) |
| div_lambda (λ_d) | 0.1 (paper) | 0.0 (pinned in the YAML) |
| ctr_pos_only | "paper" (Eq. 5 gives 1) | "authors" (s⁺/τ, up to 2) |
| ctr_self_negative | False (Eq. 4: j ≠ i) | True |
| latent_logprob_kappa | 0.01 (authors' value, at the right positions: trainer.py) | 0.01, one slot late |
| mini_batches | 4 optimiser steps per rollout batch (DAPO's recipe has 16) | 1 (global batch = rollout batch) |
| delta (dual clip) | 3.0 (Table 9) | 3.0 |
| format_mode | "interleaved" (accepts our SFT layout R L A) | "both": every span followed by a reason |

Why `mini_batches` > 1: with one optimiser step per rollout batch the policy that is trained is the policy that
sampled, every ratio is exactly 1, and DAPO's clip-higher (ε 0.2 / 0.28, Table 9) never acts; it did not in the
authors' runs either (their actor recomputes the old log-probs right before its single step). DAPO (arXiv 2503.14476)
splits each rollout batch into mini-batches (512 prompts into 16 steps of 32 in its recipe); we keep the paper's
rollout batch (64 prompts x 8) and split it into 4 steps of 16 prompts. `mini_batches: 1` is the authors' schedule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from trl import GRPOConfig

from future_l1.training.config import parse_config, resolve_system_prompt
from future_l1.training.rl.advantages import SCALES
from future_l1.training.rl.rewards import FORMAT_MODES
from future_l1.training.rl.rollout import ENGINES

PAPER = "arXiv 2606.05769"


@dataclass
class LADAPOConfig(GRPOConfig):
    model_name_or_path: str = field(default="", metadata={"help": f"The SFT checkpoint to start from ({PAPER} §3.3)."})
    train_file: str = field(
        default="",
        metadata={"help": "RL data: EasyR1 rows {problem, answer, videos/images, problem_type} or TwiFF rows "
                          "(JSON/JSONL), or 'demo' (the demo's 48 multiple-choice questions; data.py)."},
    )  # fmt: skip
    max_records: int | None = field(default=None, metadata={"help": "Use only the first N rows (smoke runs)."})
    system_prompt: str | None = field(
        default="future_l1", metadata={"help": "'future_l1' (the Future-L1 system prompt), 'none', or the text."}
    )
    # reward (Eq. 7)
    accuracy_weight: float = field(default=0.9, metadata={"help": f"λ_a of Eq. 7 (Table 9: 0.9). {PAPER}"})
    format_weight: float = field(default=0.1, metadata={"help": f"λ_f of Eq. 7 (Table 9: 0.1). {PAPER}"})
    ctr_lambda: float = field(
        default=0.2, metadata={"help": "λ_c of Eq. 7, outcome-contrastive R_ctr (Table 5 best: 0.2; scripts 1.0)."}
    )
    div_lambda: float = field(
        default=0.1, metadata={"help": "λ_d of Eq. 7, temporal diversity R_div (Table 5 best: 0.1; scripts 0.0)."}
    )
    ctr_temperature: float = field(default=0.5, metadata={"help": "τ of Eq. 5 (Table 9: 0.5)."})
    ctr_pos_only: str = field(
        default="paper",
        metadata={"help": "R_ctr with no wrong rollout in the group: 'paper' = Eq. 5's value 1; 'authors' = s⁺/τ "
                          "(unbounded by 1; the authors' `outcome_contrastive_latent_reward.py`)."},
    )  # fmt: skip
    ctr_self_negative: bool = field(
        default=False,
        metadata={"help": "Count a wrong rollout among its own negatives (authors' code); Eq. 4 says j ≠ i."},
    )
    format_mode: str = field(
        default="interleaved",
        metadata={"help": "R_fmt grammar (rewards.py): 'interleaved' (ours) = reason blocks and latent spans "
                          "alternating, ≥ 1 span, then the answer (R L A, our SFT layout, included); the authors': "
                          "'both' = (L R)+A or R(L R)+A, 'rfirst' = R(L R)+A only."},
    )  # fmt: skip
    judge: str = field(
        default="off",
        metadata={"help": "LLM-judge fallback of R_acc for answers the rule cannot decide (non-multiple-choice, no "
                          "exact match; §3.3): 'off', or 'role' = our configured judge (FUTURE_L1_JUDGE_*, the one "
                          "`future-l1 run` uses). Failures score 0 and are counted (judge/failures)."},
    )  # fmt: skip
    judge_min_score: int = field(
        default=4, metadata={"help": "With judge 'role': correct iff the judge's 0-5 answer score is at least this."}
    )
    judge_timeout_s: float = field(
        default=180.0, metadata={"help": "Deadline of one judge fallback call; past it the sample scores 0 (counted)."}
    )
    repetition_threshold: float = field(
        default=0.5, metadata={"help": "Repetition score above which R_acc = −1 (authors' reward, §6.5)."}
    )
    # dynamic sampling (DAPO, Table 9)
    dynamic_sampling: bool = field(
        default=True, metadata={"help": "Keep only groups whose mean accuracy lies in [acc_low, acc_high] (Table 9)."}
    )
    acc_low: float = field(default=0.1, metadata={"help": "Lower bound of the kept mean accuracy (Table 9: 0.1)."})
    acc_high: float = field(default=0.9, metadata={"help": "Upper bound of the kept mean accuracy (Table 9: 0.9)."})
    max_sampling_tries: int = field(
        default=20, metadata={"help": "Rollout rounds per batch before giving up on filling it (Table 9: 20)."}
    )
    oversample_factor: float = field(
        default=2.0, metadata={"help": "On a retry, draw this many prompts per missing group (DAPO oversampling)."}
    )
    # latents (§3.3)
    latent_logprob_kappa: float = field(
        default=0.01,
        metadata={"help": "κ of the latent log-prob κ·⟨μ, z⟩ that puts the latent steps into the policy loss, so "
                          "that the rewards (R_ctr, R_div included) reach the hidden states the latents come from "
                          "(authors 0.01; 0 = off: then no gradient reaches them). Positions: trainer.py."},
    )  # fmt: skip
    fused_logprobs: bool | None = field(
        default=None,
        metadata={"help": "Log-probs through TRL's fused (tiled) LM head; None = on CUDA only (on CPU one plain "
                          "log-softmax is faster)."},
    )  # fmt: skip
    mini_batches: int | None = field(
        default=None,
        metadata={"help": "Optimiser steps per rollout batch (DAPO's mini-batches; the clip acts from the second "
                          "on). None: 4, or what TRL's steps_per_generation / generation_batch_size give when set; "
                          "1 = the authors' single on-policy step (the ratio is then always 1)."},
    )  # fmt: skip
    rollout_batch_size: int = field(
        default=64,
        metadata={
            "help": "Rows decoded together during rollouts; a multiple of num_generations keeps each group in one "
            "prefill (the fast engine prefills a prompt once per group)."
        },
    )
    rollout_engine: str = field(
        default="auto",
        metadata={"help": "Rollout decoder (rollout.py): 'fast' = FastLatentDecoder (static cache, CUDA graphs, "
                          "continuous batching), 'eager' = LatentDecoder (the reference), 'auto' = fast on CUDA, "
                          "eager elsewhere (its fp32 parity test passed on an H100: README, LA-DAPO)."},
    )  # fmt: skip
    rollout_compile: bool = field(
        default=False, metadata={"help": "Fast rollouts: torch.compile the decode layer (CUDA; compiles per shape)."}
    )
    max_num_frames: int = field(default=32, metadata={"help": "Video frames per prompt (FutureBench protocol: 32)."})
    min_pixels: int | None = field(default=None, metadata={"help": "Per-frame pixel floor (default: the eval's)."})
    max_pixels: int | None = field(default=None, metadata={"help": "Per-frame pixel cap (default: the eval's)."})
    auto_gpu_settings: bool = field(
        default=True, metadata={"help": "On CUDA, turn on bf16 and (non-reentrant) gradient checkpointing."}
    )
    # GRPOConfig fields whose defaults follow Table 9
    num_generations: int | None = field(default=8, metadata={"help": "n rollouts per prompt (Table 9: 8)."})
    temperature: float = field(default=0.9, metadata={"help": "Rollout temperature (Table 9: 0.9)."})
    top_p: float = field(default=0.99, metadata={"help": "Rollout top-p (Table 9: 0.99)."})
    max_completion_length: int | None = field(default=2048, metadata={"help": "Max response tokens (Table 9: 2048)."})
    epsilon: float = field(default=0.2, metadata={"help": "Lower clip ε_low (Table 9: 0.2)."})
    epsilon_high: float | None = field(default=0.28, metadata={"help": "Clip-higher ε_high (Table 9: 0.28)."})
    delta: float | None = field(
        default=3.0, metadata={"help": "Dual clip: the ratio is capped at δ (Table 9: 3.0; acts on A < 0 only)."}
    )
    loss_type: str = field(default="dapo", metadata={"help": "Token-level loss averaging (DAPO, Table 9)."})
    beta: float = field(default=1e-2, metadata={"help": "k3 KL loss coefficient (Table 9: 1e-2)."})
    learning_rate: float = field(default=1e-6, metadata={"help": "Constant LR (Table 9: 1e-6)."})
    lr_scheduler_type: str = field(default="constant", metadata={"help": "Constant schedule, no warm-up (Table 9)."})
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping (Table 9: 1.0)."})
    weight_decay: float = field(default=1e-2, metadata={"help": "AdamW weight decay (authors' config: 1e-2)."})
    logging_steps: float = field(default=1, metadata={"help": "Log every N steps."})
    save_strategy: str = field(default="steps", metadata={"help": "Trainer checkpoints (resumable)."})
    save_steps: float = field(default=50, metadata={"help": "Checkpoint every N steps (authors: 50)."})

    def __post_init__(self):
        if self.auto_gpu_settings and torch.cuda.is_available():
            self.bf16 = True
            self.gradient_checkpointing = True
            self.gradient_checkpointing_kwargs = self.gradient_checkpointing_kwargs or {"use_reentrant": False}
        if self.ctr_pos_only not in ("paper", "authors"):
            raise ValueError(f"ctr_pos_only must be 'paper' or 'authors', not {self.ctr_pos_only!r}")
        if self.judge not in ("off", "role"):
            raise ValueError(f"judge must be 'off' or 'role', not {self.judge!r}")
        if self.format_mode not in FORMAT_MODES:
            raise ValueError(f"format_mode must be one of {FORMAT_MODES}, not {self.format_mode!r}")
        if not 0.0 <= self.acc_low <= self.acc_high <= 1.0:
            raise ValueError("need 0 <= acc_low <= acc_high <= 1")
        if self.rollout_engine not in ENGINES:
            raise ValueError(f"rollout_engine must be one of {ENGINES}, not {self.rollout_engine!r}")
        if self.latent_logprob_kappa < 0:
            raise ValueError(f"latent_logprob_kappa must be >= 0 (0 = off), not {self.latent_logprob_kappa}")
        self._default_mini_batches()
        super().__post_init__()
        self._check_mini_batches()
        if self.scale_rewards not in SCALES:
            raise ValueError(f"scale_rewards must be one of {SCALES} (or true / false), not {self.scale_rewards!r}")
        per_device = self.generation_batch_size // max(1, self.world_size)
        if per_device % self.num_generations:
            raise ValueError(
                f"each process must hold whole groups: generation batch per device ({per_device}) must be a multiple "
                f"of num_generations ({self.num_generations}); dynamic sampling and R_ctr work on local groups"
            )

    def _default_mini_batches(self) -> None:
        """Unless TRL's own knobs are set: `mini_batches` (default 4) sets steps_per_generation."""
        if self.steps_per_generation is None and self.generation_batch_size is None:
            if self.mini_batches is not None and self.mini_batches < 1:
                raise ValueError(f"mini_batches must be >= 1, not {self.mini_batches}")
            self.steps_per_generation = (self.mini_batches or 4) * self.gradient_accumulation_steps

    def _check_mini_batches(self) -> None:
        """`mini_batches` optimiser steps per rollout batch = steps_per_generation / gradient_accumulation_steps."""
        ga = self.gradient_accumulation_steps
        if self.steps_per_generation % ga:
            raise ValueError(
                f"steps_per_generation ({self.steps_per_generation}) must be a multiple of gradient_accumulation_steps "
                f"({ga}): every optimiser step must take its micro-batches from one rollout batch"
            )
        derived = self.steps_per_generation // ga
        if self.mini_batches is not None and self.mini_batches != derived:
            raise ValueError(
                f"mini_batches ({self.mini_batches}) disagrees with steps_per_generation ({self.steps_per_generation}) "
                f"/ gradient_accumulation_steps ({ga}) = {derived}: set only one of them"
            )
        self.mini_batches = derived

    @property
    def reward_weights_eq7(self) -> tuple[float, float, float, float]:
        return (self.accuracy_weight, self.format_weight, self.ctr_lambda, self.div_lambda)

    def resolved_system_prompt(self) -> str | None:
        return resolve_system_prompt(self.system_prompt)


def load_rl_config(path: str | None = None, *, paths: dict[str, str] | None = None, **overrides) -> LADAPOConfig:
    """A config from a YAML file (any LADAPOConfig / GRPOConfig key) plus keyword overrides (None = not given);
    every problem, ours (`__post_init__`) included, comes back as one `ConfigError` (`parse_config`, which also
    checks that the `paths` keys exist)."""
    return parse_config(LADAPOConfig, path, paths=paths, **overrides)

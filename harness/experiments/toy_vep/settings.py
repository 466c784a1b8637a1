"""What one run of the experiment is: its settings (two modes), the arms it compares, and the result it fills in.

A checkpoint's folder is named by `Settings.tag`, so runs with other settings never share one, and the name is all
that identifies it: change `tag` only together with what it names (the task's `EVAL_VERSION`, the encoder's
`VERSION`, the vocabulary's texts).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from future_l1.training.latent_loss import LATENT_LAMBDA

TASK = "futurebench_future_l1"  # the product's FutureBench task, pointed at the toy's evaluation set
# Arms that train a checkpoint: (a), (b) and the controls of issue 28 (`controls`: compute, information, supervision)
TRAINED = ("latent", "text", "pause", "cot", "aux")
# Evaluated arms, each with the trained arm whose checkpoint it decodes; (d) is the answer prior
CHECKPOINT = {
    "latent": "latent", "text": "text", "latent_off": "latent", "latent_noise": "latent", "latent_mean": "latent",
    "latent_random": "latent", "pause": "pause", "cot": "cot", "aux": "aux",
}  # fmt: skip
VARIANTS = tuple(CHECKPOINT)
LATENT_DECODED = (
    "latent",
    "latent_noise",
    "latent_mean",
    "latent_random",
)  # decoded with latent decoding on (the rest: text only)
PRIOR = "answer_prior"
LABELS = {
    "latent": "(a) latent SFT",
    "text": "(b) text-only SFT",
    "latent_off": "(c) latent SFT, latent decoding off",
    "latent_noise": "(a) with noise latents (noise:1)",
    "latent_mean": "(a) with mean latents",
    "latent_random": "(a) with random latents (random)",
    "pause": "(b) + L_max pause tokens (compute-matched)",
    "cot": "(b) + CoT stating the frame-12 content (information-matched)",
    "aux": "(b) + aux head regressing frame 12, no feedback",
    PRIOR: "(d) answer prior",
}


def interventions() -> dict[str, str]:
    """The `latent_intervention` each arm decodes (a)'s checkpoint with (model/interventions.py)."""
    from future_l1.harness.experiments.toy_vep.controls import NOISE_SIGMA

    return {"latent_noise": f"noise:{NOISE_SIGMA:g}", "latent_mean": "mean", "latent_random": "random"}


@dataclass(frozen=True)
class Settings:
    """One experiment configuration. Sizes are per split; `seeds` are SFT seeds (init, data order, dropout)."""

    n_train: int
    n_val: int
    n_test: int
    seeds: tuple[int, ...]
    steps: int
    batch_size: int = 4
    learning_rate: float = 1e-2
    latent_lambda: float = LATENT_LAMBDA
    max_latent_token: int = 4
    question_pixels: int = 128 * 128  # a 64x64 frame is shown at 128x128: 16 merged tokens per frame
    toy_vision: bool = True  # the pretrained toy encoder (`vision`); False: the tiny model's random one
    question_video: bool = True  # SFT shows question frames as the evaluation's video (False: as images, Format A)
    toy_vocabulary: bool = True  # the tiny model's vocabulary pruned to the toy's texts (False: all 151,936 rows)
    eval_batch_size: int = 32
    sft_workers: int = 2  # SFT processes at once, one thread each (results do not depend on it)
    # SFT with the vision tower's outputs computed once per record and the system prompt run once per batch
    # (`frozen_features`, `shared_prefix`): same maths, other float rounding, so other checkpoints (tag "-fs");
    # False is the path of every run recorded before 2026-12-06 (`--reference-sft`)
    fast_sft: bool = True
    arms: tuple[str, ...] = TRAINED  # trained arms to run ("latent" always; the others and their evaluations optional)
    # per-arm (arm, steps, learning rate) chosen on val (`tuning`), overriding `steps` and `learning_rate` for that arm
    tuned: tuple[tuple[str, int, float], ...] = ()

    def for_arm(self, arm: str) -> Settings:
        """These settings with `arm`'s tuned steps and learning rate, if it has them."""
        for name, steps, lr in self.tuned:
            if name == arm:
                return replace(self, steps=steps, learning_rate=lr, tuned=())
        return replace(self, tuned=()) if self.tuned else self

    def variants(self) -> tuple[str, ...]:
        """The evaluated arms of these settings: those whose checkpoint arm is trained."""
        return tuple(v for v in VARIANTS if CHECKPOINT[v] in self.arms)

    def tag(self, variant: str = "latent") -> str:
        """A short name of everything that changes a checkpoint of the trained arm `variant` (so different settings
        never share one; the text-only arm ignores λ and L_max, so a λ / L_max sweep reuses its checkpoints)."""
        from future_l1.harness.experiments.toy_vep.task import EVAL_VERSION
        from future_l1.harness.experiments.toy_vep.vision import VERSION

        if self.tuned:  # the arm's own steps and learning rate name its checkpoints
            return self.for_arm(variant).tag(variant)
        lr = f"{self.learning_rate:g}".replace(".", "p").replace("-", "m")
        base = f"{EVAL_VERSION.removeprefix('toy_vep_')}-n{self.n_train}-st{self.steps}-b{self.batch_size}-lr{lr}" + (
            f"-vis{VERSION}" if self.toy_vision else ""
        )
        base += "-qvid" if self.question_video else ""
        base += "-fs" if self.fast_sft else ""
        if self.toy_vocabulary:  # named by its texts' hash: a changed vocabulary never reuses a checkpoint
            from future_l1.harness.experiments.toy_vep.task import vocabulary_domain
            from future_l1.model.processor import domain_name

            base += f"-voc{domain_name(vocabulary_domain())[:6]}"
        px = f"px{self.question_pixels}"
        if variant == "text":
            return f"{base}-{px}"
        if variant == "pause":  # L_max pauses, no λ
            return f"{base}-pause{self.max_latent_token}-{px}"
        if variant == "cot":  # the chain of thought's text version; neither λ nor L_max
            from future_l1.harness.experiments.toy_vep.controls import COT_VERSION

            return f"{base}-cot{COT_VERSION}-{px}"
        lam = f"{self.latent_lambda:g}".replace(".", "p")
        if variant == "aux":
            return f"{base}-aux-lam{lam}-L{self.max_latent_token}-{px}"
        if variant != "latent":
            raise ValueError(f"no trained arm {variant!r}; trained arms: {', '.join(TRAINED)}")
        return f"{base}-lam{lam}-L{self.max_latent_token}-{px}"


# (arm, steps, learning rate) chosen on val by `--tune` (seeds 0 and 1, the best mean; README, "Choosing each arm's
# settings on val"). Every arm's best is the grid's longest run: 600 steps at lr 1e-2 undertrained all but (a).
TUNED = (("latent", 1200, 1e-2), ("text", 1200, 3e-3), ("pause", 1200, 3e-3), ("cot", 1200, 3e-3), ("aux", 1200, 3e-3))

MODES = {
    "quick": Settings(n_train=96, n_val=32, n_test=32, seeds=(0,), steps=24),
    "full": Settings(n_train=1000, n_val=300, n_test=300, seeds=(0, 1, 2, 3, 4), steps=600, batch_size=16, tuned=TUNED),
}


@dataclass
class ExperimentResult:
    """Filled stage by stage: `pipeline` (runs, checkpoints, timings), `analysis` (accuracy, comparisons, probes),
    `report` (maps); `report.write_summary` writes it as experiment.md and result.json."""

    out: Path
    split: str
    settings: Settings
    accuracy: dict = field(default_factory=dict)  # variant -> {"label", "acc", "ci", "n", "per_seed"}
    comparisons: list = field(default_factory=list)  # dicts of reports.compare.PairedResult + "scope"
    runs: dict = field(default_factory=dict)  # variant -> {seed: run dir}
    seconds: dict = field(default_factory=dict)
    maps: list = field(default_factory=list)
    latent_spread: dict = field(default_factory=dict)  # seed -> share of (a)'s latent variance that varies by clip
    probes: dict = field(default_factory=dict)  # seed -> the probes of (a) (`analysis.probe_latent_model`)
    checkpoints: dict = field(default_factory=dict)  # seed -> (a)'s checkpoint
    text_checkpoints: dict = field(default_factory=dict)  # seed -> (b)'s checkpoint
    seed_level: dict = field(default_factory=dict)  # arm -> (a) − arm per seed, their mean and t interval
    train_file: Path | None = None

    @property
    def report_dir(self) -> Path:
        return self.out / "report" / f"{self.split}-{self.settings.tag()}"

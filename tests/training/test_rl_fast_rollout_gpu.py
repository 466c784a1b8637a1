"""LA-DAPO rollouts on the fast decoder, on the GPU in fp32 (issue 27; run on the device machine:
`pytest -m gpu tests/training/test_rl_fast_rollout_gpu.py`).

The trainer relies on the recorded per-token log-probs equalling its teacher-forced recomputation (with the
recorded latents substituted), and on κ·⟨μ, z⟩ equalling κ·|z|² at recording time. Both must hold for rollouts on
`FastLatentDecoder` (static cache, captured decode step), before and after an optimiser step (the decode graphs
must read the live parameters), with the generic logits processor (split mode: only the forward is captured) and
without one (the whole step captured). The rollout's session must be freed before the training step.
"""

from __future__ import annotations

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

SETTINGS = {
    "max_steps": 1, "per_device_train_batch_size": 4, "num_generations": 4, "mini_batches": 2,
    "max_completion_length": 40, "max_sampling_tries": 1, "oversample_factor": 1.0, "rollout_batch_size": 8,
    "save_strategy": "no", "temperature": 0.9, "top_p": 1.0, "beta": 0.01, "learning_rate": 1e-3,
    "rollout_engine": "fast", "auto_gpu_settings": False, "bf16": False, "use_cpu": False,
}  # fmt: skip


def second_span(latent_ids):
    """A generic (Python) logits processor opening a second span right after the first one."""

    def processor(generated: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if generated.shape[1] == 0:
            return scores
        spans = (generated == latent_ids.start).sum(1)
        force = (generated[:, -1] == latent_ids.end) & (spans == 1)
        if bool(force.any()):
            scores = scores.clone()
            scores[force] = float("-inf")
            scores[force, latent_ids.start] = 0.0
        return scores

    return processor


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    from future_l1.training.rl.run import build_trainer, demo_config

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    cfg = demo_config(tmp_path_factory.mktemp("rl"), **SETTINGS)
    tr, _ = build_trainer(cfg)
    assert next(tr.model.parameters()).is_cuda and next(tr.model.parameters()).dtype == torch.float32
    return tr


def _parity(trainer, ro) -> tuple[float, float]:
    """Max |recomputed − recorded| log-prob over the sampled text tokens, and the κ⟨μ, z⟩ vs κ|z|² gap."""
    t = trainer.batch_tensors(ro)
    ids = torch.cat([t["prompt_ids"], t["completion_ids"]], 1)
    mask = torch.cat([t["prompt_mask"], t["completion_mask"]], 1)
    trainer._extras = {"latents": ro["latents"], "vision": ro["vision"], "prompt_mm": ro["prompt_mm_token_type_ids"]}
    try:
        with torch.no_grad():
            logps, _, _ = trainer._get_per_token_logps_and_entropies(
                trainer.model, ids, mask, t["completion_ids"].size(1), batch_size=4
            )
    finally:
        trainer._extras = None
    comp = t["completion_ids"]
    lat_id = trainer.latent_ids.latent
    text = (t["completion_mask"] * t["tool_mask"]).bool() & (comp != lat_id)
    # a start forced by the processor is a token the model finds very unlikely: checked to 1e-4 (as on CPU)
    forced = torch.zeros_like(text)
    forced[:, 1:] = (comp[:, 1:] == trainer.latent_ids.start) & (comp[:, :-1] == trainer.latent_ids.end)
    diff = (logps - t["sampling_logps"]).abs()
    if bool((forced & text).any()):
        assert diff[forced & text].max().item() <= 1e-4
    z = torch.cat([lat for lat in ro["latents"] if lat.shape[0]]).to(logps.device)
    kappa = trainer.la_args.latent_logprob_kappa
    lat_gap = (logps[comp == lat_id] - kappa * (z * z).sum(-1)).abs().max().item()
    return diff[text & ~forced].max().item(), lat_gap


def _held_after_a_rollout(trainer, rows) -> int:
    """Bytes still allocated after a rollout whose outputs are dropped, cuBLAS's per-stream workspaces cleared before
    and after (they are cuBLAS's, reused by the training step, and not the session's)."""
    clear = torch._C._cuda_clearCublasWorkspaces
    torch.cuda.synchronize()
    clear()
    base = torch.cuda.memory_allocated()
    ro = trainer._rollout(rows)
    del ro
    torch.cuda.synchronize()
    clear()
    return torch.cuda.memory_allocated() - base


def _growth_over_rollouts(trainer, rows) -> int:
    """Bytes still allocated after two more rollouts (outputs dropped) than after two warm-up rollouts."""
    for _ in range(2):
        trainer._rollout(rows)
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    for _ in range(2):
        trainer._rollout(rows)
    torch.cuda.synchronize()
    return torch.cuda.memory_allocated() - base


@pytest.mark.parametrize("processor", [False, True], ids=["whole-step-graph", "split-generic-processor"])
def test_fast_rollout_parity_before_and_after_an_optimiser_step(trainer, processor):
    from future_l1.training.rl.data import demo_rl_rows

    trainer.rollout.logits_processor = second_span(trainer.latent_ids) if processor else None
    rows = demo_rl_rows(2)
    torch.cuda.reset_peak_memory_stats()
    ro = trainer._rollout(rows)
    assert trainer.rollout.last_engine == "fast"
    stats = trainer.rollout.last_stats
    # The session (KV cache, graph pool) is gone before training: all a rollout leaves allocated is cuBLAS's 32 MiB
    # workspace per CUDA stream it ran on (H100: 32, 64 or 96 MiB in `held_after_gib`, by how many streams had run
    # before), so without those nothing stays, and nothing accumulates over rollouts (a new warm-up stream per
    # capture once added 32 MiB per rollout: `static_decoder._warmup_stream`).
    assert stats["held_after_gib"] < 0.2, stats
    assert _held_after_a_rollout(trainer, rows) < 2**20
    assert _growth_over_rollouts(trainer, rows) < 2**20
    assert any(lat.shape[0] for lat in ro["latents"])
    text_gap, lat_gap = _parity(trainer, ro)
    assert text_gap <= 5e-5, text_gap
    assert lat_gap <= 1e-4 + 1e-4 * max(1.0, lat_gap), lat_gap
    # the optimiser updates the parameters in place; the next rollout must decode with the new values
    before = [p.detach().clone() for p in trainer.model.parameters() if p.requires_grad][:4]
    trainer.args.max_steps = 1  # each train() call starts from step 0: one optimiser step
    trainer.train()
    after = [p.detach() for p in trainer.model.parameters() if p.requires_grad][:4]
    assert any(not torch.equal(a, b) for a, b in zip(after, before, strict=True))
    ro2 = trainer._rollout(demo_rl_rows(4)[2:])
    text_gap2, lat_gap2 = _parity(trainer, ro2)
    assert text_gap2 <= 5e-5, text_gap2
    assert lat_gap2 <= 1e-4 + 1e-4 * max(1.0, lat_gap2), lat_gap2
    print(f"fast rollout parity ({'split' if processor else 'graph'}): text {text_gap:.2e} / {text_gap2:.2e} after a "
          f"step, latent {lat_gap:.2e} / {lat_gap2:.2e}; session {stats['session_gib']:.3f} GiB, capture "
          f"{stats['capture_s']:.2f} s, peak {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")  # fmt: skip

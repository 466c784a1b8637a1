"""Which decoder the LA-DAPO rollout runs on (issue 27): the fast decoder on CUDA, the eager `LatentDecoder` on CPU
and on request, and the eager path unchanged (its outputs equal direct `LatentDecoder.generate` calls, chunk by
chunk, with the seeds the rollout always used)."""

from __future__ import annotations

import pytest
import torch

from future_l1.training.rl.rollout import ENGINES, select_engine


def test_select_engine_fast_on_cuda_only():
    assert select_engine("auto", torch.device("cuda", 0)) == "fast"
    assert select_engine("auto", torch.device("cpu")) == "eager"
    assert select_engine("eager", torch.device("cuda", 0)) == "eager"  # the reference, on request
    assert select_engine("fast", torch.device("cpu")) == "fast"
    with pytest.raises(ValueError, match="rollout engine"):
        select_engine("vllm", torch.device("cpu"))
    assert set(ENGINES) == {"auto", "fast", "eager"}


def test_the_default_engine_is_fast_on_cuda_and_eager_on_cpu(tmp_path):
    from future_l1.training.rl.config import load_rl_config

    cfg = load_rl_config(None, model_name_or_path="x", train_file="demo", output_dir=str(tmp_path), use_cpu=True)
    assert cfg.rollout_engine == "auto"  # since the fp32 parity test passed on the GPU
    assert select_engine(cfg.rollout_engine, torch.device("cpu")) == "eager"
    assert select_engine(cfg.rollout_engine, torch.device("cuda", 0)) == "fast"


def test_config_rejects_an_unknown_engine(tmp_path):
    from future_l1.training.config import ConfigError
    from future_l1.training.rl.config import load_rl_config

    with pytest.raises(ConfigError, match="rollout_engine"):
        load_rl_config(None, model_name_or_path="x", train_file="demo", output_dir=str(tmp_path),
                       rollout_engine="vllm", use_cpu=True)  # fmt: skip


@pytest.fixture(scope="module")
def demo():
    from future_l1.model.checkpoint import load_future_l1
    from future_l1.training import demo_checkpoint
    from future_l1.training.rl.data import demo_rl_rows

    fl1 = load_future_l1(demo_checkpoint())
    return fl1, demo_rl_rows(2)


def _rollout(fl1, engine: str, batch_size: int = 3):
    from future_l1.training.rl.rollout import LatentRollout, RolloutSettings

    settings = RolloutSettings(num_generations=2, max_new_tokens=12, batch_size=batch_size, max_num_frames=2,
                               min_pixels=64 * 64, max_pixels=64 * 64, engine=engine, temperature=1.0, top_p=1.0)  # fmt: skip
    return LatentRollout(fl1.processor, fl1.latent_ids, fl1.budget, settings, head=fl1.head)


@pytest.mark.integration  # rollouts of the demo model (about 15 s)
def test_cpu_rollouts_stay_on_the_eager_decoder(demo, monkeypatch):
    from future_l1.model.decoder import GenerationSettings, LatentDecoder
    from future_l1.model.static_decoder import FastLatentDecoder
    from future_l1.training.rl.rollout import no_stray_latent

    fl1, rows = demo
    model = fl1.backbone.eval()
    monkeypatch.setattr(FastLatentDecoder, "__init__", lambda *a, **k: pytest.fail("fast decoder used on CPU"))
    ro = _rollout(fl1, "auto")
    with torch.no_grad():
        got = ro(model, rows, seed=7)
    assert ro.last_engine == "eager" and set(ro.last_stats) == {"encode_s"}  # no fast-engine figures
    # the eager path as it always was: chunks of batch_size rows, seed + chunk start, one generate each (with the
    # ban of stray <|latent|> ids, the one change)
    flat = [ro.encode(r) for r in rows for _ in range(2)]
    dec = LatentDecoder(model, fl1.processor.tokenizer, fl1.latent_ids, fl1.budget, head=fl1.head)
    expected = []
    for start in (0, 3):
        gen = GenerationSettings(max_new_tokens=12, temperature=1.0, top_p=1.0, do_sample=True, seed=7 + start,
                                 return_latents=True, return_logprobs=True)  # fmt: skip
        with torch.no_grad():
            expected.extend(
                dec.generate(ro._batch(flat[start : start + 3]), gen, no_stray_latent(fl1.latent_ids.latent))
            )
    assert got["completion_ids"] == [list(o.token_ids) for o in expected]
    assert got["logprobs"] == [list(o.logprobs) for o in expected]
    for lat, o in zip(got["latents"], expected, strict=True):
        assert torch.equal(lat, o.latents if o.latents is not None else torch.zeros(0, 1))


@pytest.mark.integration  # rollouts of the demo model (about 10 s)
def test_fast_engine_records_what_the_trainer_needs(demo):
    """`engine="fast"` on CPU (no graphs: the same step function the GPU captures): every rollout comes back in
    group order with one log-prob per token, one latent per <|latent|>, latents usable by autograd, and the
    session freed."""
    fl1, rows = demo
    ro = _rollout(fl1, "fast", batch_size=3)  # 3 slots for 4 rollouts: one slot is refilled (continuous batching)
    with torch.no_grad():
        out = ro(fl1.backbone.eval(), rows, seed=3)
    assert ro.last_engine == "fast" and ro.last_stats["slots"] >= 1
    assert ro.last_stats["copied_rows"] >= 1  # a group's second rollout copies its prompt's prefill
    assert out["group"] == [0, 0, 1, 1]
    for comp, lps, lat in zip(out["completion_ids"], out["logprobs"], out["latents"], strict=True):
        assert len(comp) == len(lps) > 0 and all(lp <= 0 for lp in lps)
        assert sum(t == fl1.latent_ids.latent for t in comp) == lat.shape[0]
        assert not lat.is_inference()


def test_stray_latent_ids_are_banned_from_sampling_only():
    """A `<|latent|>` sampled as text has no recorded vector (the trainer cannot score it): it is banned, out of place
    (the raw logits, whose log-probs are recorded, stay), eagerly and in the capturable form, after the user's
    processor."""
    from future_l1.training.rl.rollout import no_stray_latent

    scores = torch.zeros(2, 6)
    calls = []

    def user(generated, s):
        calls.append(generated.shape)
        return s + 1

    ban = no_stray_latent(3, user)
    out = ban(torch.zeros(2, 0, dtype=torch.long), scores)
    assert calls and not hasattr(ban, "graph_call") and torch.equal(scores, torch.zeros(2, 6))
    assert torch.isinf(out[:, 3]).all() and (out[:, [0, 1, 2, 4, 5]] == 1).all()
    graph = no_stray_latent(3)
    assert hasattr(graph, "graph_call")
    assert torch.isinf(graph.graph_call(torch.zeros(2, dtype=torch.long), scores)[:, 3]).all()


def test_vision_placeholders_are_banned_too():
    """A sampled `<|video_pad|>` made the trainer's forward fail ("tokens: 257, features: 256", toy RL at temperature
    1.5): the rollout bans the tokenizer's image and video placeholders with `<|latent|>`."""
    from transformers import AutoTokenizer

    from future_l1.model.processor import qwen_tokenizer_dir
    from future_l1.training.rl.rollout import no_stray_latent, vision_placeholder_ids

    tok = AutoTokenizer.from_pretrained(qwen_tokenizer_dir())
    ids = vision_placeholder_ids(tok)
    assert ids == [tok.convert_tokens_to_ids("<|image_pad|>"), tok.convert_tokens_to_ids("<|video_pad|>")]
    vocab = max(ids) + 2
    out = no_stray_latent(3, also=ids).graph_call(torch.zeros(1, dtype=torch.long), torch.zeros(1, vocab))
    banned = torch.isinf(out[0]).nonzero().flatten().tolist()
    assert banned == sorted([3, *ids])

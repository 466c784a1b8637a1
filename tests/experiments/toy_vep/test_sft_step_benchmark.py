"""CPU pytest-benchmark of one toy-experiment SFT step (run with --benchmark-enable): where the step's time goes.

Group "toy-sft-step", one process, one thread (as the experiment's SFT workers run): the whole latent SFT step of the
tiny model on a batch of 16 toy records (forward, loss, backward) with the full 151,936-row Qwen vocabulary, next to
its output head alone (the cross-entropy at the step's supervised positions), and the same step with the experiment's
toy vocabulary (`toy_vep.task.vocabulary_domain`, 1,152 rows; the same records, the same tokens), and that step on the
experiment's SFT path (`fast_sft`: the frozen tower's outputs computed once, `frozen_features`, and the system prompt
run once per batch, `shared_prefix`). The ratios say what each saves (the experiment's README, cost of the full mode).
"""

from __future__ import annotations

import pytest
import torch

BATCH = 16


def _step_inputs(records_dir, ckpt):
    from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

    from future_l1.harness.experiments.toy_vep.data import build_train_set
    from future_l1.harness.experiments.toy_vep.task import FPS
    from future_l1.model.protocol import FUTURE_L1_SYSTEM_PROMPT
    from future_l1.model.tokens import LatentIds
    from future_l1.training.data import load_records
    from future_l1.training.frames import FrameCache
    from future_l1.training.latent_batch import LatentEncoder, collate

    processor = AutoProcessor.from_pretrained(ckpt)
    processor.image_processor.size = {"shortest_edge": 128 * 128, "longest_edge": 128 * 128}
    encoder = LatentEncoder(processor, LatentIds.from_tokenizer(processor.tokenizer), max_latent_token=4,
                            system_prompt=FUTURE_L1_SYSTEM_PROMPT, question_video_fps=FPS)  # fmt: skip
    train = build_train_set(records_dir, BATCH, progress=False)
    cache = FrameCache()
    batch = collate([encoder.encode(r, *r.load_frames(cache)) for r in load_records(train).records],
                    processor.tokenizer.pad_token_id)  # fmt: skip
    model = Qwen3VLForConditionalGeneration.from_pretrained(ckpt).train()
    model.model.visual.requires_grad_(False)  # frozen, as in SFT
    return model, batch


@pytest.fixture(scope="module")
def step_inputs(tmp_path_factory, tiny_ckpt):
    return _step_inputs(tmp_path_factory.mktemp("toy"), tiny_ckpt)


@pytest.fixture(scope="module")
def toy_vocabulary_inputs(tmp_path_factory):
    from future_l1.harness.experiments.toy_vep.task import vocabulary_domain
    from future_l1.model.tiny import tiny_checkpoint_dir

    return _step_inputs(tmp_path_factory.mktemp("toy"), tiny_checkpoint_dir(0, vocabulary_domain()))


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _step(inputs, **options):
    from future_l1.training.latent_loss import latent_sft_loss

    model, batch = inputs

    def step():
        model.zero_grad(set_to_none=True)
        out = latent_sft_loss(model, batch, latent_lambda=0.1, **options)
        out.loss.backward()
        return out

    return step


@pytest.mark.benchmark(group="toy-sft-step")
def test_bench_toy_sft_step(benchmark, step_inputs, one_thread):
    out = benchmark(_step(step_inputs))
    assert torch.isfinite(out.loss) and out.n_latent == 4 * BATCH


@pytest.mark.benchmark(group="toy-sft-step")
def test_bench_toy_sft_step_toy_vocabulary(benchmark, step_inputs, toy_vocabulary_inputs, one_thread):
    full_batch, toy_batch = step_inputs[1], toy_vocabulary_inputs[1]
    assert toy_batch["input_ids"].shape == full_batch["input_ids"].shape  # the same tokens, other ids
    assert toy_vocabulary_inputs[0].lm_head.weight.shape[0] < step_inputs[0].lm_head.weight.shape[0] // 100
    out = benchmark(_step(toy_vocabulary_inputs))
    assert torch.isfinite(out.loss) and out.n_latent == 4 * BATCH


@pytest.mark.benchmark(group="toy-sft-step")
def test_bench_toy_sft_step_toy_vocabulary_fast_path(benchmark, toy_vocabulary_inputs, one_thread):
    from future_l1.training.frozen_features import featurize
    from future_l1.training.latent_batch import collate

    model, batch = toy_vocabulary_inputs
    examples = [{k: v[i] for k, v in batch.items() if k in ("input_ids", "attention_mask", "mm_token_type_ids",
                                                            "labels", "latent_mask")} for i in range(BATCH)]  # fmt: skip
    for e, pixels, grid, latent, latent_grid in zip(
        examples, batch["pixel_values_videos"].chunk(BATCH), batch["video_grid_thw"].split(1),
        batch["latent_pixel_values"].chunk(BATCH), batch["latent_grid_thw"].split(1), strict=True,
    ):  # fmt: skip  # one clip and one reasoning frame per record, all the same size
        e.update(pixel_values_videos=pixels, video_grid_thw=grid, latent_pixel_values=latent,
                 latent_grid_thw=latent_grid, span_lengths=[4])  # fmt: skip
    fast = collate(featurize(model, examples), pad_id=0)
    reference = _step(toy_vocabulary_inputs)()
    out = benchmark(_step((model, fast), share_prefix=True))
    torch.testing.assert_close(out.loss, reference.loss, rtol=1e-5, atol=1e-6)  # the same loss, less work
    assert out.n_latent == 4 * BATCH


def _head(rows: int, step_inputs):
    model, batch = step_inputs
    n = int((batch["labels"][:, 1:] != -100).sum())  # the step's supervised positions
    hidden = torch.randn(n, model.config.text_config.hidden_size, requires_grad=True)
    weight = torch.nn.Parameter(model.lm_head.weight.detach()[:rows].clone())
    labels = torch.randint(0, rows, (n,), generator=torch.Generator().manual_seed(0))

    def run():
        weight.grad = None
        loss = torch.nn.functional.cross_entropy(hidden @ weight.T, labels)
        loss.backward()
        return loss

    return run


@pytest.mark.benchmark(group="toy-sft-step")
def test_bench_output_head_real_vocabulary(benchmark, step_inputs, one_thread):
    loss = benchmark(_head(step_inputs[0].lm_head.weight.shape[0], step_inputs))
    assert torch.isfinite(loss)

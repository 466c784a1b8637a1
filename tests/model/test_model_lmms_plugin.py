"""The `future_l1` lmms-eval chat model: request handling, errors per sample, padding, and real lmms-eval runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from lmms_eval.api.instance import GenerationResult, Instance

from future_l1.model.tokens import LATENT_START, latent_span_lengths

TASK = "fl1_model_smoke"


@pytest.fixture(scope="module")
def lmm(tiny_ckpt):
    from future_l1.model.lmms_model import FutureL1

    return FutureL1(pretrained=str(tiny_ckpt), batch_size=3, max_num_frames=4, min_pixels=4 * 32 * 32,
                    max_pixels=64 * 64)  # fmt: skip


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, str]:
    from future_l1.tasks.scenes import simulate, write_video

    root = tmp_path_factory.mktemp("videos")
    paths = {}
    for i, kind in enumerate(("bounce", "collide", "fall")):
        paths[kind] = str(write_video(simulate(kind, seed=i, n_frames=8 + 2 * i).frames, root / f"{kind}.mp4", 8.0))
    corrupt = root / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    paths["corrupt"] = str(corrupt)
    paths["missing"] = str(root / "missing.mp4")
    return paths


def _doc_to_messages(doc):
    return [{"role": "user", "content": [{"type": "video", "url": doc["video"]}, {"type": "text", "text": doc["q"]}]}]


def _requests(lmm, docs, gen_kwargs, padding=()):
    lmm.task_dict = {TASK: {"test": docs}}
    reqs = []
    for i in range(len(docs)):
        meta = {"task": TASK, "doc_id": i, "repeats": 1, "split": "test"}
        reqs.append(Instance("generate_until", (f"ctx{i}", _doc_to_messages, dict(gen_kwargs), i, TASK, "test"), i,
                             meta))  # fmt: skip
    for i in padding:
        meta = {"task": TASK, "doc_id": i, "repeats": 1, "split": "test", "__padding_only__": True}
        reqs.append(Instance("generate_until", (f"ctx{i}", _doc_to_messages, dict(gen_kwargs), i, TASK, "test"), i,
                             meta))  # fmt: skip
    return reqs


def _forcer(lmm):
    ids = lmm.model.latent_ids

    def process(generated, scores):
        if generated.shape[1] == 1:
            scores[:, ids.start] += 1e4
        return scores

    return process


def test_manifest_registers_chat_model():
    from lmms_eval.models import get_model

    from future_l1.model.lmms_plugin import manifests

    (manifest,) = manifests()
    assert manifest.model_id == "future_l1" and manifest.chat_class_path.endswith("lmms_model.FutureL1")
    cls = get_model("future_l1")
    assert cls.__name__ == "FutureL1" and cls.is_simple is False


def test_batch_with_corrupt_and_missing_video(lmm, videos):
    docs = [
        {"video": videos[k], "q": "What happens next?"} for k in ("bounce", "corrupt", "collide", "missing", "fall")
    ]
    lmm.logits_processor = _forcer(lmm)
    try:
        out = lmm.generate_until(_requests(lmm, docs, {"max_new_tokens": 8, "temperature": 0, "until": ["\n\n"]}))
    finally:
        lmm.logits_processor = None
    assert all(isinstance(r, GenerationResult) for r in out)
    assert out[1].text.startswith("[future-l1 error] ") and "corrupt.mp4" in out[1].text
    assert out[3].text.startswith("[future-l1 error] ") and "missing.mp4" in out[3].text
    for r in (out[0], out[2], out[4]):
        assert not r.text.startswith("[future-l1")
        assert LATENT_START in r.text  # special tokens are kept in the text
        spans = latent_span_lengths(r.text)
        assert sum(spans) == r.token_counts.reasoning_tokens > 0
        assert r.token_counts.output_tokens == 8 - r.token_counts.reasoning_tokens
        assert r.token_counts.input_tokens > 0
    # the good samples' answers do not depend on the bad ones sharing their batch
    alone = lmm.generate_until(_requests(lmm, docs[2:3], {"max_new_tokens": 8, "temperature": 0}))
    plain = lmm.generate_until(_requests(lmm, docs, {"max_new_tokens": 8, "temperature": 0}))
    assert alone[0].text == plain[2].text


def test_padding_requests_are_not_run_and_groups_keep_order(lmm, videos, monkeypatch):
    docs = [{"video": videos["bounce"], "q": "a"}, {"video": videos["fall"], "q": "b"}]
    calls = []
    real = lmm._run_batch
    monkeypatch.setattr(lmm, "_run_batch", lambda s, st: calls.append((len(s), st.max_new_tokens)) or real(s, st))
    reqs = _requests(lmm, docs, {"max_new_tokens": 3}, padding=(1,))
    reqs[1].args[2]["max_new_tokens"] = 5  # a second gen_kwargs group
    out = lmm.generate_until(reqs)
    assert len(out) == 3 and out[2].text == ""
    assert sorted(calls) == [(1, 3), (1, 5)]  # the padding request never reached the model
    assert out[0].token_counts.output_tokens + out[0].token_counts.reasoning_tokens == 3
    assert out[1].token_counts.output_tokens + out[1].token_counts.reasoning_tokens == 5


def test_save_latents_sidecar_and_clean_keeps_model(lmm, videos, tmp_path):
    from pathlib import Path as P

    lmm.save_latents = P(tmp_path)
    lmm.logits_processor = _forcer(lmm)
    try:
        out = lmm.generate_until(_requests(lmm, [{"video": videos["collide"], "q": "x"}], {"max_new_tokens": 6}))
    finally:
        lmm.save_latents, lmm.logits_processor = None, None
    (npz,) = tmp_path.glob("*.npz")
    data = np.load(npz)
    assert data["latents"].shape == (out[0].token_counts.reasoning_tokens, 64)
    assert data["span_lengths"].tolist() == latent_span_lengths(out[0].text)
    # issue 29: per span, the input embedding of the token after its <|latent_end|> (NaN when the answer ends there)
    assert data["next_embeds"].shape == (len(data["span_lengths"]), 64)
    lmm.clean()
    assert isinstance(lmm.model, torch.nn.Module)  # lmms.clean() would have deleted it


def test_missing_system_message_gets_future_l1_prompt(lmm):
    from future_l1.tasks.prompts import FUTURE_L1_SYSTEM_PROMPT

    lmm.task_dict = {TASK: {"test": [{"video": "v.mp4", "q": "q"}]}}
    (req,) = _requests(lmm, [{"video": "v.mp4", "q": "q"}], {})
    messages = lmm._messages(req)
    assert messages[0] == {"role": "system", "content": FUTURE_L1_SYSTEM_PROMPT}


def _tasks_path() -> Path | None:
    try:
        from future_l1.tasks import tasks_path
    except ImportError:
        return None
    return Path(tasks_path())


@pytest.mark.integration
@pytest.mark.skipif(_tasks_path() is None, reason="the tasks area does not provide tasks_path() yet")
def test_real_futurebench_task_in_process(lmm):
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    lmm.logits_processor = _forcer(lmm)
    try:
        tm = TaskManager(include_path=str(_tasks_path()), include_defaults=False)
        res = simple_evaluate(model=lmm, tasks=["futurebench_future_l1"], limit=4, task_manager=tm,
                              gen_kwargs="max_new_tokens=10", log_samples=True)  # fmt: skip
    finally:
        lmm.logits_processor = None
    samples = res["samples"]["futurebench_future_l1"]
    assert len(samples) == 4
    for s in samples:
        per = s["future_acc"]
        assert per["error"] is None
        assert per["latent_spans"] and sum(per["latent_spans"]) == s["token_counts"][0]["reasoning_tokens"]


@pytest.mark.slow
@pytest.mark.skipif(_tasks_path() is None, reason="the tasks area does not provide tasks_path() yet")
def test_real_futurebench_task_cli(tiny_ckpt, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    tasks = subprocess.run(["future-l1", "tasks", "path"], capture_output=True, text=True, env=env, check=True)
    cmd = [sys.executable, "-m", "lmms_eval", "--model", "future_l1", "--model_args", f"pretrained={tiny_ckpt}",
           "--include_path", tasks.stdout.strip(), "--tasks", "futurebench_future_l1", "--limit", "4",
           "--gen_kwargs", "max_new_tokens=16", "--output_path", str(tmp_path), "--log_samples",
           "--verbosity", "DEBUG", "--batch_size", "2"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (samples,) = tmp_path.rglob("*_samples_futurebench_future_l1.jsonl")
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert len(lines) == 4
    for line in lines:
        assert "latent_spans" in line["future_acc"] and line["future_acc"]["error"] is None
        assert line["token_counts"][0]["output_tokens"] + line["token_counts"][0]["reasoning_tokens"] <= 16


@pytest.mark.slow
@pytest.mark.skipif(_tasks_path() is None, reason="the tasks area does not provide tasks_path() yet")
def test_torchrun_data_parallel(tiny_ckpt, tmp_path):
    """2 ranks, 3 docs: rank 1 gets a padding request; every doc is answered once, none errors."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "lmms_eval",
           "--model", "future_l1", "--model_args", f"pretrained={tiny_ckpt},max_num_frames=8",
           "--include_path", _tasks_path(), "--tasks", "futurebench_future_l1", "--limit", "3",
           "--gen_kwargs", "max_new_tokens=8", "--output_path", str(tmp_path), "--log_samples",
           "--verbosity", "DEBUG"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (samples,) = tmp_path.rglob("*_samples_futurebench_future_l1.jsonl")
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    assert sorted(line["doc_id"] for line in lines) == [0, 1, 2]
    assert all(line["future_acc"]["error"] is None for line in lines)


def test_latent_intervention_argument_reaches_the_decoder(tiny_ckpt, videos):
    """issue 29: latent_intervention=budget:0 (an adapter argument) closes every span at once."""
    from future_l1.model.lmms_model import FutureL1

    model = FutureL1(pretrained=str(tiny_ckpt), device="cpu", latent_intervention="budget:0")
    assert str(model.intervention.spec) == "budget:0"
    model.logits_processor = _forcer(model)
    out = model.generate_until(_requests(model, [{"video": videos["collide"], "q": "x"}], {"max_new_tokens": 6}))
    spans = latent_span_lengths(out[0].text)
    assert spans and set(spans) == {0} and out[0].token_counts.reasoning_tokens == 0
    assert FutureL1(pretrained=str(tiny_ckpt), device="cpu").intervention is None

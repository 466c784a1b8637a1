"""The cached demo checkpoint the harness evaluates: trained by our pipeline, loadable, Future-L1 config fields, and
it answers demo benchmark items in the Future-L1 format through the real latent decoder."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.integration  # the demo model, trained on first use, decodes 26 long prompts

PREFIX = r"^<reason>[^<]+</reason>\n<\|latent_start\|>(?:<\|latent\|>)+<\|latent_end\|>\n<answer>"
FB_PREFIX, FB_FORMAT = re.compile(PREFIX), re.compile(PREFIX + r"([A-D])</answer>")


@pytest.fixture(scope="module")
def demo_path():
    from future_l1.training import demo_checkpoint

    return demo_checkpoint()


def test_demo_checkpoint_is_cached_and_loadable(demo_path):
    from future_l1.training import DEMO_RECIPE, demo_checkpoint

    assert demo_checkpoint() == demo_path  # second call hits the cache
    config = json.loads((demo_path / "config.json").read_text())
    assert config["architectures"] == ["FutureL1_Qwen3VL"]
    assert {"latent_id", "latent_start_id", "latent_end_id", "max_latent_token", "latent_lambda"} <= set(config)
    assert config["fixed_latent_budget"] is True and config["max_latent_token"] == 4
    summary = json.loads((demo_path / "sft_summary.json").read_text())
    assert summary["global_steps"] == DEMO_RECIPE["max_steps"]
    assert summary["history"][-1]["ce"] < 1.0 < summary["history"][0]["ce"]  # learned its (near-deterministic) format
    assert (demo_path / "chat_template.jinja").exists() and (demo_path / "processor_config.json").exists()


def _decode(model, messages: list[list[dict]], max_new_tokens: int) -> list:
    from future_l1.model.decoder import GenerationSettings
    from future_l1.model.inputs import collate, prepare_sample

    settings = GenerationSettings(max_new_tokens=max_new_tokens)  # greedy, as the suite
    return [
        model.generate(collate(model.processor, [prepare_sample(model.processor, m)]), settings)[0] for m in messages
    ]


def test_demo_checkpoint_answers_in_the_future_l1_format(demo_path):
    from future_l1.harness.suite import load_suite
    from future_l1.model.checkpoint import load_future_l1
    from future_l1.tasks.futurebench import scoring as fb
    from future_l1.tasks.futurebench.data import load_futurebench
    from future_l1.tasks.futurebench.parsing import parse_reasoning
    from future_l1.tasks.prompts import FUTUREBENCH_FUTURE_L1_POST_PROMPT
    from future_l1.tasks.twiffbench import scoring as tw
    from future_l1.tasks.twiffbench.data import load_twiffbench

    budgets = {t.name: t.gen_kwargs["max_new_tokens"] for t in load_suite(None).tasks}
    model = load_future_l1(demo_path)  # latent decoding on, as the suite's future_l1_tiny
    kwargs = {"pre_prompt": "", "post_prompt": FUTUREBENCH_FUTURE_L1_POST_PROMPT}
    docs = list(load_futurebench())  # 24 items, a 32-frame video each
    outs = _decode(model, [fb.doc_to_messages(d, kwargs) for d in docs], budgets["futurebench_future_l1"])
    texts = [o.text for o in outs]
    # Most items, not all: the tiny model is trained for about a minute and CPU float order varies between builds.
    # Reason, latent span and the opening <answer> tag come out reliably; the letter after it is the fragile part
    # (4 builds measured: 8, 17, 20 and 21 of 24 parseable), so the bar for it is lower.
    assert sum(bool(o.span_lengths) and min(o.span_lengths) > 0 for o in outs) >= 20, texts
    assert sum(bool(FB_PREFIX.match(t)) for t in texts) >= 20, texts
    formatted = [FB_FORMAT.match(t) for t in texts]
    assert sum(bool(m) for m in formatted) >= 6, texts
    assert all(parse_reasoning(t) == m.group(1) for t, m in zip(texts, formatted, strict=True) if m)

    rows = list(load_twiffbench())[:2]  # open questions on three images
    for out in _decode(model, [tw.doc_to_messages(r, {}) for r in rows], budgets["twiffbench_future_l1"]):
        assert out.span_lengths and out.text.startswith("<reason>"), out.text
        answer = re.search(r"<answer>(.+?)</answer>", out.text)
        assert answer and len(answer.group(1).split()) >= 3, out.text  # an open answer, not a letter

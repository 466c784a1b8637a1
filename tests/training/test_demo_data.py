"""The demo training set: FutureBench-style multiple choice with balanced letters and TwiFF-style open answers, each
with one short reason and one latent span, short enough for the default suite's generation budget."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from future_l1.training.demo_data import demo_candidates_file, demo_train_file

SPLITS = ("hop1", "hop2", "hop3", "hop5")


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return json.loads(demo_train_file().read_text())


def test_multiple_choice_records_use_the_futurebench_prompt_and_balanced_letters(records):
    from future_l1.tasks.futurebench.scoring import doc_to_text
    from future_l1.tasks.prompts import FUTUREBENCH_FUTURE_L1_POST_PROMPT

    mc = [r for r in records if r["meta_data"]["style"] == "multiple_choice"]
    assert len(mc) == 48 and len(records) == 72
    assert Counter(r["answer"] for r in mc) == dict.fromkeys("ABCD", 12)
    assert {(r["meta_data"]["split"], r["answer"]) for r in mc} == {(s, a) for s in SPLITS for a in "ABCD"}
    kwargs = {"pre_prompt": "", "post_prompt": FUTUREBENCH_FUTURE_L1_POST_PROMPT}
    for r in mc:
        qa = r["meta_data"]["qa"]
        assert qa["Answer"] == r["answer"] and len(set(qa["Options"].values())) == 4
        # the human turn is the futurebench_future_l1 prompt, with the question frames where the clip goes
        assert r["conversations"][0]["value"] == "<image>" * len(r["image"]) + doc_to_text({"qa": qa}, kwargs)
        assert len(r["reasoning_image"]) == 1 and r["reasoning_image"][0] > max(r["image"])  # a future frame


def test_open_records_are_twiff_style_and_clips_are_not_benchmark_clips(records):
    from future_l1.tasks.demo_benchmarks import FB_ITEMS, TWIFF_ITEMS
    from future_l1.tasks.prompts import TWIFF_COT_PROMPT

    opened = [r for r in records if r["meta_data"]["style"] == "open"]
    assert len(opened) == 24
    for r in opened:
        human = r["conversations"][0]["value"]
        assert human.startswith("<image>" * 3 + TWIFF_COT_PROMPT) and "frame_3: " in human
        assert r["answer"].endswith(".") and len(r["answer"].split()) >= 4  # a sentence, not a letter
    # benchmark seeds: FutureBench demo item i searches upwards from 1000·(i+1), TwiFF-Bench row i from 5000 + 17·i
    candidates = json.loads(demo_candidates_file().read_text())
    seeds = [r["meta_data"]["seed"] for r in [*records, *candidates]]
    assert len(set(seeds)) == len(seeds) and min(seeds) > 1000 * (FB_ITEMS + 10) + 5000 + 17 * TWIFF_ITEMS


def test_target_format_fits_the_default_suite_budget(records, processor_dir):
    from transformers import AutoTokenizer

    from future_l1.harness.suite import load_suite
    from future_l1.model.tokens import LATENT_END, LATENT_START
    from future_l1.training.data import load_records
    from future_l1.training.latent_batch import assistant_text

    budget = min(t.gen_kwargs["max_new_tokens"] for t in load_suite(None).tasks)
    tok = AutoTokenizer.from_pretrained(processor_dir)
    for rec in load_records(demo_train_file()).records:
        target = assistant_text(rec, [4])  # L_max = 4 latent steps per span, as decoded
        assert target.startswith("<reason>") and f"</reason>\n{LATENT_START}" in target
        assert f"{LATENT_END}\n<answer>{rec.answer}</answer>" in target
        assert len(tok(target, add_special_tokens=False).input_ids) + 1 <= budget - 8, rec.id  # + <|im_end|>, margin

"""Protocol strings are byte-identical to the official ones (sha256), and rendered prompts match snapshots."""

from __future__ import annotations

import hashlib

import pytest

from future_l1.tasks import prompts
from future_l1.tasks.futurebench import scoring as fb
from future_l1.tasks.twiffbench import scoring as tw

# Full sha256 of each string, verified against the public sources named in future_l1.tasks.prompts.
EXPECTED = {
    "FUTURE_L1_SYSTEM_PROMPT": (548, "3aeddfd16a312472cf76a66856d34936112b64afc9fe12aaf330da40b8ca3983"),
    "TWIFF_COT_PROMPT": (379, "0ab600e3d74f00939e2e7f3498ba39675054804c332f59b0eb42493d4a558352"),
    "TWIFF_JUDGE_SYSTEM_PROMPT": (1381, "c0719853b055c38ac1df44b6b74d8b449a0e245fade8b4b0288b91418fc7604c"),
    "FUTUREBENCH_FUTURE_L1_POST_PROMPT": (80, "4a855e79d0712a7457967d75d0ac433973315635c84df9b7b25a29f45513b3ed"),
    "FUTUREBENCH_DIRECT_POST_PROMPT": (65, "7c2295e93c5422032a6d016bc7218b007edf429038ce20eb8b0255728c51f8ab"),
    "FUTUREBENCH_THINKING_PRE_PROMPT": (294, "28b45802b9b5b550ded49fe4dff7764262feca13e10abee762cc1ba1f003567f"),
    "TWIFFBENCH_DIRECT_POST_PROMPT": (122, "b47872043479b970ab49c5a33ccec89beeef50db6be05df31b3bf326e27814f8"),
    "TWIFFBENCH_THINKING_PRE_PROMPT": (257, "2c0b73b4880869a81c03b34f2ba19b0a9e0347e1d73c552c1e1fce1baa6cd80a"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_protocol_string_sha256(name):
    value = getattr(prompts, name)
    assert (len(value), hashlib.sha256(value.encode()).hexdigest()) == EXPECTED[name]


def _yaml_kwargs(task):
    from lmms_eval.tasks import TaskManager

    from future_l1.tasks import tasks_path

    tm = TaskManager("ERROR", include_path=str(tasks_path()), include_defaults=False)
    return tm._get_config(task)["lmms_eval_specific_kwargs"]["default"]


@pytest.mark.parametrize(
    ("task", "pre", "post"),
    [
        ("futurebench_future_l1", "", prompts.FUTUREBENCH_FUTURE_L1_POST_PROMPT),
        ("futurebench", "", prompts.FUTUREBENCH_DIRECT_POST_PROMPT),
        ("futurebench_thinking", prompts.FUTUREBENCH_THINKING_PRE_PROMPT, ""),
        ("twiffbench_future_l1", "", ""),
        ("twiffbench", "", prompts.TWIFFBENCH_DIRECT_POST_PROMPT),
        ("twiffbench_thinking", prompts.TWIFFBENCH_THINKING_PRE_PROMPT, ""),
    ],
)
def test_yaml_prompts_are_the_protocol_strings(task, pre, post):
    assert _yaml_kwargs(task) == {"pre_prompt": pre, "post_prompt": post}


FB_DOC = {"qa": {"Question": "What happens next?", "Options": {"A": "a1", "B": "b1", "C": "c1", "D": "d1"}}}


def test_futurebench_rendered_prompt_snapshots():
    kwargs = {"pre_prompt": "", "post_prompt": prompts.FUTUREBENCH_FUTURE_L1_POST_PROMPT}
    assert fb.doc_to_text(FB_DOC, kwargs) == (
        "\nWhat happens next?\nA. a1\nB. b1\nC. c1\nD. d1\n"
        "Please provide only the single option letter within the <answer> </answer> tags."
    )
    direct = {"pre_prompt": "", "post_prompt": prompts.FUTUREBENCH_DIRECT_POST_PROMPT}
    assert fb.doc_to_text(FB_DOC, direct).endswith(
        "D. d1\n\nAnswer with the option's letter from the given choices directly."
    )
    inline = {"qa": {"Question": "Next? A) x B) y C) z D) w", "Options": {k: k for k in "ABCD"}}}
    assert fb.doc_to_text(inline, kwargs) == "\nNext? A) x B) y C) z D) w\n" + prompts.FUTUREBENCH_FUTURE_L1_POST_PROMPT


def test_twiff_rendered_prompt_snapshot():
    doc = {"question": "frame_1: <image>\nframe_2: <image> \nWhat next?"}
    assert tw.doc_to_text(doc, {"pre_prompt": "", "post_prompt": ""}) == (
        prompts.TWIFF_COT_PROMPT + "\n\nframe_1: frame_2: What next?"
    )
    text = tw.doc_to_text(doc, {"pre_prompt": "", "post_prompt": prompts.TWIFFBENCH_DIRECT_POST_PROMPT})
    assert (
        text
        == prompts.TWIFF_COT_PROMPT + "\n\nframe_1: frame_2: What next?\n\n" + prompts.TWIFFBENCH_DIRECT_POST_PROMPT
    )
    messages = tw.doc_to_messages({**doc, "question_images": []}, {})
    assert messages[0]["content"][0]["text"] == prompts.FUTURE_L1_SYSTEM_PROMPT

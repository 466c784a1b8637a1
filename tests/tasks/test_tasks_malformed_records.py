"""Malformed benchmark records: three edge behaviours that differ from the authors' code (issue 26, item 7).

Each case pins our result and restates the authors' rule (OpenGVLab/Future-L1 a91add2:
lmms-eval/lmms_eval/tasks/futurebench/utils.py `pred == qa.Answer.upper()`, and twiffbench/utils.py
`_build_judge_messages`) to show where they differ. The README's deviation list describes the same three.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from future_l1.tasks.futurebench.data import to_doc
from future_l1.tasks.futurebench.scoring import n_errors, process_results_reasoning
from future_l1.tasks.twiffbench import scoring as tw


def _fb_doc(answer) -> dict:
    options = {k: f"option {k}" for k in "ABCD"}
    rec = {"id": "q1", "question_type": "hop1", "video_path": "v.mp4",
           "qa": {"Question": "What happens next?", "Options": options, "Answer": answer}}  # fmt: skip
    return to_doc(0, rec, Path("/videos"))


def authors_correct(pred: str, gold) -> bool:
    """The authors' rule: the parsed letter equals `qa.Answer.upper()` (no strip; "" parses to "")."""
    return pred == gold.upper()


@pytest.mark.parametrize(("gold", "authors_result"), [(" b", False), ("b", True), ("B ", False), ("\tb\n", False)])
def test_gold_letter_with_spaces_or_lower_case_is_normalised(gold, authors_result):
    """We strip and upper-case the gold letter; the authors upper-case only, so a gold letter with a space around it
    is never matched there and the question is scored wrong for every model."""
    record = process_results_reasoning(_fb_doc(gold), ["<answer>B</answer>"])["future_acc"]
    assert record["answer"] == "B" and record["correct"] == 1 and record["error"] is None
    assert authors_correct("B", gold) is authors_result


@pytest.mark.parametrize(("gold", "response"), [("", "I cannot tell."), ("", "<answer></answer>"), ("  ", "")])
def test_empty_prediction_never_counts_as_correct(gold, response):
    """An empty or blank gold answer is a counted data error, never matched by an empty prediction; the authors
    compare "" with "" and count the answer correct."""
    doc = _fb_doc(gold)
    assert "qa.Answer" in doc["data_error"]
    record = process_results_reasoning(doc, [response])["future_acc"]
    assert record["pred"] == "" and record["correct"] == 0 and record["correct_strict"] == 0
    assert n_errors([record]) == 1
    assert authors_correct("", gold) is (gold == "")


# ---------------------------------------------------------------- TwiFF-Bench question images


def _png(colour: int) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (colour, 0, 0)).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None, "name": f"img{colour}"}


def _twiff_doc(n_markers: int, question_images: list, index: list[int], reasoning_images: list) -> dict:
    question = "".join(f"frame_{k + 1}: <image>\n" for k in range(n_markers)) + "What happens next?"
    chain = "First <rimage> the ball rolls."
    return {"doc_id": 0, "question": question, "answer": f"{chain} <ans>it falls</ans>",
            "question_images": question_images, "question_images_index": index,
            "reasoning_images": reasoning_images, "reasoning_images_index": list(range(1, len(reasoning_images) + 1))}  # fmt: skip


def ours(doc: dict, monkeypatch) -> list[tuple[str, str]]:
    """The images our judge message carries, in order: (section, image name)."""
    monkeypatch.setattr(tw, "_data_uri", lambda cell: cell["name"])
    content = tw.judge_messages(doc, "<reason>r</reason><answer>it falls</answer>")[1]["content"]
    out, section = [], "question"
    for item in content:
        if item["type"] == "text" and "Reference Reasoning Chain" in item["text"]:
            section = "reasoning"
        if item["type"] == "image_url":
            out.append((section, item["image_url"]["url"]))
    return out


def authors(doc: dict) -> list[tuple[str, str]]:
    """The authors' `_build_judge_messages` image loop, restated: question images and reasoning images are one list;
    the question takes one per `<image>` marker until len(question_images_index) are taken, the reference chain the
    next ones, one per `<rimage>`, until len(index) + len(reasoning index). IndexError = the sample is dropped."""
    images = [c["name"] for c in doc["question_images"] + doc["reasoning_images"]]
    n_in, n_out = len(doc["question_images_index"]), len(doc["reasoning_images_index"])
    out, i = [], 0
    for _ in range(doc["question"].count("<image>")):
        if i == n_in:
            break
        out.append(("question", images[i]))
        i += 1
    for _ in range(doc["answer"].count("<rimage>")):
        if i == n_in + n_out:
            break
        out.append(("reasoning", images[i]))
        i += 1
    return out


def test_index_shorter_than_question_images(monkeypatch):
    """`question_images_index` is ignored: the model sees every question image and the judge gets each reasoning
    image for the reference chain. The authors stop the question at len(index) images and hand the next question
    image to the reference chain as if it were a reasoning image."""
    q, r = [_png(1), _png(2)], [_png(9)]
    doc = _twiff_doc(2, q, [1], r)
    assert len(tw.doc_to_visual(doc)) == 2
    assert ours(doc, monkeypatch) == [("question", "img1"), ("question", "img2"), ("reasoning", "img9")]
    assert authors(doc) == [("question", "img1"), ("reasoning", "img2")]


def test_index_longer_than_question_images(monkeypatch):
    """With three markers, two question images and an index of three, we send the two images (the third marker is
    left as text; `data check` names the record); the authors take the reasoning image as the third question image
    and then run past the list: IndexError, the sample is dropped from the mean without a count."""
    q, r = [_png(1), _png(2)], [_png(9)]
    doc = _twiff_doc(3, q, [1, 2, 3], r)
    assert ours(doc, monkeypatch) == [("question", "img1"), ("question", "img2"), ("reasoning", "img9")]
    with pytest.raises(IndexError):
        authors(doc)


def test_more_question_images_than_markers(monkeypatch):
    """The model sees all three question images (as for the authors); our judge gets the first two, one per marker,
    and the reasoning image for the chain. The authors' judge gives the surplus question image to the reference
    chain in place of the reasoning image."""
    q, r = [_png(1), _png(2), _png(3)], [_png(9)]
    doc = _twiff_doc(2, q, [1, 2, 3], r)
    assert len(tw.doc_to_visual(doc)) == 3
    assert ours(doc, monkeypatch) == [("question", "img1"), ("question", "img2"), ("reasoning", "img9")]
    assert authors(doc) == [("question", "img1"), ("question", "img2"), ("reasoning", "img3")]


def test_the_readme_deviation_list_names_the_three_behaviours():
    """The README's "Where we deviate" list describes these cases and points here (issue 26, item 7)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    deviations = readme.split("## Where we deviate from the authors' code", 1)[1].split("\n## ", 1)[0]
    section = deviations.split("Malformed benchmark records", 1)[1].split("\n\n", 1)[0]
    assert "tests/tasks/test_tasks_malformed_records.py" in section
    for text in ("` b`", "empty prediction never counts as correct", "`question_images_index`",
                 "More question images than `<image>` markers"):  # fmt: skip
        assert text in section, text

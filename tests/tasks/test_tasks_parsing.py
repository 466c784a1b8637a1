"""FutureBench and TwiFF-Bench response parsing against adversarial model outputs."""

from __future__ import annotations

import pytest

from future_l1.tasks.futurebench import parsing as p
from future_l1.tasks.futurebench.scoring import process_results_direct, process_results_reasoning
from future_l1.tasks.twiffbench.parsing import sanitize_response, split_reference, split_response

LATENT = "<|latent_start|><|latent|><|latent|><|latent_end|>"


@pytest.mark.parametrize(
    ("response", "official", "strict"),
    [
        ("<answer>C</answer>", "C", "C"),
        ("<answer> (B). </answer>", "B", "B"),
        ("no tag at all, the answer is C", "", ""),
        ("<answer>A</answer> ... <answer>D</answer>", "A", "A"),  # several tags: the first wins
        ("<answer>c</answer>", "", ""),  # lowercase letters are not options (official rule)
        ("<ANSWER>C</ANSWER>", "", ""),  # tags are case-sensitive (official rule)
        ("<answer>Based on the clip, C</answer>", "B", ""),  # official pitfall kept; strict rejects it
        (f"<reason>r</reason>{LATENT}<answer>D</answer>", "D", "D"),  # latent tokens left in
        (f"{LATENT}<answer>{LATENT}A</answer>", "A", ""),
        ("", "", ""),
        ("<answer>" + "word " * 11 + "</answer>", "", ""),  # > 10 words and no letter
        ("<answer>" + "word " * 11 + "so D</answer>", "D", ""),
        ("<answer>\nA\n</answer>", "A", "A"),
        ("<answer>A", "", ""),  # unclosed
    ],
)
def test_reasoning_parser(response, official, strict):
    assert p.parse_reasoning(response) == official
    assert p.parse_reasoning_strict(response) == strict


def test_ten_thousand_chars_of_junk():
    junk = "xyz<|latent|> " * 800
    assert p.parse_reasoning(junk) == "" and p.parse_direct(junk) == ""
    assert p.parse_reasoning(junk + "<answer>B</answer>") == "B"


@pytest.mark.parametrize(
    ("response", "official", "strict"),
    [
        ("B", "B", "B"),
        ("The best answer is C", "C", ""),
        ("The correct option is D.", "D", ""),
        ("(A)", "A", "A"),
        ("I think it is a guess", "", ""),
        ("Based on the video", "B", ""),  # official rule: first uppercase letter anywhere
        ("", "", ""),
    ],
)
def test_direct_parser(response, official, strict):
    assert p.parse_direct(response) == official
    assert p.parse_direct_strict(response) == strict


DOC = {"doc_id": 3, "id": "x", "question_type": "hop5", "qa": {"Answer": "b", "Options": {}, "Question": "q"}}


def test_process_results_records():
    out = process_results_reasoning(DOC, [f"{LATENT}<answer>B</answer>"])
    rec = out["future_acc"]
    assert all(v is rec for v in out.values())
    assert rec["split"] == "interp" and rec["correct"] == 1 and rec["correct_strict"] == 1
    assert rec["latent_spans"] == [2] and rec["doc_id"] == 3 and rec["error"] is None

    err = process_results_reasoning(DOC, ["[future-l1 error] missing file /x.mp4"])["future_acc"]
    assert err["error"] == "missing file /x.mp4" and err["correct"] == 0

    assert process_results_direct(DOC, ["The answer is B"])["future_acc"]["correct"] == 1
    broken = process_results_reasoning({"id": "bad"}, ["<answer>A</answer>"])["future_acc"]
    assert broken["error"].startswith("scoring failed") and broken["correct"] == 0


def test_twiff_sanitize_and_split():
    raw = (
        "<|im_start|><reason>first</reason>" + LATENT + "<reason>second</reason>\n<ans>The ball falls.</ans><|im_end|>"
    )
    clean = sanitize_response(raw)
    assert clean == "first\n\nsecond\n<answer>The ball falls.</answer>"
    assert split_response(clean) == ("first\n\nsecond", "The ball falls.")
    assert split_response("thinking</think> final") == ("thinking", "final")
    assert split_response("") == ("", "")
    assert split_reference("T1 <rimage> T2 <rimage> <ans>done</ans>") == ("T1 <rimage> T2 <rimage>", "done")

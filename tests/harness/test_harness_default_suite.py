"""The embedded default suite (`future-l1 run`, what `make demo` calls) and the harness's small units."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness_helpers import only_run_dir, run_cli


def test_default_suite_names_the_real_tasks_and_models_and_validates() -> None:
    from future_l1.harness.suite import load_suite, validate

    suite = load_suite(None)
    assert {t.name for t in suite.tasks} == {"futurebench_future_l1", "twiffbench_future_l1"}
    assert [m.model for m in suite.models] == ["future_l1", "future_l1", "answer_prior"]
    assert [m.args.get("latent") for m in suite.models[:2]] == [True, False]
    assert suite.models[0].args["pretrained"] == "demo://future-l1-tiny"  # resolved by the harness, file unchanged
    assert validate(suite) == []


@pytest.mark.slow
def test_future_l1_run_without_a_suite_runs_the_default_offline(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    run = only_run_dir(tmp_path / "runs")
    state = json.loads((run / "state.json").read_text())
    assert state["status"] == "finished" and len(state["entries"]) == 6
    assert set(state["entries"].values()) == {"done"}
    for label in ("future_l1_tiny", "future_l1_tiny_no_latent", "answer_prior"):
        metrics = json.loads((run / "results" / label / "futurebench_future_l1.json").read_text())["metrics"]
        assert 0 <= metrics["future_acc"] <= 100
        twiff = json.loads((run / "results" / label / "twiffbench_future_l1.json").read_text())["metrics"]
        assert "twiff_avg" in twiff
    assert "future_l1_tiny" in result.stdout and "answer_prior" in result.stdout  # the leaderboard was printed
    assert json.loads((run / "judge.json").read_text())["twiffbench_future_l1"]["role"] == "rubric"


def test_demo_reference_resolves_to_a_checkpoint_folder() -> None:
    from future_l1.harness.suite import SuiteError, resolve_checkpoint

    path = resolve_checkpoint("demo://tiny-random")
    assert (path / "config.json").is_file()
    with pytest.raises(SuiteError, match="unknown demo checkpoint"):
        resolve_checkpoint("demo://nope")


def test_journal_cuts_a_torn_last_line_and_ignores_it(tmp_path: Path) -> None:
    from future_l1.harness.journal import read_journal
    from future_l1.model.jsonl import repair_tail

    path = tmp_path / "m.rank0.jsonl"
    good = json.dumps({"key": "t|0|h|0", "task": "t", "doc_id": 0, "text": "x"})
    path.write_text(good + "\n" + '{"key": "t|1|h|0", "te')  # killed mid-write
    assert list(read_journal([path])) == ["t|0|h|0"]
    repair_tail(path)
    assert path.read_text() == good + "\n"


def test_answer_prior_answers_letters_for_choices_and_text_for_open_questions() -> None:
    from future_l1.harness.baselines import AnswerPrior, option_letters

    assert option_letters("Q?\nA. red\nB. blue\n(C) green") == ["A", "B", "C"]
    assert option_letters("What happens next?") == []
    model = AnswerPrior(strategy="fixed", letter="C")
    assert model._answer("Q?\nA. x\nB. y\nC. z", "t", "test") == "<answer>C</answer>"
    assert model._answer("Q?\nA. x\nB. y", "t", "test") == "<answer>A</answer>"  # C not offered: first option
    assert model._answer("What happens next?", "t", "test").startswith("<answer>Nothing")
    frequent = AnswerPrior(strategy="most_frequent")
    frequent.task_dict = {"t": {"test": [{"answer": "B"}, {"answer": "D"}, {"answer": "B"}]}}
    assert frequent._answer("Q?\nA. x\nB. y\nC. z\nD. w", "t", "test") == "<answer>B</answer>"
    # FutureBench keeps the gold letter in qa.Answer
    frequent.task_dict["fb"] = {"test": [{"qa": {"Answer": "C"}}, {"qa": {"Answer": "D"}}, {"qa": {"Answer": "D"}}]}
    assert frequent._answer("Q?\nA. x\nB. y\nC. z\nD. w", "fb", "test") == "<answer>D</answer>"
    with pytest.raises(ValueError, match="strategy"):
        AnswerPrior(strategy="bogus")


def test_suite_gen_kwargs_and_args_strings() -> None:
    from future_l1.harness.suite import SuiteError, parse_suite

    suite = parse_suite(
        {
            "models": [{"label": "m", "model": "answer_prior", "args": {"latent": False, "pretrained": "/x"}}],
            "tasks": [{"name": "t", "gen_kwargs": {"max_new_tokens": 8, "do_sample": False}}],
        }
    )
    assert suite.models[0].args_string() == "latent=false,pretrained=/x"
    assert suite.tasks[0].gen_kwargs_string() == "max_new_tokens=8,do_sample=false"
    with pytest.raises(SuiteError) as err:
        parse_suite({"models": [{"model": "a"}, {"model": "a"}], "tasks": [{"name": "t", "gen_kwargs": {"u": [1]}}]})
    assert len(err.value.problems) == 2

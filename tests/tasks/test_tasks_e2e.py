"""Acceptance: lmms-eval runs both Future-L1 tasks offline on the demo sets; results hold the split and judge metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from future_l1.tasks import TASK_NAMES, tasks_path
from future_l1.tasks.prompts import FUTURE_L1_SYSTEM_PROMPT


def _evaluate(model, tasks, limit):
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    tm = TaskManager("ERROR", include_path=str(tasks_path()), include_defaults=False)
    return simple_evaluate(model=model, tasks=list(tasks), limit=limit, task_manager=tm, bootstrap_iters=0)


def test_all_task_names_are_indexed():
    from lmms_eval.tasks import TaskManager

    tm = TaskManager("ERROR", include_path=str(tasks_path()), include_defaults=False)
    assert set(TASK_NAMES) <= set(tm.all_tasks)


def test_simple_evaluate_on_demo_sets():
    from rule_model import RuleChat

    model = RuleChat()
    res = _evaluate(model, ["futurebench_future_l1", "twiffbench_future_l1"], limit=8)
    fb = {k.split(",")[0]: v for k, v in res["results"]["futurebench_future_l1"].items()}
    tw = {k.split(",")[0]: v for k, v in res["results"]["twiffbench_future_l1"].items()}

    # FutureBench: doc 7 is a model error; i % 3 == 0 is correct; the others are wrong or untagged.
    correct = [i for i in range(8) if i % 3 == 0 and i != 7]
    assert fb["future_acc"] == pytest.approx(100 * len(correct) / 8)
    assert fb["future_acc_strict"] == pytest.approx(100 * len(correct) / 8)
    assert fb["n_errors"] == 1
    splits = ["hop1", "hop2", "hop3", "interp"]
    for k, split in enumerate(splits):
        ids = [i for i in range(8) if i % 4 == k]
        assert fb[f"{split}_n"] == len(ids)
        assert fb[f"{split}_acc"] == pytest.approx(100 * sum(i in correct for i in ids) / len(ids))

    # TwiFF: i % 3 == 0 answers the reference (rubric answer 5), i % 3 == 1 answers nonsense (0), i % 3 == 2 fails.
    judged = [i for i in range(8) if i % 3 != 2]
    assert tw["n_judged"] == len(judged) and tw["n_failed"] == 8 - len(judged)
    good = [i for i in judged if i % 3 == 0]
    assert tw["twiff_answer"] == pytest.approx(5 * len(good) / len(judged))
    assert tw["twiff_answer_failzero"] == pytest.approx(5 * len(good) / 8)
    assert tw["twiff_avg"] == pytest.approx((tw["twiff_cot"] + tw["twiff_answer"]) / 2)

    samples = res["samples"]["twiffbench_future_l1"]
    record = samples[0]["twiff_avg"]
    assert record["judge"]["comparable"] is False and record["judge"]["provider"] == "rubric"
    assert record["latent_spans"] == [1]
    fb_record = next(s["future_acc"] for s in res["samples"]["futurebench_future_l1"] if s["doc_id"] == 0)
    assert fb_record["latent_spans"] == [2] and fb_record["correct"] == 1

    # The chat protocol: system prompt in the system role, the clip before the question text.
    _task, _, messages, gen_kwargs = next(s for s in model.seen if s[0] == "futurebench_future_l1")
    assert messages[0] == {"role": "system", "content": [{"type": "text", "text": FUTURE_L1_SYSTEM_PROMPT}]}
    assert [c["type"] for c in messages[1]["content"]] == ["video", "text"]
    assert gen_kwargs["max_new_tokens"] == 2048 and gen_kwargs["do_sample"] is False


@pytest.mark.integration
def test_cli_subprocess(tmp_path):
    """The real `lmms-eval` command line with --include_path, our rule model registered at runtime."""
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import sys\n"
        "from lmms_eval.models import MODEL_REGISTRY_V2\n"
        "from lmms_eval.models.registry_v2 import ModelManifest\n"
        "MODEL_REGISTRY_V2.register_manifest(ModelManifest(model_id='rulechat',"
        " chat_class_path='rule_model.RuleChat'), overwrite=True)\n"
        "from lmms_eval.__main__ import cli_evaluate\n"
        "cli_evaluate()\n"
    )
    path = subprocess.run(["future-l1", "tasks", "path"], capture_output=True, text=True, check=True).stdout.strip()
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent)}
    cmd = [sys.executable, str(launcher), "--include_path", path, "--tasks", "futurebench_future_l1,twiffbench_future_l1",
           "--model", "rulechat", "--limit", "8", "--output_path", str(out), "--verbosity", "DEBUG"]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, timeout=600)
    results = json.loads(next(out.rglob("*_results.json")).read_text())["results"]
    assert results["futurebench_future_l1"]["interp_n,none"] == 2
    assert results["twiffbench_future_l1"]["n_failed,none"] == 2

"""One template per benchmark: each task YAML `include:`s it and holds only what differs; the resolved configs are pinned."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from future_l1.tasks import TASK_NAMES, tasks_path
from future_l1.tasks.futurebench import scoring as fb
from future_l1.tasks.twiffbench import scoring as tw

TEMPLATES = {"futurebench": "_futurebench_template.yaml", "twiffbench": "_twiffbench_template.yaml"}
FB_METRICS = ["future_acc", "future_acc_strict", "hop1_acc", "hop2_acc", "hop3_acc", "interp_acc",
              "hop1_n", "hop2_n", "hop3_n", "interp_n", "n_errors"]  # fmt: skip
TW_METRICS = ["twiff_cot", "twiff_answer", "twiff_avg", "twiff_cot_failzero", "twiff_answer_failzero",
              "twiff_avg_failzero", "n_judged", "n_failed"]  # fmt: skip
# task: (max_new_tokens, process_results, doc_to_messages or None)
EXPECTED = {
    "futurebench": (16, fb.process_results_direct, None),
    "futurebench_thinking": (2048, fb.process_results_reasoning, None),
    "futurebench_future_l1": (2048, fb.process_results_reasoning, fb.doc_to_messages),
    "twiffbench": (4096, tw.process_results, None),
    "twiffbench_thinking": (4096, tw.process_results, None),
    "twiffbench_future_l1": (4096, tw.process_results, tw.doc_to_messages),
}


class _Loader(yaml.SafeLoader):
    """Reads a task YAML as written: `!function x.y` becomes the tuple ("!function", "x.y"), `include:` is kept."""


_Loader.add_constructor("!function", lambda loader, node: ("!function", loader.construct_scalar(node)))


def _raw(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


def _bench(task: str) -> str:
    return task.split("_")[0]


@pytest.fixture(scope="module")
def manager():
    from lmms_eval.tasks import TaskManager

    return TaskManager("ERROR", include_path=str(tasks_path()), include_defaults=False)


def test_templates_are_not_tasks_and_every_task_yaml_includes_its_template(manager):
    assert set(TASK_NAMES) <= set(manager.task_index)
    paths = {Path(entry["yaml_path"]).name for entry in manager.task_index.values() if entry["yaml_path"] != -1}
    assert not paths & set(TEMPLATES.values())
    for task in TASK_NAMES:
        assert Path(manager.task_index[task]["yaml_path"]) == tasks_path() / _bench(task) / f"{task}.yaml"
    for bench, name in TEMPLATES.items():
        template = _raw(tasks_path() / bench / name)
        assert "task" not in template and "include" not in template
        for path in (tasks_path() / bench).glob("*.yaml"):
            if path.name != name:
                assert _raw(path)["include"] == name, path.name


@pytest.mark.parametrize("task", TASK_NAMES)
def test_task_yaml_holds_only_its_differences(task):
    own = _raw(tasks_path() / _bench(task) / f"{task}.yaml")
    template = _raw(tasks_path() / _bench(task) / TEMPLATES[_bench(task)])
    assert own.pop("include") == TEMPLATES[_bench(task)]
    assert own.pop("task") == task
    same = sorted(k for k, v in own.items() if k in template and template[k] == v)
    assert not same, f"{task}.yaml repeats the template's value of {same}: delete those keys"
    assert "lmms_eval_specific_kwargs" in own  # the prompts are the task's, never the template's
    assert "lmms_eval_specific_kwargs" not in template


@pytest.mark.parametrize("task", TASK_NAMES)
def test_resolved_config_is_template_plus_task(manager, task):
    """lmms-eval merges top-level keys only, so the resolved config is exactly the template updated by the task."""
    cfg = manager._get_config(task)
    own = _raw(tasks_path() / _bench(task) / f"{task}.yaml")
    template = _raw(tasks_path() / _bench(task) / TEMPLATES[_bench(task)])
    del own["include"]
    assert set(cfg) == set(template) | set(own)
    for key, value in {**template, **own}.items():
        if isinstance(value, tuple):  # !function
            assert f"{cfg[key].__module__}.{cfg[key].__qualname__}" == value[1], key
        elif key == "metric_list":
            assert [m["metric"] for m in cfg[key]] == [m["metric"] for m in value]
        elif key != "dataset_kwargs":  # data_files is made absolute against the YAML's folder
            assert cfg[key] == value, key


@pytest.mark.parametrize("task", TASK_NAMES)
def test_resolved_config_key_fields(manager, task):
    cfg = manager._get_config(task)
    max_new_tokens, process_results, doc_to_messages = EXPECTED[task]
    scoring = fb if _bench(task) == "futurebench" else tw
    assert cfg["task"] == task
    assert cfg["output_type"] == "generate_until"
    assert cfg["dataset_path"] == "text" and cfg["test_split"] == "test"
    assert Path(cfg["dataset_kwargs"]["data_files"]["test"]).resolve() == tasks_path() / "placeholder.txt"
    assert cfg["generation_kwargs"] == {"max_new_tokens": max_new_tokens, "temperature": 0, "top_p": 1.0,
                                        "num_beams": 1, "do_sample": False}  # fmt: skip
    assert cfg["process_results"] is process_results
    assert cfg.get("doc_to_messages") is doc_to_messages
    assert (cfg["doc_to_visual"], cfg["doc_to_text"], cfg["doc_to_target"]) == (
        scoring.doc_to_visual,
        scoring.doc_to_text,
        scoring.doc_to_target,
    )
    assert set(cfg["lmms_eval_specific_kwargs"]) == {"default"}
    assert set(cfg["lmms_eval_specific_kwargs"]["default"]) == {"pre_prompt", "post_prompt"}
    metrics = FB_METRICS if scoring is fb else TW_METRICS
    assert [m["metric"] for m in cfg["metric_list"]] == metrics
    for m in cfg["metric_list"]:
        assert m["aggregation"] is getattr(scoring, m["metric"])
        assert m["higher_is_better"] is (m["metric"] not in {"n_errors", "n_failed"})
    if scoring is fb:
        assert cfg["metadata"] == {"version": 1.0, "max_num_frames": 32}
        assert "process_results_use_image" not in cfg
    else:
        assert cfg["metadata"] == {"version": 1.0}
        assert cfg["process_results_use_image"] is True

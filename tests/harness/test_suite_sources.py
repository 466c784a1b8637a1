"""Checkpoints from anywhere, data named in the suite, an explicit judge, bounded limits and typo-proof arguments
(issues 25 items 1-3, 26, 31): the suite's checks, offline (the hub client is stubbed)."""

from __future__ import annotations

from pathlib import Path

import httpx
import huggingface_hub
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from future_l1.harness import suite_checks as checks
from future_l1.harness import suite_provenance as prov
from future_l1.harness.suite import SuiteError, parse_suite, validate

TASKS = {"futurebench_future_l1", "twiffbench_future_l1", "other_task"}
REVISION = "0123456789abcdef0123456789abcdef01234567"


def _suite(models: list[dict], tasks: list, source: Path | None = None, **extra):
    return parse_suite({"models": models, "tasks": tasks, **extra}, source)


def _future_l1(pretrained: str) -> dict:
    return {"label": "m", "model": "future_l1", "args": {"pretrained": pretrained}}


@pytest.fixture(autouse=True)
def _fresh_hub(monkeypatch):
    """Every test starts without resolved revisions, and a hub that must not be reached unless a test stubs it."""
    monkeypatch.setattr(checks, "_hub_revisions", {})
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo_id, filename, **kw: None)

    def no_network(*args, **kwargs):
        raise AssertionError("the hub was asked although the test did not allow it")

    monkeypatch.setattr(huggingface_hub, "model_info", no_network)


# ---------------------------------------------------------------- checkpoints (issue 25 item 1)


def test_a_hub_id_in_the_local_cache_validates_and_records_its_commit(monkeypatch, tmp_path) -> None:
    snapshot = tmp_path / "models--org--vl" / "snapshots" / REVISION
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    monkeypatch.setattr(
        huggingface_hub, "try_to_load_from_cache",
        lambda repo_id, filename, **kw: str(snapshot / filename) if repo_id == "org/vl" else None,
    )  # fmt: skip
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    suite = _suite([_future_l1("org/vl")], ["futurebench_future_l1"])
    assert validate(suite, task_names=TASKS) == []
    assert checks.checkpoint_stamps("future_l1", "m", {"pretrained": "org/vl"}) == {
        "pretrained": f"hub:org/vl@{REVISION}"
    }
    record = checks.checkpoint_provenance("future_l1", "m", {"pretrained": "org/vl"})
    assert (record.source, record.ref, record.revision) == ("hub", "org/vl", REVISION)


def test_a_hub_id_reachable_online_validates_through_model_info(monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    asked = []

    def model_info(repo_id, **kwargs):
        asked.append(repo_id)
        return type("Info", (), {"sha": REVISION})()

    monkeypatch.setattr(huggingface_hub, "model_info", model_info)
    suite = _suite([_future_l1("Qwen/Qwen3-VL-8B-Instruct")], ["futurebench_future_l1"])
    assert validate(suite, task_names=TASKS) == []
    assert asked == ["Qwen/Qwen3-VL-8B-Instruct"]  # asked once: the identity reuses the validated commit
    stamps = checks.checkpoint_stamps("future_l1", "m", {"pretrained": "Qwen/Qwen3-VL-8B-Instruct"})
    assert stamps == {"pretrained": f"hub:Qwen/Qwen3-VL-8B-Instruct@{REVISION}"} and asked == asked[:1]


def test_a_hub_id_offline_and_not_cached_says_which_check_failed(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (problem,) = [p for p in validate(_suite([_future_l1("org/missing")], ["futurebench_future_l1"]), TASKS)]
    assert "'org/missing'" in problem and "not in the local Hugging Face cache" in problem
    assert "HF_HUB_OFFLINE=1" in problem


def test_a_hub_id_the_hub_does_not_know_says_the_hub_check_failed(monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def model_info(repo_id, **kwargs):
        url = f"https://huggingface.co/api/models/{repo_id}"
        response = httpx.Response(404, request=httpx.Request("GET", url))
        raise huggingface_hub.errors.RepositoryNotFoundError(f"404 {repo_id}", response=response)

    monkeypatch.setattr(huggingface_hub, "model_info", model_info)
    (problem,) = validate(_suite([_future_l1("org/nope")], ["futurebench_future_l1"]), TASKS)
    assert "not in the local Hugging Face cache, and the hub check failed (RepositoryNotFoundError" in problem


def test_a_plugin_model_takes_its_own_identifier(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    api = {"label": "gpt", "model": "openai_compatible", "args": {"pretrained": "gpt-4o"}}
    problems = validate(_suite([api], ["futurebench_future_l1"]), TASKS)
    assert not [p for p in problems if "checkpoint" in p], problems
    assert checks.checkpoint_provenance("openai_compatible", "gpt", api["args"]).source == "plugin"
    # our own model has no such identifiers: a name that is neither a folder nor a hub id is refused
    (problem,) = validate(_suite([_future_l1("gpt-4o")], ["futurebench_future_l1"]), TASKS)
    assert "'gpt-4o' does not exist" in problem


def test_offline_is_the_default_of_the_embedded_demo_only(monkeypatch, tmp_path) -> None:
    from future_l1.harness.cli import main

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    seen = {}

    def model_info(repo_id, **kwargs):
        seen["offline"] = __import__("os").environ.get("HF_HUB_OFFLINE")
        return type("Info", (), {"sha": REVISION})()

    monkeypatch.setattr(huggingface_hub, "model_info", model_info)
    path = tmp_path / "s.yaml"
    path.write_text(
        "models: [{label: m, model: future_l1, args: {pretrained: org/online}}]\n"
        "tasks: [{name: futurebench_future_l1, data: demo}]\n"
    )
    assert main(["run", str(path), "--validate-only"]) == 0
    assert seen == {"offline": None}  # a suite file may name a hub checkpoint: the run did not force offline


# ---------------------------------------------------------------- data named in the suite (issue 25 item 2)


def test_a_task_names_its_data_and_clip_folders(tmp_path, monkeypatch) -> None:
    from future_l1.tasks import settings

    data, clips, env = tmp_path / "fb", tmp_path / "clips", tmp_path / "env"
    for folder in (data, clips, env):
        folder.mkdir()
    monkeypatch.setenv("FUTURE_L1_FUTUREBENCH_DIR", str(env))  # the environment is only the fallback
    source = tmp_path / "suite.yaml"
    suite = _suite([_future_l1("demo://tiny-random")],
                   [{"name": "futurebench_future_l1", "data": "fb", "clips": str(clips)}], source)  # fmt: skip
    (task,) = suite.tasks
    with prov.task_data(suite, task):
        assert settings.futurebench_dir() == data.resolve()  # relative to the suite file
        assert settings.futurebench_video_dir(settings.futurebench_dir()) == clips.resolve()
    assert settings.futurebench_dir() == env.resolve()
    record = prov.data_provenance(suite, task, "abc")
    assert (record.kind, record.path, record.fingerprint) == ("folder", str(data.resolve()), "abc")
    assert suite.to_dict()["tasks"][0]["data"] == "fb"  # part of the suite's identity


def test_data_folders_are_checked_at_validation(tmp_path) -> None:
    suite = _suite([_future_l1("demo://tiny-random")],
                   [{"name": "futurebench_future_l1", "data": "nowhere"}, {"name": "other_task", "data": "x"},
                    {"name": "twiffbench_future_l1", "judge": "rubric", "clips": "c"}], tmp_path / "s.yaml")  # fmt: skip
    problems = validate(suite, task_names=TASKS)
    assert any("futurebench_future_l1" in p and "data folder 'nowhere' does not exist" in p for p in problems)
    assert any("'other_task'" in p and "futurebench_* and twiffbench_* tasks only" in p for p in problems)
    assert any("'twiffbench_future_l1'" in p and "`clips:` is FutureBench's" in p for p in problems)


def test_unset_data_is_demo_data_and_a_real_checkpoint_on_it_is_warned_about(tmp_path, monkeypatch) -> None:
    for name in ("FUTURE_L1_FUTUREBENCH_DIR", "FUTURE_L1_TWIFFBENCH_DIR"):
        monkeypatch.delenv(name, raising=False)
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    suite = _suite([_future_l1(str(ckpt))], ["futurebench_future_l1"], tmp_path / "s.yaml")
    assert prov.data_provenance(suite, suite.tasks[0]).kind == "demo"
    (warning,) = prov.preflight_warnings(suite)
    assert "'m'" not in warning and "m are not demo checkpoints" in warning and "DEMO data" in warning
    demo = _suite([_future_l1("demo://tiny-random")], ["futurebench_future_l1"], tmp_path / "s.yaml")
    assert prov.preflight_warnings(demo) == []  # a demo checkpoint on demo data is the demo
    named = _suite([_future_l1(str(ckpt))], [{"name": "futurebench_future_l1", "data": str(tmp_path)}])
    assert prov.preflight_warnings(named) == []


# ---------------------------------------------------------------- the judge is explicit (issue 25 item 3)


def test_twiff_without_a_judge_is_refused_outside_the_embedded_demo(tmp_path) -> None:
    suite = _suite([_future_l1("demo://tiny-random")], ["twiffbench_future_l1"], tmp_path / "s.yaml")
    (problem,) = validate(suite, task_names=TASKS)
    assert "TwiFF-Bench needs a judge" in problem and "judge: rubric" in problem


def test_judge_rubric_opts_into_the_embedded_rubric_and_says_so(tmp_path) -> None:
    suite = _suite([_future_l1("demo://tiny-random")], [{"name": "twiffbench_future_l1", "judge": "rubric"}],
                   tmp_path / "s.yaml")  # fmt: skip
    assert validate(suite, task_names=TASKS) == []
    config = prov.judge_config(suite, suite.tasks[0])
    assert config is not None and config.provider == "rubric"
    judge = prov.judge_provenance(suite, suite.tasks[0])
    assert (judge.kind, judge.model, judge.endpoint, judge.comparable) == (
        "rubric",
        "embedded rubric",
        "embedded",
        False,
    )
    assert judge.prompt_version


def test_an_llm_judge_is_recorded_without_secrets(tmp_path) -> None:
    role = {"provider": "openai", "base_url": "http://user:s3cretTOKEN42@judge.example:8000/v1?api_key=k3yVALUE77",
            "model": "judge-x"}  # fmt: skip
    suite = _suite([_future_l1("demo://tiny-random")], [{"name": "twiffbench_future_l1", "judge": "gpt"}],
                   tmp_path / "s.yaml", judges={"gpt": role})  # fmt: skip
    judge = prov.judge_provenance(suite, suite.tasks[0])
    assert (judge.kind, judge.model, judge.comparable) == ("llm", "judge-x", True)
    assert judge.endpoint == "http://judge.example:8000/v1?api_key=REDACTED"
    text = repr(prov.judge_record(suite)) + repr(suite.to_dict()) + repr(suite.raw)
    assert "s3cretTOKEN42" not in text and "k3yVALUE77" not in text and "judge.example" in text


# ---------------------------------------------------------------- limits and typos (issues 26, 31)


def test_limit_1e21_fails_at_parsing_with_a_clear_message() -> None:
    with pytest.raises(SuiteError) as err:
        _suite([_future_l1("demo://tiny-random")], [{"name": "futurebench_future_l1", "limit": 1e21}])
    assert "limit 1e+21 is larger than any benchmark" in str(err.value)


def test_limit_says_it_takes_the_first_documents() -> None:
    assert prov.subset_provenance(8, 8, 24).model_dump(include={"strategy", "limit", "n", "n_total"}) == {
        "strategy": "first", "limit": 8, "n": 8, "n_total": 24}  # fmt: skip
    assert prov.subset_provenance(100, 24, 24).strategy == "all"  # a limit above the size takes every document
    suite = _suite([_future_l1("demo://tiny-random")], [{"name": "futurebench_future_l1", "limit": 8, "data": "/"}])
    assert any("FIRST documents" in w for w in prov.preflight_warnings(suite))


def test_stratified_indices_spread_a_seeded_sample_over_the_strata() -> None:
    from future_l1.tasks.settings import stratified_indices

    strata = ["a"] * 12 + ["b"] * 6 + ["c"] * 3 + ["d"] * 3  # sorted by split, as the data files are
    picked = stratified_indices(strata, 8, seed=0)
    assert len(picked) == 8 and picked == sorted(picked)
    counts = {k: sum(strata[i] == k for i in picked) for k in "abcd"}
    assert counts == {"a": 4, "b": 2, "c": 1, "d": 1}  # proportional; lmms-eval's first 8 would all be "a"
    assert stratified_indices(strata, 8, seed=0) == picked  # seeded: the same sample again
    assert stratified_indices(strata, 8, seed=1) != picked
    assert len(stratified_indices(strata, 0.5, seed=0)) == 12 and len(stratified_indices(strata, 100, seed=0)) == 24
    assert {strata[i] for i in stratified_indices(strata, 4, seed=3)} == set("abcd")  # every split while it can


def test_sample_stratified_needs_a_limit_and_one_of_our_benchmarks() -> None:
    tasks = [{"name": "futurebench_future_l1", "sample": "stratified"}, {"name": "other_task", "limit": 2,
             "sample": "stratified"}]  # fmt: skip
    problems = validate(_suite([_future_l1("demo://tiny-random")], tasks), task_names=TASKS)
    assert any("give a `limit`" in p for p in problems) and any("'other_task'" in p for p in problems)


def test_a_gen_kwargs_typo_is_refused_with_the_key_named() -> None:
    with pytest.raises(SuiteError) as err:
        _suite([_future_l1("demo://tiny-random")], [{"name": "other_task", "gen_kwargs": {"max_new_token": 8}}])
    assert "unknown key 'max_new_token'; did you mean 'max_new_tokens'?" in str(err.value)


def test_an_answer_prior_typo_is_refused_with_the_key_named() -> None:
    prior = {"label": "p", "model": "answer_prior", "args": {"strategy": "fixed", "leter": "B", "batch_size": 2}}
    (problem,) = validate(_suite([prior], ["other_task"]), task_names=TASKS)
    assert "model 'p'" in problem and "unknown key 'leter'; did you mean 'letter'?" in problem


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("http://user:tok3nSECRET@h:8000/v1", ["tok3nSECRET"]),
        ("https://h/v1?api_key=abcSECRET123&x=1", ["abcSECRET123"]),
        ("http://h:8000/v1", []),
    ],
)
def test_urls_with_credentials_are_redacted_in_the_suite_copies(url, secrets) -> None:
    raw = {"models": [{"model": "answer_prior", "args": {"strategy": "fixed"}}], "tasks": ["other_task"],
           "judges": {"j": {"provider": "openai", "base_url": url, "model": "x"}}, "name": "s"}  # fmt: skip
    suite = parse_suite(raw)
    text = repr(suite.raw) + repr(suite.to_dict())
    assert all(s not in text for s in secrets)
    assert suite.judges["j"].base_url == url  # the judge itself still gets its credentials
    if not secrets:
        assert url in text


@settings(max_examples=200, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=1, max_size=6),
    limit=st.one_of(st.integers(1, 200), st.floats(0.01, 0.99)),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_indices_properties(sizes, limit, seed) -> None:
    from future_l1.tasks.settings import stratified_indices

    strata = [f"s{i}" for i, size in enumerate(sizes) for _ in range(size)]
    n = len(strata)
    picked = stratified_indices(strata, limit, seed)
    want = min(n, max(1, round(limit * n)) if isinstance(limit, float) else limit)
    assert len(picked) == want and picked == sorted(set(picked)) and all(0 <= i < n for i in picked)
    if want >= len(sizes):  # every split represented
        assert {strata[i] for i in picked} == set(strata)
    for i, size in enumerate(sizes):  # no split more than one item away from its share (after the coverage fix-up)
        got = sum(strata[j] == f"s{i}" for j in picked)
        assert got <= size and abs(got - want * size / n) <= len(sizes)
    assert stratified_indices(strata, limit, seed) == picked

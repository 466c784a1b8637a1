"""The layering of README "Architecture": import-linter's contracts in pyproject.toml hold, and they would catch a
violation (checked on the real import graph with one upward import added)."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import grimp
import pytest
from importlinter.configuration import configure
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
configure()  # import-linter's settings (its CLI does this); the contract classes read them


def test_lint_imports_passes(monkeypatch, capsys):
    """`lint-imports`, run in this process on the repository's pyproject.toml: its use case, not its CLI function,
    which reconfigures logging for the whole process (dictConfig disables every existing logger)."""
    from importlinter.application.use_cases import lint_imports

    monkeypatch.chdir(ROOT)
    passed = lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None)
    out = capsys.readouterr().out
    assert passed, out[-4000:]
    assert "0 broken" in out


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*CONFIG["root_packages"])


def _contract(cls, kind: str):
    (options,) = [c for c in CONFIG["contracts"] if c["type"] == kind]
    opts = {k: v for k, v in options.items() if k not in ("name", "type")}
    opts = {k: [str(x) for x in v] if isinstance(v, list) else str(v) for k, v in opts.items()}
    return cls(name=options["name"], session_options={"root_packages": CONFIG["root_packages"]}, contract_options=opts)


def test_every_module_of_the_five_folders_is_in_the_graph(graph):
    for folder in ("harness", "model", "tasks", "training", "reports"):
        files = {p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts}
        assert len([m for m in graph.modules if m.split(".")[1] == folder]) == len(files), folder


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("future_l1.model.decoder", "future_l1.tasks.prompts"),  # model -> tasks
        ("future_l1.tasks.judge", "future_l1.harness.runner"),  # tasks -> harness
        ("future_l1.training.sft", "future_l1.reports.render"),  # training -> reports
        ("future_l1.reports.compare", "future_l1.harness.suite"),  # reports -> harness
    ],
)
def test_layers_contract_rejects_an_upward_import(graph, importer, imported):
    contract = _contract(LayersContract, "layers")
    assert contract.check(graph, verbose=False).kept
    broken = copy.deepcopy(graph)
    broken.add_import(importer=importer, imported=imported, line_number=1, line_contents="import x")
    assert not contract.check(broken, verbose=False).kept


def test_leaves_contract_rejects_a_leaf_importing_the_project(graph):
    contract = _contract(ForbiddenContract, "forbidden")
    assert contract.check(graph, verbose=False).kept
    broken = copy.deepcopy(graph)
    broken.add_import(importer="future_l1.model.protocol", imported="future_l1.model.decoder", line_number=1,
                      line_contents="import x")  # fmt: skip
    assert not contract.check(broken, verbose=False).kept

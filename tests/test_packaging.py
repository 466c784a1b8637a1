"""The wheel carries every module of the five folders, and each one imports from the installed wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("harness", "model", "tasks", "training", "reports")


def _source_modules() -> set[str]:
    modules = set()
    for folder in FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            rel = path.relative_to(REPO / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            modules.add(".".join(["future_l1", folder, *parts]))
    return modules


def _source_data_files() -> set[str]:
    files = set()
    for folder in FOLDERS:
        for path in (REPO / folder).rglob("*"):
            if path.suffix in {".yaml", ".jinja", ".csv", ".json"} and "__pycache__" not in path.parts:
                files.add(f"future_l1/{folder}/{path.relative_to(REPO / folder).as_posix()}")
    return files


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (whl,) = out.glob("future_l1-*.whl")
    return whl


@pytest.mark.integration
def test_wheel_contains_every_module_and_data_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    in_wheel = {n[:-3].replace("/", ".").removesuffix(".__init__") for n in names if n.endswith(".py")}
    missing = _source_modules() - in_wheel
    assert not missing, f"add these packages to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
    missing_data = _source_data_files() - names
    assert not missing_data, f"add these files to [tool.setuptools.package-data]: {sorted(missing_data)}"


@pytest.mark.integration
def test_every_module_imports_from_the_wheel(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    modules = sorted(m for m in _source_modules() if ".tests." not in m)
    script = (
        "import importlib, sys\n"
        f"mods = {modules!r}\n"
        "for m in mods:\n"
        "    mod = importlib.import_module(m)\n"
        f"    assert mod.__file__.startswith({str(target)!r}), (m, mod.__file__)\n"
        "print(len(mods))\n"
    )
    # PYTHONPATH puts the wheel ahead of the editable checkout, also for the .pth hook that runs at start-up.
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(target)!r}); " + script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout.strip().splitlines()[-1]) == len(modules)

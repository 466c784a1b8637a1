"""The venv is exactly requirements.lock, and the lock satisfies pyproject.toml (issue: reproducible install)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.lock"
# Installed by the Makefile around the lock, never part of it: the installer, and this project (editable).
BOOTSTRAP = {"pip", "uv", "future-l1"}

pytestmark = pytest.mark.skipif(
    os.environ.get("FUTURE_L1_SKIP_LOCK_CHECK") == "1",
    reason="a side venv that deliberately differs from the lock (make test-transformers-min)",
)


def locked() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def is_model_plugin(dist: metadata.Distribution, lock: dict[str, str]) -> bool:
    """A user's lmms-eval model plugin (README "Plugging in your own model"): it declares an `lmms_eval.models`
    entry point and needs nothing the lock does not pin, so installing it into .venv changes no locked package."""
    if not any(ep.group == "lmms_eval.models" for ep in dist.entry_points):
        return False
    env = {"extra": ""}
    needs = [Requirement(r) for r in dist.requires or []]
    return all(canonicalize_name(r.name) in lock for r in needs if not r.marker or r.marker.evaluate(env))


def installed() -> dict[str, str]:
    lock = locked()
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions()
        if canonicalize_name(dist.metadata["Name"]) not in BOOTSTRAP and not is_model_plugin(dist, lock)
    }


def test_lock_pins_every_line_with_hashes() -> None:
    text = LOCK.read_text()
    pins = locked()
    assert len(pins) > 100  # the whole tree, not a handful of top-level pins
    assert "torch" in pins and pins["torch"].endswith("+cpu")
    # every pin is followed by at least one hash line before the next pin
    blocks = re.split(r"\n(?=[A-Za-z0-9])", text)
    unhashed = [b.split()[0] for b in blocks if "==" in b.split("\n", 1)[0] and "--hash=sha256:" not in b]
    assert unhashed == []


def test_venv_equals_the_lock() -> None:
    lock, venv = locked(), installed()
    missing = {name: v for name, v in lock.items() if name not in venv}
    extra = {name: v for name, v in venv.items() if name not in lock}
    different = {name: (lock[name], venv[name]) for name in lock.keys() & venv.keys() if lock[name] != venv[name]}
    assert (missing, extra, different) == ({}, {}, {}), "venv != requirements.lock: run `make clean-venv test`"


@pytest.mark.integration
def test_pip_check_passes() -> None:
    result = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lock_satisfies_pyproject_ranges() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    pins = locked()
    env = {"platform_machine": "x86_64", "sys_platform": "linux", "python_version": "3.11"}
    unmet = []
    for line in requirements:
        req = Requirement(line)
        if req.marker and not req.marker.evaluate(env):
            continue
        version = pins.get(canonicalize_name(req.name))
        if version is None or not req.specifier.contains(Version(version), prereleases=True):
            unmet.append(f"{line} (lock: {version})")
    assert unmet == [], "pyproject.toml changed without `make lock`"


def test_a_model_plugin_installed_into_the_venv_is_not_a_lock_difference(tmp_path: Path) -> None:
    """Issue 26: installing a plugin into .venv, as README says, made test_venv_equals_the_lock fail. A plugin that
    needs only locked packages is tolerated; one that pulls in anything else still counts as a difference."""
    lock = locked()

    def dist(requires: list[str], group: str = "lmms_eval.models") -> metadata.Distribution:
        info = tmp_path / f"plugin-{len(list(tmp_path.iterdir()))}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: my-vep-model\nVersion: 0.1\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires)
        )
        (info / "entry_points.txt").write_text(f"[{group}]\nmy_model = my_vep_model:manifests\n")
        return metadata.PathDistribution(info)

    assert is_model_plugin(dist(["lmms-eval", "torch>=2"]), lock)
    assert not is_model_plugin(dist(["lmms-eval", "a-package-not-in-the-lock"]), lock)
    assert not is_model_plugin(dist(["torch"], group="console_scripts"), lock)

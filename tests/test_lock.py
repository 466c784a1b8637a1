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


def installed() -> dict[str, str]:
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions()
        if canonicalize_name(dist.metadata["Name"]) not in BOOTSTRAP
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

"""Test-wide setup: offline Hugging Face, one shared artefact cache, and the fixtures every area uses."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Console scripts (future-l1, lmms-eval, torchrun) of the environment running the tests, even when it is not activated
# (`make test` calls .venv/bin/python directly).
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
# Reuse generated artefacts (tokenizer, tiny checkpoints, demo data) across test runs; CI points it into the clone.
os.environ.setdefault("FUTURE_L1_CACHE", str(Path.home() / ".cache" / "future_l1"))

import pytest

from future_l1.model import torchvision_cpu

torchvision_cpu.install()  # before any test loads transformers' processors (importing a module installs nothing)


@pytest.fixture(scope="session")
def processor_dir() -> Path:
    from future_l1.model.processor import processor_dir

    return processor_dir()


@pytest.fixture(scope="session")
def tiny_ckpt() -> Path:
    from future_l1.model.tiny import tiny_checkpoint_dir

    return tiny_checkpoint_dir()


@pytest.fixture(autouse=True)
def _no_leaked_future_l1_environment():
    """A test that leaves a FUTURE_L1_* variable changed points every later in-process test at its data or settings
    (a leaked FUTURE_L1_FUTUREBENCH_DIR once made the demo checkpoint's test read another benchmark). Fail the leaking
    test itself, and put the environment back so that the failure stays where it happened."""
    before = {k: v for k, v in os.environ.items() if k.startswith("FUTURE_L1_")}
    yield
    after = {k: v for k, v in os.environ.items() if k.startswith("FUTURE_L1_")}
    if after != before:
        for k in after.keys() - before.keys():
            del os.environ[k]
        os.environ.update(before)
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        pytest.fail(f"the test left FUTURE_L1_* environment variables changed: {changed}")

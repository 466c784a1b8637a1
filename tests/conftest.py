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

# The README's two commands: `make demo` and `make test`. Both create .venv on first use,
# installed exactly from requirements.lock (every distribution pinned, with hashes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# uv installs and compiles the lock; pinned so that `make lock` output does not depend on who runs it.
UV_VERSION := 0.13.9
UV := $(BIN)/uv
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export HF_HUB_DISABLE_PROGRESS_BARS ?= 1
export TOKENIZERS_PARALLELISM ?= false
PYTEST_ARGS ?=

.PHONY: demo test test-integration test-slow lock test-transformers-min gpu-install lint bench clean-venv

$(STAMP): pyproject.toml $(LOCK) model/torchvision_cpu.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	# Exactly the lock: packages not in it are removed, every file is checked against its hash. Bytecode is compiled
	# here, once (about 30 s): with PYTHONDONTWRITEBYTECODE set, as on CI, every process (SFT workers, spawned tests)
	# would otherwise recompile transformers and torch on import (11.2 s -> 4.9 s for `import transformers.trainer`).
	VIRTUAL_ENV=$(VENV) $(UV) pip sync -q --require-hashes --compile-bytecode $(LOCK)
	VIRTUAL_ENV=$(VENV) $(UV) pip install -q --no-deps -e .
	# CPU torch cannot load the CUDA-only torchvision wheel; this .pth defines its two missing ops at import time.
	$(BIN)/python -c "from future_l1.model.torchvision_cpu import write_pth; write_pth()"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/future-l1 run

# Three CPU tiers, chosen by pytest marker (pyproject.toml); CI (.ci/run) runs them in this order, each with
# --durations=15 so its log shows the slowest tests.
# The fast tier: pure and in-process tests (the default markers exclude integration, slow, gpu and benchmark).
test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Tests that train, spawn processes (kill/resume, locks, torchrun, the lmms-eval CLI), run lmms-eval end to end or
# install something (a plugin, the wheel).
test-integration: $(STAMP)
	$(BIN)/python -m pytest -q -m "integration and not slow and not gpu and not benchmark" $(PYTEST_ARGS)

# The minutes-long CPU tests: the LA-DAPO demo, RL kill/resume, a bare `future-l1 run`, the raw lmms-eval CLI, torchrun.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow and not gpu" $(PYTEST_ARGS)

# Regenerate the lock from pyproject.toml (ranges + [tool.uv] constraints), keeping the current pins wherever they
# still satisfy it; `make lock UPGRADE=1` moves every package to its newest allowed release. Commit both files.
UPGRADE ?=
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(UV) pip compile -q pyproject.toml --extra dev --generate-hashes \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 $(if $(UPGRADE),--upgrade) -o $(LOCK)

# The fast and integration tiers on the oldest supported transformers (5.17, the GPU machines' version), own venv.
MIN_VENV := .venv-tf517
test-transformers-min:
	test -x $(MIN_VENV)/bin/python || $(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install -q "uv==$(UV_VERSION)"
	sed -e '/^ *--hash/d' -e '/^ *#/d' -e 's/ *\\$$//' $(LOCK) | grep -v -E '^(transformers|tokenizers|huggingface-hub)==' > $(MIN_VENV)/constraints.txt
	VIRTUAL_ENV=$(MIN_VENV) $(MIN_VENV)/bin/uv pip install -q -c $(MIN_VENV)/constraints.txt "transformers==5.17.0" -e ".[dev]"
	$(MIN_VENV)/bin/python -c "from future_l1.model.torchvision_cpu import write_pth; write_pth()"
	FUTURE_L1_SKIP_LOCK_CHECK=1 FUTURE_L1_CACHE=$(CURDIR)/$(MIN_VENV)/cache $(MIN_VENV)/bin/python -m pytest -q \
		-m "not slow and not gpu and not benchmark" $(PYTEST_ARGS)

# A CUDA machine (with registry access): keep the machine's own CUDA torch, take every other package at the version
# the lock pins (hashes dropped, because pip's constraint files cannot carry them). See README, "Running on a GPU machine".
GPU_VENV := .venv-gpu
gpu-install:
	test -x $(GPU_VENV)/bin/python || $(PYTHON) -m venv --system-site-packages $(GPU_VENV)
	sed -e '/^ *--hash/d' -e '/^ *#/d' -e 's/ *\\$$//' $(LOCK) | grep -v -E '^(torch|torchvision)==' > $(GPU_VENV)/constraints.txt
	$(GPU_VENV)/bin/python -m pip install -c $(GPU_VENV)/constraints.txt -e ".[dev]"

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m pytest -q -m benchmark --benchmark-enable tests

clean-venv:
	rm -rf $(VENV)

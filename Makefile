# The README's two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export HF_HUB_DISABLE_PROGRESS_BARS ?= 1
export TOKENIZERS_PARALLELISM ?= false
PYTEST_ARGS ?=

.PHONY: demo test test-transformers-min lint bench clean-venv

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, from the pin: a bare resolver would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install -q torch==2.13.0 || $(BIN)/python -m pip install -q -c constraints.txt torch
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	# CPU torch cannot load the CUDA-only torchvision wheel; this .pth defines its two missing ops at import time.
	$(BIN)/python -c "from future_l1.harness.torchvision_cpu import write_pth; write_pth()"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/future-l1 run

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The oldest supported transformers (5.17, the version on the lent GPU machines), in its own venv.
MIN_VENV := .venv-tf517
test-transformers-min:
	test -x $(MIN_VENV)/bin/python || $(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python -m pip install -q torch==2.13.0
	sed 's/^transformers==.*/transformers==5.17.0/; /^tokenizers==/d; /^huggingface_hub==/d' constraints.txt > $(MIN_VENV)/constraints.txt
	$(MIN_VENV)/bin/python -m pip install -q -c $(MIN_VENV)/constraints.txt -e ".[dev]"
	$(MIN_VENV)/bin/python -c "from future_l1.harness.torchvision_cpu import write_pth; write_pth()"
	FUTURE_L1_CACHE=$(CURDIR)/$(MIN_VENV)/cache $(MIN_VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python -m pytest -q -m benchmark --benchmark-enable tests

clean-venv:
	rm -rf $(VENV)

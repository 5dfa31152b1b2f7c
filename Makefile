# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# The virtual environment lives in .venv and is rebuilt only when pyproject.toml or
# constraints.txt change, so repeated runs are quick.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.neco-installed
PIP := $(BIN)/python -m pip --disable-pip-version-check
OPEN_CLIP := open_clip_torch==3.3.0

.PHONY: setup demo test test-slow lint typecheck bench clean-workspace

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[all,dev]'
	# open_clip ships CLIP's BPE vocabulary; --no-deps keeps torchvision (CUDA-only here) out.
	$(PIP) install -q --no-deps $(OPEN_CLIP)
	@touch $(STAMP)

demo: setup
	$(BIN)/neco demo
	@echo "Dashboard: $(BIN)/neco dashboard -w data/workspace   (then open http://127.0.0.1:8501)"

lint: setup
	$(BIN)/ruff check neco tests benchmarks dashboards
	$(BIN)/ruff format --check neco tests benchmarks dashboards

typecheck: setup
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/python -m pytest -m "not slow and not gpu and not browser"

test-slow: setup
	$(BIN)/python -m pytest -m "slow or browser"

bench: setup
	$(BIN)/python benchmarks/run_all.py

clean-workspace:
	rm -rf data/workspace

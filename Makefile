# Two entry points: `make run` (the built-in check workflow on this repository) and
# `make test` (everything CI runs). Both build the virtual environment first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint unit benchmarks

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/tether run check

lint: install
	$(BIN)/ruff check server tests
	$(BIN)/ruff format --check server tests
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

test: lint unit

benchmarks: install
	@for b in tests/benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

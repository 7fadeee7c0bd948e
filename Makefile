# Partner Ledger — the commands a developer needs. `make run` and `make test` work on a
# fresh machine: they create the virtual environment and install what they need.
# `make run` installs only what serving needs; the test and benchmark tools (Playwright,
# schemathesis, Hypothesis, ...) come with the first `make test`, `make lint` or `make bench`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(BIN)/pip install --disable-pip-version-check --progress-bar on

.PHONY: run test lint install install-dev clean bench cluster-demo

$(BIN)/python:
	@echo "==> creating the virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	@echo "==> installing what serving needs (about a minute on a fresh machine)"
	$(PIP) -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml $(RUN_STAMP)
	@echo "==> installing the test and benchmark tools"
	$(PIP) -e '.[dev]'
	touch $(DEV_STAMP)

install: $(RUN_STAMP)

install-dev: $(DEV_STAMP)

run: $(RUN_STAMP)
	$(BIN)/ledger serve

test: $(DEV_STAMP)
	$(BIN)/pytest

# Ruff, then mypy (its settings, and how strictly each package is held, are in pyproject.toml).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(DEV_STAMP)
	$(BIN)/python -m bench.run $(if $(QUICK),--quick,)

# Three local PostgreSQL clusters, a standby and pgBouncer; one cluster stopped under load
# (docs/OPERATIONS.md, "The proof on one machine"). Needs root; drops what it made.
cluster-demo: $(DEV_STAMP)
	$(BIN)/python -m service.ops.cluster_demo

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache

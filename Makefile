# Two commands: `make run` (install, migrate, seed, serve embedded) and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1

.PHONY: run test install install-dev lint lock bench soak clean help

help:
	@echo "make run    install, migrate, load demo data if empty, train the NLU if needed, serve on :$(PORT)"
	@echo "make test   install dev tools, then ruff, import rules, mypy --strict and pytest"
	@echo "make bench  ingest and pipeline benchmarks (prints figures)"
	@echo "make soak   five minutes of mixed load while workers are killed and Redis restarts"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is needed (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c requirements.lock -e .
	@touch $@

$(VENV)/.dev: pyproject.toml requirements.lock $(VENV)/.runtime
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(BIN)/switchboard db upgrade
	$(BIN)/switchboard seed --demo --if-empty
	$(BIN)/switchboard nlu train --if-missing
	$(BIN)/switchboard serve --host $(HOST) --port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: install-dev
	$(BIN)/switchboard bench ingest
	$(BIN)/switchboard bench pipeline

# PostgreSQL and Redis as on this machine; SOAK_SECONDS, SOAK_RATE, SOAK_KILL_EVERY adjust it.
soak: install-dev
	SWITCHBOARD_TEST_DATABASE_URL=$${SWITCHBOARD_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres} \
	SWITCHBOARD_TEST_REDIS_URL=$${SWITCHBOARD_TEST_REDIS_URL:-redis://127.0.0.1:6379/0} \
	SWITCHBOARD_REQUIRE_SERVICES=1 $(BIN)/pytest -m soak -s -p no:cacheprovider tests/faults/test_soak.py

lock: | $(BIN)/python
	rm -rf /tmp/switchboard-lock && $(PYTHON) -m venv /tmp/switchboard-lock
	/tmp/switchboard-lock/bin/pip install --quiet -e '.[dev]'
	/tmp/switchboard-lock/bin/pip freeze --exclude-editable | sort > requirements.lock
	rm -rf /tmp/switchboard-lock

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

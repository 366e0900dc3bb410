# Two commands on a fresh machine: `make run` and `make test`. Everything else is a step of those.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: setup setup-test run prod test lint format bench clean

# The virtualenv is rebuilt when pyproject.toml changes.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

# torch is only the oracle for optimizer tests and the benchmark baseline (a CPU wheel, see README).
$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/pip install --quiet -e '.[test,torch]'
	touch $@

setup: $(BIN)/.installed

setup-test: $(BIN)/.installed-test

# The web server and the worker (forum replies, plots of new cases) in one command; Ctrl-C stops both.
# Case links point where this server listens unless TUTOR_PUBLIC_URL says otherwise.
run: setup
	$(BIN)/tutor db upgrade
	export TUTOR_PUBLIC_URL="$${TUTOR_PUBLIC_URL:-http://$(HOST):$(PORT)}"; \
	$(BIN)/tutor worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
	$(BIN)/tutor serve --host $(HOST) --port $(PORT)

# The production topology on this machine without Docker: nginx on 8080 in front of two web instances
# (8001, 8002), a worker, the local PostgreSQL (database tutor) and Redis (deploy/local_topology.py).
prod: setup
	$(BIN)/python deploy/local_topology.py

lint: setup-test
	$(BIN)/ruff check tutor tests migrations bench deploy
	$(BIN)/ruff format --check tutor tests migrations bench deploy

test: lint
	$(BIN)/pytest

format: setup-test
	$(BIN)/ruff check --fix tutor tests migrations bench deploy
	$(BIN)/ruff format tutor tests migrations bench deploy

bench: setup-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis

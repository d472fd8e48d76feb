# Conductor: `make run` starts it locally, `make test` runs every test. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast lint bench clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

run: install  ## Conductor locally: moto, API :8000, workers, WebSocket :8001
	$(BIN)/python -m devserver $(ARGS)

test: install  ## lint-free code, unit + functional + end-to-end tests
	$(BIN)/python -m pytest

test-fast: install  ## without the end-to-end tests
	$(BIN)/python -m pytest -m "not e2e"

lint: install
	$(BIN)/ruff check .
	$(BIN)/cfn-lint infra/template.yaml

bench: install  ## cold start and middleware cost, each measured side by side in one run
	$(BIN)/python bench/coldstart.py
	$(BIN)/python bench/middleware.py
	$(BIN)/python bench/retries.py
	$(BIN)/python bench/tick.py
	$(BIN)/python bench/webhooks.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
